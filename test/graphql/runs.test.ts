// Extraction and probe runs: status, progress, settings, typed timings, timesteps, cells and their scores, run connections.
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
      scheduler: 'DDIM',
      stepCount: 3,
      guidanceScale: 7.5,
      device: 'cpu',
      settings: { poolings: ['mean'], steps: 3 },
      status: 'COMPLETED',
      doneCount: 3,
      plannedCount: 4,
      timings: { unet: 1.25 },
      startedAt: new Date('2026-01-01T00:00:00Z'),
      finishedAt: new Date('2026-01-01T00:01:30Z'),
    },
  });
  extractionRunId = run.id;
  pendingRunId = (
    await db.prisma.extractionRun.create({
      data: { modelId: model.id, settingsHash: 'extraction-2', promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
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
      normsDatasetId: binder.id,
      settingsHash: 'probe-1',
      method: 'ridge-loo/v1',
      settings: { folds: 10, alphas: [0.1, 1, 10] },
      cvScheme: '10-fold outer CV over concepts, seed 0; alpha by exact LOO',
      status: 'RUNNING',
      doneCount: 0,
      plannedCount: 0,
      timings: { skipped: { [`${textEncoder.layers[0]!.id}||eot`]: 'too few concepts' } },
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
      data: { probeRunId: probeRun.id, ...key, pooling: 'mean', conceptCount: 3, attributeTwoVsTwo: 0.75, attributeRsa: 0.5, timings: { read: 0.5, fit: 2 } },
    });
    await db.prisma.probeScore.createMany({
      data: [...binder.attributes].reverse().map((attribute, i) => ({
        cellId: cell.id, attributeId: attribute.id, pearsonR: i / 100, r2: i / 200, twoVsTwo: 0.5, alpha: 1, pValue: 0.01 * i, qValue: null,
      })),
    });
    await db.prisma.probeGroupScore.createMany({
      data: [...binder.groups].reverse().map((group) => ({ cellId: cell.id, attributeGroupId: group.id, metric: 'pearson_r', mean: 0.1, ciLow: 0, ciHigh: 0.2 })),
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
    id model { name } settingsHash promptTemplate seed scheduler stepCount guidanceScale device settings status
    progress { doneCount plannedCount fraction } error createdAt startedAt finishedAt durationSeconds timesteps
    timings { __typename ... on PipelineExtractionTimings { unetSeconds textEncoderSeconds conceptCount } }
    probeRuns { totalCount nodes { id } }
  } }`, { id: String(extractionRunId) });
  expect(body.errors).toBeUndefined();
  const run = body.data.extractionRun;
  expect(run).toMatchObject({
    model: { name: 'tiny' }, settingsHash: 'extraction-1', seed: 7, scheduler: 'DDIM', stepCount: 3, guidanceScale: 7.5,
    settings: { poolings: ['mean'], steps: 3 }, status: 'COMPLETED', progress: { doneCount: 3, plannedCount: 4, fraction: 0.75 },
    error: null, timings: { __typename: 'PipelineExtractionTimings', unetSeconds: 1.25, textEncoderSeconds: null, conceptCount: null }, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:30.000Z',
    durationSeconds: 90, timesteps: [1, 501, 981], probeRuns: { totalCount: 1, nodes: [{ id: String(probeRunId) }] },
  });
  expect(new Date(run.createdAt).toISOString()).toBe(run.createdAt);
});

test('a run without work planned has a null fraction, no timesteps, no duration', async () => {
  const { body } = await api.graphql(`query($id: ID!) { extractionRun(id: $id) { status progress { doneCount plannedCount fraction } timesteps durationSeconds startedAt } }`, {
    id: String(pendingRunId),
  });
  expect(body.data.extractionRun).toEqual({ status: 'PENDING', progress: { doneCount: 0, plannedCount: 0, fraction: null }, timesteps: [], durationSeconds: null, startedAt: null });
});

test('extraction runs list newest first and filter by model and status', async () => {
  const all = await api.graphql(`query($model: ID) { extractionRuns(modelId: $model) { totalCount nodes { id } } done: extractionRuns(status: COMPLETED) { nodes { id } } }`, { model: String(model.id) });
  expect(all.body.data.extractionRuns.nodes.map((r: any) => r.id)).toEqual([String(pendingRunId), String(extractionRunId)]);
  expect(all.body.data.extractionRuns.totalCount).toBe(2);
  expect(all.body.data.done.nodes).toEqual([{ id: String(extractionRunId) }]);
  const none = await api.graphql(`{ extractionRuns(modelId: "999999") { nodes { id } } }`);
  expect(none.body.data.extractionRuns.nodes).toEqual([]);
  const bad = await api.graphql(`{ extractionRuns(modelId: "x") { nodes { id } } }`);
  expect(bad.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'modelId' });
});

test('a probe run exposes cvScheme, settings and its cells in component, layer, timestep order', async () => {
  const { body } = await api.graphql(`query($id: ID!) { probeRun(id: $id) {
    method cvScheme settings status progress { fraction } normsDataset { name } extractionRun { id }
    timings { lastSession { durationSeconds } completeConceptCount skippedCells { layer { id } timestep pooling reason } }
    probeCells(first: 20) { totalCount edges { node { timestep pooling conceptCount attributeTwoVsTwo attributeRsa timings { readSeconds fitSeconds bootstrapSeconds } layer { index component { position } } probeRun { id } } } }
  } }`, { id: String(probeRunId) });
  expect(body.errors).toBeUndefined();
  const run = body.data.probeRun;
  expect(run).toMatchObject({
    method: 'RIDGE_LOO_V1', cvScheme: '10-fold outer CV over concepts, seed 0; alpha by exact LOO', settings: { folds: 10, alphas: [0.1, 1, 10] },
    status: 'RUNNING', progress: { fraction: null }, normsDataset: { name: 'binder2016' }, extractionRun: { id: String(extractionRunId) },
    timings: {
      lastSession: null, completeConceptCount: null,
      skippedCells: [{ layer: { id: String(model.components[0]!.layers[0]!.id) }, timestep: null, pooling: 'EOT', reason: 'too few concepts' }],
    },
  });
  expect(run.probeCells.totalCount).toBe(8);
  const order = run.probeCells.edges.map((e: any) => [e.node.layer.component.position, e.node.layer.index, e.node.timestep]);
  expect(order).toEqual([
    [0, 0, null], [0, 1, null],
    [1, 0, 1], [1, 0, 501], [1, 0, 981],
    [1, 1, 1], [1, 1, 501], [1, 1, 981],
  ]);
  expect(run.probeCells.edges[0].node).toMatchObject({
    pooling: 'MEAN', conceptCount: 3, attributeTwoVsTwo: 0.75, attributeRsa: 0.5, probeRun: { id: String(probeRunId) },
    timings: { readSeconds: 0.5, fitSeconds: 2, bootstrapSeconds: null },
  });
});

test('a probe cell pages its scores in attribute order and lists group scores in group order', async () => {
  const cells = await api.graphql(`query($id: ID!) { probeRun(id: $id) { probeCells(first: 1) { nodes { id } } } }`, { id: String(probeRunId) });
  const cellId = cells.body.data.probeRun.probeCells.nodes[0].id;
  const first = await api.graphql(`query($id: ID!) { probeCell(id: $id) {
    probeScores(first: 4) { totalCount pageInfo { hasNextPage endCursor } nodes { attribute { name } pearsonR r2 twoVsTwo alpha nullPearsonR pValue qValue } }
    probeGroupScores { attributeGroup { name } metric mean ciLow ciHigh }
  } }`, { id: cellId });
  expect(first.body.errors).toBeUndefined();
  const scores = first.body.data.probeCell.probeScores;
  expect(scores.totalCount).toBe(binder.attributes.length);
  expect(scores.nodes.map((s: any) => s.attribute.name)).toEqual(binder.attributes.slice(0, 4).map((a) => a.name));
  // Scores were inserted in reverse attribute order with pearsonR = i / 100.
  const last = binder.attributes.length - 1;
  expect(scores.nodes[0]).toMatchObject({ pearsonR: last / 100, r2: last / 200, twoVsTwo: 0.5, alpha: 1, nullPearsonR: null, qValue: null });
  expect(first.body.data.probeCell.probeGroupScores.map((g: any) => g.attributeGroup.name)).toEqual(['Vision', 'Audition']);
  expect(first.body.data.probeCell.probeGroupScores[0]).toMatchObject({ metric: 'PEARSON_R', mean: 0.1, ciLow: 0, ciHigh: 0.2 });
  const next = await api.graphql(`query($id: ID!, $after: String) { probeCell(id: $id) { probeScores(first: 4, after: $after) { pageInfo { hasPreviousPage } nodes { attribute { name } } } } }`, {
    id: cellId,
    after: scores.pageInfo.endCursor,
  });
  expect(next.body.data.probeCell.probeScores.pageInfo.hasPreviousPage).toBe(true);
  expect(next.body.data.probeCell.probeScores.nodes.map((s: any) => s.attribute.name)).toEqual(binder.attributes.slice(4, 8).map((a) => a.name));
});

test('probe runs filter by extraction run and norms dataset', async () => {
  const { body } = await api.graphql(`query($run: ID, $dataset: ID) { probeRuns(extractionRunId: $run, normsDatasetId: $dataset) { nodes { id } } other: probeRuns(extractionRunId: "999999") { totalCount nodes { id } } }`, {
    run: String(extractionRunId),
    dataset: String(binder.id),
  });
  expect(body.data).toEqual({ probeRuns: { nodes: [{ id: String(probeRunId) }] }, other: { totalCount: 0, nodes: [] } });
});

test('run lists are connections: pages of one run, newest first, on the root and under a model', async () => {
  const page = `query($model: ID!, $after: String) {
    extractionRuns(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } }
    model(id: $model) { extractionRuns(first: 1, after: $after) { totalCount pageInfo { hasNextPage } nodes { id } } }
  }`;
  const first = await api.graphql(page, { model: String(model.id) });
  expect(first.body.errors).toBeUndefined();
  expect(first.body.data.extractionRuns).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [{ id: String(pendingRunId) }] });
  expect(first.body.data.model.extractionRuns).toEqual({ totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [{ id: String(pendingRunId) }] });
  const second = await api.graphql(page, { model: String(model.id), after: first.body.data.extractionRuns.pageInfo.endCursor });
  expect(second.body.data.extractionRuns).toMatchObject({ pageInfo: { hasNextPage: false }, nodes: [{ id: String(extractionRunId) }] });
  expect(second.body.data.model.extractionRuns.nodes).toEqual([{ id: String(extractionRunId) }]);
});

test('both run kinds are a Run: the shared fields through the interface', async () => {
  const { body } = await api.graphql(`query($e: ID!, $p: ID!) {
    extractionRun(id: $e) { ...R } probeRun(id: $p) { ...R }
  } fragment R on Run { __typename id status settingsHash progress { plannedCount } finishedAt }`, { e: String(extractionRunId), p: String(probeRunId) });
  expect(body.errors).toBeUndefined();
  expect(body.data.extractionRun).toMatchObject({ __typename: 'ExtractionRun', status: 'COMPLETED', settingsHash: 'extraction-1' });
  expect(body.data.probeRun).toMatchObject({ __typename: 'ProbeRun', status: 'RUNNING', settingsHash: 'probe-1' });
});

test.each([['extractionRun'], ['probeRun'], ['probeCell']])('an unknown %s is null with NOT_FOUND', async (field) => {
  const { status, body } = await api.graphql(`{ ${field}(id: "999999") { id } }`);
  expect(status).toBe(200);
  expect(body.data[field]).toBeNull();
  expect(body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
});

test('a page larger than maxPageSize on a nested connection names `first`', async () => {
  const { body } = await api.graphql(`query($id: ID!) { probeRun(id: $id) { probeCells(first: 100000) { totalCount } } }`, { id: String(probeRunId) });
  expect(body.data.probeRun).toBeNull();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
  expect(body.errors![0]!.path).toEqual(['probeRun', 'probeCells']);
});

test('a word-embedding extraction reports its own timings shape, read from the JSON the GloVe run stores', async () => {
  const glove = await seedModel(db.prisma, { name: 'glove-like', components: 1, layers: 1, kind: 'WORD_EMBEDDING' });
  const run = await db.prisma.extractionRun.create({
    data: {
      modelId: glove.id, settingsHash: 'glove-1', promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {}, status: 'COMPLETED',
      timings: { loadSeconds: 2.5, loadRssDeltaMB: 310, lookupSeconds: 0.25, writeSeconds: 1, totalSeconds: 4 },
    },
  });
  const { body } = await api.graphql(`query($id: ID!) { extractionRun(id: $id) { scheduler device timings {
    __typename ... on WordEmbeddingExtractionTimings { loadSeconds loadRssDeltaMegabytes lookupSeconds writeSeconds totalSeconds }
  } } }`, { id: String(run.id) });
  expect(body.errors).toBeUndefined();
  expect(body.data.extractionRun).toEqual({
    scheduler: null, device: 'CPU',
    timings: { __typename: 'WordEmbeddingExtractionTimings', loadSeconds: 2.5, loadRssDeltaMegabytes: 310, lookupSeconds: 0.25, writeSeconds: 1, totalSeconds: 4 },
  });
});
