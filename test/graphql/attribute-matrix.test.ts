// ProbeCell.attributeMatrix over real HTTP: a cell's stored matrices (written by the writer's
// writeCellMatrices from a real probeCell result on real Binder ratings) come back dense, symmetric,
// as the CellResult's float32 values, NaN as null, filtered by group or attribute, bounded by the
// operation's cell budget, and in a number of SQL statements that does not grow with the cells.
import { writeCellMatrices } from '../../src/db/cell-matrices.ts';
import { loadConfig } from '../../src/config.ts';
import { probeCell, type CellResult } from '../../src/probes/cell.ts';
import { assignFolds } from '../../src/probes/folds.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { gaussianSampler } from '../probes/reference.ts';
import { seedBinder, seedModel, type SeededDataset } from './fixtures.ts';

const GROUPS = ['Vision', 'Audition', 'Emotion'];

let db: TestDatabase;
let api: TestApi;
let dataset: SeededDataset;
let statements: string[] = [];
/** Probe runs of 2 and of 6 cells, every cell with its three matrices; the first cell's result kept. */
const runs: { probeRunId: number; cellIds: number[] }[] = [];
let result: CellResult;

async function realResult(seed: number): Promise<CellResult> {
  const n = dataset.concepts.length, m = dataset.attributes.length, d = 12;
  const normal = gaussianSampler(seededRandom(seed));
  const ratings = new Float64Array(n * m);
  dataset.concepts.forEach((concept, i) => dataset.attributes.forEach((attribute, a) => {
    ratings[i * m + a] = dataset.rating(concept.word, attribute.name);
  }));
  // Features carry the first attributes' ratings plus noise: some pairs well apart, some not.
  const features = new Float32Array(n * d).map((_, k) => ratings[Math.floor(k / d) * m + (k % d)]! + normal());
  return probeCell({
    features, n, d, ratings, attributes: m, groups: [Array.from({ length: m }, (_, a) => a)], foldOf: assignFolds(n, 5, seed),
    alphas: [0.1, 1, 10, 100], permutations: 0, bootstrap: 10, seed,
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const query = db.pool.query.bind(db.pool) as (...args: unknown[]) => unknown;
  (db.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text: string };
    statements.push(typeof first === 'string' ? first : first.text);
    return query(...args);
  };
  dataset = await seedBinder(db.prisma, { concepts: 40, groups: GROUPS });
  result = await realResult(1);
  const attributeIds = dataset.attributes.map((a) => a.id);
  for (const [tag, layers] of [['two', 2], ['six', 6]] as const) {
    const model = await seedModel(db.prisma, { name: `model-${tag}`, components: 1, layers });
    const run = await db.prisma.extractionRun.create({
      data: { modelId: model.id, settingsHash: `x-${tag}`, promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
    });
    const probe = await db.prisma.probeRun.create({
      data: { extractionRunId: run.id, normsDatasetId: dataset.id, settingsHash: `p-${tag}`, method: 'ridge', settings: {}, cvScheme: 'test' },
    });
    const cellIds: number[] = [];
    for (const layer of model.components[0]!.layers) {
      const cell = await db.prisma.probeCell.create({ data: { probeRunId: probe.id, layerId: layer.id, pooling: 'mean', conceptCount: dataset.concepts.length } });
      cellIds.push(cell.id);
      await writeCellMatrices(db.pool, cell.id, attributeIds, {
        pair_accuracy: result.pairAccuracies, model_similarity: result.modelSimilarity, human_similarity: result.humanSimilarity,
      });
    }
    runs.push({ probeRunId: probe.id, cellIds });
  }
  api = await startTestApi(db);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const MATRIX = `query ($id: ID!, $measure: CellMatrixMeasure!, $groups: [ID!], $attributes: [ID!]) {
  probeCell(id: $id) { attributeMatrix(measure: $measure, attributeGroupIds: $groups, attributeIds: $attributes) { measure attributes { id name } values } }
}`;

type Matrix = { measure: string; attributes: { id: string; name: string }[]; values: (number | null)[][] } | null;

async function matrixOf(variables: Record<string, unknown>): Promise<Matrix> {
  const { status, body } = await api.graphql<{ probeCell: { attributeMatrix: Matrix } }>(MATRIX, variables);
  expect(body.errors).toBeUndefined();
  expect(status).toBe(200);
  return body.data!.probeCell.attributeMatrix;
}

/** The CellResult's value of attributes a and b (indices in the dataset's order), as float32; null when undefined. */
function expected(triangle: Float64Array, a: number, b: number): number | null {
  const m = dataset.attributes.length;
  const [i, j] = a < b ? [a, b] : [b, a];
  const v = triangle[i * m - (i * (i + 1)) / 2 + (j - i - 1)]!;
  return Number.isNaN(v) ? null : Math.fround(v);
}

test('each measure comes back dense and symmetric, as the CellResult\'s float32 values, in the norms\' attribute order', async () => {
  const id = String(runs[0]!.cellIds[0]);
  const m = dataset.attributes.length;
  const triangles = { PAIR_ACCURACY: result.pairAccuracies, MODEL_SIMILARITY: result.modelSimilarity, HUMAN_SIMILARITY: result.humanSimilarity };
  for (const [measure, triangle] of Object.entries(triangles)) {
    const matrix = (await matrixOf({ id, measure }))!;
    expect(matrix.measure).toBe(measure);
    expect(matrix.attributes.map((a) => a.name)).toEqual(dataset.attributes.map((a) => a.name));
    expect(matrix.values).toHaveLength(m);
    for (let a = 0; a < m; a++) {
      expect(matrix.values[a]).toHaveLength(m);
      expect(matrix.values[a]![a]).toBe(measure === 'PAIR_ACCURACY' ? null : 1);
      for (let b = 0; b < m; b++) if (a !== b) expect(matrix.values[a]![b]).toBe(expected(triangle, a, b));
    }
  }
  // Human similarity is the ratings' own Pearson r over the concepts, computed here by hand.
  const human = (await matrixOf({ id, measure: 'HUMAN_SIMILARITY' }))!;
  const [a, b] = [dataset.attributes[0]!.name, dataset.attributes[3]!.name];
  const xs = dataset.concepts.map((c) => dataset.rating(c.word, a)), ys = dataset.concepts.map((c) => dataset.rating(c.word, b));
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [mx, my] = [mean(xs), mean(ys)];
  const cov = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
  const r = cov / Math.sqrt(xs.reduce((s, x) => s + (x - mx) ** 2, 0) * ys.reduce((s, y) => s + (y - my) ** 2, 0));
  expect(Math.abs(human.values[0]![3]! - r)).toBeLessThan(1e-6);
});

test('filters keep a group\'s attributes, or the listed ones, or those in both; a bad id is BAD_USER_INPUT naming it', async () => {
  const id = String(runs[0]!.cellIds[0]);
  const audition = dataset.groups.find((g) => g.name === 'Audition')!;
  const indices = dataset.attributes.map((a, i) => [a, i] as const).filter(([a]) => a.group === 'Audition').map(([, i]) => i);
  const byGroup = (await matrixOf({ id, measure: 'PAIR_ACCURACY', groups: [String(audition.id)] }))!;
  expect(byGroup.attributes.map((a) => Number(a.id))).toEqual(indices.map((i) => dataset.attributes[i]!.id));
  indices.forEach((a, r) => indices.forEach((b, c) => {
    expect(byGroup.values[r]![c]).toBe(a === b ? null : expected(result.pairAccuracies, a, b));
  }));

  const picked = [dataset.attributes[indices[1]!]!.id, dataset.attributes[0]!.id]; // Audition's second, Vision's first
  const listed = (await matrixOf({ id, measure: 'MODEL_SIMILARITY', attributes: picked.map(String) }))!;
  expect(listed.attributes.map((a) => Number(a.id))).toEqual([dataset.attributes[0]!.id, dataset.attributes[indices[1]!]!.id]); // norms' order
  expect(listed.values[0]![1]).toBe(expected(result.modelSimilarity, 0, indices[1]!));
  expect(listed.values[1]![0]).toBe(listed.values[0]![1]);

  const both = (await matrixOf({ id, measure: 'MODEL_SIMILARITY', groups: [String(audition.id)], attributes: picked.map(String) }))!;
  expect(both.attributes.map((a) => Number(a.id))).toEqual([dataset.attributes[indices[1]!]!.id]);
  expect(both.values).toEqual([[1]]);

  const { body } = await api.graphql(MATRIX, { id, measure: 'PAIR_ACCURACY', attributes: ['x1'] });
  expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(body.errors?.[0]?.message).toMatch(/attributeIds\[0\]/);
});

test('a measure the cell did not store is null; an undefined value (NaN) is null', async () => {
  const first = await db.prisma.probeCell.findUniqueOrThrow({ where: { id: runs[0]!.cellIds[0]! }, include: { probeRun: true } });
  const probe = await db.prisma.probeRun.create({
    data: { extractionRunId: first.probeRun.extractionRunId, normsDatasetId: dataset.id, settingsHash: 'p-migrated', method: 'ridge', settings: {}, cvScheme: 'test' },
  });
  const [cell] = await db.prisma.probeCell.createManyAndReturn({ data: [{ probeRunId: probe.id, layerId: first.layerId, pooling: 'mean', conceptCount: 1 }] });
  const ids = dataset.attributes.slice(0, 3).map((a) => a.id);
  await writeCellMatrices(db.pool, cell!.id, ids, { pair_accuracy: [0.25, NaN, 0.75] }); // like a migrated cell: pair accuracy only
  const matrix = (await matrixOf({ id: String(cell!.id), measure: 'PAIR_ACCURACY' }))!;
  expect(matrix.values).toEqual([[null, 0.25, null], [0.25, null, 0.75], [null, 0.75, null]]);
  expect(await matrixOf({ id: String(cell!.id), measure: 'HUMAN_SIMILARITY' })).toBeNull();
});

test('a matrix counts its values against the operation\'s cell budget: over it, OPERATION_TOO_LARGE naming the field', async () => {
  const m = dataset.attributes.length;
  const small = await startTestApi(db, { limits: { ...loadConfig({}).limits, maxOperationCells: m * m + 10 } });
  try {
    const id = String(runs[0]!.cellIds[0]);
    const one = await small.graphql(MATRIX, { id, measure: 'PAIR_ACCURACY' });
    expect(one.body.errors).toBeUndefined();
    const two = await small.graphql(`{ probeCell(id: "${id}") {
      pairs: attributeMatrix(measure: PAIR_ACCURACY) { values }
      human: attributeMatrix(measure: HUMAN_SIMILARITY) { values }
    } }`);
    expect(two.body.errors?.[0]?.extensions?.code).toBe('OPERATION_TOO_LARGE');
    expect(two.body.errors?.[0]?.message).toMatch(/human|pairs/);
  } finally {
    await small.stop();
  }
});

test('the statements behind a run\'s cells and their matrices do not grow with the cells (no N+1)', async () => {
  const query = (probeRunId: number) => `{ probeRun(id: "${probeRunId}") { probeCells(first: 50) { nodes {
    id
    pairs: attributeMatrix(measure: PAIR_ACCURACY) { attributes { name attributeGroup { name } } values }
    model: attributeMatrix(measure: MODEL_SIMILARITY) { values }
    human: attributeMatrix(measure: HUMAN_SIMILARITY, attributeGroupIds: ["${dataset.groups[0]!.id}"]) { attributes { id } values }
  } } } }`;
  const counts: number[] = [];
  for (const run of runs) {
    statements = [];
    const { status, body } = await api.graphql(query(run.probeRunId));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.probeRun.probeCells.nodes;
    expect(nodes).toHaveLength(run.cellIds.length);
    for (const node of nodes) {
      expect(node.pairs.values).toHaveLength(dataset.attributes.length);
      expect(node.human.attributes).toHaveLength(dataset.attributes.filter((a) => a.group === dataset.groups[0]!.name).length);
    }
    counts.push(statements.length);
  }
  expect(runs.map((run) => run.cellIds.length)).toEqual([2, 6]);
  expect(counts[1]).toBe(counts[0]);
  // One statement per measure for all cells (not one per cell).
  expect(statements.filter((text) => text.includes('probe_cell_matrix'))).toHaveLength(3);
});
