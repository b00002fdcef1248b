// grid, compareGrid and bestCells over real HTTP against a real database holding real score rows.
// Expected numbers are computed here from the rows the fixture inserted.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordStatements, type StatementRecorder } from '../support/statements.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { insertGridFixture, type FixtureScore, type GridFixture } from '../grid/fixture.ts';
import { studentTQuantile, summarize } from '../../src/grid/stats.ts';
import type { Config } from '../../src/config.ts';

let db: TestDatabase;
let api: TestApi;
let fx: GridFixture;
let recorder: StatementRecorder;

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  recorder = recordStatements(db.pool);
  api = await startTestApi(db);
});
afterAll(async () => {
  await api.stop();
  await db.drop();
});

const HEATMAP = `query Heatmap($input: GridInput!) {
  grid(input: $input) {
    metric cellCount
    axes { dimension values { index key label id timestep } }
    cells { index coordinates scoreCount mean sd ciLow ciHigh nullMean }
    columns { scoreCount mean sd ciLow ciHigh }
    overall { scoreCount mean }
    chance { theoretical measured measuredScoreCount }
  }
}`;

function tInterval(values: number[]) {
  const { mean, sd, n } = summarize(values);
  if (n < 2) return { mean, sd, scoreCount: n, ciLow: null, ciHigh: null };
  const half = studentTQuantile(0.975, n - 1) * sd! / Math.sqrt(n);
  return { mean, sd, scoreCount: n, ciLow: mean! - half, ciHigh: mean! + half };
}

function expectNumbers(actual: Record<string, number | null>, expected: Record<string, number | null>) {
  for (const [key, value] of Object.entries(expected)) {
    if (value === null) expect(actual[key]).toBeNull();
    else expect(actual[key]).toBeCloseTo(value, 10);
  }
}

test('the Vision layer × timestep heatmap of the UNet: one request, dense cells checked against the inserted rows', async () => {
  const input = { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(fx.probeRunId)] } };
  recorder.statements.length = 0;
  recorder.recording = true;
  const response = await api.graphql(HEATMAP, { input });
  recorder.recording = false;
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  const grid = response.body.data.grid;
  // One aggregation statement (and one catalogue statement for the axes), nothing else.
  expect(recorder.statements.filter((text) => /FROM probe_score/.test(text))).toHaveLength(1);
  expect(recorder.statements).toHaveLength(2);

  expect(grid.cellCount).toBe(6);
  expect(grid.axes[0].values.map((v: { id: string }) => v.id)).toEqual(fx.unetLayers.map(String));
  expect(grid.axes[1].values).toEqual([
    { index: 0, key: '801', label: '801', id: null, timestep: 801 },
    { index: 1, key: '401', label: '401', id: null, timestep: 401 },
  ]);
  const vision = fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.componentKind === 'UNET' && s.groupName === 'Vision');
  for (const cell of grid.cells) {
    const [layer, timestep] = cell.coordinates;
    const scores = vision.filter((s) => s.layerIndex === layer && s.timestep === [801, 401][timestep]);
    expect(cell.scoreCount).toBe(scores.length);
    expectNumbers(cell, tInterval(scores.map((s) => s.pearsonR)));
    const controls = scores.map((s) => s.nullPearsonR).filter((v): v is number => v !== null);
    expectNumbers(cell, { nullMean: controls.length ? summarize(controls).mean : null });
  }
  expect(grid.cells[5]).toMatchObject({ scoreCount: 0, mean: null, sd: null, ciLow: null, ciHigh: null });
  expect(grid.columns.scoreCount).toEqual(grid.cells.map((c: { scoreCount: number }) => c.scoreCount));
  expect(grid.columns.ciHigh).toEqual(grid.cells.map((c: { ciHigh: number | null }) => c.ciHigh));
  expect(grid.overall.scoreCount).toBe(vision.length);
  const controls = vision.map((s) => s.nullPearsonR).filter((v): v is number => v !== null);
  expect(grid.chance.theoretical).toBe(0);
  expect(grid.chance.measuredScoreCount).toBe(controls.length);
  expect(grid.chance.measured).toBeCloseTo(summarize(controls).mean!, 10);
});

test('no timestep is a real axis value over HTTP (key "none", label "—", timestep null)', async () => {
  const response = await api.graphql(HEATMAP, {
    input: { metric: 'TWO_VS_TWO', groupBy: ['TIMESTEP', 'ATTRIBUTE_GROUP'], filter: { probeRunIds: [fx.probeRunId] } },
  });
  const grid = response.body.data.grid;
  expect(grid.axes[0].values[0]).toEqual({ index: 0, key: 'none', label: '—', id: null, timestep: null });
  expect(grid.axes[1].values.map((v: { label: string }) => v.label)).toEqual(['Vision', 'Audition', 'Gustation']);
  const textEncoderGustation = fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.timestep === null && s.groupName === 'Gustation');
  expectNumbers(grid.cells[2], tInterval(textEncoderGustation.map((s) => s.twoVsTwo)));
  expect(grid.chance.theoretical).toBe(0.5);
});

