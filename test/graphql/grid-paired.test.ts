/** @jest-environment ./test/bundles/onnx-environment.cjs */
// compareGrid's paired test and the cell-level grid metrics over real HTTP, against a REAL probe run:
// real Binder (2016) ratings for the first 60 concepts and synthetic activation summaries (a text
// layer built from the ratings, a noisier UNet cell, a pure-noise UNet cell), probed by runProbe,
// which stores each cell's out-of-fold predictions (seeded by test/probe-runs/synthetic-run.ts). The
// expected numbers are recomputed here from the stored rows (probe_score, probe_cell,
// probe_cell_prediction, rating), never from the API.
import { readCellPredictions } from '../../src/db/cell-matrices.ts';
import { pairedComparison } from '../../src/probes/paired.ts';
import { runProbe } from '../../src/probe-runs/run.ts';
import { summarize } from '../../src/grid/stats.ts';
import { parseCompareInput, queryComparison, type RawCompareInput } from '../../src/grid/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { recordStatements, type StatementRecorder } from '../support/statements.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedSyntheticRun } from '../probe-runs/synthetic-run.ts';

let db: TestDatabase;
let api: TestApi;
let probeRunId: number;
let textLayerId: number;
let cells: { id: number; timestep: number | null; attributeRsa: number | null; attributeTwoVsTwo: number | null; conceptTwoVsTwo: number | null }[];
let groups: { id: number; name: string }[];
let recorder: StatementRecorder;

beforeAll(async () => {
  db = await createTestDatabase();
  const prisma = db.prisma;
  const seeded = await seedSyntheticRun(db, { contentHash: 'paired-subset', description: 'synthetic summaries for the paired-test suite', settingsHash: 'synthetic-paired' });
  ({ textLayerId, groups } = seeded);
  const summary = await runProbe(db.pool, { extractionRunId: seeded.extractionRunId, norms: 'binder2016', settings: { folds: 5, permutations: 5, bootstrap: 0, seed: 0, excludeCategories: ['group'] } });
  probeRunId = summary.probeRunId;
  cells = await prisma.probeCell.findMany({ where: { probeRunId }, select: { id: true, timestep: true, attributeRsa: true, attributeTwoVsTwo: true, conceptTwoVsTwo: true } });

  recorder = recordStatements(db.pool);
  api = await startTestApi(db);
}, 300_000);

afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const COMPARE = `query Compare($input: CompareInput!) {
  compareGrid(input: $input) {
    axes { dimension values { key id } }
    cells { coordinates leftMean rightMean difference leftScoreCount rightScoreCount ciLow ciHigh
            pairedDifference pairedCiLow pairedCiHigh pairedPValue pairedConceptCount }
  }
}`;

const PAIRED = { bootstrapCount: 200, permutationCount: 200, seed: 3 };

/** The text encoder's layer against each UNet timestep, per attribute group (the paper's question). */
const textAgainstUnet = (extra: object = {}) => ({
  metric: 'PEARSON_R',
  groupBy: ['ATTRIBUTE_GROUP', 'TIMESTEP'],
  filter: { probeRunIds: [String(probeRunId)] },
  left: { filter: { layerIds: [String(textLayerId)] }, aggregateOver: ['TIMESTEP'] },
  right: { filter: { componentKinds: ['UNET'] } },
  paired: PAIRED,
  ...extra,
});

interface ComparisonCellBody {
  coordinates: number[];
  difference: number | null;
  leftScoreCount: number;
  pairedDifference: number | null;
  pairedCiLow: number | null;
  pairedCiHigh: number | null;
  pairedPValue: number | null;
  pairedConceptCount: number | null;
}

/** Ratings and stored predictions of the attributes of `groupId`, as the test reads them (concepts and attributes by id). */
async function storedArrays(groupId: number, cellIds: number[]) {
  const attributes = (await db.pool.query<{ id: number }>(
    `SELECT DISTINCT ps.attribute_id AS id FROM probe_score ps JOIN attribute a ON a.id = ps.attribute_id WHERE ps.cell_id = ANY($1::int[]) AND a.attribute_group_id = $2 ORDER BY 1`,
    [cellIds, groupId],
  )).rows.map((row) => row.id);
  const predictions = await readCellPredictions(db.pool, cellIds);
  const concepts = [...predictions.get(cellIds[0]!)!.conceptIds].sort((a, b) => a - b);
  const ratings = (await db.pool.query<{ attribute_id: number; concept_id: number; value: number }>(
    'SELECT attribute_id, concept_id, value FROM rating WHERE attribute_id = ANY($1::int[])', [attributes],
  )).rows;
  const n = concepts.length, m = attributes.length;
  const truth = new Float64Array(n * m);
  for (const row of ratings) {
    const i = concepts.indexOf(row.concept_id), a = attributes.indexOf(row.attribute_id);
    if (i >= 0) truth[i * m + a] = row.value;
  }
  const matrix = (cellId: number) => {
    const stored = predictions.get(cellId)!;
    return Float64Array.from({ length: n * m }, (_, k) => {
      const i = Math.floor(k / m), a = k % m;
      return stored.values[stored.conceptIds.indexOf(concepts[i]!) * stored.attributeIds.length + stored.attributeIds.indexOf(attributes[a]!)]!;
    });
  };
  return { n, m, truth, matrix };
}

