// The shared run lifecycle on a real PostgreSQL: the advisory lock across two connections (two
// processes), find-or-create by identity, the one finished_at rule, and interrupts.
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { RunError, INTERRUPTED_MESSAGE } from '../../src/runs/errors.ts';
import { openRun } from '../../src/runs/lifecycle.ts';
import { withRunLock } from '../../src/runs/lock.ts';
import { canMove } from '../../src/runs/status.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let other: Database;
let modelId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  // A second pool: its connections are another PostgreSQL session, as another process's would be.
  other = connectDatabase(db.url, { maxConnections: 2 });
  db.using(() => other.close());
  modelId = (await db.prisma.model.create({ data: { name: 'lifecycle', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test', description: 'runs of the lifecycle test' } })).id;
});

afterAll(async () => {
  await db?.drop();
});

const createRun = (settingsHash: string) => () => db.prisma.extractionRun.create({
  data: { modelId, settingsHash, promptTemplate: '{concept}', seed: 0, stepCount: 1, device: 'cpu', settings: {} },
});
const row = (settingsHash: string) => db.prisma.extractionRun.findUniqueOrThrow({ where: { settingsHash } });

test('a run held by one connection is RUN_LOCKED for another until released, also when the holder failed', async () => {
  let release!: () => void;
  const holding = new Promise<void>((resolve) => { release = resolve; });
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => { entered = resolve; });
  const first = withRunLock(db.pool, 'lock-hash', 'Test run', async () => {
    entered();
    await holding;
    throw new Error('the holder fails');
  });
  await inside;
  const refused = await withRunLock(other.pool, 'lock-hash', 'Test run', async () => 'ran').then(() => null, (e: unknown) => e);
  expect(refused).toBeInstanceOf(RunError);
  expect(refused).toMatchObject({ code: 'RUN_LOCKED', kind: 'locked', message: expect.stringMatching(/^Test run \(settings hash lock-hash…\) is being written by another process/) });
  // Another identity is not blocked.
  await expect(withRunLock(other.pool, 'another-hash', 'Test run', async () => 'ran')).resolves.toBe('ran');
  release();
  await expect(first).rejects.toThrow('the holder fails');
  await expect(withRunLock(other.pool, 'lock-hash', 'Test run', async () => 'ran')).resolves.toBe('ran');
});

test('find-or-create by identity: the second open finds the row the first created', async () => {
  const first = await openRun(db.pool, { table: 'extraction_run', settingsHash: 'find-or-create', subject: 'Test run', create: createRun('find-or-create') }, async (run) => run.stored);
  const second = await openRun(other.pool, { table: 'extraction_run', settingsHash: 'find-or-create', subject: 'Test run', create: createRun('find-or-create') }, async (run) => run.stored);
  expect(first).toMatchObject({ created: true, status: 'PENDING' });
  expect(second).toMatchObject({ id: first.id, created: false, status: 'PENDING' });
});

test('finished_at is set whenever a run leaves RUNNING for COMPLETED or FAILED, and cleared when it runs again', async () => {
  const spec = { table: 'extraction_run' as const, settingsHash: 'status-rule', subject: 'Test run', create: createRun('status-rule') };
  await openRun(db.pool, spec, async (run) => {
    await run.start({ done: 0, total: 2 });
    expect(await row('status-rule')).toMatchObject({ status: 'RUNNING', finishedAt: null, error: null, plannedCount: 2 });
    expect((await row('status-rule')).startedAt).toBeInstanceOf(Date);
    await expect(run.guard(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  });
  const failed = await row('status-rule');
  expect(failed).toMatchObject({ status: 'FAILED', error: 'boom' });
  expect(failed.finishedAt).toBeInstanceOf(Date);

  await openRun(db.pool, spec, async (run) => {
    expect(run.stored.status).toBe('FAILED');
    await run.start({ total: 2 });
    expect(await row('status-rule')).toMatchObject({ status: 'RUNNING', finishedAt: null, error: null });
    await run.complete({ doneCount: 2, timings: { replace: { wall: 1.5 } } });
  });
  const completed = await row('status-rule');
  expect(completed).toMatchObject({ status: 'COMPLETED', doneCount: 2, timings: { wall: 1.5 }, error: null });
  expect(completed.finishedAt).toBeInstanceOf(Date);
});

test('an aborted signal: INTERRUPTED, the run FAILED "interrupted; re-run to resume" with finished_at, the lock released', async () => {
  const stop = new AbortController();
  const spec = { table: 'extraction_run' as const, settingsHash: 'interrupt', subject: 'Test run', create: createRun('interrupt'), signal: stop.signal };
  const error = await openRun(db.pool, spec, async (run) => {
    await run.start({ total: 3 });
    return run.guard(async () => {
      run.throwIfInterrupted(); // not aborted yet: goes on
      stop.abort();
      run.throwIfInterrupted();
    });
  }).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(RunError);
  expect(error).toMatchObject({ code: 'INTERRUPTED', kind: 'interrupted', message: INTERRUPTED_MESSAGE });
  const run = await row('interrupt');
  expect(run).toMatchObject({ status: 'FAILED', error: INTERRUPTED_MESSAGE });
  expect(run.finishedAt).toBeInstanceOf(Date);
  await expect(withRunLock(other.pool, 'interrupt', 'Test run', async () => 'free')).resolves.toBe('free');
});

test('the status machine has no move out of PENDING to COMPLETED and none from COMPLETED to FAILED', () => {
  expect(canMove('PENDING', 'RUNNING')).toBe(true);
  expect(canMove('RUNNING', 'COMPLETED')).toBe(true);
  expect(canMove('FAILED', 'RUNNING')).toBe(true);
  expect(canMove('COMPLETED', 'RUNNING')).toBe(true);
  expect(canMove('PENDING', 'COMPLETED')).toBe(false);
  expect(canMove('COMPLETED', 'FAILED')).toBe(false);
});