test('compareGrid: the text encoder last layer minus each UNet block at each timestep, per group', async () => {
  const response = await api.graphql(`query Compare($input: CompareInput!) {
    compareGrid(input: $input) {
      cellCount
      axes { dimension values { key } }
      cells { coordinates leftMean rightMean difference leftScoreCount rightScoreCount ciLow ciHigh }
    }
  }`, {
    input: {
      groupBy: ['ATTRIBUTE_GROUP', 'LAYER', 'TIMESTEP'],
      filter: { probeRunIds: [String(fx.probeRunId)] },
      left: { filter: { layerIds: [String(fx.textEncoderLayers[1])] }, aggregateOver: ['LAYER', 'TIMESTEP'] },
      right: { filter: { componentKinds: ['UNET'] } },
    },
  });
  expect(response.body.errors).toBeUndefined();
  const comparison = response.body.data.compareGrid;
  expect(comparison.cellCount).toBe(3 * 3 * 2);
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  for (const cell of comparison.cells) {
    const [g, l, t] = cell.coordinates;
    const group = fx.groups[g]!;
    const left = main.filter((s) => s.layerId === fx.textEncoderLayers[1] && s.groupId === group.id).map((s) => s.pearsonR);
    const right = main.filter((s) => s.layerId === fx.unetLayers[l] && s.timestep === [801, 401][t] && s.groupId === group.id).map((s) => s.pearsonR);
    expect([cell.leftScoreCount, cell.rightScoreCount]).toEqual([left.length, right.length]);
    const l0 = summarize(left);
    const r0 = summarize(right);
    expectNumbers(cell, { leftMean: l0.mean, rightMean: r0.mean, difference: r0.n ? l0.mean! - r0.mean! : null });
    if (l0.n >= 2 && r0.n >= 2) {
      const vl = l0.sd! ** 2 / l0.n;
      const vr = r0.sd! ** 2 / r0.n;
      const df = (vl + vr) ** 2 / (vl ** 2 / (l0.n - 1) + vr ** 2 / (r0.n - 1));
      expect(cell.ciHigh - cell.ciLow).toBeCloseTo(2 * studentTQuantile(0.975, df) * Math.sqrt(vl + vr), 9);
    }
  }
});

test('bestCells: per attribute group, the best cell with its catalogue entities', async () => {
  const response = await api.graphql(`query Best($input: BestCellsInput!) {
    bestCells(input: $input) {
      attributeGroup { name } attribute { name } component { name kind } layer { id index } timestep mean scoreCount
    }
  }`, { input: { metric: 'R2', filter: { probeRunIds: [fx.probeRunId] } } });
  expect(response.body.errors).toBeUndefined();
  const best = response.body.data.bestCells;
  expect(best.map((b: { attributeGroup: { name: string } }) => b.attributeGroup.name)).toEqual(['Vision', 'Audition', 'Gustation']);
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  for (const [i, group] of fx.groups.entries()) {
    const byCell = new Map<string, FixtureScore[]>();
    for (const s of main.filter((s) => s.groupId === group.id)) byCell.set(`${s.layerId}:${s.timestep}`, [...(byCell.get(`${s.layerId}:${s.timestep}`) ?? []), s]);
    const top = [...byCell.values()].map((scores) => ({ scores, mean: summarize(scores.map((s) => s.r2)).mean! })).sort((a, b) => b.mean - a.mean)[0]!;
    expect(best[i].layer.id).toBe(String(top.scores[0]!.layerId));
    expect(best[i].timestep).toBe(top.scores[0]!.timestep);
    expect(best[i].component.kind).toBe(top.scores[0]!.componentKind);
    expect(best[i].attribute).toBeNull();
    expect(best[i].scoreCount).toBe(top.scores.length);
    expect(best[i].mean).toBeCloseTo(top.mean, 10);
  }
});