test('paired test per group and timestep: the stored scores\' difference, over every concept, the same numbers as the numeric core on the stored rows; three recorder.statements', async () => {
  recorder.statements.length = 0;
  recorder.recording = true;
  const response = await api.graphql(COMPARE, { input: textAgainstUnet() });
  recorder.recording = false;
  expect(response.body.errors).toBeUndefined();
  // The axes, the aggregation, and the one paired statement (predictions, ratings and their size).
  expect(recorder.statements).toHaveLength(3);
  expect(recorder.statements.filter((text) => /probe_cell_prediction/.test(text))).toHaveLength(1);
  const comparison = response.body.data.compareGrid;
  expect(comparison.axes[1].values.map((v: { key: string }) => v.key)).toEqual(['900', '100']);
  const concepts = (await db.prisma.probeCell.findFirstOrThrow({ where: { probeRunId } })).conceptCount;
  const textCell = cells.find((c) => c.timestep === null)!;
  for (const cell of comparison.cells as ComparisonCellBody[]) {
    const group = groups[cell.coordinates[0]!]!;
    const timestep = [900, 100][cell.coordinates[1]!]!;
    expect(cell.pairedConceptCount).toBe(concepts);
    // Recomputed from float32 predictions: the stored (float64) scores' difference to float32 precision.
    expect(Math.abs(cell.pairedDifference! - cell.difference!)).toBeLessThan(1e-5);
    expect(cell.pairedCiLow!).toBeLessThanOrEqual(cell.pairedDifference!);
    expect(cell.pairedCiHigh!).toBeGreaterThanOrEqual(cell.pairedDifference!);
    expect(cell.pairedPValue!).toBeGreaterThanOrEqual(1 / 201);
    // The same numbers as the numeric core on the rows as stored (the plumbing aligns concepts and attributes).
    const unetCell = cells.find((c) => c.timestep === timestep)!;
    const { n, m, truth, matrix } = await storedArrays(group.id, [textCell.id, unetCell.id]);
    expect(m).toBe(cell.leftScoreCount);
    const direct = pairedComparison({ metric: 'pearson_r', n, attributes: m, truth, left: [matrix(textCell.id)], right: [matrix(unetCell.id)], ...PAIRED });
    expect(cell.pairedDifference).toBeCloseTo(direct.difference, 12);
    expect(cell.pairedCiLow).toBeCloseTo(direct.ciLow!, 12);
    expect(cell.pairedCiHigh).toBeCloseTo(direct.ciHigh!, 12);
    expect(cell.pairedPValue).toBe(direct.pValue);
  }
});

test('over all attributes, the text layer beats the pure-noise UNet cell: the smallest p and an interval above 0', async () => {
  const response = await api.graphql(COMPARE, { input: textAgainstUnet({ groupBy: ['TIMESTEP'] }) });
  expect(response.body.errors).toBeUndefined();
  const [, noise] = response.body.data.compareGrid.cells as ComparisonCellBody[];
  expect(noise!.pairedDifference!).toBeGreaterThan(0.3);
  expect(noise!.pairedPValue).toBe(1 / 201);
  expect(noise!.pairedCiLow!).toBeGreaterThan(0);
  // Without `paired`, the paired fields are null and nothing reads the predictions.
  recorder.statements.length = 0;
  recorder.recording = true;
  const plain = await api.graphql(COMPARE, { input: textAgainstUnet({ groupBy: ['TIMESTEP'], paired: undefined }) });
  recorder.recording = false;
  expect(plain.body.data.compareGrid.cells[1]).toMatchObject({ pairedDifference: null, pairedCiLow: null, pairedPValue: null, pairedConceptCount: null });
  expect(recorder.statements.filter((text) => /probe_cell_prediction/.test(text))).toHaveLength(0);
});

async function refusal(input: object) {
  const response = await api.graphql(COMPARE, { input });
  expect(response.body.errors).toHaveLength(1);
  const error = response.body.errors![0]!;
  expect(error.extensions!.code).toBe('BAD_USER_INPUT');
  return { argument: error.extensions!.argument as string, message: error.message };
}

