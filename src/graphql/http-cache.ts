// HTTP caching of grid answers: every `grid`-only response over COMPLETED probe runs carries an ETag
// and `Cache-Control: no-cache` (any cache may keep it, and must ask again), and a request whose
// If-None-Match names the current answer gets 304 with no body. The ETag is a hash of the answer
// token (the selected runs' identity and state plus the axes, src/grid/fingerprint.ts) and of the
// request (document, operation name, variables, cell bound): nothing from this process goes in, so
// every API process serving one database gives one request the same ETag, and it changes exactly
// when the answer can change.
//
// Revalidation is cheap on purpose: a request naming an ETag this process has issued is answered
// before GraphQL parsing, validation and execution, after the one catalogue statement that computes
// the current answer token (the same check a response-cache hit costs). An unknown ETag, a request
// that does not match the one the ETag was issued for, or a changed token simply runs as usual.
// Concurrent revalidations of one request share statements (`SharedCheck`): a request waits for a
// statement that STARTS after it arrived, so the answer is as fresh as if it had run its own.
import { createHash } from 'node:crypto';
import type { GridQuery } from '../grid/index.ts';

/** Stored by any cache, revalidated on every use (the ETag makes that a 304). */
export const CACHEABLE_GRID = 'no-cache';
/** A grid over runs still being written: its answer can change at any moment. */
export const UNCACHEABLE_GRID = 'no-store';

/** The request part of the key: the document by its sha256 (as automatic persisted queries name it), operation, variables, cell bound. */
export function requestKey(parts: { documentHash: string; operationName: string | null | undefined; variables: unknown; maxGridCells: number }): string {
  return JSON.stringify([parts.documentHash, parts.operationName ?? null, parts.variables ?? {}, parts.maxGridCells]);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A strong ETag: the same answer for the same request is the same bytes. */
export function gridEtag(token: string, key: string): string {
  return `"g${createHash('sha256').update(token).update('\0').update(key).digest('base64url').slice(0, 32)}"`;
}

/** The entity tags an If-None-Match header lists (weak tags compare by their opaque part, RFC 9110 §13.1.2). */
export function parseIfNoneMatch(header: string | string[] | undefined): string[] {
  if (!header) return [];
  const text = Array.isArray(header) ? header.join(',') : header;
  return [...text.matchAll(/(?:W\/)?("[^"]*")/g)].map((match) => match[1]!);
}

interface IssuedTag {
  key: string;
  token: string;
  query: GridQuery;
}

const MAX_TAGS = 4_096;

/** The ETags this process has issued (bounded, least recently used out), to answer If-None-Match without executing. */
export class EtagIndex {
  private readonly tags = new Map<string, IssuedTag>();
  /** Current answer tokens, computed once for every request revalidating the same tag at the same time. */
  readonly checks = new SharedCheck<string | null>();

  remember(etag: string, tag: IssuedTag): void {
    this.tags.delete(etag);
    this.tags.set(etag, tag);
    if (this.tags.size > MAX_TAGS) this.tags.delete(this.tags.keys().next().value!);
  }

  /** The tag issued for exactly this request, if `etag` is one. */
  lookup(etag: string, key: string): IssuedTag | undefined {
    const tag = this.tags.get(etag);
    if (!tag || tag.key !== key) return undefined;
    this.tags.delete(etag);
    this.tags.set(etag, tag);
    return tag;
  }

  get size(): number {
    return this.tags.size;
  }
}

/**
 * Single-flight with freshness: `run(key, compute)` joins the statement queued to start after the one
 * in flight (or starts one when none is), never the one already running — that one's snapshot may be
 * older than the caller. So at most one statement per key runs at a time and one waits behind it,
 * however many requests arrive; each caller's result was computed after it called.
 */
export class SharedCheck<T> {
  private readonly running = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, Promise<T>>();

  run(key: string, compute: () => Promise<T>): Promise<T> {
    const queued = this.queued.get(key);
    if (queued) return queued;
    const running = this.running.get(key);
    if (!running) return this.start(key, compute);
    const next = running.then(() => undefined, () => undefined).then(() => {
      this.queued.delete(key);
      return this.start(key, compute);
    });
    this.queued.set(key, next);
    return next;
  }

  private start(key: string, compute: () => Promise<T>): Promise<T> {
    const promise: Promise<T> = compute().finally(() => {
      if (this.running.get(key) === promise) this.running.delete(key);
    });
    this.running.set(key, promise);
    return promise;
  }
}

const indexes = new WeakMap<object, EtagIndex>();

/** One index per database pool (as the grid caches): tags are only meaningful for the database that answered. */
export function etagIndexFor(pool: object): EtagIndex {
  let index = indexes.get(pool);
  if (!index) indexes.set(pool, (index = new EtagIndex()));
  return index;
}

/**
 * The request key of a raw HTTP GraphQL request (GET search parameters or a parsed JSON POST body),
 * computed the way the response cache computes it from Apollo's request; null when the request
 * cannot be a cacheable grid request (no document, a batch, unparsable variables).
 */
export function rawRequestKey(method: string, url: URL, body: unknown, maxGridCells: number): string | null {
  let query: unknown, operationName: unknown, variables: unknown, extensions: unknown;
  if (method === 'GET') {
    query = url.searchParams.get('query') ?? undefined;
    operationName = url.searchParams.get('operationName') ?? undefined;
    try {
      const v = url.searchParams.get('variables');
      const e = url.searchParams.get('extensions');
      variables = v ? JSON.parse(v) : undefined;
      extensions = e ? JSON.parse(e) : undefined;
    } catch {
      return null;
    }
  } else if (method === 'POST' && body && typeof body === 'object' && !Array.isArray(body)) {
    ({ query, operationName, variables, extensions } = body as Record<string, unknown>);
  } else {
    return null;
  }
  const persisted = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
  const documentHash = typeof query === 'string' ? sha256Hex(query) : typeof persisted === 'string' ? persisted.toLowerCase() : null;
  if (documentHash === null) return null;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return null;
  return requestKey({ documentHash, operationName, variables, maxGridCells });
}
