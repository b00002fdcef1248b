/** @jest-environment ./test/bundles/onnx-environment.cjs */
// PROBE jobs against the in-process probe run, on real PostgreSQL with real ONNX Runtime products:
// the plan has runProbe's identity, cells fitted by jobs (split, raced, interrupted) are the cells
// runProbe stores, bit for bit, and done_count stays exact when cells commit concurrently. The
// summaries are synthetic (test/probe-runs/synthetic-run.ts, shared with test/probe-runs/run.test.ts):
// a projection of each concept's z-scored Binder ratings plus noise, pure noise, and a cell with too
// few concepts (recorded skipped).
// The queue core is not started: the tests call the handler as the worker does (a context, then
// complete() inside a transaction holding the run row's lock, after moving the run to RUNNING).
import { inTransaction } from '../../src/db/transaction.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { probeJobHandler, type ProbeJobSpec } from '../../src/jobs/probe-job.ts';
import type { JobContext, JobRow } from '../../src/jobs/types.ts';
import type { CellKey } from '../../src/probe-runs/load.ts';
import { parseEnqueueArguments, parseProbeArguments } from '../../src/probe-runs/arguments.ts';
import { planProbeRun, runProbe, type PlannedProbeRun, type ProbeRunOptions } from '../../src/probe-runs/run.ts';
import { recordCellsDone } from '../../src/probe-runs/write.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedSyntheticRun, SYNTHETIC_CELLS } from '../probe-runs/synthetic-run.ts';

const CONCEPTS = 60;
const FEW = 6; // < 2 × folds: that cell is recorded skipped
const SETTINGS = { folds: 5, permutations: 5, bootstrap: 30, seed: 0, excludeCategories: ['group'] };
const TIMEOUT = 240_000;

let jobsDb: TestDatabase;
let inProcessDb: TestDatabase;
let attributeCount: number;
const extractionRunIds = new Map<TestDatabase, number>();

/** The same norms, model and summaries in `db`, inserted in the same order (so the ids match across databases), plus a FEW-concept UNet cell. */
async function seed(db: TestDatabase): Promise<number> {
  const seeded = await seedSyntheticRun(db, {
    concepts: CONCEPTS,
    description: 'synthetic summaries for the probe-job test',
    cells: [...SYNTHETIC_CELLS, { layer: 'unet', timestep: 500, dim: 32, noise: 1, signal: true, concepts: FEW }],
  });
  attributeCount = seeded.attributeCount;
  return seeded.extractionRunId;
}

beforeAll(async () => {
  jobsDb = await createTestDatabase();
  inProcessDb = await createTestDatabase();
  for (const db of [jobsDb, inProcessDb]) extractionRunIds.set(db, await seed(db));
}, TIMEOUT);

afterAll(async () => {
  await jobsDb?.drop();
  await inProcessDb?.drop();
});

const options = (db: TestDatabase, settings: object = {}): ProbeRunOptions => ({ extractionRunId: extractionRunIds.get(db)!, norms: 'binder2016', settings: { ...SETTINGS, ...settings } });

/** The job rows scripts/probe.ts --enqueue would plan, `size` cells each (positions from 0). */
function jobsOf(planned: PlannedProbeRun, size: number): JobRow<ProbeJobSpec>[] {
  const base = { probeRunId: planned.run.id, extractionRunId: planned.extractionRunId, datasetId: planned.datasetId, settings: planned.settings };
  const jobs: JobRow<ProbeJobSpec>[] = [];
  for (let start = 0; start < planned.cells.length; start += size) {
    const units: CellKey[] = planned.cells.slice(start, start + size);
    // Through JSON, as the spec comes back from the job row.
    const spec = JSON.parse(JSON.stringify({ ...base, units })) as ProbeJobSpec;
    jobs.push({ id: 1000 + jobs.length, kind: 'PROBE', runId: planned.run.id, position: jobs.length, spec, unitCount: units.length, attempt: 1, maxAttempts: 3 });
  }
  return jobs;
}

const quiet = createLogger('probe-job-test', { write: () => true, isTTY: false });

function contextFor(db: TestDatabase, signal: AbortSignal = new AbortController().signal, units: number[] = []): JobContext {
  return { pool: db.pool, signal, device: 'cpu', cacheDir: '/nonexistent', log: quiet, onUnit: async (rows) => { units.push(rows); } };
}

