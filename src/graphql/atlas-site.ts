// The atlas page at `/`: the front end Vite builds from web/ into web/dist (scripts/build-web.ts,
// run by `npm install`), served by the API itself so it works offline and on one origin. index.html
// is never cached (it names the current assets); the hashed files under /assets/ are immutable for a
// year (ETag, 304) and sent gzipped to clients that accept it. Both carry a Content-Security-Policy
// that allows this origin only, as the playground's does.
// A checkout whose page is not built answers `/` with what to run instead of a bare 404.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PROJECT_ROOT } from '../config.ts';

export const ATLAS_SOURCE_DIR = path.join(PROJECT_ROOT, 'web');
export const ATLAS_DIST_DIR = path.join(ATLAS_SOURCE_DIR, 'dist');
/** Written by scripts/build-web.ts beside index.html: the source hash the build was made from. */
export const ATLAS_STAMP_FILE = '.source-hash';
export const ATLAS_ASSET_PREFIX = '/assets/';

/** Inline styles are Plot's (SVG attributes); images may be data: or blob: (the PNG export). */
export const ATLAS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'";

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (full !== ATLAS_DIST_DIR && entry.name !== 'node_modules') files.push(...sourceFiles(full));
    } else files.push(full);
  }
  return files.sort();
}

/** sha256 over web/'s sources (not dist/) and the lockfile (the versions of Vite and Plot). */
export function atlasSourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [...sourceFiles(ATLAS_SOURCE_DIR), path.join(PROJECT_ROOT, 'package-lock.json')]) {
    hash.update(path.relative(PROJECT_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** Whether web/dist exists and was built from today's sources. */
export function atlasBuildState(): { built: boolean; current: boolean } {
  const stamp = path.join(ATLAS_DIST_DIR, ATLAS_STAMP_FILE);
  if (!existsSync(path.join(ATLAS_DIST_DIR, 'index.html')) || !existsSync(stamp)) return { built: false, current: false };
  return { built: true, current: readFileSync(stamp, 'utf8').trim() === atlasSourceHash() };
}

function notBuiltPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>probe-atlas · atlas not built</title></head>
<body style="font:15px system-ui,sans-serif;max-width:60ch;margin:40px auto">
<h1>The atlas page is not built</h1>
<p>This checkout has no <code>web/dist</code>. Run <code>npm run build:web</code> (<code>npm install</code> does it too) and reload.</p>
<p>The GraphQL API and its playground are at <a href="/graphql">/graphql</a>.</p>
</body></html>`;
}

/** Compressed text assets by ETag: a hashed file never changes, so it is compressed once per process. */
const gzipped = new Map<string, Buffer>();

/** Paths this module answers: the page and its built assets. */
export function isAtlasPath(pathname: string): boolean {
  return pathname === '/' || pathname === '/index.html' || pathname.startsWith(ATLAS_ASSET_PREFIX);
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer, head: boolean): void {
  response.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  response.end(head ? undefined : body);
}

/** GET/HEAD of `/` or `/assets/<name>-<hash>.<ext>`; anything else under /assets/ is a 404. */
export async function serveAtlas(request: IncomingMessage, response: ServerResponse, pathname: string, headers: Record<string, string>): Promise<void> {
  const head = request.method === 'HEAD';
  const security = { 'Content-Security-Policy': ATLAS_CSP, 'X-Content-Type-Options': 'nosniff' };
  if (!pathname.startsWith(ATLAS_ASSET_PREFIX)) {
    const file = path.join(ATLAS_DIST_DIR, 'index.html');
    let html: Buffer;
    try {
      html = await readFile(file);
    } catch {
      return send(response, 503, { ...headers, ...security, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': '5' }, notBuiltPage(), head);
    }
    return send(response, 200, { ...headers, ...security, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }, html, head);
  }
  const name = pathname.slice(ATLAS_ASSET_PREFIX.length);
  const type = CONTENT_TYPES[path.extname(name)];
  // One flat folder of Vite's hashed file names: nothing with a separator, nothing hidden.
  const file = path.join(ATLAS_DIST_DIR, 'assets', name);
  if (!type || !/^[\w.-]+$/.test(name) || name.startsWith('.') || !existsSync(file) || !statSync(file).isFile()) {
    const body = JSON.stringify({ errors: [{ message: `No atlas asset at ${pathname}.`, extensions: { code: 'NOT_FOUND' } }] });
    return send(response, 404, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }, body, head);
  }
  const body = await readFile(file);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  const cache = { ...headers, ...security, ETag: etag, 'Cache-Control': 'public, max-age=31536000, immutable', Vary: 'Accept-Encoding' };
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304, cache);
    return void response.end();
  }
  if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')) && !type.startsWith('image/png') && !type.startsWith('font/')) {
    let compressed = gzipped.get(etag);
    if (!compressed) gzipped.set(etag, (compressed = gzipSync(body, { level: 9 })));
    return send(response, 200, { ...cache, 'Content-Type': type, 'Content-Encoding': 'gzip' }, compressed, head);
  }
  send(response, 200, { ...cache, 'Content-Type': type }, body, head);
}
