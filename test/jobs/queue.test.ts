// The queue core on a real PostgreSQL and real graphile-worker runners, in this process: enqueue plans
// units into jobs idempotently, two workers run every job exactly once, a poison job uses up its
// bounded attempts and fails the run without blocking the rest, cancel and retry move job and run
// status as documented. The handler here is test code with the real contract (a unit = one row in a
// table of its own with a unique key, committed with the run's done_count); the extraction and probe
// handlers are tested on real runs in extract-job.test.ts, probe-job.test.ts and workers.test.ts.
import { jest } from '@jest/globals';
import type pg from 'pg';
import { cancelRun, retryRun } from '../../src/jobs/control.ts';
import { JobError } from '../../src/jobs/errors.ts';
import { enqueue, taskFor } from '../../src/jobs/plan.ts';
import type { JobHandler } from '../../src/jobs/types.ts';
import { startWorker, type RunningWorker } from '../../src/jobs/worker.ts';
import { inTransaction } from '../../src/db/transaction.ts';
import { interruptedError } from '../../src/runs/errors.ts';
import { withRunLock } from '../../src/runs/lock.ts';
import type { Logger } from '../../src/log.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

jest.setTimeout(120_000);

let db: TestDatabase;
let modelId: number;
const quiet: Logger = { info: () => {}, warn: () => {}, error: (m) => console.error(m) };

interface Spec { units: string[]; poison?: string; delayMs?: number }

/** Units are rows of test_unit; a unit named in `poison` always throws. */
const handler: JobHandler<Spec> = {
  kind: 'EXTRACT',
  async run(job, context) {
    let done = 0, rows = 0;
    for (const unit of job.spec.units) {
      if (context.signal.aborted) throw interruptedError();
      if (unit === job.spec.poison) throw new Error(`unit ${unit} is poison`);
      if (job.spec.delayMs) await new Promise((resolve) => setTimeout(resolve, job.spec.delayMs));
      const written = await inTransaction(context.pool, async (client) => {
        // The run row's lock serializes the count: concurrent units' transactions never lose an update.
        await client.query('SELECT 1 FROM extraction_run WHERE id = $1 FOR UPDATE', [job.runId]);
        const inserted = await client.query('INSERT INTO test_unit (run_id, unit) VALUES ($1, $2) ON CONFLICT DO NOTHING', [job.runId, unit]);
        await client.query('UPDATE extraction_run SET done_count = (SELECT count(*) FROM test_unit WHERE run_id = $1) WHERE id = $1', [job.runId]);
        return inserted.rowCount ?? 0;
      });
      done++;
      if (written) {
        rows += written;
        await context.onUnit(written);
      }
    }
    return { unitsDone: done, rowsWritten: rows, timings: {} };
  },
  async complete(client, runId) {
    await client.query(`UPDATE extraction_run SET status = 'COMPLETED', finished_at = now() WHERE id = $1`, [runId]);
  },
};

