// Hostile traffic, per operation: many aliases of a large grid. Issue 7 saw 50 aliases of a
// 10,725-cell grid accepted (536k cells); of a 78k-cell grid, 4.6 GB RSS. Now one operation's
// cells and estimated response bytes are summed over all its grid fields and aliases and refused
// past GRAPHQL_MAX_OPERATION_CELLS / GRAPHQL_MAX_RESPONSE_BYTES, naming the limit. Real server,
// real database, 127.0.0.1 only.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertLargeGrid, LARGE_GRID_CELLS, type LargeGrid } from './hostile-fixture.ts';

let db: TestDatabase;
let api: TestApi;
let small: TestApi;
let grid: LargeGrid;

beforeAll(async () => {
  db = await createTestDatabase();
  grid = await insertLargeGrid(db);
  api = await startTestApi(db);
  small = await startTestApi(db, { limits: { ...api.config.limits, maxResponseBytes: 1_000_000 } });
});
afterAll(async () => {
  await small?.stop();
  await api?.stop();
  await db?.drop();
});

const aliases = (count: number, selection: string) =>
  `query Many($input: GridInput!) { ${Array.from({ length: count }, (_, i) => `g${i}: grid(input: $input) { ${selection} }`).join(' ')} }`;

test('the large grid is what the attack used: 10,725 dense cells', async () => {
  const { status, body } = await api.graphql(`query($input: GridInput!) { grid(input: $input) { cellCount } }`, { input: grid.input });
  expect(status).toBe(200);
  expect(body.data.grid.cellCount).toBe(LARGE_GRID_CELLS);
});

test('50 aliases of a 10,725-cell grid are refused as a whole: OPERATION_TOO_LARGE naming GRAPHQL_MAX_OPERATION_CELLS', async () => {
  const { status, body } = await api.graphql(aliases(50, 'cellCount cells { scoreCount }'), { input: grid.input });
  expect(status).toBe(400);
  expect(body.data ?? null).toBeNull();
  expect(body.errors).toHaveLength(1);
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'OPERATION_TOO_LARGE', limit: 'GRAPHQL_MAX_OPERATION_CELLS', max: 200_000 });
  expect(body.errors![0]!.extensions!.amount).toBeGreaterThan(200_000);
  expect(body.errors![0]!.message).toMatch(/GRAPHQL_MAX_OPERATION_CELLS/);
});

test('aliases hidden in fragments count the same', async () => {
  const fragment = Array.from({ length: 25 }, (_, i) => `f${i}: grid(input: $input) { cellCount }`).join(' ');
  const { status, body } = await api.graphql(`query($input: GridInput!) { ...G ... on Query { x: grid(input: $input) { cellCount } } } fragment G on Query { ${fragment} }`, { input: grid.input });
  expect(status).toBe(400);
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'OPERATION_TOO_LARGE', limit: 'GRAPHQL_MAX_OPERATION_CELLS' });
});

test('within the budget, several grids of one operation are answered', async () => {
  const { status, body } = await api.graphql(aliases(2, 'cellCount cells { scoreCount }'), { input: grid.input });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data.g0.cells).toHaveLength(LARGE_GRID_CELLS);
  expect(body.data.g1.cellCount).toBe(LARGE_GRID_CELLS);
});

test('an estimated response over GRAPHQL_MAX_RESPONSE_BYTES is OPERATION_TOO_LARGE naming that limit', async () => {
  const wide = 'cells { index coordinates scoreCount mean sd ciLow ciHigh nullMean }';
  const { status, body } = await small.graphql(aliases(1, wide), { input: grid.input });
  expect(status).toBe(400);
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'OPERATION_TOO_LARGE', limit: 'GRAPHQL_MAX_RESPONSE_BYTES', max: 1_000_000 });
  // The same grid with a narrow selection fits.
  const narrow = await small.graphql(aliases(1, 'cells { scoreCount }'), { input: grid.input });
  expect(narrow.status).toBe(200);
  expect(narrow.body.data.g0.cells).toHaveLength(LARGE_GRID_CELLS);
});
