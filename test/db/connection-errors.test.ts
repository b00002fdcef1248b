// A terminated idle connection is never fatal: the backend behind an idle pool connection (and a
// standalone client's) is killed with pg_terminate_backend — what DROP DATABASE … WITH (FORCE), a
// PostgreSQL restart or an embedded server stopping does — and the process lives on, the pool
// replaces the connection, and closing the database leaves no socket behind.
import pg from 'pg';
import { connectDatabase } from '../../src/db/client.ts';
import { canConnect } from '../../src/db/servers.ts';
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

async function backendsOf(database: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  return rows[0]!.n;
}

test('an idle pool connection whose backend is terminated is replaced, and the process survives', async () => {
  const own = connectDatabase(db.url, { maxConnections: 1 });
  try {
    const first = await own.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = first.rows[0]!.pid;
    // The connection is idle in the pool; its backend goes away under it.
    const removed = new Promise((resolve) => own.pool.once('remove', resolve));
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await removed;
    const second = await own.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(second.rows[0]!.pid).not.toBe(pid);
    expect(await own.prisma.model.count()).toBe(0); // Prisma over the same pool works too
  } finally {
    await own.close();
  }
});

test('close() returns only once every socket is closed: no backend of the pool is left', async () => {
  const own = connectDatabase(db.url, { maxConnections: 4 });
  // Four connections at once, then all idle.
  await Promise.all(Array.from({ length: 4 }, () => own.pool.query('SELECT pg_sleep(0.05)')));
  expect(await backendsOf(db.name)).toBeGreaterThanOrEqual(4);
  const before = await backendsOf(db.name);
  await own.close();
  // db's own pool may hold connections of its own; the ones of `own` are all gone.
  expect(await backendsOf(db.name)).toBeLessThanOrEqual(before - 4);
});

test('the test database is dropped under a connected, idle pool without an uncaught error', async () => {
  const scratch = await createTestDatabase();
  const bystander = connectDatabase(scratch.url, { maxConnections: 2 });
  await Promise.all([bystander.pool.query('SELECT 1'), bystander.pool.query('SELECT 1')]);
  const removed = new Promise((resolve) => bystander.pool.once('remove', resolve));
  await scratch.drop(); // WITH (FORCE): terminates the bystander's idle backends
  await removed;
  await expect(bystander.pool.query('SELECT 1')).rejects.toThrow(/does not exist/);
  await bystander.close();
  expect(await canConnect(scratch.url)).toBe(false);
});

test('drop() stops a test API still serving over the database before it closes the pool', async () => {
  const { startTestApi } = await import('../support/api.ts');
  const scratch = await createTestDatabase();
  const api = await startTestApi(scratch);
  expect((await api.graphql('{ apiLimits { maxDepth } }')).status).toBe(200);
  await scratch.drop(); // no api.stop() first
  await expect(fetch(api.url, { method: 'POST' })).rejects.toThrow(); // nothing listens any more
  await api.stop(); // idempotent: the same stop drop() ran
});