async function newRun(hash: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO extraction_run (model_id, settings_hash, prompt_template, seed, step_count, device, settings) VALUES ($1, $2, 't', 0, 0, 'cpu', '{}') RETURNING id`,
    [modelId, hash],
  );
  return rows[0]!.id;
}

const units = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);

function request(runId: number, list: string[], extra: Partial<Spec> = {}, maxAttempts = 3) {
  return { kind: 'EXTRACT' as const, runId, task: taskFor('EXTRACT', 'cpu'), units: list, key: (u: string) => u, jobSize: 2, spec: (u: string[]) => ({ units: u, ...extra }), maxAttempts };
}

async function worker(): Promise<RunningWorker> {
  const w = await startWorker({
    databaseUrl: db.url, device: 'cpu', concurrency: 2, kinds: ['EXTRACT'], handlers: [handler as JobHandler], cacheDir: '/tmp', log: quiet,
    visibilityTimeoutMs: 4_000, heartbeatMs: 500, pollIntervalMs: 200,
  });
  db.using(() => w.stop('test over'));
  return w;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const runRow = (pool: pg.Pool, id: number) => pool.query<{ status: string; done_count: number; planned_count: number; error: string | null }>(
  'SELECT status, done_count, planned_count, error FROM extraction_run WHERE id = $1', [id]).then((r) => r.rows[0]!);
const jobRows = (id: number) => db.pool.query<{ position: number; status: string; attempts: number; error: string | null; units_done: number }>(
  'SELECT position, status, attempts, error, units_done FROM job WHERE extraction_run_id = $1 ORDER BY position', [id]).then((r) => r.rows);

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE test_unit (run_id int NOT NULL, unit text NOT NULL, PRIMARY KEY (run_id, unit))');
  modelId = (await db.prisma.model.create({ data: { name: 'queue-test', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test', description: 'queue core test' } })).id;
});

afterAll(async () => {
  await db?.drop();
});

test('enqueue plans units into jobs once; the same call again adds nothing, more units add jobs', async () => {
  const runId = await newRun('plan');
  const first = await enqueue(db.pool, request(runId, units(5)));
  expect(first).toEqual({ runId, jobs: 3, added: 3, requeued: 0, units: 5 });
  expect(await enqueue(db.pool, request(runId, units(5)))).toEqual({ runId, jobs: 3, added: 0, requeued: 0, units: 5 });
  expect(await enqueue(db.pool, request(runId, units(8)))).toEqual({ runId, jobs: 5, added: 2, requeued: 0, units: 8 });
  expect((await runRow(db.pool, runId)).planned_count).toBe(8);
  const queued = await db.pool.query(`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'extract:cpu'`);
  expect(queued.rows[0].n).toBe(5);
  await expect(enqueue(db.pool, { ...request(runId, units(2)), jobSize: 0 })).rejects.toThrow(/--job-size/);
  await expect(enqueue(db.pool, request(999_999, units(2)))).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  // Leave nothing for the workers of the next tests to take.
  await cancelRun(db.pool, 'EXTRACT', runId);
  expect(await db.pool.query(`SELECT count(*)::int AS n FROM graphile_worker.jobs`).then((r) => r.rows[0].n)).toBe(0);
});

test('two workers run every job of a run once; the run completes exactly', async () => {
  const runId = await newRun('two-workers');
  await enqueue(db.pool, request(runId, units(12)));
  const workers = [await worker(), await worker()];
  const run = await until('the run to complete', () => runRow(db.pool, runId), (r) => r.status === 'COMPLETED');
  expect(run.done_count).toBe(12);
  const stored = await db.pool.query('SELECT count(*)::int AS n FROM test_unit WHERE run_id = $1', [runId]);
  expect(stored.rows[0].n).toBe(12);
  expect((await jobRows(runId)).map((j) => j.status)).toEqual(Array(6).fill('DONE'));
  expect((await jobRows(runId)).every((j) => j.units_done === 2)).toBe(true);
  const seen = await db.pool.query(`SELECT count(DISTINCT worker_id)::int AS n, count(*) FILTER (WHERE worker_id IS NULL)::int AS none FROM job WHERE extraction_run_id = $1`, [runId]);
  expect(seen.rows[0].none).toBe(0);
  for (const w of workers) await w.stop();
  const stopped = await db.pool.query(`SELECT count(*)::int AS n FROM worker WHERE stopped_at IS NOT NULL AND id = ANY($1)`, [workers.map((w) => w.id)]);
  expect(stopped.rows[0].n).toBe(2);
});

test('a poison job uses its bounded attempts, then FAILS with its error; the rest complete and the run is FAILED', async () => {
  const runId = await newRun('poison');
  await enqueue(db.pool, request(runId, units(6), { poison: 'u3' }, 2));
  const w = await worker();
  const run = await until('the run to fail', () => runRow(db.pool, runId), (r) => r.status === 'FAILED');
  const jobs = await jobRows(runId);
  // Only the job with u3 (position 1, units u2 u3) failed; its attempts are bounded.
  expect(jobs.map((j) => j.status)).toEqual(['DONE', 'FAILED', 'DONE']);
  expect(jobs[1]).toMatchObject({ attempts: 2, error: 'unit u3 is poison' });
  expect(run.error).toMatch(/^1 of 3 jobs failed; first, job 1: unit u3 is poison$/);
  // u2 (before the poison in its job) and the other jobs' units are stored; u3 never.
  const stored = await db.pool.query<{ unit: string }>('SELECT unit FROM test_unit WHERE run_id = $1 ORDER BY unit', [runId]);
  expect(stored.rows.map((r) => r.unit)).toEqual(['u0', 'u1', 'u2', 'u4', 'u5']);
  await w.stop();
});

test('cancel stops queued jobs and fails the run; retry queues them again and the run completes', async () => {
  const runId = await newRun('cancel');
  await enqueue(db.pool, request(runId, units(4)));
  expect(await cancelRun(db.pool, 'EXTRACT', runId)).toEqual({ cancelled: 2 });
  const cancelled = await runRow(db.pool, runId);
  expect(cancelled.status).toBe('FAILED');
  expect(cancelled.error).toMatch(/^cancelled/);
  await expect(cancelRun(db.pool, 'EXTRACT', runId)).rejects.toBeInstanceOf(JobError);
  const w = await worker();
  expect(await retryRun(db.pool, 'EXTRACT', runId)).toEqual({ requeued: 2 });
  await expect(retryRun(db.pool, 'EXTRACT', runId)).rejects.toMatchObject({ code: 'NOTHING_TO_RETRY' });
  const run = await until('the run to complete', () => runRow(db.pool, runId), (r) => r.status === 'COMPLETED');
  expect(run.done_count).toBe(4);
  await w.stop();
});

test('a stopping worker releases its job after the unit in flight, its attempt given back; another worker completes the run', async () => {
  const runId = await newRun('graceful');
  // 1 s a unit: the stop lands long before the sixth unit, however loaded the machine.
  await enqueue(db.pool, { ...request(runId, units(6), { delayMs: 1_000 }), jobSize: 6 });
  const first = await worker();
  await until('the job to run', () => jobRows(runId), (jobs) => jobs[0]?.status === 'RUNNING' && jobs[0].units_done >= 1);
  await first.stop('SIGTERM');
  const [released] = await jobRows(runId);
  expect(released!.status).toBe('QUEUED');
  expect(released!.error).toMatch(/^released: worker .* stopped/);
  const kept = released!.units_done;
  expect(kept).toBeGreaterThanOrEqual(1);
  expect(kept).toBeLessThan(6);
  const entry = await db.pool.query(`SELECT attempts, locked_by FROM graphile_worker.jobs WHERE key = 'probe-atlas:job:' || (SELECT id FROM job WHERE extraction_run_id = $1)`, [runId]);
  expect(entry.rows).toEqual([{ attempts: 0, locked_by: null }]);
  const stopped = await db.pool.query('SELECT stop_reason FROM worker WHERE id = $1', [first.id]);
  expect(stopped.rows[0].stop_reason).toBe('SIGTERM');
  const second = await worker();
  const run = await until('the run to complete', () => runRow(db.pool, runId), (r) => r.status === 'COMPLETED');
  expect(run.done_count).toBe(6);
  const [job] = await jobRows(runId);
  expect(job).toMatchObject({ status: 'DONE', units_done: 6, attempts: 1 });
  await second.stop();
});

test('workers hold their run SHARED: an in-process run of the same identity is refused while a job runs', async () => {
  const runId = await newRun('shared-lock');
  await enqueue(db.pool, { ...request(runId, units(4), { delayMs: 1_000 }), jobSize: 4 });
  const w = await worker();
  await until('the job to run', () => jobRows(runId), (jobs) => jobs[0]?.status === 'RUNNING');
  await expect(withRunLock(db.pool, 'shared-lock', 'The in-process run', async () => 'ran')).rejects.toMatchObject({ code: 'RUN_LOCKED' });
  await until('the run to complete', () => runRow(db.pool, runId), (r) => r.status === 'COMPLETED');
  await expect(withRunLock(db.pool, 'shared-lock', 'The in-process run', async () => 'ran')).resolves.toBe('ran');
  await w.stop();
});

test('a job whose run an in-process run holds goes back to the queue, waiting, its attempts untouched: not failed', async () => {
  const runId = await newRun('held-in-process');
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const taken = new Promise<void>((resolve) => (holding = resolve));
  const inProcess = withRunLock(db.pool, 'held-in-process', 'The in-process run', async () => {
    holding();
    await held;
  });
  await taken;
  await enqueue(db.pool, request(runId, units(2), {}, 1));
  const w = await worker();
  const [job] = await until('the job to be put back', () => jobRows(runId), (jobs) => jobs[0]?.error?.startsWith('waiting: ') ?? false);
  expect(job).toMatchObject({ status: 'QUEUED', attempts: 1 });
  expect(job!.error).toMatch(/is being written by another process/);
  // A fresh queue entry, due later, with its attempts at 0 (max 1: a failure would have been final).
  const entries = await db.pool.query(
    `SELECT attempts, max_attempts, run_at > now() + interval '20 seconds' AS later FROM graphile_worker.jobs WHERE key = 'probe-atlas:job:' || (SELECT id FROM job WHERE extraction_run_id = $1)`, [runId]);
  expect(entries.rows).toEqual([{ attempts: 0, max_attempts: 1, later: true }]);
  expect((await runRow(db.pool, runId)).status).not.toBe('FAILED');
  release();
  await inProcess;
  await w.stop();
});
