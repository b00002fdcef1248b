// ETag, Cache-Control and 304 for grid answers over real HTTP against a real database: the tag
// names the answer (runs' identity and state + the request), is the same from two API processes on
// one database, changes when a selected run changes, and If-None-Match with it gets 304, no body,
// after one statement (the answer-token check), not an execution.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordStatements, type StatementRecorder } from '../support/statements.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertGridFixture, type GridFixture } from '../grid/fixture.ts';

let db: TestDatabase;
let api: TestApi;
let replica: TestApi;
let fx: GridFixture;
let recorder: StatementRecorder;

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now()`);
  recorder = recordStatements(db.pool);
  api = await startTestApi(db);
  replica = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await replica?.stop();
  await db?.drop();
});

const HEATMAP = 'query Heatmap($input: GridInput!) { grid(input: $input) { cellCount cells { coordinates mean scoreCount } } }';
const variables = () => ({ input: { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { probeRunIds: [String(fx.probeRunId)] } } });

async function post(target: TestApi, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function get(target: TestApi, params: Record<string, string>, headers: Record<string, string> = {}) {
  const url = new URL(target.url);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  // Apollo's CSRF prevention lets a GET through with a header a simple cross-site request cannot set.
  const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true', ...headers } });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

test('a grid over COMPLETED runs has a strong ETag and no-cache; If-None-Match gets 304 with no body after one statement', async () => {
  const first = await post(api, { query: HEATMAP, variables: variables() });
  expect(first.status).toBe(200);
  expect(JSON.parse(first.text).data.grid.cellCount).toBeGreaterThan(0);
  const etag = first.headers.get('etag');
  expect(etag).toMatch(/^"g[A-Za-z0-9_-]{32}"$/);
  expect(first.headers.get('cache-control')).toBe('no-cache');

  recorder.statements.length = 0;
  recorder.recording = true;
  const again = await post(api, { query: HEATMAP, variables: variables() }, { 'if-none-match': etag! });
  recorder.recording = false;
  expect(again.status).toBe(304);
  expect(again.text).toBe('');
  expect(again.headers.get('etag')).toBe(etag);
  expect(again.headers.get('cache-control')).toBe('no-cache');
  expect(recorder.statements).toHaveLength(1); // the answer token; no grid statement

  // A list of tags, weak or not, containing the current one also matches.
  expect((await post(api, { query: HEATMAP, variables: variables() }, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
  // A stale or foreign tag executes as usual.
  const other = await post(api, { query: HEATMAP, variables: variables() }, { 'if-none-match': '"gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"' });
  expect(other.status).toBe(200);
  expect(other.text).toBe(first.text);
});

test('the tag names the request too: another grid request naming it gets its own 200', async () => {
  const first = await post(api, { query: HEATMAP, variables: variables() });
  const etag = first.headers.get('etag')!;
  const differentInput = { input: { ...variables().input, metric: 'R2' } };
  const response = await post(api, { query: HEATMAP, variables: differentInput }, { 'if-none-match': etag });
  expect(response.status).toBe(200);
  expect(response.headers.get('etag')).not.toBe(etag);
});

test('GET and POST of one request, and two API processes on one database, give the same ETag and honour each other’s', async () => {
  const viaPost = await post(api, { query: HEATMAP, variables: variables() });
  const viaGet = await get(api, { query: HEATMAP, variables: JSON.stringify(variables()) });
  expect(viaGet.status).toBe(200);
  expect(viaGet.headers.get('etag')).toBe(viaPost.headers.get('etag'));
  const fromReplica = await get(replica, { query: HEATMAP, variables: JSON.stringify(variables()) }, { 'if-none-match': viaPost.headers.get('etag')! });
  expect(fromReplica.status).toBe(304);
  expect(fromReplica.headers.get('etag')).toBe(viaPost.headers.get('etag'));
  const replicaFull = await post(replica, { query: HEATMAP, variables: variables() });
  expect(replicaFull.text).toBe(viaPost.text);
});

test('when a selected run changes, the old tag gets a 200 with a new tag; a run being written is no-store, no tag', async () => {
  const before = await post(api, { query: HEATMAP, variables: variables() });
  const etag = before.headers.get('etag')!;
  await db.pool.query(`UPDATE probe_run SET finished_at = finished_at + interval '1 second' WHERE id = $1`, [fx.probeRunId]);
  const after = await post(api, { query: HEATMAP, variables: variables() }, { 'if-none-match': etag });
  expect(after.status).toBe(200);
  expect(after.headers.get('etag')).toMatch(/^"g/);
  expect(after.headers.get('etag')).not.toBe(etag);

  await db.pool.query(`UPDATE probe_run SET status = 'RUNNING', finished_at = NULL WHERE id = $1`, [fx.probeRunId]);
  try {
    const running = await post(api, { query: HEATMAP, variables: variables() }, { 'if-none-match': after.headers.get('etag')! });
    expect(running.status).toBe(200);
    expect(running.headers.get('etag')).toBeNull();
    expect(running.headers.get('cache-control')).toBe('no-store');
  } finally {
    await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now() WHERE id = $1`, [fx.probeRunId]);
  }
});

test('responses other than a lone grid carry no grid ETag', async () => {
  const response = await post(api, { query: '{ __typename }' });
  expect(response.status).toBe(200);
  expect(response.headers.get('etag')).toBeNull();
});

test('SharedCheck: callers share the statement queued after the one in flight, never the one already running', async () => {
  const { SharedCheck } = await import('../../src/graphql/http-cache.ts');
  const check = new SharedCheck<number>();
  const releases: (() => void)[] = [];
  let started = 0;
  const compute = () => new Promise<number>((resolve) => {
    const round = ++started;
    releases.push(() => resolve(round));
  });
  const first = check.run('k', compute); // starts round 1
  const second = check.run('k', compute); // arrived while round 1 runs: waits for round 2
  const third = check.run('k', compute); // joins round 2
  expect(started).toBe(1);
  releases[0]!();
  expect(await first).toBe(1);
  await new Promise((resolve) => setImmediate(resolve));
  expect(started).toBe(2);
  const fourth = check.run('k', compute); // round 2 is running now: waits for round 3
  releases[1]!();
  expect([await second, await third]).toEqual([2, 2]);
  await new Promise((resolve) => setImmediate(resolve));
  releases[2]!();
  expect(await fourth).toBe(3);
  expect(await check.run('other', async () => 42)).toBe(42);
});
