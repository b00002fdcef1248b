// The grid SQL against a real database holding real score rows: every expected number is computed
// here, in TypeScript, from the rows the fixture inserted, never from the SQL under test.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { insertGridFixture, type FixtureCell, type FixtureScore, type GridFixture } from './fixture.ts';
import { queryBestCells, queryComparison, queryGrid } from '../../src/grid/index.ts';
import { GridInputError, parseBestInput, parseCompareInput, parseGridInput } from '../../src/grid/input.ts';
import { studentTQuantile, summarize, type Summary } from '../../src/grid/stats.ts';

let db: TestDatabase;
let fx: GridFixture;
beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
});
afterAll(async () => {
  await db.drop();
});

const byHand = (scores: FixtureScore[], pick: (s: FixtureScore) => number = (s) => s.pearsonR): Summary => summarize(scores.map(pick));

function expectSummary(cell: { mean: number | null; sd: number | null; n: number; ciLow?: number | null; ciHigh?: number | null }, expected: Summary) {
  expect(cell.n).toBe(expected.n);
  if (expected.mean === null) expect(cell.mean).toBeNull();
  else expect(cell.mean).toBeCloseTo(expected.mean, 10);
  if (expected.sd === null) expect(cell.sd).toBeNull();
  else expect(cell.sd).toBeCloseTo(expected.sd, 10);
  if (cell.ciLow !== undefined) {
    if (expected.n < 2) {
      expect(cell.ciLow).toBeNull();
      expect(cell.ciHigh).toBeNull();
    } else {
      // t-interval on the mean: mean ± t(0.975, n−1)·sd/√n, computed from the inserted numbers.
      const half = studentTQuantile(0.975, expected.n - 1) * expected.sd! / Math.sqrt(expected.n);
      expect(cell.ciLow).toBeCloseTo(expected.mean! - half, 10);
      expect(cell.ciHigh).toBeCloseTo(expected.mean! + half, 10);
    }
  }
}

test('layer × timestep heatmap of Vision in the UNet: dense, ordered, with holes as n = 0', async () => {
  const grid = await queryGrid(db.pool, parseGridInput({
    metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'],
    filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(fx.probeRunId)] },
  }));
  expect(grid.axes.map((axis) => axis.dimension)).toEqual(['LAYER', 'TIMESTEP']);
  expect(grid.axes[0]!.values.map((v) => v.id)).toEqual(fx.unetLayers); // index order, not id order
  expect(grid.axes[0]!.values.map((v) => v.label)).toEqual(['unet/blocks.0', 'unet/blocks.1', 'unet/blocks.2']);
  expect(grid.axes[1]!.values.map((v) => [v.key, v.label, v.timestep])).toEqual([['801', '801', 801], ['401', '401', 401]]);
  expect(grid.size).toBe(6);
  expect(grid.cells).toHaveLength(6);
  const vision = fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.componentKind === 'UNET' && s.groupName === 'Vision');
  grid.cells.forEach((cell, index) => {
    const [layer, timestep] = cell.coordinates as [number, number];
    expect(index).toBe(layer * 2 + timestep); // row-major over groupBy order
    const expected = byHand(vision.filter((s) => s.layerIndex === layer && s.timestep === [801, 401][timestep]));
    expectSummary(cell, expected);
  });
  // The holes: no "Dark" in (blocks.0, 801) → n = 2; no cell at all for (blocks.2, 401) → n = 0, nulls.
  expect(grid.cells[0]!.n).toBe(2);
  expect(grid.cells[5]).toMatchObject({ n: 0, mean: null, sd: null, ciLow: null, ciHigh: null, nullMean: null });
  expect(grid.chance.theoretical).toBe(0);
  const controls = vision.map((s) => s.nullPearsonR).filter((v): v is number => v !== null);
  expect(controls.length).toBeGreaterThan(0);
  expect(grid.chance.measuredN).toBe(controls.length);
  expect(grid.chance.measured).toBeCloseTo(summarize(controls).mean!, 10);
  expectSummary(grid.overall, byHand(vision));
});

