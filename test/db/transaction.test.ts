// inTransaction on a real PostgreSQL: commit, rollback, and a dead connection during the transaction.
import { inTransaction } from '../../src/db/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE tx_probe (value int NOT NULL)');
});

afterAll(async () => {
  await db.drop();
});

const values = async () => (await db.pool.query<{ value: number }>('SELECT value FROM tx_probe ORDER BY value')).rows.map((r) => r.value);

test('commits the work and returns its result', async () => {
  await db.pool.query('TRUNCATE tx_probe');
  const result = await inTransaction(db.pool, async (client) => {
    await client.query('INSERT INTO tx_probe VALUES (1), (2)');
    return 'ok';
  });
  expect(result).toBe('ok');
  expect(await values()).toEqual([1, 2]);
});

test('rolls back everything when the work throws, and rethrows the same error', async () => {
  await db.pool.query('TRUNCATE tx_probe');
  const failure = new Error('work failed');
  await expect(inTransaction(db.pool, async (client) => {
    await client.query('INSERT INTO tx_probe VALUES (3)');
    throw failure;
  })).rejects.toBe(failure);
  expect(await values()).toEqual([]);
});

test('a failing ROLLBACK does not hide the original error, and the broken connection is discarded', async () => {
  await db.pool.query('TRUNCATE tx_probe');
  const before = db.pool.totalCount;
  let backendPid = 0;
  // Terminating our own backend mid-transaction: the next query fails, and so does ROLLBACK.
  const outcome = inTransaction(db.pool, async (client) => {
    await client.query('INSERT INTO tx_probe VALUES (4)');
    backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await db.pool.query('SELECT pg_terminate_backend($1)', [backendPid]);
    await client.query('INSERT INTO tx_probe VALUES (5)');
  });
  const error = await outcome.then(() => null, (e: unknown) => e as { code?: string; message: string });
  expect(error).not.toBeNull();
  // 57P01 admin_shutdown or a connection-level error — never the ROLLBACK's own "not queryable" error.
  expect(error!.message).not.toMatch(/ROLLBACK/i);
  expect(await values()).toEqual([]);
  const alive = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [backendPid]);
  expect(alive.rows[0]!.n).toBe(0);
  expect(db.pool.totalCount).toBeLessThanOrEqual(before + 1);
  // The pool still works: the dead client was not handed out again.
  for (let i = 0; i < 3; i++) expect((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
});
