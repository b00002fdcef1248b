/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The EXTRACT job handler on the tiny bundle, real ONNX sessions and real PostgreSQL, called directly
// (the queue core that calls it is tested in queue.test.ts and workers.test.ts): a planned run has the
// identity the in-process run gives the same arguments; two jobs that split a run's concepts, run at
// once, store summaries byte for byte those of runExtraction, and complete() settles the run; the same
// job delivered twice at once writes every summary once with an exact done_count; a worker whose
// device or bundle differs from the plan's is refused before it writes anything.
import { jest } from '@jest/globals';
import pg from 'pg';
import type { Device } from '../../src/bundles/sessions.ts';
import { inTransaction } from '../../src/db/transaction.ts';
import { planExtractionRun, runExtraction, type PlanRunOptions } from '../../src/extraction/run.ts';
import type { ExtractionSettings } from '../../src/extraction/pipeline.ts';
import { writeSummaries } from '../../src/db/summaries.ts';
import { createExtractJobHandler, extractJobSpec, recordStoredConcepts, type ExtractJobSpec } from '../../src/jobs/extract-job.ts';
import { JobError } from '../../src/jobs/errors.ts';
import type { JobContext, JobHandler, JobOutcome, JobRow } from '../../src/jobs/types.ts';
import type { Logger } from '../../src/log.ts';
import { moveRun } from '../../src/runs/status.ts';
import { insertDataset, tempTinyBundle, type TempBundle } from '../extraction/fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

jest.setTimeout(300_000);

const WORDS = ['hammer', 'dog', 'banana', 'apricot', 'elephant', 'umbrella'];
const SETTINGS: Partial<ExtractionSettings> = { steps: 2 };
const BATCH = 2;

let jobsDb: TestDatabase;
let referenceDb: TestDatabase;
let workerPool: pg.Pool;
let bundle: TempBundle;
let otherBundle: TempBundle;
let handler: JobHandler<ExtractJobSpec>;
const warnings: string[] = [];
const log: Logger = { info: () => {}, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) };

beforeAll(async () => {
  [jobsDb, referenceDb] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  // The worker's own pool, as a worker process has: several jobs' transactions at once.
  workerPool = new pg.Pool({ connectionString: jobsDb.url, max: 8 });
  jobsDb.using(() => workerPool.end());
  bundle = tempTinyBundle({ embeddings: 'random' });
  otherBundle = tempTinyBundle({ embeddings: 'random', seed: 7 }); // other weights: another bundle identity
  await insertDataset(jobsDb.prisma, 'job-norms', WORDS);
  await insertDataset(referenceDb.prisma, 'job-norms', WORDS);
  handler = createExtractJobHandler();
});

afterAll(async () => {
  await handler?.release?.();
  await jobsDb?.drop();
  await referenceDb?.drop();
  bundle?.remove();
  otherBundle?.remove();
});

const planOptions = (db: TestDatabase, overrides: Partial<PlanRunOptions> = {}): PlanRunOptions => ({
  db, bundleDir: bundle.dir, norms: 'job-norms', settings: SETTINGS, concepts: WORDS, device: 'cpu', cacheDir: bundle.cacheDir, batch: BATCH, ...overrides,
});

/** The in-process run of the same arguments, into the reference database. */
const referenceRun = () => runExtraction({ db: referenceDb, bundleDir: bundle.dir, norms: 'job-norms', settings: SETTINGS, concepts: WORDS, device: 'cpu', cacheDir: bundle.cacheDir, batch: BATCH });

let nextJobId = 1;

/** A job row as the queue core hands it over, stored in `job` too (complete() reads the DONE jobs' timings). */
async function jobOf(runId: number, position: number, spec: ExtractJobSpec): Promise<JobRow<ExtractJobSpec>> {
  const { rows } = await jobsDb.pool.query<{ id: number }>(
    `INSERT INTO job (kind, extraction_run_id, position, task, spec, unit_count, max_attempts, status, attempts)
     VALUES ('EXTRACT', $1, $2, $3, $4::jsonb, $5, 3, 'RUNNING', 1) RETURNING id`,
    [runId, position, `extract:${spec.device}`, JSON.stringify(spec), spec.units.length],
  );
  // The spec goes through JSON as it does in the job row.
  return { id: rows[0]?.id ?? nextJobId++, kind: 'EXTRACT', runId, position, spec: JSON.parse(JSON.stringify(spec)) as ExtractJobSpec, unitCount: spec.units.length, attempt: 1, maxAttempts: 3 };
}

