// The first-start seed on a real PostgreSQL: imports the bundled Binder norms once; a second seed
// changes nothing (same row counts, same checksum of every row).
import { addSeedStep, BINDER_DATASET_NAME, seedDatabase, seedSteps, type SeedStep } from '../../src/demo/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { tableSnapshot } from '../support/snapshot.ts';

const TABLES = ['norms_dataset', 'attribute_group', 'attribute', 'concept', 'dataset_concept', 'rating'] as const;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const snapshot = () => tableSnapshot(db.pool, TABLES);

test('seeding imports binder2016 once; seeding again changes nothing', async () => {
  const logs: string[] = [];
  const first = await seedDatabase(db, { log: (m) => logs.push(m) });
  expect(first.find((r) => r.name === 'binder2016-norms')).toMatchObject({ status: 'ran' });
  expect(logs.join('\n')).toContain('binder2016 version 1: 275 concepts, 65 attributes in 14 groups, 17875 ratings');
  const dataset = await db.prisma.normsDataset.findFirstOrThrow({ where: { name: BINDER_DATASET_NAME } });
  expect(dataset.version).toBe(1);
  expect(dataset.citation).toContain('Toward a brain-based componential semantic representation');
  const before = await snapshot();
  expect(before.rating).toMatch(/^17875:/);

  const second = await seedDatabase(db, { log: () => {} });
  expect(second.find((r) => r.name === 'binder2016-norms')).toMatchObject({ status: 'already-done' });
  expect(await snapshot()).toEqual(before);
});

test('steps run in order, added steps can be placed, done steps are skipped, failures propagate', async () => {
  const calls: string[] = [];
  const step = (name: string, done: boolean, fail = false): SeedStep => ({
    name,
    isDone: async () => done,
    run: async (_db, progress) => {
      progress(1, 1);
      calls.push(name);
      if (fail) throw new Error(`${name} broke`);
    },
  });
  const removeLast = addSeedStep(step('last', false));
  const removeFirst = addSeedStep(step('first', false), { before: 'binder2016-norms' });
  const removeSkipped = addSeedStep(step('skipped', true), { after: 'binder2016-norms' });
  try {
    expect(seedSteps().map((s) => s.name)).toEqual(['first', 'binder2016-norms', 'skipped', 'last']);
    expect(() => addSeedStep(step('last', false))).toThrow(expect.objectContaining({ code: 'DUPLICATE_SEED_STEP' }));
    expect(() => addSeedStep(step('x', false), { after: 'nope' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_SEED_STEP' }));
    const reports = await seedDatabase(db, { log: () => {} });
    expect(reports.map((r) => [r.name, r.status])).toEqual([['first', 'ran'], ['binder2016-norms', 'already-done'], ['skipped', 'already-done'], ['last', 'ran']]);
    expect(calls).toEqual(['first', 'last']);
    // A structured logger (src/log.ts shape) receives the failure at error level.
    const structured: string[] = [];
    const logger = { info: (m: string) => structured.push(`info ${m}`), error: (m: string) => structured.push(`error ${m}`) };
    await expect(seedDatabase(db, { log: logger, steps: [step('boom', false, true), step('after-boom', false)] })).rejects.toThrow('boom broke');
    expect(calls).toEqual(['first', 'last', 'boom']);
    expect(structured.at(-1)).toBe('error seed: boom: failed: boom broke');
  } finally {
    removeLast();
    removeFirst();
    removeSkipped();
  }
  expect(seedSteps().map((s) => s.name)).toEqual(['binder2016-norms']);
});
