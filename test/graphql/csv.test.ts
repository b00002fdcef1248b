// CSV downloads over real HTTP against a real database: /grid.csv and /compare-grid.csv take the
// fields' own input as JSON, answer the same numbers as the GraphQL field (one row per cell, an axis
// column per dimension, then every scalar cell field), keep the grid's ETag/304, and fail with the
// project's coded JSON errors and a non-200 status.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertGridFixture, type GridFixture } from '../grid/fixture.ts';
import type { Config } from '../../src/config.ts';

let db: TestDatabase;
let api: TestApi;
let fx: GridFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now()`);
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** A minimal RFC 4180 reader for the test (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; }
    else field += c;
  }
  return rows;
}

const csvUrl = (pathname: string, input: unknown) => `${api.origin}${pathname}?input=${encodeURIComponent(JSON.stringify(input))}`;
const asNumber = (text: string) => (text === '' ? null : Number(text));

test('/grid.csv equals the grid field: axis labels, then every scalar cell field, row-major', async () => {
  const input = { metric: 'PEARSON_R', groupBy: ['ATTRIBUTE_GROUP', 'LAYER', 'TIMESTEP'], filter: { probeRunIds: [String(fx.probeRunId)] } };
  const response = await fetch(csvUrl('/grid.csv', input));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
  expect(response.headers.get('content-disposition')).toBe('attachment; filename="grid.csv"');
  const rows = parseCsv(await response.text());
  const { body } = await api.graphql(`query($input: GridInput!) { grid(input: $input) {
    axes { values { label } } cells { coordinates scoreCount mean sd ciLow ciHigh nullMean } } }`, { input });
  const grid = body.data.grid;
  const header = rows[0]!;
  expect(header.slice(0, 3)).toEqual(['attribute_group', 'layer', 'timestep']);
  for (const column of ['scoreCount', 'mean', 'sd', 'ciLow', 'ciHigh', 'nullMean']) expect(header).toContain(column);
  expect(header).not.toContain('coordinates');
  expect(rows).toHaveLength(grid.cells.length + 1);
  grid.cells.forEach((cell: Record<string, any>, i: number) => {
    const row = rows[i + 1]!;
    expect(row.slice(0, 3)).toEqual(cell.coordinates.map((position: number, axis: number) => grid.axes[axis].values[position].label));
    for (const column of ['scoreCount', 'mean', 'sd', 'ciLow', 'ciHigh', 'nullMean']) {
      expect(asNumber(row[header.indexOf(column)]!)).toBe(cell[column]); // exact: the shortest round-trip form
    }
  });
  expect(grid.cells.some((cell: { scoreCount: number }) => cell.scoreCount > 0)).toBe(true);
});

test('/grid.csv has its own ETag (another representation of the same answer) and answers If-None-Match with 304', async () => {
  const input = { groupBy: ['LAYER'], filter: { probeRunIds: [String(fx.probeRunId)] } };
  const first = await fetch(csvUrl('/grid.csv', input));
  await first.text();
  const etag = first.headers.get('etag');
  expect(etag).toMatch(/^"c/);
  const again = await fetch(csvUrl('/grid.csv', input), { headers: { 'if-none-match': etag! } });
  expect(again.status).toBe(304);
  expect(await again.text()).toBe('');
});

test('/compare-grid.csv equals the compareGrid field', async () => {
  const input = {
    groupBy: ['ATTRIBUTE_GROUP', 'LAYER', 'TIMESTEP'],
    filter: { probeRunIds: [String(fx.probeRunId)] },
    left: { filter: { layerIds: [String(fx.textEncoderLayers[1])] }, aggregateOver: ['LAYER', 'TIMESTEP'] },
    right: { filter: { componentKinds: ['UNET'] } },
  };
  const response = await fetch(csvUrl('/compare-grid.csv', input));
  expect(response.status).toBe(200);
  const rows = parseCsv(await response.text());
  const { body } = await api.graphql(`query($input: CompareInput!) { compareGrid(input: $input) {
    axes { values { label } } cells { coordinates leftMean rightMean difference leftScoreCount rightScoreCount ciLow ciHigh } } }`, { input });
  const cells = body.data.compareGrid.cells;
  const header = rows[0]!;
  expect(rows).toHaveLength(cells.length + 1);
  cells.forEach((cell: Record<string, any>, i: number) => {
    for (const column of ['leftMean', 'rightMean', 'difference', 'leftScoreCount', 'rightScoreCount', 'ciLow', 'ciHigh']) {
      expect(asNumber(rows[i + 1]![header.indexOf(column)]!)).toBe(cell[column]);
    }
  });
});

test('bad CSV requests: a missing or unparsable input is 400 BAD_REQUEST naming it; a bad argument is 400 with its GraphQL code', async () => {
  const missing = await fetch(`${api.origin}/grid.csv`);
  expect(missing.status).toBe(400);
  expect(((await missing.json()) as any).errors[0]).toMatchObject({ extensions: { code: 'BAD_REQUEST' }, message: expect.stringContaining('`input`') });
  const unparsable = await fetch(`${api.origin}/grid.csv?input=%7Bnope`);
  expect(unparsable.status).toBe(400);
  expect(((await unparsable.json()) as any).errors[0].message).toMatch(/`input` is not valid JSON/);
  const badMetric = await fetch(csvUrl('/grid.csv', { metric: 'NOPE', groupBy: ['LAYER'] }));
  expect(badMetric.status).toBe(400);
  expect(badMetric.headers.get('content-type')).toMatch(/application\/json/);
  expect(((await badMetric.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
});

test('the grid limits apply to CSV exactly as to GraphQL: over the cell bound is refused with the same error', async () => {
  const limited = await startTestApi(db, { limits: { ...api.config.limits, maxGridCells: 2 } as Config['limits'] });
  try {
    const input = { groupBy: ['ATTRIBUTE_GROUP', 'LAYER', 'TIMESTEP'] };
    const csv = await fetch(`${limited.origin}/grid.csv?input=${encodeURIComponent(JSON.stringify(input))}`);
    const viaGraphql = await limited.graphql('query($input: GridInput!) { grid(input: $input) { cellCount } }', { input });
    expect(csv.status).toBe(400);
    const error = ((await csv.json()) as any).errors[0];
    expect(error.extensions.code).toBe(viaGraphql.body.errors![0]!.extensions!.code);
    expect(error.message).toBe(viaGraphql.body.errors![0]!.message);
  } finally {
    await limited.stop();
  }
});