interface Recorded {
  context: JobContext;
  units: number[];
  providers: string[];
  controller: AbortController;
}

function contextFor(device: Device = 'cpu'): Recorded {
  const controller = new AbortController();
  const recorded: Recorded = {
    controller, units: [], providers: [],
    context: {
      pool: workerPool, signal: controller.signal, device, cacheDir: bundle.cacheDir, log,
      onUnit: async (rows) => void recorded.units.push(rows),
      onExecutionProvider: (provider) => void recorded.providers.push(provider),
    },
  };
  return recorded;
}

/** What the core does after run(): the job DONE with its outcome. */
async function finish(job: JobRow, outcome: JobOutcome): Promise<void> {
  await jobsDb.pool.query(`UPDATE job SET status = 'DONE', units_done = $2, timings = $3::jsonb WHERE id = $1`, [job.id, outcome.unitsDone, JSON.stringify(outcome.timings)]);
}

/** Every summary of a run by (concept, component/layer, timestep, pooling) → its vector's bytes as hex. */
async function summaries(db: TestDatabase, runId: number): Promise<Map<string, string>> {
  const { rows } = await db.pool.query<{ word: string; component: string; layer: string; timestep: number | null; pooling: string; vector: Buffer }>(
    `SELECT c.word, comp.name AS component, l.name AS layer, s.timestep, s.pooling, s.vector
     FROM activation_summary s JOIN concept c ON c.id = s.concept_id JOIN layer l ON l.id = s.layer_id JOIN component comp ON comp.id = l.component_id
     WHERE s.run_id = $1`,
    [runId],
  );
  return new Map(rows.map((r) => [`${r.word} ${r.component}/${r.layer} ${r.timestep} ${r.pooling}`, r.vector.toString('hex')]));
}

async function runRow(runId: number) {
  return jobsDb.prisma.extractionRun.findUniqueOrThrow({ where: { id: runId } });
}

test('a planned run has the settings hash the in-process run of the same arguments has, and the same row', async () => {
  const reference = await referenceRun();
  expect(reference.status).toBe('COMPLETED');

  const planned = await planExtractionRun(planOptions(jobsDb));
  expect(planned.settingsHash).toBe(reference.settingsHash);
  expect(planned).toMatchObject({ created: true, status: 'PENDING', device: 'cpu', batch: BATCH, stored: 0, bundleDir: bundle.dir });
  expect(planned.concepts.map((c) => c.word)).toEqual(WORDS);
  const row = await runRow(planned.runId);
  expect(row).toMatchObject({ settingsHash: reference.settingsHash, status: 'PENDING', device: 'cpu', stepCount: 2, doneCount: 0 });

  // Planned where the in-process run stored it: that run, found, not a new one.
  const again = await planExtractionRun(planOptions(referenceDb));
  expect(again).toMatchObject({ runId: reference.runId, created: false, status: 'COMPLETED', stored: WORDS.length });
  // The requested device is part of the identity.
  const cuda = await planExtractionRun(planOptions(jobsDb, { device: 'cuda' }));
  expect(cuda.settingsHash).not.toBe(planned.settingsHash);
  expect(cuda.runId).not.toBe(planned.runId);
});

