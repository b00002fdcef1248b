/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Issue 12's fault guarantees, each with real worker processes (`npm run worker`) on one enqueued
// extraction run of the tiny bundle:
// - a worker SIGKILLed in the middle of a job: another worker finds it lost after the visibility
//   timeout, runs the job again (attempt 2) and the run completes exactly;
// - a worker sent SIGTERM in the middle of a job finishes or releases it (the attempt given back),
//   exits 0, and the other worker completes the run;
// - a poison job (a concept whose token embedding is NaN in the bundle, so the pipeline refuses its
//   activations: the tiny builder's poisonWords, the real non-finite check) uses its bounded attempts,
//   is FAILED with its error, and the rest of the run completes; the run is FAILED with the summary.
import { jest } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { insertDataset, tempTinyBundle, TEST_WORDS, type TempBundle } from '../extraction/fixtures.ts';
import {
  enqueueWith, extractionRun, jobsOf, spawnWorker, summaryCounts, until, type WorkerArguments, type WorkerLine, type WorkerProcess,
} from './worker-harness.ts';

jest.setTimeout(180_000);

let db: TestDatabase;
let bundle: TempBundle;
let poisoned: TempBundle;
const WORDS = TEST_WORDS.slice(0, 12);
// Enough steps that a job of 3 concepts takes a while: the signal lands in the middle of it.
const STEPS = 25;
const PER_CONCEPT = 6 * 3 + 5 * STEPS + 3;

beforeAll(async () => {
  db = await createTestDatabase();
  bundle = tempTinyBundle({ embeddings: 'random' });
  poisoned = tempTinyBundle({ embeddings: 'random', poisonWords: ['banana'] });
  await insertDataset(db.prisma, 'test-norms', TEST_WORDS);
});

afterAll(async () => {
  await db?.drop();
  bundle?.remove();
  poisoned?.remove();
});

const args = (dir: string, cacheDir: string, seed: number, extra: string[] = []) => [
  '--bundle', dir, '--norms', 'test-norms', '--concepts', WORDS.join(','), '--steps', String(STEPS), '--seed', String(seed),
  '--cache-dir', cacheDir, '--job-size', '3', ...extra,
];

async function workers(n: number, options: Partial<WorkerArguments> = {}): Promise<{ procs: WorkerProcess[]; ids: string[] }> {
  const procs = Array.from({ length: n }, () => spawnWorker(db, db.url, { cacheDir: bundle.cacheDir, ...options }));
  const ids = await Promise.all(procs.map((w) => w.id));
  return { procs, ids };
}

const jobRow = (jobId: number) => db.pool.query<{ status: string; worker_id: string | null; attempts: number }>(
  'SELECT status, worker_id, attempts FROM job WHERE id = $1', [jobId]).then((r) => r.rows[0]!);

/**
 * Strikes `worker` with `signal` in the middle of a job: at a job-start line of its whose row shows
 * the job RUNNING by it (the moment the brief says to strike); a job it finished before that could be
 * seen (a loaded machine) passes the turn to its next one. Returns the job-start line struck at.
 */
async function strikeMidJob(worker: WorkerProcess, workerId: string, signal: NodeJS.Signals): Promise<WorkerLine> {
  for (let seen = 0; ; seen++) {
    const start = await worker.line(`job-start number ${seen + 1}`, (l) => l.event === 'job-start' && worker.lines.filter((m) => m.event === 'job-start').indexOf(l) === seen);
    const row = await jobRow(start.jobId!);
    if (row.status === 'RUNNING' && row.worker_id === workerId) {
      worker.child.kill(signal);
      return start;
    }
  }
}

async function expectExact(runId: number, concepts: number): Promise<void> {
  expect(await summaryCounts(db.pool, runId)).toEqual({ rows: concepts * PER_CONCEPT, keys: concepts * PER_CONCEPT, concepts });
}

test('a worker SIGKILLed mid-job: another worker runs that job again after the visibility timeout; the run completes exactly', async () => {
  const { procs: [a, b], ids: [aId, bId] } = await workers(2, { visibilityTimeout: 3, heartbeat: 0.5 });
  const planned = await enqueueWith('extract.ts', args(bundle.dir, bundle.cacheDir, 10), db.url);
  const runId = Number(planned.runId);
  const start = await strikeMidJob(a!, aId!, 'SIGKILL');
  expect(await a!.exited).toEqual({ code: null, signal: 'SIGKILL' });
  // Killed in the middle: the row still says A is running it (nobody else may touch it before the timeout).
  expect(await jobRow(start.jobId!)).toMatchObject({ status: 'RUNNING', worker_id: aId, attempts: 1 });

  const run = await until('the run to complete', () => extractionRun(db.pool, runId), (r) => r.status === 'COMPLETED' || r.status === 'FAILED');
  expect(run).toMatchObject({ status: 'COMPLETED', done_count: WORDS.length, planned_count: WORDS.length, error: null });
  await expectExact(runId, WORDS.length);
  // B declared A lost, and ran A's job as its second attempt.
  await b!.line('workers-lost naming A', (l) => l.event === 'workers-lost' && (l.workers as string[]).includes(aId!), 5_000);
  expect(await jobRow(start.jobId!)).toMatchObject({ status: 'DONE', worker_id: bId, attempts: 2 });
  expect(b!.lines.some((l) => l.event === 'job-done' && l.jobId === start.jobId && l.attempt === 2)).toBe(true);
  const lost = await db.pool.query<{ stopped_at: Date | null; stop_reason: string | null }>('SELECT stopped_at, stop_reason FROM worker WHERE id = $1', [aId]);
  expect(lost.rows[0]!.stopped_at).not.toBeNull();
  expect(lost.rows[0]!.stop_reason).toMatch(/^lost: no heartbeat for 3 s$/);
  const jobs = await jobsOf(db.pool, 'extraction_run_id', runId);
  expect(jobs.map((j) => [j.status, j.units_done])).toEqual(jobs.map(() => ['DONE', 3]));
  b!.child.kill('SIGTERM');
  expect((await b!.exited).code).toBe(0);
});

