// The coded-error base and the one kind → exit code table every CLI ends through.
import { ArgumentError, CodedError, EXIT_CODES, exitCodeOf, isCodedError, type ErrorKind } from '../src/errors.ts';

type SampleCode = 'BAD' | 'MISSING' | 'EMPTY' | 'HELD' | 'STOPPED' | 'BROKE';
const KINDS: Record<SampleCode, ErrorKind> = { BAD: 'bad-input', MISSING: 'not-found', EMPTY: 'nothing-to-do', HELD: 'locked', STOPPED: 'interrupted', BROKE: 'failed' };

class SampleError extends CodedError<SampleCode> {
  constructor(code: SampleCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}

describe('CodedError', () => {
  it('carries its code, kind, message, class name and cause', () => {
    const cause = new Error('ENOENT');
    const error = new SampleError('MISSING', 'widgets.csv:3:2: no such widget', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isCodedError(error)).toBe(true);
    expect(error.code).toBe('MISSING');
    expect(error.kind).toBe('not-found');
    expect(error.name).toBe('SampleError');
    expect(error.message).toBe('widgets.csv:3:2: no such widget');
    expect(error.cause).toBe(cause);
  });
});

describe('exitCodeOf', () => {
  it('maps each kind through the documented table (0 done, 1 failed, 2 bad input, 3 not found, 4 nothing to do, 5 locked, 130 interrupted)', () => {
    expect(EXIT_CODES).toEqual({ failed: 1, 'bad-input': 2, 'not-found': 3, 'nothing-to-do': 4, locked: 5, interrupted: 130 });
    const codes = (['BAD', 'MISSING', 'EMPTY', 'HELD', 'STOPPED', 'BROKE'] as const).map((code) => exitCodeOf(new SampleError(code, code)));
    expect(codes).toEqual([2, 3, 4, 5, 130, 1]);
  });

  it('exits 1 for anything that is not a coded error', () => {
    expect(exitCodeOf(new TypeError('a bug'))).toBe(1);
    expect(exitCodeOf('a string')).toBe(1);
    expect(exitCodeOf(undefined)).toBe(1);
  });

  it('takes the coarser code for a kind the CLI does not document: not found and nothing to do are bad input, locked is a failed run', () => {
    const base = ['bad-input', 'interrupted'] as const;
    expect(exitCodeOf(new SampleError('HELD', 'run 3 is being written by another process'), base)).toBe(1);
    expect(exitCodeOf(new SampleError('MISSING', 'no dataset "x"'), base)).toBe(2);
    expect(exitCodeOf(new SampleError('EMPTY', 'no cells'), base)).toBe(2);
    expect(exitCodeOf(new SampleError('STOPPED', 'interrupted'), base)).toBe(130);
    expect(exitCodeOf(new SampleError('HELD', 'held'), ['locked'])).toBe(5);
    expect(exitCodeOf(new SampleError('STOPPED', 'interrupted'), [])).toBe(1);
  });

  it('ArgumentError is the shared BAD_ARGUMENT, bad input', () => {
    const error = new ArgumentError('--folds: "ten" is not a number.');
    expect(error).toMatchObject({ code: 'BAD_ARGUMENT', kind: 'bad-input', name: 'ArgumentError' });
    expect(exitCodeOf(error)).toBe(2);
  });
});