describe('bad input is BAD_USER_INPUT naming the argument', () => {
  const GRID = 'query G($input: GridInput!) { grid(input: $input) { cellCount } }';
  const COMPARE = 'query C($input: CompareInput!) { compareGrid(input: $input) { cellCount } }';
  test.each<[string, string, Record<string, unknown>, string]>([
    ['a non-integer layer id', GRID, { groupBy: ['LAYER'], filter: { layerIds: ['12', 'twelve'] } }, 'input.filter.layerIds[1]'],
    ['a negative component id', GRID, { groupBy: ['LAYER'], filter: { componentIds: ['-3'] } }, 'input.filter.componentIds[0]'],
    ['an empty attribute id list', GRID, { groupBy: ['LAYER'], filter: { attributeIds: [] } }, 'input.filter.attributeIds'],
    ['a negative timestep', GRID, { groupBy: ['TIMESTEP'], filter: { timesteps: [-1] } }, 'input.filter.timesteps[0]'],
    ['a duplicated groupBy dimension', GRID, { groupBy: ['LAYER', 'TIMESTEP', 'LAYER'] }, 'input.groupBy'],
    ['a probe run id beyond int4', GRID, { groupBy: [], filter: { probeRunIds: ['99999999999'] } }, 'input.filter.probeRunIds[0]'],
    ['both sides averaging over LAYER', COMPARE, { groupBy: ['LAYER'], left: { aggregateOver: ['LAYER'] }, right: { aggregateOver: ['LAYER'] } }, 'input.right.aggregateOver'],
    ['aggregating over an ungrouped dimension', COMPARE, { groupBy: ['LAYER'], left: { aggregateOver: ['TIMESTEP'] }, right: {} }, 'input.left.aggregateOver'],
    ['a bad id in a comparison side', COMPARE, { groupBy: ['LAYER'], left: { filter: { layerIds: ['1.5'] } }, right: {} }, 'input.left.filter.layerIds[0]'],
  ])('%s', async (_name, query, input, argument) => {
    const response = await api.graphql(query, { input });
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    expect(response.body.errors![0]!.message).toContain(argument);
  });

  test('an unknown enum value is refused by GraphQL itself, naming the input field', async () => {
    const response = await api.graphql(GRID, { input: { metric: 'ACCURACY', groupBy: ['LAYER'] } });
    expect(response.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors![0]!.message).toMatch(/ACCURACY/);
    expect(response.body.errors![0]!.message).toMatch(/metric/);
    const kinds = await api.graphql(GRID, { input: { groupBy: ['LAYER'], filter: { componentKinds: ['GPU'] } } });
    expect(kinds.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(kinds.body.errors![0]!.message).toMatch(/componentKinds/);
  });

  test('a dense grid beyond the configured bound names input.groupBy', async () => {
    const limits = { ...api.config.limits, maxGridCells: 20 } as Config['limits'];
    const small = await startTestApi(db, { limits });
    try {
      const refused = await small.graphql(GRID, { input: { groupBy: ['LAYER', 'TIMESTEP', 'ATTRIBUTE_GROUP'] } });
      expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.groupBy' });
      expect(refused.body.errors![0]!.message).toMatch(/45/); // 5 layers × 3 timesteps × 3 groups
      const allowed = await small.graphql(GRID, { input: { groupBy: ['LAYER', 'TIMESTEP'] } });
      expect(allowed.body.data.grid.cellCount).toBe(15);
    } finally {
      await small.stop();
    }
  });
});

test('a completed probe run is served from the result cache: the repeat request runs no aggregation', async () => {
  const input = { groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(fx.probeRunId)] } };
  await db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'COMPLETED', finishedAt: new Date() } });
  try {
    recorder.statements.length = 0;
    recorder.recording = true;
    const first = await api.graphql(HEATMAP, { input });
    const afterFirst = recorder.statements.length;
    const second = await api.graphql(HEATMAP, { input });
    recorder.recording = false;
    expect(afterFirst).toBe(2);
    expect(recorder.statements.slice(afterFirst)).toHaveLength(1);
    expect(recorder.statements.slice(afterFirst).filter((text) => /FROM probe_score/.test(text))).toHaveLength(0);
    expect(second.body).toEqual(first.body);
  } finally {
    recorder.recording = false;
    await db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'PENDING', finishedAt: null } });
  }
});

