// The thin data layer: one pg pool per process, shared by Prisma (catalogue, writes) and the
// hand-written grid SQL (src/db/grid.ts), so the API never holds two sets of connections.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { endPool, guardPool, type ConnectionErrorHandler } from './connection-errors.ts';

export type { PrismaClient };

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function connectDatabase(url: string, options: { maxConnections?: number; onConnectionError?: ConnectionErrorHandler } = {}): Database {
  // An idle connection dropped by the server is reported, never fatal; the pool replaces it.
  const pool = guardPool(new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 }), options.onConnectionError);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect();
      await endPool(pool); // resolves once every socket is closed, not merely asked to close
    },
  };
}
