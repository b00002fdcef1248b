// The HTTP surface: CORS, /healthz, error detail (EXPOSE_ERROR_DETAILS only), the offline playground and its assets.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApolloServer } from '@apollo/server';
import type { Config } from '../../src/config.ts';
import type { ApiContext } from '../../src/graphql/context.ts';
import { createHttpHandler } from '../../src/graphql/http-handler.ts';
import { createExecutableSchema } from '../../src/graphql/apollo.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { connectDatabase } from '../../src/db/client.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let db: TestDatabase;
let api: TestApi;
const FRONT_END = 'http://atlas.example:5173';

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { corsOrigins: [FRONT_END] });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const QUERY = JSON.stringify({ query: '{ models { name } }' });

/** Keeps the expected 'HTTP request failed' lines out of the test output. */
const quiet = { info() {}, warn() {}, error() {} };

/** A GET with a request target sent as is (fetch would normalise it). */
function rawGet(origin: string, target: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path: target, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/**
 * The handler's last resort (an unexpected failure while serving) cannot be provoked through the
 * real server from outside — that would be a bug — so this one request goes to the real handler
 * over real HTTP with an Apollo stand-in that throws.
 */
async function failingHandlerGet(overrides: Partial<Config>): Promise<{ status: number; body: string }> {
  const apollo = { executeHTTPGraphQLRequest: () => Promise.reject(new Error('an unexpected failure')) } as unknown as ApolloServer<ApiContext>;
  const config = { ...api.config, ...overrides };
  const server = createServer(createHttpHandler({ apollo, db, config, log: quiet, schema: createExecutableSchema() }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await rawGet(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/graphql?query=%7Bmodels%7Bid%7D%7D');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('CORS', () => {
  test('an allowed origin gets its origin echoed back', async () => {
    const response = await fetch(api.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: FRONT_END }, body: QUERY });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(FRONT_END);
    expect(response.headers.get('vary')).toMatch(/Origin/);
    expect(await response.json()).toEqual({ data: { models: [] } });
  });

  test('a refused origin gets 403 FORBIDDEN and no CORS header', async () => {
    const response = await fetch(api.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: QUERY });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const body: any = await response.json();
    expect(body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(body.errors[0].message).toContain('http://evil.example');
  });

  test('the server\'s own origin (the playground) is always allowed, even when not listed', async () => {
    const response = await fetch(api.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: api.origin }, body: QUERY });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a preflight from an allowed origin is answered with methods and headers', async () => {
    const response = await fetch(api.url, {
      method: 'OPTIONS',
      headers: { Origin: FRONT_END, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(FRONT_END);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
  });

  test('a preflight from a refused origin is 403 without CORS headers', async () => {
    const response = await fetch(api.url, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('with CORS_ORIGINS=* any origin is allowed', async () => {
    const open = await startTestApi(db, { corsOrigins: '*' });
    try {
      const response = await fetch(open.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://anywhere.example' }, body: QUERY });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await open.stop();
    }
  });
});

describe('errors', () => {
  test('stack traces are hidden outside development', async () => {
    const { body } = await api.graphql(`{ model(id: "999999") { id } }`);
    expect(body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect(body.errors![0]!.extensions!.stacktrace).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+/);
  });

  test('development mode alone shows no stack trace or source path, in GraphQL errors or the HTTP 500', async () => {
    const dev = await startTestApi(db, { development: true }, quiet);
    try {
      const { body } = await dev.graphql(`{ model(id: "999999") { id } }`);
      expect(body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      expect(body.errors![0]!.extensions!.stacktrace).toBeUndefined();
      expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+|node_modules|\/src\//);
    } finally {
      await dev.stop();
    }
    const failed = await failingHandlerGet({ development: true });
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toEqual({ errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  });

  test('EXPOSE_ERROR_DETAILS=true shows stack traces (and the 500\'s stack)', async () => {
    const exposing = await startTestApi(db, { exposeErrorDetails: true }, quiet);
    try {
      const { body } = await exposing.graphql(`{ model(id: "999999") { id } }`);
      expect(body.errors![0]!.extensions!.stacktrace.join('\n')).toMatch(/NotFoundError/);
    } finally {
      await exposing.stop();
    }
    const failed = await failingHandlerGet({ exposeErrorDetails: true });
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body).errors[0].message).toMatch(/an unexpected failure[\s\S]*http\.test\.ts:\d+/);
  });

  test('a request target the URL parser refuses is 400 BAD_REQUEST naming it, not a 500', async () => {
    const refused = await rawGet(api.origin, '//');
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).errors[0]).toEqual({ message: 'The request target "//" is not a valid path.', extensions: { code: 'BAD_REQUEST' } });
  });

  test('malformed JSON is 400 BAD_REQUEST', async () => {
    const response = await fetch(api.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  test('a body over 1 MB is refused with 413', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: `{ models { name } } # ${'x'.repeat(1024 * 1024)}` }),
    });
    expect(response.status).toBe(413);
  });

  test('unknown paths are 404', async () => {
    const response = await fetch(`${api.origin}/nope`);
    expect(response.status).toBe(404);
  });
});

test('GET queries work for non-browser clients (with the CSRF preflight header)', async () => {
  const url = `${api.url}?query=${encodeURIComponent('{ apiLimits { maxPageSize } }')}`;
  const blocked = await fetch(url);
  expect(blocked.status).toBe(400);
  const response = await fetch(url, { headers: { 'Apollo-Require-Preflight': 'true' } });
  expect(response.status).toBe(200);
  expect(((await response.json()) as any).data.apiLimits.maxPageSize).toBe(api.config.limits.maxPageSize);
});

test('/healthz reports the database reachable', async () => {
  const response = await fetch(`${api.origin}/healthz`);
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok', database: 'ok' });
});

describe('offline playground', () => {
  let html: string;
  let response: Response;
  beforeAll(async () => {
    response = await fetch(api.url, { headers: { Accept: 'text/html,application/xhtml+xml' } });
    html = await response.text();
  });

  test('a browser GET on the endpoint gets GraphiQL, not Apollo’s CDN landing page', () => {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html).toContain('<div id="graphiql">');
    expect(html).not.toMatch(/apollographql|embeddable|sandbox/i);
  });

  test('the page references no external URL', () => {
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBe(7);
    for (const ref of refs) expect(ref).toMatch(/^\/playground\/assets\/[0-9a-f]{16}\//);
  });

  test('the saved example tabs are embedded: Catalogue, Heatmap, Comparison', () => {
    const config = JSON.parse(/<script type="application\/json" id="playground-config">(.*?)<\/script>/s.exec(html)![1]!);
    expect(config.endpoint).toBe('/graphql');
    expect(config.tabs.map((tab: any) => /query (\w+)/.exec(tab.query)?.[1])).toEqual(['Catalogue', 'Heatmap', 'Comparison']);
  });

  test('every asset is served with its content type and long-lived caching', async () => {
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    const expected: Record<string, string> = {
      'graphiql.min.css': 'text/css; charset=utf-8',
      'react.production.min.js': 'text/javascript; charset=utf-8',
      'react-dom.production.min.js': 'text/javascript; charset=utf-8',
      'graphiql.min.js': 'text/javascript; charset=utf-8',
      'plugin-explorer.css': 'text/css; charset=utf-8',
      'plugin-explorer.umd.js': 'text/javascript; charset=utf-8',
      'playground.js': 'text/javascript; charset=utf-8',
    };
    expect(refs.map((ref) => ref.split('/').at(-1)).sort()).toEqual(Object.keys(expected).sort());
    for (const ref of refs) {
      const asset = await fetch(`${api.origin}${ref}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toBe(expected[ref.split('/').at(-1)!]);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      const body = await asset.text();
      expect(body.length).toBeGreaterThan(100);
      const etag = asset.headers.get('etag')!;
      const again = await fetch(`${api.origin}${ref}`, { headers: { 'If-None-Match': etag } });
      expect(again.status).toBe(304);
    }
    const graphiql = await (await fetch(`${api.origin}${refs.find((ref) => ref.endsWith('/graphiql.min.js'))}`)).text();
    expect(graphiql).toContain('createFetcher');
  });

  test('a stale or unknown asset path is 404', async () => {
    expect((await fetch(`${api.origin}/playground/assets/0000000000000000/graphiql.min.js`)).status).toBe(404);
    expect((await fetch(`${api.origin}/playground/assets/../../package.json`)).status).toBe(404);
  });
});

describe('a database that cannot be reached', () => {
  test('/healthz is 503 without the database\'s message; queries fail with DATABASE_UNAVAILABLE (503, Retry-After), logged, not sent', async () => {
    const unreachable = connectDatabase('postgresql://postgres@127.0.0.1:1/nowhere', { maxConnections: 1 });
    // Observes the server's error log (and keeps it out of the test output).
    const logged: { message: string; fields?: Record<string, unknown> }[] = [];
    const record = (message: string, fields?: Record<string, unknown>) => void logged.push({ message, fields });
    const broken = await startTestApi(unreachable, {}, { info: record, warn: record, error: record });
    try {
      const health = await fetch(`${broken.origin}/healthz`);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).toBe('5');
      expect(await health.json()).toEqual({ status: 'unavailable', database: 'unavailable' }); // no ECONNREFUSED, host or port
      const { status, headers, body } = await broken.graphql(`{ models { name } }`);
      expect(status).toBe(503);
      expect(headers.get('retry-after')).toBe('5');
      expect(body.data).toBeNull();
      expect(body.errors![0]).toEqual({
        message: 'The database is unavailable; retry in 5 s.',
        path: ['models'],
        extensions: { code: 'DATABASE_UNAVAILABLE', reason: 'unreachable', retryAfter: 5 },
      });
      const failure = logged.find((entry) => entry.message === 'database unavailable');
      expect(failure?.fields?.error).toMatch(/Can't reach database server at 127.0.0.1:1/);
      expect(logged.find((entry) => entry.message === 'health check: database unavailable')?.fields?.error).toMatch(/ECONNREFUSED/);
    } finally {
      await broken.stop();
      await unreachable.close();
    }
  });
});
