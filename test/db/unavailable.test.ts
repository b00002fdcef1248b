// Which real failures count as "the database is unavailable": each error below is produced for real
// (a statement timeout, a terminated backend, a refused connection, pool and connection timeouts,
// through pg and through Prisma), and ordinary failures (bad SQL, a unique violation) are not.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { databaseFailure } from '../../src/db/unavailable.ts';
import { connectAdmin, createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let admin: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  admin = await connectAdmin();
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function withDatabase<T>(url: string, options: Parameters<typeof connectDatabase>[1], run: (own: Database) => Promise<T>): Promise<T> {
  const own = connectDatabase(url, options);
  try {
    return await run(own);
  } finally {
    await own.close();
  }
}

test('statement_timeout (57014), through pg and through Prisma, is a timeout', async () => {
  await withDatabase(db.url, { maxConnections: 1, timeouts: { connectMs: null, statementMs: 50, queryMs: null } }, async (own) => {
    const viaPg = await failure(() => own.pool.query('SELECT pg_sleep(2)'));
    expect((viaPg as { code?: string }).code).toBe('57014');
    expect(databaseFailure(viaPg)).toBe('timeout');
    expect(databaseFailure(await failure(() => own.prisma.$queryRaw`SELECT pg_sleep(2)`))).toBe('timeout');
  });
});

/** Waits (bounded) until backend `pid` is running its `pg_sleep`; throws rather than act too early. */
async function sleepVisiblyRunning(pid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const state = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`, [pid]);
    if (state.rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`backend ${pid} never showed its pg_sleep as active in pg_stat_activity`);
}

test('a backend terminated under a running query (57P01) is unreachable', async () => {
  await withDatabase(db.url, { maxConnections: 1 }, async (own) => {
    const { rows } = await own.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const running = failure(() => own.pool.query('SELECT pg_sleep(30)'));
    await sleepVisiblyRunning(rows[0]!.pid); // terminate it mid-statement, not before it starts
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    const error = await running;
    expect(databaseFailure(error)).toBe('unreachable');
  });
});

test('a refused connection (ECONNREFUSED), through pg and through Prisma, is unreachable', async () => {
  await withDatabase('postgresql://postgres@127.0.0.1:1/nowhere', { maxConnections: 1 }, async (own) => {
    expect(databaseFailure(await failure(() => own.pool.query('SELECT 1')))).toBe('unreachable');
    expect(databaseFailure(await failure(() => own.prisma.model.count()))).toBe('unreachable');
  });
});

describe('a server that accepts and never answers', () => {
  let silent: Server;
  const held = new Set<Socket>();
  beforeAll(async () => {
    silent = createServer((socket) => void held.add(socket)); // holds every connection open, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  test('the connection timeout, and the wait for a free connection, are timeouts', async () => {
    const port = (silent.address() as AddressInfo).port;
    await withDatabase(`postgresql://postgres@127.0.0.1:${port}/x`, { maxConnections: 1, timeouts: { connectMs: 100, statementMs: null, queryMs: null } }, async (own) => {
      const [connecting, waiting] = await Promise.all([failure(() => own.pool.query('SELECT 1')), failure(() => own.pool.query('SELECT 1'))]);
      expect(databaseFailure(connecting)).toBe('timeout');
      expect(databaseFailure(waiting)).toBe('timeout');
      expect(databaseFailure(await failure(() => own.prisma.model.count()))).toBe('timeout');
    });
  });
});

test('a statement cancelled on request (57014 without a timeout) is not an outage', async () => {
  await withDatabase(db.url, { maxConnections: 1 }, async (own) => {
    const { rows } = await own.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const running = failure(() => own.pool.query('SELECT pg_sleep(30)'));
    await sleepVisiblyRunning(rows[0]!.pid); // a cancel sent before the statement starts would be lost
    await admin.query('SELECT pg_cancel_backend($1)', [rows[0]!.pid]);
    const error = await running;
    expect((error as { code?: string }).code).toBe('57014');
    expect(databaseFailure(error)).toBeNull();
  });
});

test('ordinary failures are not outages', async () => {
  expect(databaseFailure(await failure(() => db.pool.query('SELEC 1')))).toBeNull();
  await db.prisma.model.create({ data: { name: 'dup', kind: 'TINY_TEST_NETWORK', revision: 'r1', source: 'test', description: 'test' } });
  const duplicate = await failure(() => db.prisma.model.create({ data: { name: 'dup', kind: 'TINY_TEST_NETWORK', revision: 'r1', source: 'test', description: 'test' } }));
  expect(databaseFailure(duplicate)).toBeNull();
  expect(databaseFailure(new Error('something else'))).toBeNull();
  expect(databaseFailure(undefined)).toBeNull();
});
