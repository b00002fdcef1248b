// The control mutations over real HTTP, on a run planned with the queue core's enqueue(): anonymous or
// wrong-token requests are refused with UNAUTHENTICATED and change nothing (jobs, run, queue entries);
// a server without API_CONTROL_TOKEN refuses every mutation (FORBIDDEN); the right token cancels and
// retries; the queue's refusals come back as NOT_FOUND / BAD_USER_INPUT; no mutation answer is cached.
import { enqueue, taskFor } from '../../src/jobs/plan.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedModel } from './fixtures.ts';

const TOKEN = 'control-token-for-tests-0123456789';

let db: TestDatabase;
let api: TestApi;
let runId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const model = await seedModel(db.prisma, { name: 'tiny', components: 1, layers: 1 });
  runId = (await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: 'x-control', promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
  })).id;
  await enqueue(db.pool, {
    kind: 'EXTRACT', runId, task: taskFor('EXTRACT', 'cpu'), units: [1, 2, 3], key: String, jobSize: 2, spec: (units) => ({ units }), maxAttempts: 3,
  });
  api = await startTestApi(db, { controlToken: TOKEN });
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** What a mutation may change: the jobs, the run row and the queue's entries. */
async function snapshot() {
  const jobs = await db.pool.query(`SELECT id, status, attempts, error FROM job WHERE extraction_run_id = $1 ORDER BY position`, [runId]);
  const run = await db.pool.query(`SELECT status, error, finished_at FROM extraction_run WHERE id = $1`, [runId]);
  const queue = await db.pool.query(`SELECT count(*)::int AS entries FROM graphile_worker.jobs`);
  return { jobs: jobs.rows, run: run.rows[0], queue: queue.rows[0] };
}

const CANCEL = `mutation ($id: ID) { cancelRun(extractionRunId: $id) { __typename id status error ... on ExtractionRun { jobs { cancelledCount queuedCount } } } }`;
const RETRY = `mutation ($id: ID) { retryRun(extractionRunId: $id) { id status ... on ExtractionRun { jobs { cancelledCount queuedCount } } } }`;

test('anonymous: refused with UNAUTHENTICATED, saying how to authenticate, and nothing changes', async () => {
  const before = await snapshot();
  expect(before.jobs.map((job) => job.status)).toEqual(['QUEUED', 'QUEUED']);
  expect(before.queue.entries).toBe(2);
  const { body } = await api.graphql(CANCEL, { id: String(runId) });
  expect(body.data).toBeNull();
  expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(body.errors?.[0]?.message).toContain('Authorization: Bearer <API_CONTROL_TOKEN>');
  const retry = await api.graphql(RETRY, { id: String(runId) });
  expect(retry.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await snapshot()).toEqual(before);
});

test('a wrong token (or another scheme) is refused the same way, and nothing changes', async () => {
  const before = await snapshot();
  for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ', `Basic ${TOKEN}`, TOKEN]) {
    const { body } = await api.graphql(CANCEL, { id: String(runId) }, { Authorization: authorization });
    expect([authorization, body.errors?.[0]?.extensions?.code]).toEqual([authorization, 'UNAUTHENTICATED']);
  }
  expect(await snapshot()).toEqual(before);
});

test('a server without API_CONTROL_TOKEN refuses every mutation (control is off), even with a token', async () => {
  const off = await startTestApi(db);
  try {
    const before = await snapshot();
    const { body } = await off.graphql(CANCEL, { id: String(runId) }, { Authorization: `Bearer ${TOKEN}` });
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(body.errors?.[0]?.message).toContain('API_CONTROL_TOKEN is not set');
    expect(await snapshot()).toEqual(before);
  } finally {
    await off.stop();
  }
});

test('with the token: cancelRun cancels the jobs and fails the run, retryRun queues them again; never cached', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const cancelled = await api.graphql(CANCEL, { id: String(runId) }, auth);
  expect(cancelled.body.errors).toBeUndefined();
  expect(cancelled.body.data.cancelRun).toMatchObject({ __typename: 'ExtractionRun', id: String(runId), status: 'FAILED', jobs: { cancelledCount: 2, queuedCount: 0 } });
  expect(cancelled.headers.get('etag')).toBeNull();
  const afterCancel = await snapshot();
  expect(afterCancel.jobs.map((job) => job.status)).toEqual(['CANCELLED', 'CANCELLED']);
  expect(afterCancel.queue.entries).toBe(0);
  expect(afterCancel.run.status).toBe('FAILED');

  // Nothing left to cancel: the queue's refusal is BAD_USER_INPUT naming the argument, nothing changes.
  const again = await api.graphql(CANCEL, { id: String(runId) }, auth);
  expect(again.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argument: 'extractionRunId' } });
  expect(await snapshot()).toEqual(afterCancel);

  const retried = await api.graphql(RETRY, { id: String(runId) }, auth);
  expect(retried.body.errors).toBeUndefined();
  expect(retried.body.data.retryRun).toMatchObject({ id: String(runId), jobs: { cancelledCount: 0, queuedCount: 2 } });
  const afterRetry = await snapshot();
  expect(afterRetry.jobs.map((job) => job.status)).toEqual(['QUEUED', 'QUEUED']);
  expect(afterRetry.queue.entries).toBe(2);

  const nothing = await api.graphql(RETRY, { id: String(runId) }, auth);
  expect(nothing.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(nothing.body.errors?.[0]?.message).toContain('no failed or cancelled jobs to retry');
});

test('with the token: an unknown run is NOT_FOUND, and exactly one run must be named', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const unknown = await api.graphql(CANCEL, { id: '999999' }, auth);
  expect(unknown.body.errors?.[0]).toMatchObject({ message: 'No extraction run with extractionRunId "999999".', extensions: { code: 'NOT_FOUND' } });
  const probe = await api.graphql(`mutation { retryRun(probeRunId: "999999") { id } }`, {}, auth);
  expect(probe.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  const neither = await api.graphql(`mutation { cancelRun { id } }`, {}, auth);
  expect(neither.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const both = await api.graphql(`mutation { cancelRun(extractionRunId: "1", probeRunId: "1") { id } }`, {}, auth);
  expect(both.body.errors?.[0]?.message).toContain('name exactly one run');
});

test('a mutation over GET is refused (no state change through a link or a cache)', async () => {
  const before = await snapshot();
  const url = `${api.url}?query=${encodeURIComponent(`mutation { cancelRun(extractionRunId: "${runId}") { id } }`)}`;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}`, 'Apollo-Require-Preflight': 'true' } });
  expect(response.status).toBe(405);
  expect(await snapshot()).toEqual(before);
});
