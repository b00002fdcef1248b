import { readSummaryMatrix, vectorStats, writeSummaries, type SummaryRow } from '../../src/db/summaries.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let ids: { run: number; layer: number; concepts: number[] };

beforeAll(async () => {
  db = await createTestDatabase();
  const model = await db.prisma.model.create({
    data: { name: 'summaries-test', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test', description: 'test' },
  });
  const component = await db.prisma.component.create({
    data: { modelId: model.id, kind: 'UNET', name: 'unet', position: 0, hasTimesteps: true },
  });
  const layer = await db.prisma.layer.create({ data: { componentId: component.id, index: 0, name: 'mid', shape: [3] } });
  const run = await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: 's', promptTemplate: '{concept}', seed: 0, stepCount: 2, device: 'cpu', settings: {} },
  });
  const concepts = await Promise.all(['apple', 'boat', 'cat'].map((word) => db.prisma.concept.create({ data: { word } })));
  ids = { run: run.id, layer: layer.id, concepts: concepts.map((c) => c.id) };
});
afterAll(async () => {
  await db.drop();
});

test('vectorStats computes norm, mean and population std', () => {
  const stats = vectorStats(new Float32Array([3, 4, 0, -1]));
  expect(stats.norm).toBeCloseTo(Math.sqrt(26), 12);
  expect(stats.mean).toBeCloseTo(1.5, 12);
  expect(stats.std).toBeCloseTo(Math.sqrt((2.25 + 6.25 + 2.25 + 6.25) / 4), 12);
});

test('summaries round-trip as float32 and re-writing them inserts nothing', async () => {
  const rows: SummaryRow[] = ids.concepts.map((conceptId, i) => ({
    runId: ids.run, conceptId, layerId: ids.layer, timestep: 981, pooling: 'spatial_mean',
    vector: new Float32Array([i + 0.1, -i, 1e-7 * i]),
  }));
  expect(await writeSummaries(db.pool, rows)).toBe(3);
  expect(await writeSummaries(db.pool, rows)).toBe(0);
  const matrix = await readSummaryMatrix(db.pool, { runId: ids.run, layerId: ids.layer, timestep: 981, pooling: 'spatial_mean' });
  expect(matrix.conceptIds).toEqual([...ids.concepts].sort((a, b) => a - b));
  expect(matrix.dim).toBe(3);
  const byConcept = [...rows].sort((a, b) => a.conceptId - b.conceptId);
  expect(Array.from(matrix.data)).toEqual(byConcept.flatMap((row) => Array.from(row.vector)));
  const stored = await db.prisma.activationSummary.findFirstOrThrow({ where: { conceptId: ids.concepts[2] } });
  expect(stored.norm).toBeCloseTo(vectorStats(rows[2]!.vector).norm, 12);
});

test('a non-finite value is rejected with the concept, layer and index named, and nothing is written', async () => {
  const before = await db.prisma.activationSummary.count();
  const bad: SummaryRow = {
    runId: ids.run, conceptId: ids.concepts[0]!, layerId: ids.layer, timestep: 1, pooling: 'spatial_mean',
    vector: new Float32Array([0, Number.NaN]),
  };
  await expect(writeSummaries(db.pool, [bad])).rejects.toThrow(new RegExp(`concept ${ids.concepts[0]}, layer ${ids.layer}.*index 1`));
  expect(await db.prisma.activationSummary.count()).toBe(before);
});

test('the NULL timestep is one key for idempotence', async () => {
  const row: SummaryRow = {
    runId: ids.run, conceptId: ids.concepts[1]!, layerId: ids.layer, timestep: null, pooling: 'eot',
    vector: new Float32Array([1, 2, 3]),
  };
  expect(await writeSummaries(db.pool, [row])).toBe(1);
  expect(await writeSummaries(db.pool, [row, row])).toBe(0);
  const matrix = await readSummaryMatrix(db.pool, { runId: ids.run, layerId: ids.layer, timestep: null, pooling: 'eot' });
  expect(matrix.conceptIds).toEqual([ids.concepts[1]]);
});

test('a stored vector whose bytes are not dim float32 values is refused when read, naming the summary, not padded with zeros', async () => {
  const rows: SummaryRow[] = ids.concepts.map((conceptId) => ({
    runId: ids.run, conceptId, layerId: ids.layer, timestep: 7, pooling: 'spatial_mean', vector: new Float32Array([1, 2, 3]),
  }));
  await writeSummaries(db.pool, rows);
  const cell = { runId: ids.run, layerId: ids.layer, timestep: 7, pooling: 'spatial_mean' };
  // One float short (a whole float32 less, so the copy itself would not fail).
  await db.pool.query(`UPDATE activation_summary SET vector = substring(vector from 1 for 8) WHERE run_id = $1 AND timestep = 7 AND concept_id = $2`, [ids.run, ids.concepts[1]]);
  await expect(readSummaryMatrix(db.pool, cell)).rejects.toMatchObject({
    code: 'CORRUPT_SUMMARY',
    message: `The summary of run ${ids.run}, concept ${ids.concepts[1]}, layer ${ids.layer}, timestep 7, pooling spatial_mean holds 8 bytes, not 3 float32 values (12 bytes).`,
  });
});
