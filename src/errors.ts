// One convention for every failure the code expects (a bad file, a wrong argument, an unknown
// dataset, a run another process holds, Ctrl-C): a class extending `CodedError` with a `code` from its
// domain's union, a `kind` that says what sort of failure it is, and a message naming the file:line:column,
// argument, concept or tensor at fault. The kind, not the class, decides a CLI's exit code, through the
// one table below, so every script ends the same way for the same failure (src/cli.ts runs them).
// GraphQL errors (src/graphql/errors.ts) are the other boundary and keep their own convention.
//
// Example, a domain's errors:
//
//   export type WidgetErrorCode = 'BAD_WIDGET' | 'WIDGET_NOT_FOUND';
//   const KINDS: Record<WidgetErrorCode, ErrorKind> = { BAD_WIDGET: 'bad-input', WIDGET_NOT_FOUND: 'not-found' };
//   export class WidgetError extends CodedError<WidgetErrorCode> {
//     constructor(code: WidgetErrorCode, message: string, options?: ErrorOptions) {
//       super(code, KINDS[code], message, options);
//     }
//   }
//
//   throw new WidgetError('WIDGET_NOT_FOUND', 'widget "w7" does not exist', { cause: error });
//   exitCodeOf(thatError) === 3; exitCodeOf(new TypeError('bug')) === 1

/** What sort of failure an expected error is; each kind has one exit code (EXIT_CODES). */
export type ErrorKind = 'failed' | 'bad-input' | 'not-found' | 'nothing-to-do' | 'locked' | 'interrupted';

/**
 * The one table from error kind to CLI exit code (docs/architecture.md, Principles). 0 is success;
 * an unexpected error (a bug, an error of a library) is 1, like a run that failed.
 */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = Object.freeze({
  failed: 1,
  'bad-input': 2,
  'not-found': 3,
  'nothing-to-do': 4,
  locked: 5,
  interrupted: 130,
});

const ALL_KINDS = Object.keys(EXIT_CODES) as ErrorKind[];

/** The base of every expected error: a code from its domain's union and the kind that sets the exit code. */
export abstract class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly kind: ErrorKind;

  constructor(code: Code, kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
  }
}

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof CodedError;
}

/**
 * The finer kinds refine the base exit codes: not found (3) and nothing to do (4) are kinds of bad
 * input (2), a run locked by another process (5) is a kind of failed run (1). A CLI that documents
 * only the base codes reports the coarser one.
 */
const COARSER: Readonly<Partial<Record<ErrorKind, ErrorKind>>> = { 'not-found': 'bad-input', 'nothing-to-do': 'bad-input', locked: 'failed' };

/**
 * The exit code a CLI ends with for `error`. `kinds` are the kinds this CLI documents an exit code
 * for (all by default); an expected error of another kind takes its coarser kind's code (COARSER),
 * and anything else, like anything unexpected, exits 1 ("run failed").
 */
export function exitCodeOf(error: unknown, kinds: readonly ErrorKind[] = ALL_KINDS): number {
  if (!isCodedError(error)) return EXIT_CODES.failed;
  for (let kind: ErrorKind | undefined = error.kind; kind; kind = COARSER[kind]) {
    if (kinds.includes(kind)) return EXIT_CODES[kind];
  }
  return EXIT_CODES.failed;
}

/**
 * A command-line argument, setting or environment variable that is wrong: the one BAD_ARGUMENT every
 * CLI and settings parser shares. The message starts with what is at fault ("--folds: …").
 */
export class ArgumentError extends CodedError<'BAD_ARGUMENT'> {
  constructor(message: string, options?: ErrorOptions) {
    super('BAD_ARGUMENT', 'bad-input', message, options);
  }
}
