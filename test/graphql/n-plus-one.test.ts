// The N+1 guarantee: the SQL statements behind one request depend on the query's shape, not on how
// many rows it returns. Counted at the pg pool that Prisma and the raw SQL share.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedBinder, seedModel, readBinder, type SeededDataset, type SeededModel } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let statements: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const query = db.pool.query.bind(db.pool) as (...args: unknown[]) => unknown;
  (db.pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text: string };
    statements.push(typeof first === 'string' ? first : first.text);
    return query(...args);
  };
  // The default limits: the deepest catalogue walk (run connections add a `nodes` level each) must fit them.
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

/** One model's runs: an extraction, and a probe run with one cell per layer scoring every attribute. */
async function seedRuns(model: SeededModel, dataset: SeededDataset, tag: string) {
  const run = await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: `x-${tag}`, promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {} },
  });
  const probe = await db.prisma.probeRun.create({
    data: { extractionRunId: run.id, normsDatasetId: dataset.id, settingsHash: `p-${tag}`, method: 'ridge', settings: {}, cvScheme: 'test' },
  });
  const cells = await db.prisma.probeCell.createManyAndReturn({
    data: model.components.flatMap((c) => c.layers).map((layer) => ({ probeRunId: probe.id, layerId: layer.id, timestep: null, pooling: 'mean', conceptCount: 1 })),
  });
  await db.prisma.probeScore.createMany({
    data: cells.flatMap((cell) => dataset.attributes.map((a) => ({ cellId: cell.id, attributeId: a.id, pearsonR: 0, r2: 0, twoVsTwo: 0.5, alpha: 1 }))),
  });
  await db.prisma.probeGroupScore.createMany({
    data: cells.flatMap((cell) => dataset.groups.map((g) => ({ cellId: cell.id, attributeGroupId: g.id, metric: 'pearson_r', mean: 0, ciLow: 0, ciHigh: 0 }))),
  });
}

async function seed(round: number, models: number, components: number, layers: number, concepts: number, groups: string[]) {
  const words = readBinder().ratings.slice(round * 20, round * 20 + concepts).map((row) => row.concept!);
  const dataset = await seedBinder(db.prisma, { concepts: words, groups, name: `binder-round-${round}` });
  for (let i = 0; i < models; i++) {
    const model = await seedModel(db.prisma, { name: `model-${round}-${i}`, components, layers });
    await seedRuns(model, dataset, `${round}-${i}`);
  }
}

const CATALOGUE = `{
  models {
    name kindLabel
    components { name layers { name component { name } } }
    extractionRuns(first: 1) { nodes {
      timesteps model { name }
      probeRuns(first: 1) { nodes {
        cvScheme normsDataset { name }
        probeCells(first: 50) { totalCount nodes { layer { name } probeGroupScores { attributeGroup { name } } probeScores(first: 10) { nodes { pearsonR attribute { name attributeGroup { name } } } } } }
      } }
    } }
  }
  normsDatasets {
    name versions { version }
    attributeGroups { name attributes { name normsDataset { name } } }
    concepts(first: 10) { totalCount nodes { word memberships { category normsDataset { name } } ratings(first: 5) { nodes { value attribute { name } } } } }
  }
}`;

async function countStatements() {
  statements = [];
  const { status, body } = await api.graphql(CATALOGUE);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  return { count: statements.length, statements, body };
}

test('doubling models, components, layers, datasets, groups and concepts keeps the statements under a fixed bound', async () => {
  await seed(0, 3, 2, 3, 4, ['Vision', 'Audition']);
  const small = await countStatements();
  const layersSmall = small.body.data.models.flatMap((m: any) => m.components.flatMap((c: any) => c.layers));
  expect(layersSmall).toHaveLength(3 * 2 * 3);

  await seed(1, 3, 4, 6, 8, ['Vision', 'Audition', 'Emotion', 'Social']);
  const large = await countStatements();
  const layersLarge = large.body.data.models.flatMap((m: any) => m.components.flatMap((c: any) => c.layers));
  expect(layersLarge).toHaveLength(3 * 2 * 3 + 3 * 4 * 6);
  const cells = large.body.data.models.flatMap((m: any) => m.extractionRuns.nodes.flatMap((r: any) => r.probeRuns.nodes.flatMap((p: any) => p.probeCells.nodes)));
  expect(cells.length).toBe(18 + 72);
  const attributes = large.body.data.normsDatasets.flatMap((d: any) => d.attributeGroups.flatMap((g: any) => g.attributes));
  expect(attributes.length).toBeGreaterThan(20);

  // One batched statement per hop of the query (23 hops: a run connection is a page of ids, then the runs by id). A hop can split into two batches when its
  // parents arrive in separate I/O events, so the bound is 23 plus slack, fixed whatever the rows:
  // an N+1 would cost one statement per parent (90 cells, 18 components, 12 concepts…) instead.
  const BOUND = 30;
  expect(small.count).toBeGreaterThanOrEqual(15);
  expect(small.count).toBeLessThanOrEqual(BOUND);
  expect(large.count).toBeLessThanOrEqual(BOUND);
});