test('two jobs splitting a run, run at once, store runExtraction\'s summaries byte for byte; complete() settles the run', async () => {
  const planned = await planExtractionRun(planOptions(jobsDb));
  const reference = await referenceRun(); // run by the first test (NOTHING_TO_DO then), or now
  // Job boundaries on batch boundaries: the same concepts share each UNet call as in the reference run.
  const jobs = [await jobOf(planned.runId, 0, extractJobSpec(planned, planned.concepts.slice(0, 4))), await jobOf(planned.runId, 1, extractJobSpec(planned, planned.concepts.slice(4)))];
  await moveRun(jobsDb.pool, 'extraction_run', planned.runId, 'PENDING', 'RUNNING'); // the core does this when it claims a job
  const contexts = [contextFor(), contextFor()];
  const outcomes = await Promise.all(jobs.map((job, i) => handler.run(job, contexts[i]!.context)));

  const stored = await summaries(jobsDb, planned.runId);
  const expected = await summaries(referenceDb, reference.runId);
  expect(stored.size).toBe(expected.size);
  for (const [key, hex] of expected) expect({ key, hex: stored.get(key) }).toEqual({ key, hex });
  expect(outcomes.map((o) => o.unitsDone)).toEqual([4, 2]);
  expect(outcomes[0]!.rowsWritten + outcomes[1]!.rowsWritten).toBe(expected.size);
  expect(outcomes.map((o) => o.timings.concepts)).toEqual([4, 2]);
  // One onUnit per committed concept, with its rows; the provider the sessions ran on.
  expect(contexts.map((c) => c.units.length)).toEqual([4, 2]);
  expect(contexts[0]!.units.reduce((a, b) => a + b, 0)).toBe(outcomes[0]!.rowsWritten);
  expect(contexts.map((c) => c.providers)).toEqual([['cpu'], ['cpu']]);
  // done_count is what is stored, with two writers at once; the handler leaves the status to the core.
  expect(await runRow(planned.runId)).toMatchObject({ status: 'RUNNING', doneCount: WORDS.length, finishedAt: null });

  for (const [i, job] of jobs.entries()) await finish(job, outcomes[i]!);
  await inTransaction(jobsDb.pool, async (client) => {
    await client.query('SELECT 1 FROM extraction_run WHERE id = $1 FOR UPDATE', [planned.runId]);
    await handler.complete(client, planned.runId);
  });
  const completed = await runRow(planned.runId);
  expect(completed).toMatchObject({ status: 'COMPLETED', doneCount: WORDS.length, error: null });
  expect(completed.finishedAt).not.toBeNull();
  const timings = completed.timings as Record<string, number>;
  expect(timings.concepts).toBe(WORDS.length); // the jobs' timings summed
  expect(timings.unetCalls).toBe(outcomes[0]!.timings.unetCalls! + outcomes[1]!.timings.unetCalls!);

  // A job delivered again after it was stored writes nothing and reports no unit.
  const late = contextFor();
  const replay = await handler.run(jobs[0]!, late.context);
  expect(replay).toMatchObject({ unitsDone: 4, rowsWritten: 0 });
  expect(late.units).toEqual([]);
  expect((await summaries(jobsDb, planned.runId)).size).toBe(expected.size);
});

test('the same job run twice at once writes each summary once, and done_count is exact', async () => {
  const planned = await planExtractionRun(planOptions(jobsDb, { settings: { ...SETTINGS, seed: 3 } }));
  const job = await jobOf(planned.runId, 0, extractJobSpec(planned, planned.concepts));
  await moveRun(jobsDb.pool, 'extraction_run', planned.runId, 'PENDING', 'RUNNING');
  const contexts = [contextFor(), contextFor()];
  const outcomes = await Promise.all(contexts.map((c) => handler.run(job, c.context)));

  const { rows } = await jobsDb.pool.query<{ n: number; distinct_keys: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT (concept_id, layer_id, timestep, pooling))::int AS distinct_keys FROM activation_summary WHERE run_id = $1`, [planned.runId]);
  const perConcept = rows[0]!.n / WORDS.length;
  expect(Number.isInteger(perConcept) && perConcept > 0).toBe(true);
  expect(rows[0]!.distinct_keys).toBe(rows[0]!.n);
  // Between them the two deliveries wrote every row exactly once, and reported each concept once.
  expect(outcomes[0]!.rowsWritten + outcomes[1]!.rowsWritten).toBe(rows[0]!.n);
  expect(contexts[0]!.units.length + contexts[1]!.units.length).toBe(WORDS.length);
  expect([...contexts[0]!.units, ...contexts[1]!.units].every((n) => n === perConcept)).toBe(true);
  expect(outcomes.map((o) => o.unitsDone)).toEqual([WORDS.length, WORDS.length]);
  expect((await runRow(planned.runId)).doneCount).toBe(WORDS.length);
});

test('a worker whose device or bundle is not the plan\'s is refused, naming both, before anything is written', async () => {
  // Planned for cuda, taken by a cpu worker.
  const cuda = await planExtractionRun(planOptions(jobsDb, { device: 'cuda', settings: { ...SETTINGS, seed: 5 } }));
  const cudaJob = await jobOf(cuda.runId, 0, extractJobSpec(cuda, cuda.concepts.slice(0, 2)));
  const onCpu = contextFor('cpu');
  const refused = handler.run(cudaJob, onCpu.context);
  await expect(refused).rejects.toBeInstanceOf(JobError);
  await expect(refused).rejects.toMatchObject({ code: 'WORKER_MISMATCH' });
  await expect(refused).rejects.toThrow(new RegExp(`EXTRACT job ${cudaJob.id} \\(extraction run ${cuda.runId}\\) was planned .* on device cuda .* its sessions run on cpu .*--device cuda`));

  // Planned on one bundle, the folder now holds another (other weights).
  const planned = await planExtractionRun(planOptions(jobsDb, { settings: { ...SETTINGS, seed: 6 } }));
  const moved = { ...extractJobSpec(planned, planned.concepts.slice(0, 2)), bundleDir: otherBundle.dir };
  const bundleJob = await jobOf(planned.runId, 0, moved);
  const other = handler.run(bundleJob, contextFor('cpu').context);
  await expect(other).rejects.toMatchObject({ code: 'WORKER_MISMATCH' });
  await expect(other).rejects.toThrow(new RegExp(`identity ${planned.bundleIdentity.slice(0, 12)}… on device cpu .* this worker's bundle there has identity (?!${planned.bundleIdentity.slice(0, 12)})[0-9a-f]{12}…`));

  for (const runId of [cuda.runId, planned.runId]) {
    const { rows } = await jobsDb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM activation_summary WHERE run_id = $1', [runId]);
    expect(rows[0]!.n).toBe(0);
  }
  expect(onCpu.units).toEqual([]);
});

