// The whole HTTP surface on plain node:http: CORS, /healthz, the offline playground and its assets,
// the GraphQL endpoint handed to Apollo's executeHTTPGraphQLRequest (with conditional requests,
// http-cache.ts), the CSV downloads of grids that run through the same Apollo path (csv.ts), and the
// subscriptions over Server-Sent Events at /graphql/stream (sse.ts, fed by the live channel, live.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { clientGoneSignal, createContext, type ApiContext } from './context.ts';
import { decideCors, preflightHeaders } from './cors.ts';
import { ErrorCode } from './errors.ts';
import { errorFields } from './format-error.ts';
import { checkHealth } from './health.ts';
import { CSV_PATHS, csvDocument, csvEtag, toCsv, type CsvDocument } from './csv.ts';
import { etagIndexFor, parseIfNoneMatch, rawRequestKey } from './http-cache.ts';
import { gridCellBound } from './plugins/grid-response-cache.ts';
import { currentAnswerToken } from '../grid/index.ts';
import { isAtlasPath, serveAtlas } from './atlas-site.ts';
import { ASSET_PREFIX, loadAssets } from './playground/assets.ts';
import { loadExamples } from './playground/examples.ts';
import { PLAYGROUND_CSP, renderPlaygroundPage } from './playground/page.ts';
import { BodyTooLargeError, readBody } from './read-body.ts';
import { RunEvents } from './live.ts';
import { createSseHandler, GRAPHQL_STREAM_PATH } from './sse.ts';

export const GRAPHQL_PATH = '/graphql';

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  response.writeHead(status, headers);
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(response, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
}

function sendError(response: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
  sendJson(response, status, { errors: [{ message, extensions: { code } }] }, headers);
}

/** A browser navigating to the endpoint (HTML preferred, no query): show the playground. */
function wantsPlayground(request: IncomingMessage, url: URL): boolean {
  return request.method === 'GET' && !url.searchParams.has('query') && (request.headers.accept ?? '').includes('text/html');
}