test('the text encoder has no timestep: a real axis value "none", first in denoising order', async () => {
  const grid = await queryGrid(db.pool, parseGridInput({
    metric: 'TWO_VS_TWO', groupBy: ['COMPONENT', 'TIMESTEP'], filter: { probeRunIds: [fx.probeRunId] },
  }));
  expect(grid.axes[0]!.values.map((v) => v.label)).toEqual(['text_encoder', 'unet']);
  expect(grid.axes[1]!.values.map((v) => [v.key, v.label, v.timestep])).toEqual([['none', '—', null], ['801', '801', 801], ['401', '401', 401]]);
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  const timesteps = [null, 801, 401];
  const kinds = ['TEXT_ENCODER', 'UNET'];
  for (const cell of grid.cells) {
    const [component, timestep] = cell.coordinates as [number, number];
    expectSummary(cell, byHand(main.filter((s) => s.componentKind === kinds[component] && s.timestep === timesteps[timestep]), (s) => s.twoVsTwo));
  }
  expect(grid.cells.map((cell) => cell.n > 0)).toEqual([true, false, false, false, true, true]);
  expect(grid.chance.theoretical).toBe(0.5);
});

test('timesteps: [null] selects the text encoder only, and its components axis drops the UNet', async () => {
  const grid = await queryGrid(db.pool, parseGridInput({
    groupBy: ['COMPONENT', 'LAYER', 'TIMESTEP'], filter: { timesteps: [null], probeRunIds: [fx.probeRunId] },
  }));
  expect(grid.axes.map((axis) => axis.values.length)).toEqual([1, 2, 1]);
  expect(grid.axes[1]!.values.map((v) => v.id)).toEqual(fx.textEncoderLayers);
  for (const cell of grid.cells) {
    expectSummary(cell, byHand(fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.layerId === fx.textEncoderLayers[cell.coordinates[1]!])));
  }
});

test('groupBy attribute group × attribute is the full cross product of the catalogue values', async () => {
  const grid = await queryGrid(db.pool, parseGridInput({
    metric: 'R2', groupBy: ['ATTRIBUTE_GROUP', 'ATTRIBUTE'], filter: { layerIds: fx.unetLayers.map(String), probeRunIds: [fx.probeRunId] },
  }));
  expect(grid.axes[0]!.values.map((v) => v.label)).toEqual(['Vision', 'Audition', 'Gustation']);
  expect(grid.axes[1]!.values.map((v) => v.label)).toEqual(['Vision', 'Bright', 'Dark', 'Audition', 'Loud', 'Taste']);
  expect(grid.cells).toHaveLength(18);
  const unet = fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.componentKind === 'UNET');
  for (const cell of grid.cells) {
    const group = grid.axes[0]!.values[cell.coordinates[0]!]!;
    const attribute = grid.axes[1]!.values[cell.coordinates[1]!]!;
    expectSummary(cell, byHand(unet.filter((s) => s.groupId === group.id && s.attributeId === attribute.id), (s) => s.r2));
  }
  // "Dark" lost one score to the hole: 4 of the 5 UNet cells.
  expect(grid.cells[2]!.n).toBe(4);
  expect(grid.cells[3]).toMatchObject({ n: 0, mean: null }); // Vision × Audition
});

test('an empty groupBy is one cell over everything the filter selects; probe runs and poolings filter', async () => {
  const all = await queryGrid(db.pool, parseGridInput({ groupBy: [] }));
  expect(all.cells).toHaveLength(1);
  expectSummary(all.cells[0]!, byHand(fx.scores));
  const other = await queryGrid(db.pool, parseGridInput({ groupBy: [], filter: { poolings: ['max'] } }));
  expectSummary(other.cells[0]!, byHand(fx.scores.filter((s) => s.probeRunId === fx.otherProbeRunId)));
  const byRun = await queryGrid(db.pool, parseGridInput({ groupBy: [], filter: { extractionRunIds: [fx.extractionRunId], attributeIds: [fx.groups[2]!.attributes[0]!.id] } }));
  expectSummary(byRun.cells[0]!, byHand(fx.scores.filter((s) => s.attributeName === 'Taste')));
});