describe('the grid response cache (completed runs only)', () => {
  const input = () => ({ groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(fx.probeRunId)] } });
  const complete = (finishedAt: Date) => db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'COMPLETED', finishedAt } });
  /** Adds `delta` to the pearson_r of one UNet Vision score of the main run, in place. */
  const shiftOneScore = (delta: number) => db.pool.query(
    `UPDATE probe_score SET pearson_r = pearson_r + $1 WHERE id = (
       SELECT ps.id FROM probe_score ps JOIN probe_cell pc ON pc.id = ps.cell_id JOIN layer l ON l.id = pc.layer_id
       JOIN component c ON c.id = l.component_id JOIN attribute a ON a.id = ps.attribute_id JOIN attribute_group ag ON ag.id = a.attribute_group_id
       WHERE pc.probe_run_id = $2 AND c.kind = 'UNET' AND ag.name = 'Vision' ORDER BY ps.id LIMIT 1)`, [delta, fx.probeRunId]);
  async function request() {
    recorder.statements.length = 0;
    recorder.recording = true;
    try {
      const response = await api.graphql(HEATMAP, { input: input() });
      expect(response.body.errors).toBeUndefined();
      return { grid: response.body.data.grid, statements: [...recorder.statements] };
    } finally {
      recorder.recording = false;
    }
  }
  const ranAggregation = (texts: string[]) => texts.some((text) => /FROM probe_score/.test(text));

  afterEach(async () => {
    await db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'PENDING', finishedAt: null } });
  });

  test('a repeat is answered from the response cache after one catalogue statement', async () => {
    const { gridResponseCacheFor } = await import('../../src/graphql/plugins/grid-response-cache.ts');
    const cache = gridResponseCacheFor(db.pool);
    await complete(new Date('2026-01-01T00:00:00Z'));
    const first = await request();
    const hits = cache.hits;
    const second = await request();
    expect(cache.hits).toBe(hits + 1);
    expect(second.statements).toHaveLength(1);
    expect(ranAggregation(second.statements)).toBe(false);
    expect(second.grid).toEqual(first.grid);
  });

  test('a run finished again (new finish time) invalidates it: a changed score shows', async () => {
    await complete(new Date('2026-01-02T00:00:00Z'));
    const before = await request();
    await shiftOneScore(1);
    try {
      await complete(new Date('2026-01-03T00:00:00Z'));
      const after = await request();
      expect(ranAggregation(after.statements)).toBe(true);
      expect(after.grid.overall.mean - before.grid.overall.mean).toBeCloseTo(1 / before.grid.overall.scoreCount, 10);
    } finally {
      await shiftOneScore(-1);
    }
  });

  test('a run no longer COMPLETED is never served from it', async () => {
    await complete(new Date('2026-01-04T00:00:00Z'));
    const before = await request();
    await db.prisma.probeRun.update({ where: { id: fx.probeRunId }, data: { status: 'RUNNING' } });
    await shiftOneScore(2);
    try {
      const during = await request();
      expect(ranAggregation(during.statements)).toBe(true);
      expect(during.grid.overall.mean - before.grid.overall.mean).toBeCloseTo(2 / before.grid.overall.scoreCount, 10);
      const again = await request(); // still RUNNING: computed again, not cached
      expect(ranAggregation(again.statements)).toBe(true);
    } finally {
      await shiftOneScore(-2);
    }
  });

  test('a renamed layer (the axes changed) invalidates it', async () => {
    await complete(new Date('2026-01-05T00:00:00Z'));
    await request();
    const layerId = fx.unetLayers[0]!;
    const { rows: [layer] } = await db.pool.query<{ name: string }>('SELECT name FROM layer WHERE id = $1', [layerId]);
    await db.pool.query('UPDATE layer SET name = $1 WHERE id = $2', [`${layer!.name}-renamed`, layerId]);
    try {
      const after = await request();
      expect(after.grid.axes[0].values[0].label).toMatch(/-renamed$/);
    } finally {
      await db.pool.query('UPDATE layer SET name = $1 WHERE id = $2', [layer!.name, layerId]);
    }
  });

  test('a query with another root field besides grid is not cached', async () => {
    await complete(new Date('2026-01-06T00:00:00Z'));
    const query = `query Two($input: GridInput!) { grid(input: $input) { cellCount } again: grid(input: $input) { cellCount } }`;
    for (let i = 0; i < 2; i++) {
      recorder.statements.length = 0;
      recorder.recording = true;
      const response = await api.graphql(query, { input: input() });
      recorder.recording = false;
      expect(response.body.data.grid.cellCount).toBe(6);
      // Two grid fields: each reads the axes; with the run completed, the rows come from the row cache.
      expect(recorder.statements.length).toBeGreaterThanOrEqual(2);
    }
  });
});

test('GRAPHQL_MAX_GRID_CELLS sets the grid cell bound (default 100,000; a positive integer)', async () => {
  const { loadConfig, ConfigError } = await import('../../src/config.ts');
  expect(loadConfig({}).limits.maxGridCells).toBe(100_000);
  expect(loadConfig({ GRAPHQL_MAX_GRID_CELLS: '20' }).limits.maxGridCells).toBe(20);
  expect(() => loadConfig({ GRAPHQL_MAX_GRID_CELLS: '0' })).toThrow(ConfigError);
  expect(() => loadConfig({ GRAPHQL_MAX_GRID_CELLS: 'many' })).toThrow(/GRAPHQL_MAX_GRID_CELLS/);
});