export function createHttpHandler(options: { apollo: ApolloServer<ApiContext>; db: Database; config: Config; log: Logger; schema: GraphQLSchema; live?: RunEvents }) {
  const { apollo, db, config, log, schema } = options;
  // The server passes the process's channel (and stops it); one made here opens no connection until a subscription asks.
  const live = options.live ?? new RunEvents(db.pool.options, log);
  const serveStream = createSseHandler({ schema, db, config, log, live });
  const csvDocuments = new Map<string, CsvDocument>(Object.entries(CSV_PATHS).map(([pathname, field]) => [pathname, csvDocument(schema, field)]));

  async function servePlayground(response: ServerResponse, headers: Record<string, string>) {
    const assets = await loadAssets();
    const html = renderPlaygroundPage({ endpoint: GRAPHQL_PATH, assets, examples: loadExamples() });
    send(response, 200, { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', 'Content-Security-Policy': PLAYGROUND_CSP }, html);
  }

  async function serveAsset(request: IncomingMessage, response: ServerResponse, pathname: string, headers: Record<string, string>) {
    const asset = (await loadAssets()).lookup(pathname);
    if (!asset) return sendError(response, 404, ErrorCode.NOT_FOUND, `No playground asset at ${pathname}.`, headers);
    const etag = `"${asset.hash}"`;
    const cacheHeaders = { ...headers, ETag: etag, 'Cache-Control': 'public, max-age=31536000, immutable' };
    if (request.headers['if-none-match'] === etag) return send(response, 304, cacheHeaders, '');
    send(response, 200, { ...cacheHeaders, 'Content-Type': asset.contentType, 'Content-Length': String(asset.body.length) }, asset.body);
  }

  /** A 304 carries the validators and caching headers of the 200 it stands for, and no body headers. */
  function notModifiedHeaders(headers: Record<string, string>): Record<string, string> {
    const { 'content-type': _type, 'content-length': _length, ...rest } = headers;
    return rest;
  }

  /** If-None-Match naming the current answer of a grid request this process has answered: 304 after one catalogue statement. */
  async function notModified(request: IncomingMessage, response: ServerResponse, url: URL, body: unknown, candidates: string[], corsHeaders: Record<string, string>): Promise<boolean> {
    const key = rawRequestKey(request.method ?? 'GET', url, body, gridCellBound(config));
    if (key === null) return false;
    const index = etagIndexFor(db.pool);
    for (const etag of candidates) {
      const tag = index.lookup(etag, key);
      if (!tag) continue;
      let token: string | null;
      try {
        token = await index.checks.run(etag, () => currentAnswerToken(db.pool, tag.query));
      } catch {
        return false; // an outage or anything else: the ordinary path reports it properly
      }
      if (token !== tag.token) return false;
      send(response, 304, { ...corsHeaders, ETag: etag, 'Cache-Control': 'no-cache' }, '');
      return true;
    }
    return false;
  }

  /** One request through Apollo, with its headers merged over CORS's; the one execution path of GraphQL and CSV requests. */
  async function execute(response: ServerResponse, httpGraphQLRequest: HTTPGraphQLRequest, corsHeaders: Record<string, string>) {
    // A client that leaves before its response is sent stops its operation: statements cancelled, slot released.
    const context = createContext(db, config, clientGoneSignal(response), { authorization: httpGraphQLRequest.headers.get('authorization') });
    const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: async () => context }).finally(() => context.operation.finish());
    const responseHeaders: Record<string, string> = { ...corsHeaders };
    for (const [name, value] of result.headers) responseHeaders[name] = value;
    return { result, responseHeaders };
  }

  /** GET /grid.csv?input=… : the field's answer as CSV, through Apollo (budgets, admission, cache and ETag as for GraphQL). */
  async function serveCsv(request: IncomingMessage, response: ServerResponse, url: URL, document: CsvDocument, corsHeaders: Record<string, string>) {
    const raw = url.searchParams.get('input');
    if (raw === null) return sendError(response, 400, ErrorCode.BAD_REQUEST, `${url.pathname} needs the query parameter \`input\`: the ${document.field} field's input as JSON.`, corsHeaders);
    let input: unknown;
    try {
      input = JSON.parse(raw);
    } catch (error) {
      return sendError(response, 400, ErrorCode.BAD_REQUEST, `${url.pathname}: query parameter \`input\` is not valid JSON (${(error as Error).message}).`, corsHeaders);
    }
    const headers = new HeaderMap([['content-type', 'application/json']]);
    const { result, responseHeaders } = await execute(response, { method: 'POST', headers, search: '', body: { query: document.query, variables: { input } } }, corsHeaders);
    const text = result.body.kind === 'complete' ? result.body.string : '';
    const json = JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
    if (json.errors?.length || !json.data?.[document.field]) {
      // Field errors come back as GraphQL's 200; a download that failed must not look like one.
      const code = json.errors?.[0]?.extensions?.code;
      const status = (result.status ?? 200) !== 200 ? result.status! : code === ErrorCode.BAD_USER_INPUT ? 400 : code === ErrorCode.NOT_FOUND ? 404 : code === ErrorCode.DATABASE_UNAVAILABLE ? 503 : 500;
      const { etag: _etag, ...rest } = responseHeaders;
      return send(response, status, { ...rest, 'content-type': 'application/json; charset=utf-8' }, text);
    }
    const etag = csvEtag(responseHeaders.etag);
    delete responseHeaders.etag;
    if (etag) responseHeaders.etag = etag;
    if (etag && parseIfNoneMatch(request.headers['if-none-match']).includes(etag)) {
      return send(response, 304, notModifiedHeaders(responseHeaders), '');
    }
    const csv = toCsv(document, json.data[document.field] as Parameters<typeof toCsv>[1]);
    send(response, 200, {
      ...responseHeaders,
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="${url.pathname.slice(1)}"`,
    }, csv);
  }

  async function serveGraphql(request: IncomingMessage, response: ServerResponse, url: URL, corsHeaders: Record<string, string>) {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (request.method === 'POST') {
      const text = await readBody(request);
      if ((headers.get('content-type') ?? '').includes('application/json')) {
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch (error) {
          return sendError(response, 400, ErrorCode.BAD_REQUEST, `Request body is not valid JSON: ${(error as Error).message}`, corsHeaders);
        }
      }
    }
    const candidates = parseIfNoneMatch(request.headers['if-none-match']);
    if (candidates.length > 0 && (await notModified(request, response, url, body, candidates, corsHeaders))) return;
    const { result, responseHeaders } = await execute(response, { method: request.method ?? 'GET', headers, search: url.search, body }, corsHeaders);
    // Executed anyway (first request to this process, or the tag was unknown here): still a 304 when the answer is the one named.
    if (responseHeaders.etag && candidates.includes(responseHeaders.etag) && (result.status ?? 200) === 200) return send(response, 304, notModifiedHeaders(responseHeaders), '');
    if (result.body.kind === 'complete') return send(response, result.status ?? 200, responseHeaders, result.body.string);
    response.writeHead(result.status ?? 200, responseHeaders);
    for await (const chunk of result.body.asyncIterator) response.write(chunk);
    response.end();
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      // A request target the URL parser refuses (`//`, `http://[`): the client's mistake, not ours.
      return sendError(response, 400, ErrorCode.BAD_REQUEST, `The request target ${JSON.stringify(String(request.url).slice(0, 200))} is not a valid path.`);
    }
    const cors = decideCors(request.headers.origin, config.corsOrigins, request.headers.host);
    if (cors.kind === 'refused') {
      return sendError(response, 403, ErrorCode.FORBIDDEN, `Origin ${cors.origin} is not allowed (CORS_ORIGINS).`, { Vary: 'Origin' });
    }
    const corsHeaders = cors.kind === 'allowed' ? cors.headers : {};
    if (request.method === 'OPTIONS') return send(response, 204, { ...corsHeaders, ...preflightHeaders() }, '');

    if (url.pathname === '/healthz' && (request.method === 'GET' || request.method === 'HEAD')) {
      const health = await checkHealth(db, log);
      return sendJson(response, health.status, health.body, { ...corsHeaders, ...health.headers, 'Cache-Control': 'no-store' });
    }
    if (url.pathname.startsWith(ASSET_PREFIX) && request.method === 'GET') {
      return serveAsset(request, response, url.pathname, corsHeaders);
    }
    const csv = csvDocuments.get(url.pathname);
    if (csv && (request.method === 'GET' || request.method === 'HEAD')) return serveCsv(request, response, url, csv, corsHeaders);
    if (url.pathname === GRAPHQL_STREAM_PATH) return serveStream(request, response, corsHeaders);
    if (url.pathname === GRAPHQL_PATH) {
      if (wantsPlayground(request, url)) return servePlayground(response, corsHeaders);
      return serveGraphql(request, response, url, corsHeaders);
    }
    if (isAtlasPath(url.pathname) && (request.method === 'GET' || request.method === 'HEAD')) {
      return serveAtlas(request, response, url.pathname, corsHeaders);
    }
    sendError(response, 404, ErrorCode.NOT_FOUND, `Nothing at ${url.pathname}; the GraphQL endpoint is ${GRAPHQL_PATH}.`, corsHeaders);
  }

  return (request: IncomingMessage, response: ServerResponse): void => {
    route(request, response).catch((error: unknown) => {
      if (response.headersSent) return response.destroy(error as Error);
      if (error instanceof BodyTooLargeError) return sendError(response, 413, ErrorCode.BAD_REQUEST, error.message, { Connection: 'close' });
      log.error('HTTP request failed', errorFields(error));
      // The stack (source paths) only when asked for: EXPOSE_ERROR_DETAILS, never development alone.
      sendError(response, 500, ErrorCode.INTERNAL_SERVER_ERROR, config.exposeErrorDetails ? String((error as Error)?.stack ?? error) : 'Internal server error.');
    });
  };
}
