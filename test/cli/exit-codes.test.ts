// Every script ends through src/cli.ts and the one table of src/errors.ts: the real commands are
// spawned here for a bad-input, a not-found and an unexpected case, and a small script on runCli for
// each kind (extract's and probe's interrupts are spawned in test/extraction/resume.test.ts and
// test/probe-runs/run.test.ts). Expected errors print one line with their code, never a stack.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../src/config.ts';
import { describeFailure } from '../../src/cli.ts';
import { ArgumentError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

interface Outcome { code: number | null; stdout: string; stderr: string }

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
  });
}

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

let db: TestDatabase;
let scratch: string;
beforeAll(async () => {
  db = await createTestDatabase();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'cli-exit-'));
});
afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the real commands', () => {
  test('an unknown option is bad input (2), named, in every command on parseArgs', async () => {
    for (const script of ['scripts/probe.ts', 'scripts/baseline-glove.ts', 'scripts/import-norms.ts', 'scripts/extract.ts', 'scripts/build-tiny-bundle.ts']) {
      const outcome = await run(script, ['--bogus', '1'], { DATABASE_URL: db.url });
      expect({ script, code: outcome.code }).toEqual({ script, code: 2 });
      expect(outcome.stderr).toMatch(/BAD_ARGUMENT: Unknown option --bogus\./);
      expect(outcome.stderr).not.toMatch(STACK_FRAME);
    }
  }, 180_000);

  test('a missing value names the option (probe, whose arguments moved onto parseArgs)', async () => {
    const outcome = await run('scripts/probe.ts', ['--run', '1', '--norms'], { DATABASE_URL: db.url });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/probe: BAD_ARGUMENT: --norms needs a value\./);
  });

  test('not found: probe exits 3; baseline-glove, which documents only 2, reports it as bad input', async () => {
    const probe = await run('scripts/probe.ts', ['--run', '999999', '--norms', 'nope'], { DATABASE_URL: db.url });
    expect(probe.code).toBe(3);
    expect(probe.stderr).toMatch(/probe: EXTRACTION_RUN_NOT_FOUND: --run 999999/);
    const glove = await run('scripts/baseline-glove.ts', ['--norms', 'no-such-norms'], { DATABASE_URL: db.url });
    expect(glove.code).toBe(2);
    expect(glove.stderr).toMatch(/baseline-glove: DATASET_NOT_FOUND: No norms dataset matches "no-such-norms"/);
    expect(glove.stderr).not.toMatch(STACK_FRAME);
  });

  test('a bad environment variable stops npm start with 2, naming the variable', async () => {
    const outcome = await run('scripts/start.ts', [], { GRAPHQL_MAX_GRID_CELLS: '0' });
    expect(outcome.code).toBe(2);
    expect(outcome.stdout + outcome.stderr).toMatch(/GRAPHQL_MAX_GRID_CELLS=\\?"0\\?" is invalid/);
  });

  test('build-tiny-bundle refuses a bad --seed with 2 and writes nothing', async () => {
    const out = path.join(scratch, 'tiny');
    const outcome = await run('scripts/build-tiny-bundle.ts', ['--seed=-1', '--out', out]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/build-tiny-bundle: BAD_ARGUMENT: --seed must be a non-negative integer, got "-1"\./);
    expect(existsSync(out)).toBe(false);
  });
});

describe('runCli', () => {
  /** A script on runCli that throws what `body` builds, from a file outside the project (imports by URL). */
  async function scriptThrowing(name: string, body: string, kinds?: string[]): Promise<Outcome> {
    const file = path.join(scratch, `${name}.ts`);
    const url = (module: string) => pathToFileURL(path.join(PROJECT_ROOT, module)).href;
    await writeFile(file, [
      `import { runCli } from ${JSON.stringify(url('src/cli.ts'))};`,
      `import { CodedError } from ${JSON.stringify(url('src/errors.ts'))};`,
      'class SampleError extends CodedError<string> {}',
      `runCli('sample', () => { ${body} }${kinds ? `, { kinds: ${JSON.stringify(kinds)} }` : ''});`,
    ].join('\n'));
    return run(file, []);
  }

  test('each kind exits with its code from the one table, printing "name: CODE: message"', async () => {
    const cases: [string, number][] = [['bad-input', 2], ['not-found', 3], ['nothing-to-do', 4], ['locked', 5], ['interrupted', 130], ['failed', 1]];
    for (const [kind, code] of cases) {
      const outcome = await scriptThrowing(`kind-${kind}`, `throw new SampleError('SAMPLE', ${JSON.stringify(kind)}, 'widget.csv:3:2: wrong');`);
      expect({ kind, code: outcome.code, stderr: outcome.stderr.trim() }).toEqual({ kind, code, stderr: 'sample: SAMPLE: widget.csv:3:2: wrong' });
    }
  }, 180_000);

  test('a kind the script does not document takes the coarser code', async () => {
    const outcome = await scriptThrowing('coarse', `throw new SampleError('HELD', 'locked', 'run 7 is held');`, ['bad-input', 'interrupted']);
    expect(outcome.code).toBe(1);
  });

  test('an unexpected error is a failed run (1) and prints its stack; a returned code is the exit code', async () => {
    const bug = await scriptThrowing('bug', `throw new TypeError('undefined is not a function');`);
    expect(bug.code).toBe(1);
    expect(bug.stderr).toMatch(/TypeError: undefined is not a function/);
    expect(bug.stderr).toMatch(STACK_FRAME);
    expect((await scriptThrowing('returns', 'return 4;')).code).toBe(4);
    expect((await scriptThrowing('done', 'return;')).code).toBe(0);
  }, 120_000);
});

test('describeFailure: a coded error and an error of the outside world are one message, a bug its stack', () => {
  expect(describeFailure('probe', new ArgumentError('--folds: "ten" is not a number.'))).toBe('probe: BAD_ARGUMENT: --folds: "ten" is not a number.');
  const refused = Object.assign(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:1')], ''), { code: 'ECONNREFUSED' });
  expect(describeFailure('import-norms', refused)).toBe('import-norms: connect ECONNREFUSED 127.0.0.1:1');
  const io = Object.assign(new Error("EIO: i/o error, read '/data/x/ratings.csv'"), { code: 'EIO' });
  expect(describeFailure('import-norms', io)).toBe("import-norms: EIO: i/o error, read '/data/x/ratings.csv'");
  expect(describeFailure('x', new RangeError('bad'))).toMatch(/^RangeError: bad\n\s+at /);
});
