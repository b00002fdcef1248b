// A run's jobs and workers through the API, from `job` and `worker` rows inserted with SQL (as the
// queue core writes them): counts by status, units, the recent rate and its ETA, the workers seen on
// the run, the jobs connection (plan order, status filter, cursors), Query.workers, a worker's jobs;
// and the statements behind it: one per hop, whatever the number of runs (no N+1).
import { DEFAULT_VISIBILITY_TIMEOUT_MS } from '../../src/jobs/worker.ts';
import { WORKER_VISIBILITY_TIMEOUT_SECONDS } from '../../src/db/job-reads.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { recordStatements, type StatementRecorder } from '../support/statements.ts';
import { seedBinder, seedModel } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let recorder: StatementRecorder;
let modelId: number;
let extractionRunId: number;
let probeRunId: number;
let emptyRunId: number;

async function extractionRun(tag: string): Promise<number> {
  const run = await db.prisma.extractionRun.create({
    data: { modelId, settingsHash: `x-${tag}`, promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
  });
  return run.id;
}

async function insertWorker(id: string, values: { lastSeen: string; stopped?: boolean; device?: string }) {
  await db.pool.query(
    `INSERT INTO worker (id, host, pid, device, kinds, concurrency, queue_worker_ids, started_at, last_seen_at, stopped_at, stop_reason)
     VALUES ($1, 'host-a', 4242, $2, '{EXTRACT,PROBE}', 2, '{}', now() - interval '1 hour', now() - $3::interval, $4, $5)`,
    [id, values.device ?? 'cuda', values.lastSeen, values.stopped ? new Date() : null, values.stopped ? 'SIGTERM' : null],
  );
}

/** One job row; `finishedAgo`/`startedAgo` are intervals before now. */
async function insertJob(kind: 'EXTRACT' | 'PROBE', runId: number, position: number, values: { status: string; units: number; done?: number; worker?: string; startedAgo?: string; finishedAgo?: string }) {
  await db.pool.query(
    `INSERT INTO job (kind, extraction_run_id, probe_run_id, position, task, spec, unit_count, units_done, rows_written, status, attempts, max_attempts, error, worker_id, started_at, finished_at)
     VALUES ($1, $2, $3, $4, 'extract:cpu', '{"units": []}', $5, $6, $6 * 10, $7, 1, 3, $8, $9, now() - $10::interval, now() - $11::interval)`,
    [
      kind, kind === 'EXTRACT' ? runId : null, kind === 'PROBE' ? runId : null, position, values.units, values.done ?? 0, values.status,
      values.status === 'FAILED' ? 'boom' : null, values.worker ?? null, values.startedAgo ?? null, values.finishedAgo ?? null,
    ],
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  recorder = recordStatements(db.pool);
  const binder = await seedBinder(db.prisma, { concepts: 2, groups: ['Vision'] });
  modelId = (await seedModel(db.prisma, { name: 'tiny', components: 1, layers: 1 })).id;
  extractionRunId = await extractionRun('main');
  emptyRunId = await extractionRun('empty');
  probeRunId = (await db.prisma.probeRun.create({
    data: { extractionRunId, normsDatasetId: binder.id, settingsHash: 'p-main', method: 'ridge-loo/v2', settings: {}, cvScheme: 'test' },
  })).id;
  await insertWorker('host-a:4242:live', { lastSeen: '2 seconds' });
  await insertWorker('host-a:4243:silent', { lastSeen: '2 minutes' }); // seen within 300 s, but not alive (60 s)
  await insertWorker('host-a:4244:stopped', { lastSeen: '1 second', stopped: true, device: 'cpu' });
  await insertWorker('host-b:1:old', { lastSeen: '2 hours' });
  // The extraction run: 6 jobs. Two DONE in the last 5 minutes (10 + 20 units), one DONE long ago (5 units).
  await insertJob('EXTRACT', extractionRunId, 0, { status: 'DONE', units: 10, done: 10, worker: 'host-a:4242:live', startedAgo: '100 seconds', finishedAgo: '60 seconds' });
  await insertJob('EXTRACT', extractionRunId, 1, { status: 'DONE', units: 20, done: 20, worker: 'host-a:4243:silent', startedAgo: '90 seconds', finishedAgo: '10 seconds' });
  await insertJob('EXTRACT', extractionRunId, 2, { status: 'DONE', units: 5, done: 5, worker: 'host-b:1:old', startedAgo: '3 hours', finishedAgo: '2 hours' });
  await insertJob('EXTRACT', extractionRunId, 3, { status: 'RUNNING', units: 10, done: 4, worker: 'host-a:4242:live', startedAgo: '5 seconds' });
  await insertJob('EXTRACT', extractionRunId, 4, { status: 'QUEUED', units: 10 });
  await insertJob('EXTRACT', extractionRunId, 5, { status: 'FAILED', units: 10, done: 1, worker: 'host-a:4244:stopped', startedAgo: '1 hour', finishedAgo: '50 minutes' });
  // The probe run (same id space of jobs, another run table): 2 jobs, one cancelled.
  await insertJob('PROBE', probeRunId, 0, { status: 'CANCELLED', units: 3 });
  await insertJob('PROBE', probeRunId, 1, { status: 'RUNNING', units: 4, worker: 'host-a:4242:live', startedAgo: '1 second' });
  api = await startTestApi(db);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const RUN_JOBS = `jobCount queuedCount runningCount doneCount failedCount cancelledCount unitCount doneUnitCount unitsPerSecond etaSeconds
  workers { id alive device kinds concurrency host pid stopReason }`;

test("the API's alive rule uses the queue's own default visibility timeout", () => {
  expect(WORKER_VISIBILITY_TIMEOUT_SECONDS * 1000).toBe(DEFAULT_VISIBILITY_TIMEOUT_MS);
});

test('a run counts its jobs by status and units, with the rate over the last 300 s and the ETA', async () => {
  const { body } = await api.graphql(`query ($id: ID!) { extractionRun(id: $id) { jobs { ${RUN_JOBS} } } }`, { id: String(extractionRunId) });
  expect(body.errors).toBeUndefined();
  const jobs = body.data.extractionRun.jobs;
  expect(jobs).toMatchObject({ jobCount: 6, queuedCount: 1, runningCount: 1, doneCount: 3, failedCount: 1, cancelledCount: 0, unitCount: 65, doneUnitCount: 40 });
  // 30 units DONE within the window over the seconds from the earliest of their starts (100 s before
  // the insert) to now: at most 30/100, and well above the 30/300 of the whole window (bounds that
  // leave a loaded machine 100 s between insert and query).
  expect(jobs.unitsPerSecond).toBeLessThanOrEqual(30 / 100);
  expect(jobs.unitsPerSecond).toBeGreaterThan(30 / 200);
  expect(jobs.etaSeconds).toBeCloseTo(25 / jobs.unitsPerSecond, 6);
  // Seen in the last 300 s with a job of the run, most recently seen first; the 2-hour-old one is not.
  expect(jobs.workers.map((w: { id: string }) => w.id)).toEqual(['host-a:4244:stopped', 'host-a:4242:live', 'host-a:4243:silent']);
  expect(jobs.workers.map((w: { alive: boolean }) => w.alive)).toEqual([false, true, false]);
  expect(jobs.workers[1]).toMatchObject({ device: 'CUDA', kinds: ['EXTRACT', 'PROBE'], concurrency: 2, host: 'host-a', pid: 4242, stopReason: null });
  expect(jobs.workers[0]).toMatchObject({ device: 'CPU', stopReason: 'SIGTERM' });
});

test('a run without jobs has zeros and no rate; a probe run reads its own jobs', async () => {
  const { body } = await api.graphql(
    `query ($x: ID!, $p: ID!) { extractionRun(id: $x) { jobs { ${RUN_JOBS} } } probeRun(id: $p) { jobs { ${RUN_JOBS} jobs { nodes { position status } } } } }`,
    { x: String(emptyRunId), p: String(probeRunId) },
  );
  expect(body.errors).toBeUndefined();
  expect(body.data.extractionRun.jobs).toEqual({
    jobCount: 0, queuedCount: 0, runningCount: 0, doneCount: 0, failedCount: 0, cancelledCount: 0, unitCount: 0, doneUnitCount: 0, unitsPerSecond: null, etaSeconds: null, workers: [],
  });
  expect(body.data.probeRun.jobs).toMatchObject({ jobCount: 2, cancelledCount: 1, runningCount: 1, unitCount: 7, unitsPerSecond: null, etaSeconds: null });
  expect(body.data.probeRun.jobs.jobs.nodes).toEqual([{ position: 0, status: 'CANCELLED' }, { position: 1, status: 'RUNNING' }]);
});

test('the jobs connection: plan order, every field, the status filter, and cursors', async () => {
  const query = `query ($id: ID!, $status: JobStatus, $after: String) { extractionRun(id: $id) { jobs { jobs(first: 2, status: $status, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind position status attemptCount maxAttemptCount error unitCount doneUnitCount writtenRowCount queuedAt startedAt finishedAt worker { id alive } }
  } } } }`;
  const first = await api.graphql(query, { id: String(extractionRunId) });
  expect(first.body.errors).toBeUndefined();
  const page = first.body.data.extractionRun.jobs.jobs;
  expect(page.totalCount).toBe(6);
  expect(page.pageInfo.hasNextPage).toBe(true);
  expect(page.nodes.map((job: { position: number }) => job.position)).toEqual([0, 1]);
  expect(page.nodes[0]).toMatchObject({
    kind: 'EXTRACT', status: 'DONE', attemptCount: 1, maxAttemptCount: 3, error: null, unitCount: 10, doneUnitCount: 10, writtenRowCount: 100, worker: { id: 'host-a:4242:live', alive: true },
  });
  // Stored in UTC without a zone, read back as that instant: 100 s and 60 s before now.
  const startedAgo = Date.now() - Date.parse(page.nodes[0].startedAt);
  expect(startedAgo).toBeGreaterThan(95_000);
  expect(startedAgo).toBeLessThan(3_600_000);
  expect(Date.parse(page.nodes[0].finishedAt)).toBeGreaterThan(Date.parse(page.nodes[0].startedAt));
  const next = await api.graphql(query, { id: String(extractionRunId), after: page.pageInfo.endCursor });
  expect(next.body.data.extractionRun.jobs.jobs.nodes.map((job: { position: number }) => job.position)).toEqual([2, 3]);
  const failed = await api.graphql(query, { id: String(extractionRunId), status: 'FAILED' });
  expect(failed.body.data.extractionRun.jobs.jobs).toMatchObject({ totalCount: 1, nodes: [{ position: 5, status: 'FAILED', error: 'boom', worker: { id: 'host-a:4244:stopped', alive: false } }] });
  const queued = await api.graphql(query, { id: String(extractionRunId), status: 'QUEUED' });
  expect(queued.body.data.extractionRun.jobs.jobs.nodes).toMatchObject([{ position: 4, worker: null, startedAt: null, finishedAt: null }]);
});

test('Query.workers lists the alive ones by default, every one with aliveOnly: false; a worker pages its jobs', async () => {
  const { body } = await api.graphql(`{
    alive: workers { id alive jobs(status: RUNNING) { totalCount nodes { kind position } } }
    all: workers(aliveOnly: false) { id alive lastSeenAt stoppedAt }
  }`);
  expect(body.errors).toBeUndefined();
  expect(body.data.alive).toEqual([
    { id: 'host-a:4242:live', alive: true, jobs: { totalCount: 2, nodes: [{ kind: 'EXTRACT', position: 3 }, { kind: 'PROBE', position: 1 }] } },
  ]);
  expect(body.data.all.map((w: { id: string }) => w.id)).toEqual(['host-a:4244:stopped', 'host-a:4242:live', 'host-a:4243:silent', 'host-b:1:old']);
  expect(body.data.all[0].stoppedAt).not.toBeNull();
});

describe('statements', () => {
  const QUERY = `{ extractionRuns(first: 10) { nodes { id jobs {
    jobCount unitsPerSecond workers { id jobs(first: 3) { totalCount nodes { id } } }
    jobs(first: 3) { totalCount nodes { id worker { id jobs(status: RUNNING) { totalCount } } } }
  } } } }`;

  async function count(): Promise<number> {
    recorder.statements.length = 0;
    recorder.recording = true;
    const { body } = await api.graphql(QUERY);
    recorder.recording = false;
    expect(body.errors).toBeUndefined();
    return recorder.statements.length;
  }

  test('one statement per hop, whatever the number of runs, jobs and workers (no N+1)', async () => {
    const before = await count();
    // Three more runs, each with jobs on workers of its own.
    for (let i = 0; i < 3; i++) {
      const runId = await extractionRun(`more-${i}`);
      await insertWorker(`host-c:${i}:w`, { lastSeen: '1 second' });
      await insertWorker(`host-d:${i}:w`, { lastSeen: '1 second' });
      await insertJob('EXTRACT', runId, 0, { status: 'DONE', units: 2, done: 2, worker: `host-c:${i}:w`, startedAgo: '20 seconds', finishedAgo: '10 seconds' });
      await insertJob('EXTRACT', runId, 1, { status: 'RUNNING', units: 2, worker: `host-d:${i}:w`, startedAgo: '5 seconds' });
    }
    const after = await count();
    expect(after).toBe(before);
    // runs page + count, job counts, workers, run job pages, workers by id, two worker job pages.
    expect(after).toBeLessThanOrEqual(8);
  });
});