/** What the worker does when the run's last job is DONE: the run RUNNING (the claim did it), complete() under the row lock. */
async function completeRun(db: TestDatabase, probeRunId: number): Promise<void> {
  await db.pool.query(`UPDATE probe_run SET status = 'RUNNING' WHERE id = $1 AND status <> 'RUNNING'`, [probeRunId]);
  await inTransaction(db.pool, async (client) => {
    await client.query('SELECT 1 FROM probe_run WHERE id = $1 FOR UPDATE', [probeRunId]);
    await probeJobHandler.complete(client, probeRunId);
  });
}

/** Every stored number of a run, keyed by cell and attribute (ids match across the two databases), and its bytes. */
async function stored(db: TestDatabase, probeRunId: number) {
  const key = `c.layer_id, coalesce(c.timestep, -1), c.pooling`;
  const scores = await db.pool.query<Record<string, number | null>>(
    `SELECT s.attribute_id, s.pearson_r, s.r2, s.two_vs_two, s.alpha, s.null_pearson_r, s.null_r2, s.null_two_vs_two, s.p_value, s.q_value
     FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1 ORDER BY ${key}, s.attribute_id`, [probeRunId]);
  const groups = await db.pool.query<Record<string, number | string | null>>(
    `SELECT g.attribute_group_id, g.metric, g.mean, g.ci_low, g.ci_high
     FROM probe_group_score g JOIN probe_cell c ON c.id = g.cell_id WHERE c.probe_run_id = $1 ORDER BY ${key}, g.attribute_group_id, g.metric`, [probeRunId]);
  const cells = await db.pool.query<Record<string, number | string | null>>(
    `SELECT c.layer_id, c.timestep, c.pooling, c.concept_count, c.attribute_two_vs_two, c.attribute_rsa, c.concept_two_vs_two,
            p.data AS predictions, p.concept_ids, (SELECT string_agg(encode(x.data, 'hex'), ',' ORDER BY x.measure) FROM probe_cell_matrix x WHERE x.cell_id = c.id) AS matrices
     FROM probe_cell c JOIN probe_cell_prediction p ON p.cell_id = c.id WHERE c.probe_run_id = $1 ORDER BY ${key}`, [probeRunId]);
  const run = (await db.pool.query<{ status: string; done_count: number; planned_count: number; skipped: unknown; concepts: unknown }>(
    `SELECT status, done_count, planned_count, timings->'skipped' AS skipped, timings->'concepts' AS concepts FROM probe_run WHERE id = $1`, [probeRunId])).rows[0]!;
  const numbers = (rows: Record<string, unknown>[]) => Float64Array.from(rows.flatMap((row) => Object.values(row).filter((v): v is number => typeof v === 'number')));
  return { scores: scores.rows, groups: groups.rows, cells: cells.rows, run, scoreBits: Buffer.from(numbers(scores.rows).buffer), groupBits: Buffer.from(numbers(groups.rows).buffer) };
}

/** Whole cells only: every probe_cell of the run has its scores, group scores, 3 matrices and its predictions. */
async function wholeCells(db: TestDatabase, probeRunId: number): Promise<{ cells: number; whole: number }> {
  const { rows } = await db.pool.query<{ cells: number; whole: number }>(
    `SELECT count(*)::int AS cells, count(*) FILTER (WHERE
       (SELECT count(*) FROM probe_score s WHERE s.cell_id = c.id) = $2
       AND (SELECT count(*) FROM probe_group_score g WHERE g.cell_id = c.id) > 0
       AND (SELECT count(*) FROM probe_cell_matrix x WHERE x.cell_id = c.id) = 3
       AND EXISTS (SELECT 1 FROM probe_cell_prediction p WHERE p.cell_id = c.id))::int AS whole
     FROM probe_cell c WHERE c.probe_run_id = $1`, [probeRunId, attributeCount]);
  return rows[0]!;
}

test('--enqueue, --job-size and --max-attempts parse, and the job flags need --enqueue', () => {
  const argv = ['--run', '3', '--norms', 'binder2016'];
  expect(parseEnqueueArguments(argv)).toBeNull();
  expect(parseEnqueueArguments([...argv, '--enqueue'])).toEqual({ jobSize: 8, maxAttempts: 3 });
  expect(parseEnqueueArguments([...argv, '--enqueue', '--job-size', '2', '--max-attempts=5'])).toEqual({ jobSize: 2, maxAttempts: 5 });
  expect(parseProbeArguments([...argv, '--enqueue', '--job-size', '2'])).toEqual({ extractionRunId: 3, norms: 'binder2016', settings: {} });
  expect(() => parseEnqueueArguments([...argv, '--job-size', '2'])).toThrow('--job-size plans jobs: it needs --enqueue.');
  expect(() => parseEnqueueArguments([...argv, '--enqueue', '--job-size', '0'])).toThrow('--job-size must be at least 1, got 0.');
  expect(() => parseEnqueueArguments([...argv, '--enqueue', '--max-attempts', 'x'])).toThrow('--max-attempts: "x" is not a number.');
});