test('SIGTERM mid-job: the worker finishes or releases its job (attempt given back) and exits 0; the other completes the run', async () => {
  const { procs: [a, b], ids: [aId, bId] } = await workers(2, { visibilityTimeout: 30 });
  const planned = await enqueueWith('extract.ts', args(bundle.dir, bundle.cacheDir, 11), db.url);
  const runId = Number(planned.runId);
  const start = await strikeMidJob(a!, aId!, 'SIGTERM');
  expect(await a!.exited).toEqual({ code: 0, signal: null });
  // Its job was either finished by A or handed back: never left RUNNING by a stopped worker, never FAILED.
  const outcome = a!.lines.find((l) => l.jobId === start.jobId && (l.event === 'job-done' || l.event === 'job-released' || l.event === 'job-failed'));
  expect(outcome?.event).toMatch(/^job-(done|released)$/);
  const after = await jobRow(start.jobId!);
  if (outcome!.event === 'job-released') expect(after.status === 'QUEUED' || (after.status !== 'FAILED' && after.worker_id === bId)).toBe(true);
  else expect(after).toMatchObject({ status: 'DONE', worker_id: aId });
  const stopped = await db.pool.query<{ stopped_at: Date | null; stop_reason: string | null }>('SELECT stopped_at, stop_reason FROM worker WHERE id = $1', [aId]);
  expect(stopped.rows[0]).toMatchObject({ stop_reason: 'SIGTERM' });
  expect(stopped.rows[0]!.stopped_at).not.toBeNull();

  const run = await until('the run to complete', () => extractionRun(db.pool, runId), (r) => r.status === 'COMPLETED' || r.status === 'FAILED');
  expect(run).toMatchObject({ status: 'COMPLETED', done_count: WORDS.length, error: null });
  await expectExact(runId, WORDS.length);
  const jobs = await jobsOf(db.pool, 'extraction_run_id', runId);
  // A graceful stop does not count against the job's attempts: every job, the stopped one included, used one.
  expect(jobs.map((j) => [j.status, j.attempts, j.units_done])).toEqual(jobs.map(() => ['DONE', 1, 3]));
  if (outcome!.event === 'job-released') expect(jobs.find((j) => j.id === start.jobId)!.worker_id).toBe(bId);
  b!.child.kill('SIGTERM');
  expect((await b!.exited).code).toBe(0);
});

test('a poison concept: its job is tried --max-attempts 2 times, then FAILED with its error; the rest completes and the run is FAILED', async () => {
  const { procs, ids } = await workers(2, { cacheDir: poisoned.cacheDir });
  const planned = await enqueueWith('extract.ts', args(poisoned.dir, poisoned.cacheDir, 12, ['--max-attempts', '2']), db.url);
  const runId = Number(planned.runId);
  const run = await until('the run to settle', () => extractionRun(db.pool, runId), (r) => r.status === 'COMPLETED' || r.status === 'FAILED');
  const jobs = await jobsOf(db.pool, 'extraction_run_id', runId);
  const poison = jobs.find((j) => j.words!.includes('banana'))!;
  const message = /^Concept "banana": text_encoder layer embeddings produced a non-finite value \(NaN\) at index \d+\.$/;
  expect(poison).toMatchObject({ status: 'FAILED', attempts: 2, max_attempts: 2 });
  expect(poison.error).toMatch(message);
  // The other jobs were not blocked: all DONE, each once.
  const rest = jobs.filter((j) => j !== poison);
  expect(rest.map((j) => [j.status, j.attempts, j.units_done])).toEqual(rest.map(() => ['DONE', 1, 3]));
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe(`1 of ${jobs.length} jobs failed; first, job ${poison.position}: ${poison.error}`);
  // What the other jobs stored is complete; the poison job (one UNet batch) stored nothing.
  const done = WORDS.length - poison.unit_count;
  expect(run.done_count).toBe(done);
  await expectExact(runId, done);
  // Two attempts in all, each reported by the worker that made it; the second one final.
  const failures = procs.flatMap((w) => w.lines.filter((l) => l.event === 'job-failed' && l.jobId === poison.id));
  expect(failures.map((l) => [l.attempt, l.final]).sort()).toEqual([[1, false], [2, true]]);
  for (const w of procs) w.child.kill('SIGTERM');
  expect((await Promise.all(procs.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0]);
  expect(ids).toHaveLength(2);
});