test('POOLING is a dimension: poolings get their own axis values (by name) and are never averaged together', async () => {
  const grid = await queryGrid(db.pool, parseGridInput({ groupBy: ['POOLING', 'ATTRIBUTE_GROUP'], filter: { componentKinds: ['UNET'] } }));
  expect(grid.axes[0]!.values.map((v) => [v.key, v.label, v.id])).toEqual([['max', 'max', null], ['mean', 'mean', null]]);
  const unet = fx.scores.filter((s) => s.componentKind === 'UNET');
  grid.cells.forEach((cell) => {
    const [pooling, group] = cell.coordinates as [number, number];
    const expected = byHand(unet.filter((s) => s.pooling === ['max', 'mean'][pooling] && s.groupId === fx.groups[group]!.id));
    expectSummary(cell, expected);
  });
  expect(grid.cells.every((cell) => cell.n > 0)).toBe(true);
  // Aggregated over on one side of a comparison, POOLING broadcasts like any other dimension.
  const comparison = await queryComparison(db.pool, parseCompareInput({
    groupBy: ['POOLING'],
    left: { filter: { componentKinds: ['TEXT_ENCODER'], poolings: ['mean'] }, aggregateOver: ['POOLING'] },
    right: { filter: { componentKinds: ['UNET'] } },
  }));
  const left = byHand(fx.scores.filter((s) => s.componentKind === 'TEXT_ENCODER' && s.pooling === 'mean'));
  comparison.cells.forEach((cell, index) => {
    const right = byHand(unet.filter((s) => s.pooling === ['max', 'mean'][index]));
    expect([cell.left.n, cell.right.n]).toEqual([left.n, right.n]);
    expect(cell.difference).toBeCloseTo(left.mean! - right.mean!, 10);
  });
});

test('the measured chance level is null when no control was stored', async () => {
  const noControl = fx.scores.find((s) => s.probeRunId === fx.probeRunId && s.nullPearsonR === null && s.timestep !== null)!;
  const grid = await queryGrid(db.pool, parseGridInput({
    groupBy: ['LAYER'],
    filter: { probeRunIds: [fx.probeRunId], layerIds: [noControl.layerId], timesteps: [noControl.timestep], attributeIds: [noControl.attributeId] },
  }));
  expect(grid.cells).toHaveLength(1);
  expect(grid.cells[0]!.n).toBe(1);
  expect(grid.chance).toEqual({ theoretical: 0, measured: null, measuredN: 0 });
});

test('a grid whose dense size exceeds the bound is refused before aggregating, naming input.groupBy', async () => {
  const query = parseGridInput({ groupBy: ['LAYER', 'TIMESTEP', 'ATTRIBUTE'] });
  await expect(queryGrid(db.pool, query, { maxCells: 50 })).rejects.toMatchObject({ argument: 'input.groupBy' });
  await expect(queryGrid(db.pool, query, { maxCells: 5 * 3 * 6 })).resolves.toMatchObject({ size: 90 });
});

