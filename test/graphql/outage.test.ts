// A database outage as the API sees it, through a TCP proxy this file owns (the shared PostgreSQL
// is never touched): frozen (connections open, nothing answers — a SIGSTOP'd server), cut
// (connections closed, new ones closed at once), then given back. Every request must be answered
// while the outage lasts, bounded by the configured timeouts, with DATABASE_UNAVAILABLE and HTTP
// 503 + Retry-After for the whole response — the cached grid path included — and /healthz 503
// saying nothing of the database's own messages; the details go to the log. Then it recovers.
import { connectDatabase, type Database } from '../../src/db/client.ts';
import type { DatabaseTimeouts } from '../../src/config.ts';
import { gridResponseCacheFor } from '../../src/graphql/plugins/grid-response-cache.ts';
import { startTestApi, type GraphqlResponse, type TestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { insertGridFixture, type GridFixture } from '../grid/fixture.ts';
import { TcpProxy } from './tcp-proxy.ts';

// Short enough to keep the file quick, long enough for a loaded 2-core machine in normal operation.
const TIMEOUTS: DatabaseTimeouts = { connectMs: 2_000, statementMs: 2_000, queryMs: 3_000 };
/** Far above the timeouts: a request still waiting after this would have waited for the outage to end. */
const GIVE_UP_MS = 20_000;

let db: TestDatabase;
let fx: GridFixture;
let proxy: TcpProxy;
let proxied: Database;
let api: TestApi;
const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
const logger = {
  info: (message: string, fields?: Record<string, unknown>) => void logged.push({ level: 'info', message, fields }),
  warn: (message: string, fields?: Record<string, unknown>) => void logged.push({ level: 'warn', message, fields }),
  error: (message: string, fields?: Record<string, unknown>) => void logged.push({ level: 'error', message, fields }),
};

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  await db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'COMPLETED', finishedAt: new Date('2026-01-01T00:00:00Z') } });
  const target = new URL(db.url);
  proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  const through = new URL(db.url);
  through.hostname = '127.0.0.1';
  through.port = String(proxy.port);
  proxied = connectDatabase(through.toString(), { maxConnections: 4, timeouts: TIMEOUTS });
  api = await startTestApi(proxied, {}, logger);
});
afterAll(async () => {
  proxy?.restore();
  await api?.stop();
  await proxied?.close();
  await proxy?.close();
  await db?.drop();
});

const GRID = `query Heat($input: GridInput!) { grid(input: $input) { cellCount overall { mean scoreCount } } }`;
const gridInput = () => ({ groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], probeRunIds: [String(fx.probeRunId)] } });

async function post(query: string, variables?: Record<string, unknown>): Promise<GraphqlResponse> {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(GIVE_UP_MS),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphqlResponse['body'] };
}

async function health(): Promise<{ status: number; retryAfter: string | null; text: string }> {
  const response = await fetch(`${api.origin}/healthz`, { signal: AbortSignal.timeout(GIVE_UP_MS) });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), text: await response.text() };
}

/** What a client sees during an outage: 503, Retry-After, every error coded, nothing of the database's words. */
function expectUnavailable(response: GraphqlResponse, reason: 'timeout' | 'unreachable' | 'either') {
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('5');
  expect(response.body.errors?.length).toBeGreaterThan(0);
  for (const error of response.body.errors!) {
    expect(error.extensions!.code).toBe('DATABASE_UNAVAILABLE');
    if (reason !== 'either') expect(error.extensions!.reason).toBe(reason);
    expect(error.extensions!.retryAfter).toBe(5);
    expect(error.extensions!.stacktrace).toBeUndefined();
  }
  const text = JSON.stringify(response.body);
  expect(text).not.toMatch(/terminated|read timeout|exceeded|ECONN|\.ts:\d+|node_modules/i);
}

