// Extraction and probe runs: status, progress, settings, timings, timesteps, cells and their scores.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedBinder, seedModel, type SeededDataset, type SeededModel } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let binder: SeededDataset;
let model: SeededModel;
let extractionRunId: number;
let pendingRunId: number;
let probeRunId: number;
const TIMESTEPS = [981, 1, 501];

beforeAll(async () => {
  db = await createTestDatabase();
  binder = await seedBinder(db.prisma, { concepts: 3, groups: ['Vision', 'Audition'] });
  model = await seedModel(db.prisma, { name: 'tiny', components: 2, layers: 2 });
  const [textEncoder, unet] = model.components as [SeededModel['components'][0], SeededModel['components'][0]];
  const run = await db.prisma.extractionRun.create({
    data: {
      modelId: model.id,
      settingsHash: 'extraction-1',
      promptTemplate: 'a photo of a {concept}',
      seed: 7,
      scheduler: 'ddim',
      numSteps: 3,
      guidanceScale: 7.5,
      device: 'cpu',
      settings: { poolings: ['mean'], steps: 3 },
      status: 'COMPLETED',
      progressDone: 3,
      progressTotal: 4,
      timings: { unet: 1.25 },
      startedAt: new Date('2026-01-01T00:00:00Z'),
      finishedAt: new Date('2026-01-01T00:01:30Z'),
    },
  });
  extractionRunId = run.id;
  pendingRunId = (
    await db.prisma.extractionRun.create({
      data: { modelId: model.id, settingsHash: 'extraction-2', promptTemplate: '{concept}', seed: 0, numSteps: 0, device: 'cpu', settings: {} },
    })
  ).id;
  // One placeholder summary per (concept, layer, timestep): only its keys matter here (timesteps).
  const vector = new Uint8Array(new Float32Array([0.5, -0.5]).buffer);
  const summary = (conceptId: number, layerId: number, timestep: number | null) => ({
    runId: run.id, conceptId, layerId, timestep, pooling: 'mean', dim: 2, vector, norm: Math.SQRT1_2, mean: 0, std: 0.5,
  });
  await db.prisma.activationSummary.createMany({
    data: binder.concepts.flatMap((concept) => [
      ...textEncoder.layers.map((layer) => summary(concept.id, layer.id, null)),
      ...unet.layers.flatMap((layer) => TIMESTEPS.map((timestep) => summary(concept.id, layer.id, timestep))),
    ]),
  });
  const probeRun = await db.prisma.probeRun.create({
    data: {
      extractionRunId: run.id,
      datasetId: binder.id,
      settingsHash: 'probe-1',
      method: 'ridge',
      settings: { folds: 10, alphas: [0.1, 1, 10] },
      cvScheme: '10-fold outer CV over concepts, seed 0; alpha by exact LOO',
      status: 'RUNNING',
      progressDone: 0,
      progressTotal: 0,
    },
  });
  probeRunId = probeRun.id;
  // Cells inserted UNet-first and timesteps unsorted: the API must order them.
  const cellKeys = [
    ...unet.layers.flatMap((layer) => TIMESTEPS.map((timestep) => ({ layerId: layer.id, timestep }))),
    ...textEncoder.layers.map((layer) => ({ layerId: layer.id, timestep: null })),
  ];
  for (const key of cellKeys) {
    const cell = await db.prisma.probeCell.create({
      data: { probeRunId: probeRun.id, ...key, pooling: 'mean', nConcepts: 3, attributeTwoVsTwo: 0.75, attributeRsa: 0.5 },
    });
    await db.prisma.probeScore.createMany({
      data: [...binder.attributes].reverse().map((attribute, i) => ({
        cellId: cell.id, attributeId: attribute.id, pearsonR: i / 100, r2: i / 200, twoVsTwo: 0.5, alpha: 1, pValue: 0.01 * i, qValue: null,
      })),
    });
    await db.prisma.probeGroupScore.createMany({
      data: [...binder.groups].reverse().map((group) => ({ cellId: cell.id, groupId: group.id, metric: 'pearson_r', mean: 0.1, ciLow: 0, ciHigh: 0.2 })),
    });
  }
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

test('an extraction run exposes status, progress, settings, timings, timestamps and its distinct timesteps', async () => {
  const { body } = await api.graphql(`query($id: ID!) { extractionRun(id: $id) {
    id model { name } settingsHash promptTemplate seed scheduler numSteps guidanceScale device settings status
    progress { done total fraction } error timings createdAt startedAt finishedAt durationSeconds timesteps
    probeRuns { id }
  } }`, { id: String(extractionRunId) });
  expect(body.errors).toBeUndefined();
  const run = body.data.extractionRun;
  expect(run).toMatchObject({
    model: { name: 'tiny' }, settingsHash: 'extraction-1', seed: 7, scheduler: 'ddim', numSteps: 3, guidanceScale: 7.5,
    settings: { poolings: ['mean'], steps: 3 }, status: 'COMPLETED', progress: { done: 3, total: 4, fraction: 0.75 },
    error: null, timings: { unet: 1.25 }, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:30.000Z',
    durationSeconds: 90, timesteps: [1, 501, 981], probeRuns: [{ id: String(probeRunId) }],
  });
  expect(new Date(run.createdAt).toISOString()).toBe(run.createdAt);
});

test('a run without work planned has a null fraction, no timesteps, no duration', async () => {
  const { body } = await api.graphql(`query($id: ID!) { extractionRun(id: $id) { status progress { done total fraction } timesteps durationSeconds startedAt } }`, {
    id: String(pendingRunId),
  });
  expect(body.data.extractionRun).toEqual({ status: 'PENDING', progress: { done: 0, total: 0, fraction: null }, timesteps: [], durationSeconds: null, startedAt: null });
});

test('extraction runs list newest first and filter by model and status', async () => {
  const all = await api.graphql(`query($model: ID) { extractionRuns(modelId: $model) { id } done: extractionRuns(status: COMPLETED) { id } }`, { model: String(model.id) });
  expect(all.body.data.extractionRuns.map((r: any) => r.id)).toEqual([String(pendingRunId), String(extractionRunId)]);
  expect(all.body.data.done).toEqual([{ id: String(extractionRunId) }]);
  const none = await api.graphql(`{ extractionRuns(modelId: "999999") { id } }`);
  expect(none.body.data.extractionRuns).toEqual([]);
  const bad = await api.graphql(`{ extractionRuns(modelId: "x") { id } }`);
  expect(bad.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'modelId' });
});

test('a probe run exposes cvScheme, settings and its cells in component, layer, timestep order', async () => {
  const { body } = await api.graphql(`query($id: ID!) { probeRun(id: $id) {
    method cvScheme settings status progress { fraction } dataset { name } extractionRun { id }
    cells(first: 20) { totalCount edges { node { timestep pooling nConcepts attributeTwoVsTwo attributeRsa layer { index component { position } } probeRun { id } } } }
  } }`, { id: String(probeRunId) });
  expect(body.errors).toBeUndefined();
  const run = body.data.probeRun;
  expect(run).toMatchObject({
    method: 'ridge', cvScheme: '10-fold outer CV over concepts, seed 0; alpha by exact LOO', settings: { folds: 10, alphas: [0.1, 1, 10] },
    status: 'RUNNING', progress: { fraction: null }, dataset: { name: 'binder2016' }, extractionRun: { id: String(extractionRunId) },
  });
  expect(run.cells.totalCount).toBe(8);
  const order = run.cells.edges.map((e: any) => [e.node.layer.component.position, e.node.layer.index, e.node.timestep]);
  expect(order).toEqual([
    [0, 0, null], [0, 1, null],
    [1, 0, 1], [1, 0, 501], [1, 0, 981],
    [1, 1, 1], [1, 1, 501], [1, 1, 981],
  ]);
  expect(run.cells.edges[0].node).toMatchObject({ pooling: 'mean', nConcepts: 3, attributeTwoVsTwo: 0.75, attributeRsa: 0.5, probeRun: { id: String(probeRunId) } });
});

test('a probe cell pages its scores in attribute order and lists group scores in group order', async () => {
  const cells = await api.graphql(`query($id: ID!) { probeRun(id: $id) { cells(first: 1) { nodes { id } } } }`, { id: String(probeRunId) });
  const cellId = cells.body.data.probeRun.cells.nodes[0].id;
  const first = await api.graphql(`query($id: ID!) { probeCell(id: $id) {
    scores(first: 4) { totalCount pageInfo { hasNextPage endCursor } nodes { attribute { name } pearsonR r2 twoVsTwo alpha nullPearsonR pValue qValue } }
    groupScores { group { name } metric mean ciLow ciHigh }
  } }`, { id: cellId });
  expect(first.body.errors).toBeUndefined();
  const scores = first.body.data.probeCell.scores;
  expect(scores.totalCount).toBe(binder.attributes.length);
  expect(scores.nodes.map((s: any) => s.attribute.name)).toEqual(binder.attributes.slice(0, 4).map((a) => a.name));
  // Scores were inserted in reverse attribute order with pearsonR = i / 100.
  const last = binder.attributes.length - 1;
  expect(scores.nodes[0]).toMatchObject({ pearsonR: last / 100, r2: last / 200, twoVsTwo: 0.5, alpha: 1, nullPearsonR: null, qValue: null });
  expect(first.body.data.probeCell.groupScores.map((g: any) => g.group.name)).toEqual(['Vision', 'Audition']);
  expect(first.body.data.probeCell.groupScores[0]).toMatchObject({ metric: 'pearson_r', mean: 0.1, ciLow: 0, ciHigh: 0.2 });
  const next = await api.graphql(`query($id: ID!, $after: String) { probeCell(id: $id) { scores(first: 4, after: $after) { pageInfo { hasPreviousPage } nodes { attribute { name } } } } }`, {
    id: cellId,
    after: scores.pageInfo.endCursor,
  });
  expect(next.body.data.probeCell.scores.pageInfo.hasPreviousPage).toBe(true);
  expect(next.body.data.probeCell.scores.nodes.map((s: any) => s.attribute.name)).toEqual(binder.attributes.slice(4, 8).map((a) => a.name));
});

test('probe runs filter by extraction run and dataset', async () => {
  const { body } = await api.graphql(`query($run: ID, $dataset: ID) { probeRuns(extractionRunId: $run, datasetId: $dataset) { id } other: probeRuns(extractionRunId: "999999") { id } }`, {
    run: String(extractionRunId),
    dataset: String(binder.id),
  });
  expect(body.data).toEqual({ probeRuns: [{ id: String(probeRunId) }], other: [] });
});

test.each([['extractionRun'], ['probeRun'], ['probeCell']])('an unknown %s is null with NOT_FOUND', async (field) => {
  const { status, body } = await api.graphql(`{ ${field}(id: "999999") { id } }`);
  expect(status).toBe(200);
  expect(body.data[field]).toBeNull();
  expect(body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
});

test('a page larger than maxPageSize on a nested connection names `first`', async () => {
  const { body } = await api.graphql(`query($id: ID!) { probeRun(id: $id) { cells(first: 100000) { totalCount } } }`, { id: String(probeRunId) });
  expect(body.data.probeRun).toBeNull();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
  expect(body.errors![0]!.path).toEqual(['probeRun', 'cells']);
});