test('comparison: the text encoder last layer minus each UNet block at each timestep, per group, in one request', async () => {
  const lastTextLayer = fx.textEncoderLayers[1]!;
  const comparison = await queryComparison(db.pool, parseCompareInput({
    metric: 'PEARSON_R',
    groupBy: ['ATTRIBUTE_GROUP', 'LAYER', 'TIMESTEP'],
    filter: { probeRunIds: [fx.probeRunId] },
    left: { filter: { layerIds: [lastTextLayer] }, aggregateOver: ['LAYER', 'TIMESTEP'] },
    right: { filter: { componentKinds: ['UNET'] } },
  }));
  expect(comparison.axes.map((axis) => axis.values.length)).toEqual([3, 3, 2]);
  expect(comparison.axes[1]!.values.map((v) => v.id)).toEqual(fx.unetLayers);
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  for (const cell of comparison.cells) {
    const [g, l, t] = cell.coordinates as [number, number, number];
    const group = fx.groups[g]!;
    const left = byHand(main.filter((s) => s.layerId === lastTextLayer && s.groupId === group.id));
    const right = byHand(main.filter((s) => s.layerId === fx.unetLayers[l] && s.timestep === [801, 401][t] && s.groupId === group.id));
    expectSummary(cell.left, left);
    expectSummary(cell.right, right);
    if (right.n === 0) {
      expect(cell.difference).toBeNull();
    } else {
      expect(cell.difference).toBeCloseTo(left.mean! - right.mean!, 10);
    }
    if (left.n >= 2 && right.n >= 2) {
      const vl = left.sd! ** 2 / left.n;
      const vr = right.sd! ** 2 / right.n;
      const df = (vl + vr) ** 2 / (vl ** 2 / (left.n - 1) + vr ** 2 / (right.n - 1));
      const half = studentTQuantile(0.975, df) * Math.sqrt(vl + vr);
      expect(cell.ciLow).toBeCloseTo(left.mean! - right.mean! - half, 9);
      expect(cell.ciHigh).toBeCloseTo(left.mean! - right.mean! + half, 9);
    } else {
      expect(cell.ciLow).toBeNull();
    }
  }
  // Gustation has one attribute: n = 2 on the left (one text layer, one score) → a Welch interval exists.
  const holeIndex = comparison.cells.findIndex((c) => c.coordinates.join() === '0,2,1');
  expect(comparison.cells[holeIndex]).toMatchObject({ right: { n: 0 }, difference: null });
});

test('comparison on a shared axis matches cells by key and keeps the union of values', async () => {
  const comparison = await queryComparison(db.pool, parseCompareInput({
    groupBy: ['TIMESTEP'],
    left: { filter: { probeRunIds: [fx.probeRunId] } },
    right: { filter: { probeRunIds: [fx.otherProbeRunId] } },
  }));
  // The other run only has the text encoder and (blocks.0, 801): the union is still none, 801, 401.
  expect(comparison.axes[0]!.values.map((v) => v.key)).toEqual(['none', '801', '401']);
  const timesteps = [null, 801, 401];
  comparison.cells.forEach((cell, t) => {
    expect(cell.left.n).toBe(fx.scores.filter((s) => s.probeRunId === fx.probeRunId && s.timestep === timesteps[t]).length);
    expect(cell.right.n).toBe(fx.scores.filter((s) => s.probeRunId === fx.otherProbeRunId && s.timestep === timesteps[t]).length);
  });
  expect(comparison.cells[2]!.right.n).toBe(0);
});