test('with the database reachable, the grid is answered and its response cached', async () => {
  const first = await post(GRID, { input: gridInput() });
  expect(first.status).toBe(200);
  expect(first.body.errors).toBeUndefined();
  const cache = gridResponseCacheFor(proxied.pool);
  const hits = cache.hits;
  const second = await post(GRID, { input: gridInput() });
  expect(cache.hits).toBe(hits + 1);
  expect(second.body).toEqual(first.body);
  expect((await health()).status).toBe(200);
});

describe('the database frozen (connections open, nothing answers)', () => {
  let responses: { models: GraphqlResponse; concepts: GraphqlResponse; grid: GraphqlResponse; health: Awaited<ReturnType<typeof health>> };

  beforeAll(async () => {
    // A connection idle in the pool before the freeze: its next query meets the client-side query timeout;
    // the others meet the connection timeout (a new connection, or a wait for a free one).
    await proxied.pool.query('SELECT 1');
    logged.length = 0;
    proxy.freeze();
    // All answered while the proxy is still frozen (it is restored only in the next describe block).
    const [models, concepts, grid, healthz] = await Promise.all([
      post(`{ apiLimits { maxDepth } models { name } }`),
      post(`{ concepts(first: 1) { totalCount } }`),
      post(GRID, { input: gridInput() }),
      health(),
    ]);
    responses = { models, concepts, grid, health: healthz };
  }, 4 * GIVE_UP_MS);

  test('a Prisma-backed field: 503, Retry-After, DATABASE_UNAVAILABLE for the whole response', () => {
    expectUnavailable(responses.models, 'timeout');
    expect(responses.models.body.errors![0]!.path).toEqual(['models']);
    expect(responses.models.body.errors![0]!.message).toMatch(/^The database did not answer in time; retry in 5 s\.$/);
  });

  test('a field on the hand-written SQL: the same', () => {
    expectUnavailable(responses.concepts, 'timeout');
  });

  test('the cached grid: the same status as every other field (was HTTP 500)', () => {
    expectUnavailable(responses.grid, 'timeout');
  });

  test('/healthz: 503 with Retry-After and no database message', () => {
    expect(responses.health.status).toBe(503);
    expect(responses.health.retryAfter).toBe('5');
    expect(JSON.parse(responses.health.text)).toEqual({ status: 'unavailable', database: 'timeout' });
  });

  test('the details go to the log, as warnings without stacks, not as unexpected errors', () => {
    const warnings = logged.filter((entry) => entry.message === 'database unavailable');
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    for (const warning of warnings) expect(String(warning.fields?.error)).toMatch(/timeout/i);
    expect(logged.some((entry) => entry.message === 'health check: database unavailable')).toBe(true);
    expect(logged.filter((entry) => entry.level === 'error')).toEqual([]);
  });
});

describe('after the freeze ends', () => {
  test('the same requests succeed again, the cached grid included', async () => {
    proxy.restore();
    expect((await health()).status).toBe(200);
    const models = await post(`{ models { name } }`);
    expect(models.status).toBe(200);
    expect(models.body).toEqual({ data: { models: expect.any(Array) } });
    const grid = await post(GRID, { input: gridInput() });
    expect(grid.status).toBe(200);
    expect(grid.body.errors).toBeUndefined();
    expect(grid.body.data.grid.cellCount).toBeGreaterThan(0);
  });
});

describe('the database cut off (connections closed, new ones closed at once)', () => {
  test('queries and the cached grid get 503 DATABASE_UNAVAILABLE at once; /healthz 503; then recovery', async () => {
    await post(GRID, { input: gridInput() }); // warm: the next grid request takes the cache path
    proxy.cut();
    try {
      expectUnavailable(await post(`{ models { name } }`), 'unreachable');
      expectUnavailable(await post(`{ concepts(first: 1) { totalCount } }`), 'unreachable');
      expectUnavailable(await post(GRID, { input: gridInput() }), 'unreachable');
      const healthz = await health();
      expect(healthz.status).toBe(503);
      expect(JSON.parse(healthz.text)).toEqual({ status: 'unavailable', database: 'unavailable' });
    } finally {
      proxy.restore();
    }
    expect((await health()).status).toBe(200);
    expect((await post(`{ models { name } }`)).status).toBe(200);
  });
});
