// `npm run worker` as a user runs it: bad options are refused with the option named (exit 2, no
// stack), and a worker started on a real database registers itself, says so on stdout, and stops on
// SIGTERM with exit 0 and its row marked stopped with the signal as the reason.
import { execFile, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const SCRIPT = 'scripts/worker.ts';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url, ...env }, timeout: 60_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }));
  });
}

test.each([
  [['--device', 'tpu'], /--device must be cpu, cuda, webgpu, got "tpu"/],
  [['--kinds', 'extract,train'], /--kinds: unknown TRAIN \(known: extract, probe\)/],
  [['--concurrency', '0'], /--concurrency must be a positive integer, got "0"/],
  [['--visibility-timeout', '2', '--heartbeat', '1.5'], /--heartbeat \(1\.5 s\) must be at most half of --visibility-timeout \(2 s\)/],
])('worker %j is refused with exit 2', async (args, message) => {
  const outcome = await run(args);
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).toMatch(message);
  expect(outcome.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}, 60_000);

test('a worker without DATABASE_URL says what it needs', async () => {
  const outcome = await run([], { DATABASE_URL: '' });
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).toMatch(/DATABASE_URL is not set/);
});

test('a worker registers, and SIGTERM stops it with exit 0 and its row marked stopped', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--kinds', 'probe', '--concurrency', '2'], {
    cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  db.using(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!stdout.includes('"worker-start"')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no worker-start line; stdout: ${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const start = JSON.parse(stdout.split('\n').find((line) => line.includes('"worker-start"'))!);
  expect(start).toMatchObject({ device: 'cpu', concurrency: 2, kinds: ['PROBE'] });
  const registered = await db.pool.query('SELECT host, pid, device, kinds::text[] AS kinds, concurrency, stopped_at FROM worker WHERE id = $1', [start.workerId]);
  expect(registered.rows[0]).toMatchObject({ pid: child.pid, device: 'cpu', kinds: ['PROBE'], concurrency: 2, stopped_at: null });
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const stopped = await db.pool.query('SELECT stop_reason, stopped_at FROM worker WHERE id = $1', [start.workerId]);
  expect(stopped.rows[0].stop_reason).toBe('SIGTERM');
  expect(stopped.rows[0].stopped_at).not.toBeNull();
}, 90_000);
