// Which failures mean "the database is not there right now" (retry later) rather than a bug: the
// API answers those with DATABASE_UNAVAILABLE and HTTP 503, /healthz with 503, and the log with one
// short line instead of a stack per request. The same failure reaches us in several shapes — a pg
// error with a SQLSTATE, a Node socket error, pg/pg-pool's own timeouts (plain messages), or Prisma's
// wrapping of any of them (a P-code, `meta.driverAdapterError`, a `cause` with a `kind`) — so the
// error and everything it wraps are inspected.

/** `unreachable`: refused, reset, closed, shutting down; `timeout`: it did not answer in time. */
export type DatabaseFailure = 'unreachable' | 'timeout';

/** SQLSTATE classes and codes: 08 connection exception; 57P01–57P03 admin/crash shutdown, cannot connect now; 53300 too many connections. */
const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/**
 * 57014 is query_canceled: "canceling statement due to statement timeout" is an outage (the API's
 * queries are bounded, so a timeout means an overloaded server); "… due to user request" (a client
 * that left, an operator's pg_cancel_backend) is not.
 */
const QUERY_CANCELED = '57014';
const UNREACHABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
const TIMEOUT_SOCKET_CODES = new Set(['ETIMEDOUT']);
/** Prisma: P1001 can't reach, P1017 server closed the connection; P1002/P1008 timed out, P2024 no pool connection in time. */
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1017']);
const TIMEOUT_PRISMA_CODES = new Set(['P1002', 'P1008', 'P2024']);
/** @prisma/adapter-pg's error kinds (DriverAdapterError.cause.kind). */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'TooManyConnections']);
const TIMEOUT_KINDS = new Set(['SocketTimeout']);
/** pg and pg-pool raise these as plain Errors with no code. */
const TIMEOUT_MESSAGES = ['timeout exceeded when trying to connect', 'Connection terminated due to connection timeout', 'Query read timeout'];
const UNREACHABLE_MESSAGES = ['Connection terminated unexpectedly', 'Connection terminated', 'Client has encountered a connection error and is not queryable'];

function classify(node: Record<string, unknown>): DatabaseFailure | null {
  for (const key of ['code', 'originalCode'] as const) {
    const code = node[key];
    if (typeof code !== 'string') continue;
    if (code === QUERY_CANCELED) {
      if (/statement timeout/.test(String(node.message ?? node.originalMessage ?? ''))) return 'timeout';
      continue;
    }
    if (TIMEOUT_SOCKET_CODES.has(code) || TIMEOUT_PRISMA_CODES.has(code)) return 'timeout';
    if (code.startsWith('08') && code.length === 5) return 'unreachable';
    if (UNREACHABLE_SQLSTATES.has(code) || UNREACHABLE_SOCKET_CODES.has(code) || UNREACHABLE_PRISMA_CODES.has(code)) return 'unreachable';
  }
  if (typeof node.kind === 'string') {
    if (TIMEOUT_KINDS.has(node.kind)) return 'timeout';
    if (UNREACHABLE_KINDS.has(node.kind)) return 'unreachable';
  }
  if (typeof node.message === 'string') {
    if (TIMEOUT_MESSAGES.includes(node.message)) return 'timeout';
    if (UNREACHABLE_MESSAGES.includes(node.message)) return 'unreachable';
  }
  return null;
}

/**
 * Whether `error` (or anything it wraps: `cause`, `originalError`, Prisma's `meta.driverAdapterError`,
 * an AggregateError's `errors`) says the database is unreachable or did not answer in time; null
 * for every other failure. A timeout found anywhere in the chain wins over "unreachable" (pg-pool's
 * connection timeout wraps the "terminated" it caused).
 */
export function databaseFailure(error: unknown): DatabaseFailure | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  let found: DatabaseFailure | null = null;
  while (queue.length > 0 && seen.size < 32) {
    const node = queue.shift();
    if (node === null || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    const record = node as Record<string, unknown>;
    const kind = classify(record);
    if (kind === 'timeout') return kind;
    found ??= kind;
    queue.push(record.cause, record.originalError, (record.meta as Record<string, unknown> | undefined)?.driverAdapterError);
    if (Array.isArray(record.errors)) queue.push(...record.errors);
  }
  return found;
}