test('best cells: per attribute group, the (layer, timestep) with the highest mean', async () => {
  const best = await queryBestCells(db.pool, parseBestInput({ metric: 'PEARSON_R', filter: { probeRunIds: [fx.probeRunId] } }));
  expect(best.map((b) => b.attributeGroupName)).toEqual(['Vision', 'Audition', 'Gustation']);
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  for (const [i, group] of fx.groups.entries()) {
    const cells = new Map<string, FixtureScore[]>();
    for (const s of main.filter((s) => s.groupId === group.id)) {
      const key = `${s.layerId}:${s.timestep}`;
      cells.set(key, [...(cells.get(key) ?? []), s]);
    }
    const ranked = [...cells.values()].map((scores) => ({ scores, mean: summarize(scores.map((s) => s.pearsonR)).mean! }))
      .sort((a, b) => b.mean - a.mean);
    const top = ranked[0]!;
    expect(best[i]).toMatchObject({
      attributeGroupId: group.id, layerId: top.scores[0]!.layerId, timestep: top.scores[0]!.timestep,
      componentId: top.scores[0]!.componentId, n: top.scores.length, attributeId: null, pooling: 'mean',
    });
    expect(best[i]!.mean).toBeCloseTo(top.mean, 10);
  }
  const perAttribute = await queryBestCells(db.pool, parseBestInput({ per: 'ATTRIBUTE', filter: { probeRunIds: [fx.probeRunId], attributeGroupNames: ['Audition'] } }));
  expect(perAttribute.map((b) => b.attributeName)).toEqual(['Audition', 'Loud']);
  for (const b of perAttribute) {
    const top = main.filter((s) => s.attributeId === b.attributeId).sort((x, y) => y.pearsonR - x.pearsonR)[0]!;
    expect([b.layerId, b.timestep, b.n]).toEqual([top.layerId, top.timestep, 1]);
    expect(b.mean).toBeCloseTo(top.pearsonR, 10);
  }
});

test('the heatmap costs one aggregation statement (plus one catalogue statement for the axes)', async () => {
  const statements: string[] = [];
  const client = await db.pool.connect();
  const original = client.query.bind(client);
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text: string };
    statements.push(typeof first === 'string' ? first : first.text);
    return (original as (...a: unknown[]) => unknown)(...args);
  };
  try {
    await queryGrid(client, parseGridInput({ groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'] } }));
  } finally {
    (client as unknown as { query: unknown }).query = original;
    client.release();
  }
  expect(statements).toHaveLength(2);
  expect(statements.filter((text) => /FROM probe_score/.test(text))).toHaveLength(1);
  expect(statements.filter((text) => /GROUP BY/.test(text))).toHaveLength(1);
});

test('invalid ids are refused by validation, naming the argument and element', () => {
  expect(() => parseGridInput({ groupBy: [], filter: { layerIds: ['7', 'x'] } })).toThrow(GridInputError);
  expect(() => parseGridInput({ groupBy: [], filter: { layerIds: ['7', 'x'] } })).toThrow(/^input\.filter\.layerIds\[1\]:/);
});

test('aggregation rows of completed probe runs are reused until a run changes; others are never cached', async () => {
  const { GridResultCache } = await import('../../src/grid/cache.ts');
  const cache = new GridResultCache<import('../../src/grid/index.ts').SummaryRow[]>();
  const query = parseGridInput({ groupBy: ['LAYER'], filter: { probeRunIds: [fx.otherProbeRunId] } });
  const aggregations: string[] = [];
  const counting = {
    query: (config: { text: string; values?: unknown[]; name?: string }) => {
      if (/FROM probe_score/.test(config.text)) aggregations.push(config.text);
      return db.pool.query(config);
    },
  } as unknown as import('../../src/grid/index.ts').Queryable;

  // A run that is not COMPLETED (being written) is recomputed every time.
  await queryGrid(counting, query, { cache });
  await queryGrid(counting, query, { cache });
  expect(aggregations).toHaveLength(2);
  expect(cache.size).toBe(0);

  await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { status: 'COMPLETED', finishedAt: new Date('2026-01-01T00:00:00Z') } });
  const first = await queryGrid(counting, query, { cache });
  const second = await queryGrid(counting, query, { cache });
  expect(aggregations).toHaveLength(3);
  expect(second.cells).toEqual(first.cells);

  // Re-running the probe resets its state: the fingerprint changes and fresh rows are read.
  const score = fx.scores.find((s) => s.probeRunId === fx.otherProbeRunId && s.layerId === fx.textEncoderLayers[0])!;
  const cell = await db.prisma.probeCell.findFirstOrThrow({ where: { probeRunId: fx.otherProbeRunId, layerId: score.layerId } });
  await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { status: 'RUNNING', finishedAt: null } });
  await db.prisma.probeScore.update({ where: { cellId_attributeId: { cellId: cell.id, attributeId: score.attributeId } }, data: { pearsonR: score.pearsonR + 1 } });
  const third = await queryGrid(counting, query, { cache });
  expect(aggregations).toHaveLength(4);
  const layerIndex = third.axes[0]!.values.findIndex((v) => v.id === score.layerId);
  expect(third.cells[layerIndex]!.mean! - first.cells[layerIndex]!.mean!).toBeCloseTo(1 / first.cells[layerIndex]!.n, 10);

  // Restore the fixture for the other tests in this file.
  await db.prisma.probeScore.update({ where: { cellId_attributeId: { cellId: cell.id, attributeId: score.attributeId } }, data: { pearsonR: score.pearsonR } });
  await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { status: 'PENDING' } });
});

