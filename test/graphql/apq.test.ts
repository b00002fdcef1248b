// Automatic persisted queries over real HTTP (Apollo Server's APQ, on with its bounded in-memory
// cache): a hash the server has not seen is PERSISTED_QUERY_NOT_FOUND, the document sent once with
// its hash registers it, and from then on the hash alone answers — by GET too, so an HTTP cache can
// keep the short URL — with the same ETag as the full document and a 304 for If-None-Match.
import { createHash } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertGridFixture, type GridFixture } from '../grid/fixture.ts';

let db: TestDatabase;
let api: TestApi;
let fx: GridFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now()`);
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const QUERY = 'query Layers($input: GridInput!) { grid(input: $input) { cellCount cells { mean scoreCount } } }';
const sha256 = createHash('sha256').update(QUERY).digest('hex');
const extensions = { persistedQuery: { version: 1, sha256Hash: sha256 } };
const variables = () => ({ input: { groupBy: ['LAYER'], filter: { probeRunIds: [String(fx.probeRunId)] } } });

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function getHashOnly(headers: Record<string, string> = {}) {
  const url = new URL(api.url);
  url.searchParams.set('variables', JSON.stringify(variables()));
  url.searchParams.set('extensions', JSON.stringify(extensions));
  const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true', ...headers } });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

test('hash unknown → PERSISTED_QUERY_NOT_FOUND; registered with the document; then the hash alone answers by POST and GET', async () => {
  const unknown = await post({ variables: variables(), extensions });
  expect(JSON.parse(unknown.body).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

  const registered = await post({ query: QUERY, variables: variables(), extensions });
  expect(registered.status).toBe(200);
  const full = JSON.parse(registered.body);
  expect(full.errors).toBeUndefined();
  expect(full.data.grid.cellCount).toBe(fx.textEncoderLayers.length + fx.unetLayers.length);

  const byHash = await post({ variables: variables(), extensions });
  expect(byHash.body).toBe(registered.body);
  const byGet = await getHashOnly();
  expect(byGet.status).toBe(200);
  expect(byGet.body).toBe(registered.body);
});

test('a hash that does not match the document, or another APQ version, is BAD_REQUEST (400), not a masked internal error', async () => {
  const wrong = await post({ query: QUERY, variables: variables(), extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
  expect(wrong.status).toBe(400);
  expect(JSON.parse(wrong.body).errors[0]).toEqual({ message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } });
  const version = await post({ query: QUERY, variables: variables(), extensions: { persistedQuery: { version: 2, sha256Hash: sha256 } } });
  expect(version.status).toBe(400);
  expect(JSON.parse(version.body).errors[0].extensions.code).toBe('BAD_REQUEST');
});

test('the hash-only request has the full document’s ETag and gets 304 for it', async () => {
  const full = await post({ query: QUERY, variables: variables() });
  const etag = full.headers.get('etag');
  expect(etag).toMatch(/^"g/);
  const byGet = await getHashOnly();
  expect(byGet.headers.get('etag')).toBe(etag);
  const revalidated = await getHashOnly({ 'if-none-match': etag! });
  expect(revalidated.status).toBe(304);
  expect(revalidated.body).toBe('');
});