test('refused, naming the argument: 2-vs-2 (its folds are not stored), over the arithmetic bound, different concept sets, missing predictions', async () => {
  expect(await refusal(textAgainstUnet({ metric: 'TWO_VS_TWO' }))).toMatchObject({ argument: 'input.metric' });
  // The arithmetic bound (2·10⁸ multiply-adds by default; lowered here, where the run is small), before any arithmetic.
  const query = parseCompareInput(textAgainstUnet() as RawCompareInput);
  await expect(queryComparison(db.pool, query, { pairedMaxWork: 1_000_000 })).rejects.toMatchObject({ argument: 'input.paired', problem: expect.stringMatching(/about [\d.]+e\+6 multiply-adds .*more than the 1e\+6 one request may/) });
  await expect(queryComparison(db.pool, query, { pairedMaxWork: 100_000_000 })).resolves.toMatchObject({ size: groups.length * 2 });

  const unetCell = cells.find((c) => c.timestep === 100)!;
  // One concept of the noise cell's predictions replaced by another: the two sides' concept sets differ.
  await db.pool.query('UPDATE probe_cell_prediction SET concept_ids[1] = 2147483000 WHERE cell_id = $1', [unetCell.id]);
  try {
    const differ = await refusal(textAgainstUnet());
    expect(differ.argument).toBe('input.paired');
    expect(differ.message).toContain(`probe cell ${unetCell.id}`);
    expect(differ.message).toMatch(/same concepts/);
  } finally {
    await db.pool.query('UPDATE probe_cell_prediction SET concept_ids[1] = (SELECT concept_ids[1] FROM probe_cell_prediction WHERE cell_id = $2) WHERE cell_id = $1', [unetCell.id, cells.find((c) => c.timestep === null)!.id]);
  }
  expect((await api.graphql(COMPARE, { input: textAgainstUnet() })).body.errors).toBeUndefined();

  // A cell written before predictions were stored.
  await db.pool.query('DELETE FROM probe_cell_prediction WHERE cell_id = $1', [unetCell.id]);
  const missing = await refusal(textAgainstUnet());
  expect(missing.argument).toBe('input.paired');
  expect(missing.message).toContain(`probe cell ${unetCell.id} (unet/unet.0, timestep 100, pooling mean, probe run ${probeRunId})`);
  expect(missing.message).toMatch(/written before predictions were stored/);
});

test('cell-level metrics over HTTP: attribute RSA, attribute 2-vs-2 and concept 2-vs-2 per timestep equal the probe cells\' columns', async () => {
  const GRID = `query G($input: GridInput!) { grid(input: $input) { axes { values { key } } cells { scoreCount mean } chance { theoretical measured } } }`;
  for (const [metric, column, chance] of [['ATTRIBUTE_RSA', 'attributeRsa', 0], ['ATTRIBUTE_TWO_VS_TWO', 'attributeTwoVsTwo', 0.5], ['CONCEPT_TWO_VS_TWO', 'conceptTwoVsTwo', 0.5]] as const) {
    const response = await api.graphql(GRID, { input: { metric, groupBy: ['TIMESTEP'], filter: { probeRunIds: [String(probeRunId)] } } });
    expect(response.body.errors).toBeUndefined();
    const grid = response.body.data.grid;
    expect(grid.axes[0].values.map((v: { key: string }) => v.key)).toEqual(['none', '900', '100']);
    grid.cells.forEach((cell: { scoreCount: number; mean: number }, t: number) => {
      const expected = summarize(cells.filter((c) => c.timestep === [null, 900, 100][t]).map((c) => c[column]!));
      expect(cell.scoreCount).toBe(1);
      expect(cell.mean).toBeCloseTo(expected.mean!, 12);
    });
    expect(grid.chance).toEqual({ theoretical: chance, measured: null });
  }
  const refused = await api.graphql(GRID, { input: { metric: 'ATTRIBUTE_RSA', groupBy: ['TIMESTEP'], filter: { attributeGroupNames: ['Vision'] } } });
  expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.filter.attributeGroupNames' });
});

test('SIGNIFICANT_SHARE over HTTP: with 5 permutations no q-value reaches 0.05 (share 0), a lenient level counts them', async () => {
  const GRID = `query G($input: GridInput!) { grid(input: $input) { cells { scoreCount mean } } }`;
  const q = (await db.pool.query<{ q_value: number; timestep: number | null }>(
    'SELECT ps.q_value, pc.timestep FROM probe_score ps JOIN probe_cell pc ON pc.id = ps.cell_id WHERE pc.probe_run_id = $1', [probeRunId],
  )).rows;
  for (const level of [0.05, 0.5]) {
    const response = await api.graphql(GRID, { input: { metric: 'SIGNIFICANT_SHARE', significanceLevel: level, groupBy: ['TIMESTEP'], filter: { probeRunIds: [String(probeRunId)] } } });
    expect(response.body.errors).toBeUndefined();
    response.body.data.grid.cells.forEach((cell: { scoreCount: number; mean: number }, t: number) => {
      const values = q.filter((row) => row.timestep === [null, 900, 100][t]).map((row) => (row.q_value < level ? 1 : 0));
      expect(cell.scoreCount).toBe(values.length);
      expect(cell.mean).toBeCloseTo(summarize(values).mean!, 12);
    });
    if (level === 0.05) expect(response.body.data.grid.cells.every((cell: { mean: number }) => cell.mean === 0)).toBe(true);
  }
});