test('the cache evicts the least recently used entry and expires old ones', async () => {
  const { GridResultCache } = await import('../../src/grid/cache.ts');
  let now = 0;
  const cache = new GridResultCache<number>(2, 1000, () => now);
  const ok = { key: 'runs', cacheable: true };
  cache.set('a', ok, 1);
  cache.set('b', ok, 2);
  expect(cache.get('a', ok)).toBe(1); // a is now the most recent
  cache.set('c', ok, 3);
  expect(cache.get('b', ok)).toBeUndefined();
  expect(cache.get('a', { key: 'other runs', cacheable: true })).toBeUndefined();
  expect(cache.get('c', ok)).toBe(3);
  now = 1001;
  expect(cache.get('c', ok)).toBeUndefined();
  cache.set('d', { key: 'runs', cacheable: false }, 4);
  expect(cache.size).toBe(0);
});

test('answer tokens (the response cache key): null unless every run is COMPLETED; change with the run state or the axes', async () => {
  const { currentAnswerToken } = await import('../../src/grid/index.ts');
  const query = parseGridInput({ groupBy: ['LAYER'], filter: { probeRunIds: [fx.otherProbeRunId] } });
  expect((await queryGrid(db.pool, query)).answerToken).toBeNull(); // the run is PENDING
  expect(await currentAnswerToken(db.pool, query)).toBeNull();

  await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { status: 'COMPLETED', finishedAt: new Date('2026-02-01T00:00:00Z') } });
  const layerId = fx.textEncoderLayers[0]!;
  const layer = await db.prisma.layer.findUniqueOrThrow({ where: { id: layerId } });
  try {
    const token = (await queryGrid(db.pool, query)).answerToken;
    expect(token).not.toBeNull();
    expect(await currentAnswerToken(db.pool, query)).toBe(token);

    await db.prisma.layer.update({ where: { id: layerId }, data: { name: `${layer.name}-renamed` } });
    const renamed = await currentAnswerToken(db.pool, query);
    expect(renamed).not.toBeNull();
    expect(renamed).not.toBe(token);
    await db.prisma.layer.update({ where: { id: layerId }, data: { name: layer.name } });
    expect(await currentAnswerToken(db.pool, query)).toBe(token);

    await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { finishedAt: new Date('2026-02-02T00:00:00Z') } });
    expect(await currentAnswerToken(db.pool, query)).not.toBe(token);
  } finally {
    await db.prisma.layer.update({ where: { id: layerId }, data: { name: layer.name } });
    await db.prisma.probeRun.update({ where: { id: fx.otherProbeRunId }, data: { status: 'PENDING', finishedAt: null } });
  }
});

test('peek returns an entry whatever its validity; get still checks it', async () => {
  const { GridResultCache } = await import('../../src/grid/cache.ts');
  const cache = new GridResultCache<number>();
  cache.set('a', { key: 'runs v1', cacheable: true }, 1);
  expect(cache.peek('a')).toBe(1);
  expect(cache.get('a', { key: 'runs v2', cacheable: true })).toBeUndefined();
  expect(cache.peek('a')).toBeUndefined(); // the stale entry was dropped by get
});

