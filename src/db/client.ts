// The thin data layer: one pg pool per process, shared by Prisma (catalogue, writes) and the
// hand-written grid SQL (src/grid/grid.ts), so the API never holds two sets of connections.
// Every wait on PostgreSQL can be bounded (DatabaseTimeouts): the API passes its configured
// timeouts; scripts that write in bulk pass none (the default) or their own.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { DatabaseTimeouts } from '../config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { endPool, guardPool, type ConnectionErrorHandler } from './connection-errors.ts';

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  /** The limits this pool was opened with (the health check bounds its own probe by them); absent = none. */
  timeouts?: DatabaseTimeouts;
  close(): Promise<void>;
}

/** No limits: what scripts get unless they ask (an extraction or an import may hold a statement for minutes). */
export const NO_TIMEOUTS: DatabaseTimeouts = { connectMs: null, statementMs: null, queryMs: null };

/** The pg pool options that enforce `timeouts`. */
export function timeoutOptions(timeouts: DatabaseTimeouts): pg.PoolConfig {
  return {
    ...(timeouts.connectMs ? { connectionTimeoutMillis: timeouts.connectMs } : {}),
    ...(timeouts.statementMs ? { statement_timeout: timeouts.statementMs } : {}),
    ...(timeouts.queryMs ? { query_timeout: timeouts.queryMs } : {}),
  };
}

export function connectDatabase(
  url: string,
  options: { maxConnections?: number; onConnectionError?: ConnectionErrorHandler; timeouts?: DatabaseTimeouts } = {},
): Database {
  const timeouts = options.timeouts ?? NO_TIMEOUTS;
  // An idle connection dropped by the server is reported, never fatal; the pool replaces it.
  // Every session in UTC: `now()` written into the `timestamp without time zone` columns (run and job
  // status changes, heartbeats) is then UTC, as Prisma and the API's readers take those columns to be,
  // whatever the server's own time zone (initdb copies the host's).
  const pool = guardPool(new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, options: '-c TimeZone=UTC', ...timeoutOptions(timeouts) }), options.onConnectionError);
  pool.on('release', dropTimedOut);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    timeouts,
    async close() {
      await prisma.$disconnect();
      await endPool(pool); // resolves once every socket is closed, not merely asked to close
    },
  };
}

/**
 * pg's client-side `query_timeout` rejects the query but leaves its connection waiting for the
 * answer; the pool then discards the client by ending it politely, which a frozen server never
 * acknowledges. Closing the socket at once frees it, and lets close() finish during an outage.
 */
function dropTimedOut(error: Error | undefined, client: pg.PoolClient): void {
  if (error?.message !== 'Query read timeout') return;
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
