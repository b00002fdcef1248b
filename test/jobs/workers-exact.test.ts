/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Issue 12's first guarantee, with real worker processes (`npm run worker`) on real runs of the tiny
// bundle: a run enqueued with `npm run extract -- --enqueue` and taken by several workers at once
// ends with exactly one summary per (concept, layer, timestep, pooling) — none lost, none twice — and
// those summaries are the in-process path's (runExtraction, in a second database: the run's identity
// is the bundle, settings and device, not the database), bit for bit.
import { jest } from '@jest/globals';
import { runExtraction } from '../../src/extraction/run.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { insertDataset, tempTinyBundle, TEST_WORDS, type TempBundle } from '../extraction/fixtures.ts';
import { enqueueWith, extractionRun, jobsOf, spawnWorker, summaryBytes, summaryCounts, until, type WorkerProcess } from './worker-harness.ts';

jest.setTimeout(180_000);

let db: TestDatabase;
/** The in-process runs' database. */
let reference: TestDatabase;
let bundle: TempBundle;
const WORDS = TEST_WORDS.slice(0, 12);
const STEPS = 3;
// Per concept: text encoder 6 layers × 3 poolings, UNet 5 layers × 3 timesteps, VAE 3 layers at the last step.
const PER_CONCEPT = 6 * 3 + 5 * STEPS + 3;
/** The in-process run of each seed, in `reference`. */
const inProcessRuns = new Map<number, number>();

beforeAll(async () => {
  [db, reference] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  bundle = tempTinyBundle({ embeddings: 'random' });
  await insertDataset(db.prisma, 'test-norms', TEST_WORDS);
  await insertDataset(reference.prisma, 'test-norms', TEST_WORDS);
});

afterAll(async () => {
  await Promise.allSettled([db?.drop(), reference?.drop()]);
  bundle?.remove();
});

const extractArgs = (seed: number) => [
  '--bundle', bundle.dir, '--norms', 'test-norms', '--concepts', WORDS.join(','), '--steps', String(STEPS), '--seed', String(seed),
  '--cache-dir', bundle.cacheDir, '--job-size', '2',
];

async function startWorkers(n: number): Promise<{ workers: WorkerProcess[]; ids: string[] }> {
  const workers = Array.from({ length: n }, () => spawnWorker(db, db.url, { cacheDir: bundle.cacheDir }));
  // Every worker is listening before the run is planned, so they all compete for its jobs.
  const ids = await Promise.all(workers.map((w) => w.id));
  return { workers, ids };
}

/** SIGTERM: each worker stops cleanly (exit 0) and its row says so. */
async function stopWorkers(workers: WorkerProcess[], ids: string[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGTERM');
  const exits = await Promise.all(workers.map((w) => w.exited));
  expect(exits.map((e) => e.code)).toEqual(workers.map(() => 0));
  const stopped = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM worker WHERE id = ANY($1) AND stopped_at IS NOT NULL', [ids]);
  expect(stopped.rows[0]!.n).toBe(workers.length);
}

async function processed(seed: number, workerCount: number): Promise<{ runId: number; settingsHash: string; ids: string[] }> {
  const { workers, ids } = await startWorkers(workerCount);
  const planned = await enqueueWith('extract.ts', extractArgs(seed), db.url);
  const runId = Number(planned.runId);
  expect(planned).toMatchObject({ jobs: WORDS.length / 2, added: WORDS.length / 2, requeued: 0 });
  const run = await until('the enqueued run to complete', () => extractionRun(db.pool, runId), (r) => r.status === 'COMPLETED' || r.status === 'FAILED');
  expect(run).toMatchObject({ status: 'COMPLETED', done_count: WORDS.length, planned_count: WORDS.length, error: null });
  await stopWorkers(workers, ids);
  return { runId, settingsHash: String(planned.settingsHash), ids };
}

test('three workers on one run: exactly one summary per (concept, layer, timestep, pooling), every job DONE once', async () => {
  const { runId, ids } = await processed(0, 3);
  expect(await summaryCounts(db.pool, runId)).toEqual({ rows: WORDS.length * PER_CONCEPT, keys: WORDS.length * PER_CONCEPT, concepts: WORDS.length });
  const jobs = await jobsOf(db.pool, 'extraction_run_id', runId);
  expect(jobs.map((j) => [j.status, j.units_done, j.unit_count])).toEqual(jobs.map(() => ['DONE', 2, 2]));
  // Each job ran once (no worker was lost), by one of these workers; the jobs cover every concept once.
  expect(jobs.every((j) => j.attempts === 1 && ids.includes(j.worker_id!))).toBe(true);
  expect(jobs.flatMap((j) => j.words).sort()).toEqual([...WORDS].sort());
  // The summaries' words are the run's concepts.
  const words = await db.pool.query<{ word: string }>('SELECT DISTINCT c.word FROM activation_summary s JOIN concept c ON c.id = s.concept_id WHERE s.run_id = $1 ORDER BY 1', [runId]);
  expect(words.rows.map((r) => r.word)).toEqual([...WORDS].sort());
});

test.each([
  { seed: 0, workers: 'the three workers\' run', count: 0 },
  { seed: 1, workers: 'two workers', count: 2 },
])('$workers: the same summaries as the in-process runExtraction, bit for bit', async ({ seed, count }) => {
  // Seed 0 was processed by three workers in the test above (its run is COMPLETED: a re-enqueue adds nothing).
  const queued = count > 0 ? await processed(seed, count) : await (async () => {
    const planned = await enqueueWith('extract.ts', extractArgs(seed), db.url);
    expect(planned).toMatchObject({ added: 0 });
    return { runId: Number(planned.runId), settingsHash: String(planned.settingsHash) };
  })();
  const inProcess = await runExtraction({
    db: reference, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir, concepts: WORDS, settings: { steps: STEPS, seed }, threads: 1,
  });
  expect(inProcess.status).toBe('COMPLETED');
  // Same identity in both databases: the settings hash does not depend on how the run is executed.
  expect(inProcess.settingsHash).toBe(queued.settingsHash);
  const [viaWorkers, viaProcess] = await Promise.all([summaryBytes(db.pool, queued.runId), summaryBytes(reference.pool, inProcess.runId)]);
  expect(viaWorkers.size).toBe(WORDS.length * PER_CONCEPT);
  expect([...viaWorkers.keys()].sort()).toEqual([...viaProcess.keys()].sort());
  const differing = [...viaWorkers].filter(([key, hex]) => viaProcess.get(key) !== hex).map(([key]) => key);
  expect(differing).toEqual([]);
  inProcessRuns.set(seed, inProcess.runId);
  // The comparison sees a difference where there is one: another seed's UNet summaries differ.
  const other = inProcessRuns.get(1 - seed);
  if (other !== undefined) {
    const otherSeed = await summaryBytes(reference.pool, other);
    expect([...viaWorkers].filter(([key, hex]) => key.includes('/unet.') && otherSeed.get(key) !== hex).length).toBeGreaterThan(0);
  }
});
