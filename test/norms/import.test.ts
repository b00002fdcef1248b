// The import against a real PostgreSQL: one transaction, idempotent by content, versioned on change.
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/config.ts';
import { parseNormsFiles } from '../../src/norms/parse.ts';
import { importNormsDataset } from '../../src/norms/import.ts';
import { loadNormsFolder } from '../../src/norms/read-folder.ts';
import { BINDER_PHYSICAL_OBJECTS, findNormsDataset, selectConcepts } from '../../src/norms/query.ts';
import type { NormsDatasetContent, NormsFiles } from '../../src/norms/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { tableSnapshot } from '../support/snapshot.ts';

const ATTRIBUTES = 'attribute,group,description,note\nBright,Vision,visually bright,a\nLoud,Audition,a loud sound,b\nDark,Vision,visually dark,c\n';
const RATINGS = 'concept,category,Bright,Loud,Dark\nhammer,tool,1.5,2,0\ndrum,instrument,0.5,5.5,\nbear,animal,1,3,4\n';
const SOURCE = '# Tiny\n\n## Citation\n\nDoe (2020).\n\n## Source\n\nhand-written\n';
const TABLES = ['norms_dataset', 'attribute_group', 'attribute', 'concept', 'dataset_concept', 'rating'] as const;

function parse(overrides: Partial<NormsFiles> = {}): NormsDatasetContent {
  const result = parseNormsFiles({ ratings: RATINGS, attributes: ATTRIBUTES, source: SOURCE, ...overrides });
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.dataset;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE norms_dataset, concept RESTART IDENTITY CASCADE');
});

/** Row count and an md5 over every row of each norms table: equal snapshots = nothing changed. */
const snapshot = () => tableSnapshot(db.pool, TABLES);

test('imports groups, attributes, concepts and ratings with positions, categories and metadata', async () => {
  const result = await importNormsDataset(db.prisma, parse(), { name: 'tiny' });
  expect(result).toMatchObject({ status: 'imported', name: 'tiny', version: 1, counts: { groups: 2, attributes: 3, concepts: 3, newConcepts: 3, ratings: 8 } });
  const groups = await db.prisma.attributeGroup.findMany({ where: { normsDatasetId: result.datasetId }, orderBy: { position: 'asc' } });
  expect(groups.map((g) => [g.name, g.position])).toEqual([['Vision', 0], ['Audition', 1]]);
  const attributes = await db.prisma.attribute.findMany({ where: { normsDatasetId: result.datasetId }, orderBy: { position: 'asc' }, include: { attributeGroup: true } });
  expect(attributes.map((a) => [a.name, a.attributeGroup.name, a.position, a.metadata])).toEqual([
    ['Bright', 'Vision', 0, { note: 'a' }], ['Loud', 'Audition', 1, { note: 'b' }], ['Dark', 'Vision', 2, { note: 'c' }],
  ]);
  const dataset = await db.prisma.normsDataset.findUniqueOrThrow({ where: { id: result.datasetId } });
  expect(dataset).toMatchObject({ citation: 'Doe (2020).', source: 'hand-written', contentHash: result.contentHash });
  const loud = await db.prisma.rating.findFirstOrThrow({ where: { attribute: { name: 'Loud', normsDatasetId: result.datasetId }, concept: { word: 'drum' } } });
  expect(loud.value).toBe(5.5);
});

test('a sparse (empty) cell stores no rating row', async () => {
  const result = await importNormsDataset(db.prisma, parse(), { name: 'tiny' });
  const drumDark = await db.prisma.rating.count({ where: { attribute: { name: 'Dark', normsDatasetId: result.datasetId }, concept: { word: 'drum' } } });
  expect(drumDark).toBe(0);
  expect(await db.prisma.rating.count()).toBe(8);
});

test('re-importing the same content changes nothing, even with different formatting', async () => {
  const first = await importNormsDataset(db.prisma, parse(), { name: 'tiny' });
  const before = await snapshot();
  const again = await importNormsDataset(db.prisma, parse({ ratings: '\uFEFF' + RATINGS.replace('1.5', '1.50').replace(/\n/g, '\r\n') }), { name: 'tiny' });
  expect(again).toMatchObject({ status: 'unchanged', datasetId: first.datasetId, version: 1 });
  expect(await snapshot()).toEqual(before);
});

test('a changed file creates version 2 alongside version 1; concepts are shared by word', async () => {
  const v1 = await importNormsDataset(db.prisma, parse(), { name: 'tiny' });
  const v2 = await importNormsDataset(db.prisma, parse({ ratings: RATINGS.replace('1.5', '1.7') + 'kettle,tool,2,1,1\n' }), { name: 'tiny' });
  expect(v2).toMatchObject({ status: 'imported', version: 2, counts: { newConcepts: 1 } });
  expect(v2.datasetId).not.toBe(v1.datasetId);
  expect(await db.prisma.concept.count()).toBe(4);
  expect(await db.prisma.attribute.count()).toBe(6);
  const hammerBright = await db.prisma.rating.findMany({ where: { attribute: { name: 'Bright' }, concept: { word: 'hammer' } }, include: { attribute: true } });
  expect(Object.fromEntries(hammerBright.map((r) => [r.attribute.normsDatasetId, r.value]))).toEqual({ [v1.datasetId]: 1.5, [v2.datasetId]: 1.7 });
  // Another name with the same content is its own dataset, version 1.
  const other = await importNormsDataset(db.prisma, parse(), { name: 'tiny-copy' });
  expect(other).toMatchObject({ status: 'imported', version: 1 });
  expect((await findNormsDataset(db.prisma, 'tiny')).version).toBe(2);
  expect((await findNormsDataset(db.prisma, 'tiny@1')).id).toBe(v1.datasetId);
  expect((await findNormsDataset(db.prisma, String(other.datasetId))).name).toBe('tiny-copy');
  await expect(findNormsDataset(db.prisma, 'nope')).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
});