test('the plan has runProbe\'s identity; two jobs splitting the cells store what runProbe stores, bit for bit, q-values included', async () => {
  // The two databases were seeded alike: the same ids, so the same identities.
  expect(extractionRunIds.get(jobsDb)).toBe(extractionRunIds.get(inProcessDb));

  const planned = await planProbeRun(jobsDb.pool, options(jobsDb));
  expect(planned).toMatchObject({ run: { status: 'PENDING', created: true, plannedCount: 4 }, alreadyDone: 0, complete: false });
  expect(planned.cells).toHaveLength(4);
  // Planning again finds the same row and changes nothing.
  expect((await planProbeRun(jobsDb.pool, options(jobsDb))).run).toMatchObject({ id: planned.run.id, created: false, status: 'PENDING' });

  const summary = await runProbe(inProcessDb.pool, options(inProcessDb));
  expect(summary).toMatchObject({ created: true, total: 4, written: 3, skipped: 1, status: 'COMPLETED' });
  const inProcessHash = (await inProcessDb.pool.query<{ settings_hash: string }>('SELECT settings_hash FROM probe_run WHERE id = $1', [summary.probeRunId])).rows[0]!.settings_hash;
  expect(planned.settingsHash).toBe(inProcessHash);
  expect(planned.run.settingsHash).toBe(inProcessHash);
  // planProbeRun on the database runProbe wrote finds runProbe's run, complete.
  expect(await planProbeRun(inProcessDb.pool, options(inProcessDb))).toMatchObject({ run: { id: summary.probeRunId, created: false }, complete: true, alreadyDone: 4 });

  const [first, second] = jobsOf(planned, 2);
  const units: number[][] = [[], []];
  const outcomes = await Promise.all([probeJobHandler.run(first!, contextFor(jobsDb, undefined, units[0])), probeJobHandler.run(second!, contextFor(jobsDb, undefined, units[1]))]);
  expect(outcomes.map((o) => o.unitsDone)).toEqual([2, 2]);
  expect(outcomes.reduce((s, o) => s + o.rowsWritten, 0)).toBe(3);
  expect(outcomes[0]!.timings).toMatchObject({ load: expect.any(Number), read: expect.any(Number), fit: expect.any(Number), total: expect.any(Number) });
  // onUnit: 1 per written cell, 0 for the skipped one.
  expect(units.flat().sort()).toEqual([0, 1, 1, 1]);
  // The handler moves no status: the run is still the core's to start and complete.
  expect((await jobsDb.pool.query('SELECT status, done_count FROM probe_run WHERE id = $1', [planned.run.id])).rows[0]).toEqual({ status: 'PENDING', done_count: 4 });
  const beforeComplete = await jobsDb.pool.query('SELECT count(*)::int AS n FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1 AND s.q_value IS NOT NULL', [planned.run.id]);
  expect(beforeComplete.rows[0]).toEqual({ n: 0 });

  await completeRun(jobsDb, planned.run.id);
  const fromJobs = await stored(jobsDb, planned.run.id);
  const inProcess = await stored(inProcessDb, summary.probeRunId);
  expect(fromJobs.run).toEqual({ ...inProcess.run });
  expect(fromJobs.run).toMatchObject({ status: 'COMPLETED', done_count: 4, planned_count: 4 });
  expect(Object.keys(fromJobs.run.skipped as object)).toHaveLength(1);
  expect(fromJobs.scores).toHaveLength(3 * attributeCount);
  expect(fromJobs.scores.every((s) => s.q_value !== null)).toBe(true);
  expect(fromJobs.scoreBits.length).toBeGreaterThan(0);
  expect(fromJobs.scoreBits.equals(inProcess.scoreBits)).toBe(true);
  expect(fromJobs.groupBits.equals(inProcess.groupBits)).toBe(true);
  expect(fromJobs.scores).toEqual(inProcess.scores);
  expect(fromJobs.groups).toEqual(inProcess.groups);
  expect(fromJobs.cells).toEqual(inProcess.cells);

  // Completing again (a re-enqueued finished run) keeps it COMPLETED with the same q-values.
  await inTransaction(jobsDb.pool, (client) => probeJobHandler.complete(client, planned.run.id));
  expect((await stored(jobsDb, planned.run.id)).scoreBits.equals(inProcess.scoreBits)).toBe(true);
}, TIMEOUT);

