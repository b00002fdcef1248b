import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

test('a summary without timestep is unique per (run, concept, layer, pooling): NULLs collide', async () => {
  const model = await db.prisma.model.create({
    data: { name: 'm', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test', description: 'test' },
  });
  const component = await db.prisma.component.create({
    data: { modelId: model.id, kind: 'TEXT_ENCODER', name: 'text_encoder', position: 0, hasTimesteps: false },
  });
  const layer = await db.prisma.layer.create({ data: { componentId: component.id, index: 0, name: 'l0', shape: [4, 8] } });
  const concept = await db.prisma.concept.create({ data: { word: 'hammer' } });
  const run = await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: 'h', promptTemplate: 'a photo of a {concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
  });
  const row = {
    runId: run.id, conceptId: concept.id, layerId: layer.id, timestep: null, pooling: 'eot',
    dim: 2, vector: new Uint8Array(new Float32Array([1, 2]).buffer), norm: Math.sqrt(5), mean: 1.5, std: 0.5,
  };
  await db.prisma.activationSummary.create({ data: row });
  await expect(db.prisma.activationSummary.create({ data: row })).rejects.toMatchObject({ code: 'P2002' });
  const inserted = await db.prisma.activationSummary.createMany({ data: [row], skipDuplicates: true });
  expect(inserted.count).toBe(0);
  expect(await db.prisma.activationSummary.count()).toBe(1);
});
