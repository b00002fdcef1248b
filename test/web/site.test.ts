// How the API serves the atlas page over HTTP (no browser): `/` is the built index.html, uncached,
// under the page's Content-Security-Policy; the hashed assets it names have their content types, a
// year-long immutable cache, an ETag answered with 304, and gzip for clients that accept it;
// anything else under /assets/ is a coded 404. GraphQL and the playground stay at /graphql.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { PROJECT_ROOT } from '../../src/config.ts';
import { ATLAS_CSP, ATLAS_DIST_DIR } from '../../src/graphql/atlas-site.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-web.ts', '--if-stale'], { cwd: PROJECT_ROOT, timeout: 180_000 });
  db = await createTestDatabase();
  api = await startTestApi(db);
}, 240_000);
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** A raw GET (fetch would decompress silently; this test must see the encoding). */
function get(pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.origin}${pathname}`, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('/ is the built page, uncached, under a Content-Security-Policy that allows this origin only', async () => {
  const response = await get('/', { Accept: 'text/html' });
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['cache-control']).toBe('no-cache');
  expect(response.headers['content-security-policy']).toBe(ATLAS_CSP);
  expect(ATLAS_CSP).toContain("script-src 'self'");
  expect(ATLAS_CSP).toContain("connect-src 'self'");
  expect(response.body.toString('utf8')).toBe(readFileSync(path.join(ATLAS_DIST_DIR, 'index.html'), 'utf8'));
});

test('the assets the page names are served with their types, cached for a year, 304 on their ETag, gzipped on request', async () => {
  const html = (await get('/')).body.toString('utf8');
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
  expect(assets.some((asset) => asset.endsWith('.js'))).toBe(true);
  expect(assets.some((asset) => asset.endsWith('.css'))).toBe(true);
  for (const asset of assets) {
    const onDisk = readFileSync(path.join(ATLAS_DIST_DIR, asset));
    const plain = await get(asset);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe(asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(onDisk)).toBe(true);
    const etag = String(plain.headers.etag);
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    const again = await get(asset, { 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const compressed = await get(asset, { 'Accept-Encoding': 'gzip, deflate' });
    expect(compressed.headers['content-encoding']).toBe('gzip');
    expect(compressed.headers.vary).toBe('Accept-Encoding');
    expect(compressed.body.length).toBeLessThan(onDisk.length);
    expect(gunzipSync(compressed.body).equals(onDisk)).toBe(true);
  }
});

test('a path under /assets/ that is not a built file is a coded 404, and /graphql still answers GraphQL', async () => {
  for (const pathname of ['/assets/nothing-here.js', '/assets/..%2Fpackage.json', '/assets/.source-hash', '/assets/index.html']) {
    const response = await get(pathname);
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body.toString('utf8')).errors[0].extensions.code).toBe('NOT_FOUND');
  }
  const other = await get('/nowhere');
  expect(other.status).toBe(404);
  const graphql = await api.graphql('{ apiLimits { maxPageSize } }');
  expect(graphql.body.data.apiLimits.maxPageSize).toBeGreaterThan(0);
});