test('the same job delivered twice at once stores each cell once, with an exact done_count', async () => {
  const planned = await planProbeRun(jobsDb.pool, options(jobsDb, { seed: 1 }));
  const [job] = jobsOf(planned, 4);
  const units: number[] = [];
  const outcomes = await Promise.all([probeJobHandler.run(job!, contextFor(jobsDb, undefined, units)), probeJobHandler.run(job!, contextFor(jobsDb, undefined, units))]);
  expect(outcomes.map((o) => o.unitsDone)).toEqual([4, 4]);
  expect(outcomes[0]!.rowsWritten + outcomes[1]!.rowsWritten).toBe(3);
  expect(units.filter((rows) => rows === 1)).toHaveLength(3);
  expect(await wholeCells(jobsDb, planned.run.id)).toEqual({ cells: 3, whole: 3 });
  const run = await jobsDb.pool.query('SELECT done_count, jsonb_object_keys(timings->\'skipped\') AS skipped FROM probe_run WHERE id = $1', [planned.run.id]);
  expect(run.rows).toHaveLength(1);
  expect(run.rows[0].done_count).toBe(4);
  // A third delivery finds everything stored and writes nothing.
  const again = await probeJobHandler.run(job!, contextFor(jobsDb));
  expect(again).toMatchObject({ unitsDone: 4, rowsWritten: 0 });
}, TIMEOUT);