test('an aborted signal stops after the batch in flight with INTERRUPTED; its concepts are committed', async () => {
  const planned = await planExtractionRun(planOptions(jobsDb, { settings: { ...SETTINGS, seed: 8 } }));
  const job = await jobOf(planned.runId, 0, extractJobSpec(planned, planned.concepts));
  await moveRun(jobsDb.pool, 'extraction_run', planned.runId, 'PENDING', 'RUNNING');
  const stopping = contextFor();
  const onUnit = stopping.context.onUnit;
  stopping.context.onUnit = async (rows) => {
    await onUnit(rows);
    stopping.controller.abort(); // asked to stop once the first concept is committed
  };
  await expect(handler.run(job, stopping.context)).rejects.toMatchObject({ code: 'INTERRUPTED' });
  const done = (await runRow(planned.runId)).doneCount;
  // The first batch (BATCH concepts) was in flight or being written; the next batch may have started before the abort.
  expect(done).toBeGreaterThanOrEqual(BATCH);
  expect(done).toBeLessThan(WORDS.length);
  expect(done % BATCH).toBe(0);
  expect(stopping.units).toHaveLength(done);

  // Resumed: only the rest is written.
  const resumed = contextFor();
  const outcome = await handler.run(job, resumed.context);
  expect(outcome.unitsDone).toBe(WORDS.length);
  expect(resumed.units).toHaveLength(WORDS.length - done);
  expect((await runRow(planned.runId)).doneCount).toBe(WORDS.length);
});

test('two concepts committing at once both count: the second writer counts after the first commits (no lost update)', async () => {
  const planned = await planExtractionRun(planOptions(jobsDb, { settings: { ...SETTINGS, seed: 9 } }));
  const component = await jobsDb.pool.query<{ id: number }>(
    `SELECT c.id FROM component c JOIN extraction_run r ON r.model_id = c.model_id WHERE r.id = $1 AND c.name = 'text_encoder'`, [planned.runId]);
  const layer = await jobsDb.pool.query<{ id: number }>(
    `INSERT INTO layer (component_id, index, name, shape) VALUES ($1, 1000, 'race-test', '{2}')
     ON CONFLICT (component_id, name) DO UPDATE SET shape = excluded.shape RETURNING id`, [component.rows[0]!.id]);
  const row = (word: string) => ({ runId: planned.runId, conceptId: planned.concepts.find((c) => c.word === word)!.id, layerId: layer.rows[0]!.id, timestep: null, pooling: 'eot', vector: new Float32Array([1, 2]) });
  const first = await workerPool.connect();
  const second = await workerPool.connect();
  try {
    await first.query('BEGIN');
    await second.query('BEGIN');
    await writeSummaries(first, [row('hammer')]);
    expect(await recordStoredConcepts(first, planned.runId)).toBe(1);
    await writeSummaries(second, [row('dog')]);
    const pid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const counting = recordStoredConcepts(second, planned.runId);
    counting.catch(() => {});
    // The second writer waits on the run row until the first commits.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await jobsDb.pool.query<{ wait_event_type: string | null }>('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rows[0]?.wait_event_type === 'Lock') break;
      if (Date.now() > deadline) throw new Error('the second writer never waited on the run row');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await first.query('COMMIT');
    expect(await counting).toBe(2);
    await second.query('COMMIT');
  } finally {
    await first.query('ROLLBACK').catch(() => {});
    await second.query('ROLLBACK').catch(() => {});
    first.release();
    second.release();
  }
  expect((await runRow(planned.runId)).doneCount).toBe(2);
});
