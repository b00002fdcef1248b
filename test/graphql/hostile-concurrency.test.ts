// Hostile traffic across requests: a burst of large grids, and clients that leave mid-grid. Issue 7
// saw 100 concurrent grid requests run the heap out (the process died), and work go on after the
// client had gone. A lock on probe_score holds every admitted grid inside PostgreSQL, so what runs,
// waits and is refused is decided by the server's admission control alone, not by timing; catalogue
// queries never read probe_score. Real server, real database, 127.0.0.1 only; every wait is bounded.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { activeGridStatements, insertLargeGrid, LARGE_GRID_CELLS, lockScores, waitFor, type LargeGrid } from './hostile-fixture.ts';

let db: TestDatabase;
let grid: LargeGrid;

beforeAll(async () => {
  db = await createTestDatabase();
  grid = await insertLargeGrid(db);
});
afterAll(async () => {
  await db?.drop();
});

const GRID_QUERY = `query Grid($input: GridInput!) { grid(input: $input) { cellCount cells { scoreCount mean } } }`;

/** POSTs a grid request; `signal` lets the test hang up mid-request. */
function postGrid(api: TestApi, signal: AbortSignal): Promise<Response> {
  return fetch(api.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: GRID_QUERY, variables: { input: grid.input } }), signal });
}

describe('a burst of 100 concurrent large grids', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(db, { limits: { maxDepth: 10, maxCost: 50_000, maxPageSize: 500, maxHeavyOperations: 2, maxQueuedHeavyOperations: 4, heavyQueueTimeoutMs: 50_000 } });
  });
  afterAll(async () => {
    await api?.stop();
  });

  test('2 run, 4 wait, 94 are refused at once with SERVER_BUSY + Retry-After; a cheap query meanwhile is answered; the server stays up', async () => {
    const lock = await lockScores(db.url);
    const hangUp = AbortSignal.timeout(55_000);
    try {
      const requests = Array.from({ length: 100 }, () => postGrid(api, hangUp).then(async (response) => ({ response, body: (await response.json()) as any })));
      const settled: { response: Response; body: any }[] = [];
      for (const request of requests) void request.then((result) => settled.push(result), () => {});
      await waitFor('94 refusals', async () => settled.length >= 94);
      const refused = settled.filter(({ response }) => response.status === 503);
      expect(refused).toHaveLength(94);
      for (const { response, body } of refused) {
        expect(response.headers.get('retry-after')).toBe('1');
        expect(body.errors[0].extensions).toMatchObject({ code: 'SERVER_BUSY', retryAfterSeconds: 1 });
        expect(body.data ?? null).toBeNull();
      }
      // Two grids are now inside PostgreSQL behind the lock, four wait for a slot: a cheap catalogue
      // query and /healthz are answered all the same.
      await waitFor('the two admitted grids to reach the lock', async () => (await activeGridStatements(db.url, db.name)) === 2);
      const cheap = await api.graphql(`{ models { name } normsDatasets { name } apiLimits { maxOperationCells } }`);
      expect(cheap.status).toBe(200);
      expect(cheap.body.errors).toBeUndefined();
      expect(cheap.body.data.models.map((model: { name: string }) => model.name)).toContain('hostile-grid-model');
      expect((await fetch(`${api.origin}/healthz`)).status).toBe(200);
      expect(settled).toHaveLength(94);

      await lock.release();
      const all = await Promise.all(requests);
      const answered = all.filter(({ response }) => response.status === 200);
      expect(answered).toHaveLength(6);
      for (const { body } of answered) {
        expect(body.errors).toBeUndefined();
        expect(body.data.grid.cellCount).toBe(LARGE_GRID_CELLS);
      }
      expect((await fetch(`${api.origin}/healthz`)).status).toBe(200);
    } finally {
      await lock.release();
    }
  });
});

describe('a client that disconnects mid-grid', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(db, { limits: { maxDepth: 10, maxCost: 50_000, maxPageSize: 500, maxHeavyOperations: 1, maxQueuedHeavyOperations: 0, heavyQueueTimeoutMs: 10_000 } });
  });
  afterAll(async () => {
    await api?.stop();
  });

  test('has its PostgreSQL statement cancelled and its slot released, though the lock still holds', async () => {
    const lock = await lockScores(db.url);
    try {
      const client = new AbortController();
      const gone = postGrid(api, client.signal).catch((error: Error) => error);
      await waitFor('the grid to reach the lock', async () => (await activeGridStatements(db.url, db.name)) === 1);
      // The one slot is taken: another heavy request is refused.
      const busy = await postGrid(api, AbortSignal.timeout(20_000));
      expect(busy.status).toBe(503);
      client.abort();
      expect(((await gone) as Error).name).toBe('AbortError');
      // Cancelled on the server (the lock is still held, so it cannot have finished).
      await waitFor('the statement to be cancelled', async () => (await activeGridStatements(db.url, db.name)) === 0);
      // And its slot is free again: a new grid is admitted (it reaches the lock) instead of being refused.
      let next: Promise<Response> | undefined;
      await waitFor('the slot to be released', async () => {
        const attempt = postGrid(api, AbortSignal.timeout(30_000));
        let status: number | undefined;
        attempt.then((response) => (status = response.status), () => (status = -1));
        // Admitted (its statement reaches the lock) or answered (refused while the slot was still held).
        await waitFor('the attempt to be admitted or refused', async () => status !== undefined || (await activeGridStatements(db.url, db.name)) === 1);
        if (status === 503) return false;
        next = attempt;
        return true;
      });
      await lock.release();
      const answer = await next!;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as any).data.grid.cellCount).toBe(LARGE_GRID_CELLS);
    } finally {
      await lock.release();
    }
  });
});