test('two cells committing at once both count: a cell waits for the run row before counting', async () => {
  const planned = await planProbeRun(jobsDb.pool, options(jobsDb, { seed: 3, permutations: 0, bootstrap: 10 }));
  const [text, unet100] = planned.cells;
  // Transaction X writes a cell (a bare row is enough for the count) and counts it, and stays open.
  const x = await jobsDb.pool.connect();
  let waiting = false;
  try {
    await x.query('BEGIN');
    await x.query('INSERT INTO probe_cell (probe_run_id, layer_id, timestep, pooling, concept_count) VALUES ($1, $2, $3, $4, 0)',
      [planned.run.id, text!.layerId, text!.timestep, text!.pooling]);
    await recordCellsDone(x, planned.run.id);
    const xPid = (await x.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // Meanwhile a job writes another cell; its count must wait for X's commit and then include X's cell.
    const [job] = jobsOf({ ...planned, cells: [unet100!] }, 1);
    let settled = false;
    const running = probeJobHandler.run(job!, contextFor(jobsDb)).finally(() => { settled = true; });
    const deadline = Date.now() + 120_000;
    while (!waiting && !settled && Date.now() < deadline) {
      const blocked = await jobsDb.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid))`, [xPid]);
      waiting = blocked.rows[0]!.n > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await x.query('COMMIT');
    expect(await running).toMatchObject({ unitsDone: 1, rowsWritten: 1 });
  } finally {
    x.release();
  }
  expect(waiting).toBe(true);
  expect((await jobsDb.pool.query('SELECT done_count FROM probe_run WHERE id = $1', [planned.run.id])).rows[0]).toEqual({ done_count: 2 });
}, TIMEOUT);

test('an aborted signal stops a job after the cell in flight with INTERRUPTED, leaving whole cells; the next attempt does the rest', async () => {
  const planned = await planProbeRun(jobsDb.pool, options(jobsDb, { seed: 2 }));
  const [job] = jobsOf(planned, 4);
  const stop = new AbortController();
  const units: number[] = [];
  const context = { ...contextFor(jobsDb, stop.signal, units), onUnit: async (rows: number) => { units.push(rows); stop.abort(); } };
  await expect(probeJobHandler.run(job!, context)).rejects.toMatchObject({ code: 'INTERRUPTED' });
  expect(units).toEqual([1]);
  expect(await wholeCells(jobsDb, planned.run.id)).toEqual({ cells: 1, whole: 1 });
  expect((await jobsDb.pool.query('SELECT status, done_count FROM probe_run WHERE id = $1', [planned.run.id])).rows[0]).toEqual({ status: 'PENDING', done_count: 1 });

  // Aborted before it starts: nothing is read or written.
  await expect(probeJobHandler.run(job!, contextFor(jobsDb, AbortSignal.abort()))).rejects.toMatchObject({ code: 'INTERRUPTED' });

  const resumed = await probeJobHandler.run(job!, contextFor(jobsDb));
  expect(resumed).toMatchObject({ unitsDone: 4, rowsWritten: 2 });
  expect(await wholeCells(jobsDb, planned.run.id)).toEqual({ cells: 3, whole: 3 });
  await completeRun(jobsDb, planned.run.id);
  expect((await jobsDb.pool.query('SELECT status, done_count FROM probe_run WHERE id = $1', [planned.run.id])).rows[0]).toEqual({ status: 'COMPLETED', done_count: 4 });
}, TIMEOUT);

test('a job whose run no longer has its identity fails with PROBE_JOB_MISMATCH and writes nothing', async () => {
  const planned = await planProbeRun(jobsDb.pool, options(jobsDb, { seed: 4 }));
  const [job] = jobsOf(planned, 4);
  const changed = { ...job!, spec: { ...job!.spec, settings: { ...job!.spec.settings, seed: 5 } } };
  await expect(probeJobHandler.run(changed, contextFor(jobsDb))).rejects.toMatchObject({ code: 'PROBE_JOB_MISMATCH' });
  expect(await wholeCells(jobsDb, planned.run.id)).toEqual({ cells: 0, whole: 0 });
  await expect(probeJobHandler.run({ ...job!, runId: job!.runId + 1 }, contextFor(jobsDb))).rejects.toMatchObject({ code: 'PROBE_JOB_MISMATCH' });
}, TIMEOUT);

test('npm run probe -- --enqueue plans the run into jobs of --job-size cells, once; a complete run is NOTHING_TO_DO', async () => {
  const { execFile } = await import('node:child_process');
  const probe = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/probe.ts', '--run', String(extractionRunIds.get(jobsDb)), '--norms', 'binder2016',
      '--folds', '5', '--permutations', '5', '--bootstrap', '30', '--exclude-category', 'group', ...args],
    { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: jobsDb.url } },
    (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
  const first = await probe(['--seed', '9', '--enqueue', '--job-size', '3', '--max-attempts', '2']);
  expect(first.stderr).not.toMatch(/Error/);
  expect(first.code).toBe(0);
  const lines = first.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const report = JSON.parse(lines[0]!);
  expect(report).toMatchObject({ event: 'enqueued', created: true, total: 4, alreadyDone: 0, status: 'QUEUED', jobs: 2, added: 2, requeued: 0, units: 4 });
  const jobs = await jobsDb.pool.query<{ kind: string; task: string; unit_count: number; max_attempts: number; spec: ProbeJobSpec }>(
    'SELECT kind, task, unit_count, max_attempts, spec FROM job WHERE probe_run_id = $1 ORDER BY position', [report.probeRunId]);
  expect(jobs.rows.map((job) => [job.kind, job.task, job.unit_count, job.max_attempts])).toEqual([['PROBE', 'probe', 3, 2], ['PROBE', 'probe', 1, 2]]);
  const planned = await planProbeRun(jobsDb.pool, options(jobsDb, { seed: 9 }));
  expect(jobs.rows.flatMap((job) => job.spec.units)).toEqual(planned.cells);
  expect(jobs.rows[0]!.spec).toMatchObject({ probeRunId: planned.run.id, extractionRunId: planned.extractionRunId, datasetId: planned.datasetId, settings: planned.settings });
  expect(planned.run).toMatchObject({ id: report.probeRunId, status: 'PENDING', plannedCount: 4 });

  const again = await probe(['--seed', '9', '--enqueue']);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ probeRunId: report.probeRunId, created: false, jobs: 2, added: 0, requeued: 0, units: 4 });

  // The jobs as stored, run by the handler and completed: enqueueing the finished run has nothing to do.
  const stored = await jobsDb.pool.query<{ id: number; position: number; spec: ProbeJobSpec; unit_count: number }>(
    'SELECT id, position, spec, unit_count FROM job WHERE probe_run_id = $1 ORDER BY position', [report.probeRunId]);
  for (const row of stored.rows) {
    const job: JobRow<ProbeJobSpec> = { id: row.id, kind: 'PROBE', runId: report.probeRunId, position: row.position, spec: row.spec, unitCount: row.unit_count, attempt: 1, maxAttempts: 2 };
    expect(await probeJobHandler.run(job, contextFor(jobsDb))).toMatchObject({ unitsDone: row.unit_count });
  }
  await completeRun(jobsDb, report.probeRunId);
  const done = await probe(['--seed', '9', '--enqueue']);
  expect(done.code).toBe(0);
  expect(JSON.parse(done.stdout)).toMatchObject({ probeRunId: report.probeRunId, status: 'NOTHING_TO_DO', alreadyDone: 4, added: 0 });

  const bad = await probe(['--seed', '9', '--job-size', '2']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--job-size plans jobs: it needs --enqueue/);
}, TIMEOUT);