// ───────────── cell-level metrics and the significant share (issue 10 items 2 and 3) ─────────────

const CELL_METRICS = [
  ['ATTRIBUTE_TWO_VS_TWO', (c: FixtureCell) => c.attributeTwoVsTwo, 0.5],
  ['ATTRIBUTE_RSA', (c: FixtureCell) => c.attributeRsa, 0],
  ['CONCEPT_TWO_VS_TWO', (c: FixtureCell) => c.conceptTwoVsTwo, 0.5],
] as const;

const cellSummary = (cells: FixtureCell[], pick: (c: FixtureCell) => number | null): Summary =>
  summarize(cells.map(pick).filter((v): v is number => v !== null));

test.each(CELL_METRICS)('%s: a layer × timestep grid over probe cells equals the hand computation from the cell rows', async (metric, pick, chance) => {
  const grid = await queryGrid(db.pool, parseGridInput({ metric, groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], probeRunIds: [fx.probeRunId] } }));
  expect(grid.size).toBe(6);
  const unet = fx.cells.filter((c) => c.probeRunId === fx.probeRunId && c.componentKind === 'UNET');
  for (const cell of grid.cells) {
    const [layer, timestep] = cell.coordinates as [number, number];
    // One probe cell per (layer, timestep) of one run and pooling: n is 1 (0 for the hole, and for the
    // first UNet cell's missing attribute RSA), the mean is the stored value.
    expectSummary(cell, cellSummary(unet.filter((c) => c.layerIndex === layer && c.timestep === [801, 401][timestep]), pick));
  }
  expect(grid.cells[5]).toMatchObject({ n: 0, mean: null });
  expect(grid.chance).toEqual({ theoretical: chance, measured: null, measuredN: 0 });
  expectSummary(grid.overall, cellSummary(unet, pick));
});

test('cell-level metrics aggregate over layers and timesteps like any other: per component and pooling, over both runs', async () => {
  for (const [metric, pick] of CELL_METRICS) {
    const grid = await queryGrid(db.pool, parseGridInput({ metric, groupBy: ['COMPONENT', 'POOLING'] }));
    expect(grid.axes[1]!.values.map((v) => v.key)).toEqual(['max', 'mean']);
    for (const cell of grid.cells) {
      const [component, pooling] = cell.coordinates as [number, number];
      const cells = fx.cells.filter((c) => c.componentKind === ['TEXT_ENCODER', 'UNET'][component] && c.pooling === ['max', 'mean'][pooling]);
      expectSummary(cell, cellSummary(cells, pick));
    }
    // Per timestep (the disentanglement-across-timesteps chart): every UNet cell of the main run at that timestep.
    const byTimestep = await queryGrid(db.pool, parseGridInput({ metric, groupBy: ['TIMESTEP'], filter: { probeRunIds: [fx.probeRunId] } }));
    byTimestep.cells.forEach((cell, t) => {
      expectSummary(cell, cellSummary(fx.cells.filter((c) => c.probeRunId === fx.probeRunId && c.timestep === [null, 801, 401][t]), pick));
    });
  }
});

test('a cell-level grid is one aggregation statement over probe_cell (plus the axes)', async () => {
  const statements: string[] = [];
  const counting = {
    query: (config: { text: string }) => {
      statements.push(config.text);
      return db.pool.query(config);
    },
  } as unknown as import('../../src/grid/index.ts').Queryable;
  await queryGrid(counting, parseGridInput({ metric: 'ATTRIBUTE_RSA', groupBy: ['LAYER', 'TIMESTEP'] }));
  expect(statements).toHaveLength(2);
  expect(statements.filter((text) => /FROM probe_cell pc\s+LEFT JOIN layer/.test(text))).toHaveLength(1);
  expect(statements.filter((text) => /FROM probe_score/.test(text))).toHaveLength(0);
});