test('a failure in the last statement (rating insert) rolls everything back', async () => {
  await importNormsDataset(db.prisma, parse({ ratings: 'concept,category,Bright,Loud,Dark\nkettle,tool,1,1,1\n' }), { name: 'other' });
  const before = await snapshot();
  // Validation stops bad content before any write (test/norms/refused-import.test.ts); what only the
  // database can refuse is simulated by a trigger on the final insert, after the dataset, groups,
  // attributes, new concepts and memberships were written in the transaction.
  await db.pool.query(`CREATE FUNCTION refuse_rating() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'rating refused by test trigger'; END $$;
    CREATE TRIGGER refuse_rating BEFORE INSERT ON rating FOR EACH ROW EXECUTE FUNCTION refuse_rating();`);
  try {
    await expect(importNormsDataset(db.prisma, parse(), { name: 'tiny' })).rejects.toThrow(/rating refused by test trigger/);
  } finally {
    await db.pool.query('DROP TRIGGER refuse_rating ON rating; DROP FUNCTION refuse_rating();');
  }
  expect(await snapshot()).toEqual(before);
  expect(await db.prisma.concept.findUnique({ where: { word: 'hammer' } })).toBeNull();
  // And the same name imports cleanly afterwards, as version 1.
  expect(await importNormsDataset(db.prisma, parse(), { name: 'tiny' })).toMatchObject({ status: 'imported', version: 1 });
});

test('the Binder folder imports and the physical-objects filter drops humans and groups', async () => {
  const result = await importNormsDataset(db.prisma, await loadNormsFolder(path.join(PROJECT_ROOT, 'data/norms/binder2016')), { name: 'binder2016' });
  expect(result.counts).toEqual({ groups: 14, attributes: 65, concepts: 275, newConcepts: 275, ratings: 17875 });
  expect(await db.prisma.rating.count()).toBe(17875);
  const all = await selectConcepts(db.prisma, result.datasetId);
  expect(all).toHaveLength(275);
  expect(all[0]).toMatchObject({ word: 'accordion', category: 'instrument', position: 0 });
  const physical = await selectConcepts(db.prisma, result.datasetId, BINDER_PHYSICAL_OBJECTS);
  expect(physical).toHaveLength(275 - 43 - 9);
  expect(physical.some((c) => c.category === 'human' || c.category === 'group')).toBe(false);
  const tools = await selectConcepts(db.prisma, result.datasetId, { categories: ['tool', 'vehicle'] });
  expect(tools).toHaveLength(27 + 20);
  expect(tools.map((c) => c.position)).toEqual([...tools.map((c) => c.position)].sort((a, b) => a - b));
});

test('selectConcepts keeps uncategorised concepts under an exclude filter, drops them under an include filter', async () => {
  const result = await importNormsDataset(db.prisma, parse({ ratings: RATINGS + 'thing,,1,1,1\n' }), { name: 'tiny' });
  expect((await selectConcepts(db.prisma, result.datasetId, { excludeCategories: ['tool'] })).map((c) => c.word)).toEqual(['drum', 'bear', 'thing']);
  expect((await selectConcepts(db.prisma, result.datasetId, { categories: ['tool', 'animal'] })).map((c) => c.word)).toEqual(['hammer', 'bear']);
});

describe('the import:norms command', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(PROJECT_ROOT, 'scripts/import-norms.ts'), ...args],
      { env: { ...process.env, ...env }, encoding: 'utf8', cwd: PROJECT_ROOT });

  test('bad input exits 2 with every problem listed; a good folder imports; a missing DATABASE_URL is explained', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'norms-cli-'));
    try {
      await writeFile(path.join(folder, 'attributes.csv'), ATTRIBUTES);
      await writeFile(path.join(folder, 'ratings.csv'), RATINGS.replace('0.5', 'n/a'));
      const bad = run([folder], { DATABASE_URL: db.url });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('SOURCE.md is missing');
      expect(bad.stderr).toContain('ratings.csv:3:3 (column "Bright"): value "n/a" for concept "drum"');

      await writeFile(path.join(folder, 'SOURCE.md'), SOURCE);
      await writeFile(path.join(folder, 'ratings.csv'), RATINGS);
      const good = run([folder, '--name', 'cli-tiny'], { DATABASE_URL: db.url });
      expect(good.stderr).toBe('');
      expect(good.status).toBe(0);
      expect(good.stdout).toContain('cli-tiny: imported version 1');
      expect(await db.prisma.normsDataset.count({ where: { name: 'cli-tiny' } })).toBe(1);

      const noUrl = run([folder], { DATABASE_URL: '' });
      expect(noUrl.status).toBe(2);
      expect(noUrl.stderr).toContain('DATABASE_URL is not set');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