test('compareGrid over a cell-level metric: the text encoder last layer minus each UNet cell, by timestep', async () => {
  const last = fx.textEncoderLayers[1]!;
  const comparison = await queryComparison(db.pool, parseCompareInput({
    metric: 'CONCEPT_TWO_VS_TWO', groupBy: ['LAYER', 'TIMESTEP'], filter: { probeRunIds: [fx.probeRunId] },
    left: { filter: { layerIds: [last] }, aggregateOver: ['LAYER', 'TIMESTEP'] },
    right: { filter: { componentKinds: ['UNET'] } },
  }));
  const left = fx.cells.find((c) => c.probeRunId === fx.probeRunId && c.layerId === last)!.conceptTwoVsTwo!;
  for (const cell of comparison.cells) {
    const [l, t] = cell.coordinates as [number, number];
    const right = fx.cells.find((c) => c.probeRunId === fx.probeRunId && c.layerId === fx.unetLayers[l] && c.timestep === [801, 401][t]);
    if (!right) expect(cell.difference).toBeNull();
    else expect(cell.difference).toBeCloseTo(left - right.conceptTwoVsTwo!, 10);
  }
  expect(comparison.paired).toBeNull();
});

test('SIGNIFICANT_SHARE: per group and layer, the share of scores whose q-value is below the level (missing q left out)', async () => {
  const main = fx.scores.filter((s) => s.probeRunId === fx.probeRunId);
  for (const level of [undefined, 0.1]) {
    const grid = await queryGrid(db.pool, parseGridInput({ metric: 'SIGNIFICANT_SHARE', significanceLevel: level, groupBy: ['ATTRIBUTE_GROUP', 'LAYER'], filter: { probeRunIds: [fx.probeRunId] } }));
    const threshold = level ?? 0.05;
    for (const cell of grid.cells) {
      const group = grid.axes[0]!.values[cell.coordinates[0]!]!;
      const layer = grid.axes[1]!.values[cell.coordinates[1]!]!;
      const scores = main.filter((s) => s.groupId === group.id && s.layerId === layer.id && s.qValue !== null);
      expectSummary(cell, summarize(scores.map((s) => (s.qValue! < threshold ? 1 : 0))));
    }
    expect(grid.chance).toEqual({ theoretical: 0, measured: null, measuredN: 0 });
  }
  // q = 0.05 exactly is not below 0.05; the fixture holds such scores, and some without a q-value.
  expect(main.some((s) => s.qValue === 0.05)).toBe(true);
  expect(main.some((s) => s.qValue === null)).toBe(true);
  const overall = await queryGrid(db.pool, parseGridInput({ metric: 'SIGNIFICANT_SHARE', groupBy: [], filter: { probeRunIds: [fx.probeRunId] } }));
  const withQ = main.filter((s) => s.qValue !== null);
  expect(overall.cells[0]!.n).toBe(withQ.length);
  expect(overall.cells[0]!.mean).toBeCloseTo(withQ.filter((s) => s.qValue! < 0.05).length / withQ.length, 12);
  // bestCells ranks by the share too.
  const best = await queryBestCells(db.pool, parseBestInput({ metric: 'SIGNIFICANT_SHARE', significanceLevel: 0.1, filter: { probeRunIds: [fx.probeRunId] } }));
  expect(best).toHaveLength(3);
  for (const b of best) {
    const share = (layerId: number, timestep: number | null) => summarize(main.filter((s) => s.groupId === b.attributeGroupId && s.layerId === layerId && s.timestep === timestep && s.qValue !== null).map((s) => (s.qValue! < 0.1 ? 1 : 0))).mean ?? -1;
    const top = Math.max(...fx.cells.filter((c) => c.probeRunId === fx.probeRunId).map((c) => share(c.layerId, c.timestep)));
    expect(b.mean).toBeCloseTo(top, 12);
  }
});
