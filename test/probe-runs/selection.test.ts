/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Attribute selection end to end (issue 10): sparse feature-production norms built in the test
// (test/norms/sparse-norms.ts, every attribute's support known by construction, McRae-style sense
// keys), imported as a user would; the GloVe baseline over them (a small word-vector table standing
// in for the 341k-word package, through the real run code, so `bat_(animal)` is looked up as `bat`);
// `npm run probe -- --min-support 10 --min-variance 0.01` as a process; the database's record of what
// was left out; the API's answer over HTTP. The rule itself is tested on arrays first.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { glovePackageInfo } from '../../src/baselines/glove-loader.ts';
import { runGloveBaseline } from '../../src/baselines/glove-run.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { importNormsDataset } from '../../src/norms/import.ts';
import { selectConcepts } from '../../src/norms/query.ts';
import { loadNormsFolder } from '../../src/norms/read-folder.ts';
import { runProbe } from '../../src/probe-runs/run.ts';
import { attributeStatistics, selectAttributes } from '../../src/probe-runs/selection.ts';
import { SPARSE_ATTRIBUTES, SPARSE_CONCEPTS, expectedKept, writeSparseNorms, type SparseNorms } from '../norms/sparse-norms.ts';
import { startTestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

describe('the rule, on arrays', () => {
  // 4 concepts × 4 attributes; NaN = missing.
  const ratings = Float64Array.from([
    0, 1, 2, 5,
    0, 0, 2, 5,
    3, 0, NaN, 5,
    0, 2, 2, NaN,
  ]);

  test('support counts non-zero, non-missing ratings; variance is over the present ones', () => {
    const stats = attributeStatistics(ratings, 4, 4);
    expect(stats.map((a) => a.supportCount)).toEqual([1, 2, 3, 3]);
    const expected = [(3 * 0.75 ** 2 + 2.25 ** 2) / 4, (0.25 ** 2 + 0.75 ** 2 + 0.75 ** 2 + 1.25 ** 2) / 4, 0, 0];
    stats.forEach((a, i) => expect(a.variance).toBeCloseTo(expected[i]!, 12));
  });

  test('keeps exactly the attributes at or above K (and the variance floor), the first failed rule named', () => {
    expect(selectAttributes(ratings, 4, 4, { minSupport: null, minVariance: null })).toEqual({ kept: [0, 1, 2, 3], excluded: [] });
    expect(selectAttributes(ratings, 4, 4, { minSupport: 2, minVariance: null })).toEqual({
      kept: [1, 2, 3], excluded: [{ index: 0, reason: 'MIN_SUPPORT', supportCount: 1, variance: attributeStatistics(ratings, 4, 4)[0]!.variance }],
    });
    const both = selectAttributes(ratings, 4, 4, { minSupport: 2, minVariance: 0.1 });
    expect(both.kept).toEqual([1]);
    // Attribute 0 fails both rules: support is named, as it is checked first.
    expect(both.excluded.map((e) => [e.index, e.reason])).toEqual([[0, 'MIN_SUPPORT'], [2, 'MIN_VARIANCE'], [3, 'MIN_VARIANCE']]);
    expect(selectAttributes(ratings, 4, 4, { minSupport: null, minVariance: 0 }).kept).toEqual([0, 1, 2, 3]);
    expect(selectAttributes(new Float64Array(4).fill(NaN), 4, 1, { minSupport: null, minVariance: 0 }).excluded[0]).toMatchObject({ reason: 'MIN_VARIANCE', supportCount: 0 });
  });

  test('the dense Binder norms: --min-support 10 keeps all 65 attributes', async () => {
    const binder = await loadNormsFolder(path.join(PROJECT_ROOT, 'data/norms/binder2016'));
    const n = binder.concepts.length, m = binder.attributes.length;
    const matrix = new Float64Array(n * m).fill(NaN);
    for (const r of binder.ratings) matrix[r.concept * m + r.attribute] = r.value;
    const choice = selectAttributes(matrix, n, m, { minSupport: 10, minVariance: 0.01 });
    expect(choice.excluded).toEqual([]);
    expect(choice.kept).toHaveLength(65);
  });
});

describe('a probe run over sparse feature norms', () => {
  let db: TestDatabase;
  let parent: string;
  let norms: SparseNorms;
  let gloveRunId: number;
  let datasetId: number;

  beforeAll(async () => {
    [db, parent] = await Promise.all([createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'selection-'))]);
    norms = await writeSparseNorms(parent);
    const imported = await importNormsDataset(db.prisma, await loadNormsFolder(norms.folder), { name: 'sparse-mcrae' });
    datasetId = imported.datasetId;
    const concepts = await selectConcepts(db.prisma, datasetId);
    const glove = await runGloveBaseline(db, {
      concepts,
      load: async () => ({ vectors: norms.vectors, info: glovePackageInfo(), stats: { seconds: 0, rssDeltaMB: 0, vocabularySize: norms.vectors.size, dimensions: norms.vectors.dimensions } }),
    });
    // Every sense-keyed concept found its word: none is out of vocabulary.
    expect(glove).toMatchObject({ status: 'COMPLETED', vectorsStored: SPARSE_CONCEPTS.length, oov: [] });
    gloveRunId = glove.runId;
  }, 120_000);
  afterAll(async () => {
    await db.drop();
    await rm(parent, { recursive: true, force: true });
  });

  const storedScores = async (probeRunId: number) => (await db.pool.query<{ name: string; pearson_r: number; r2: number; two_vs_two: number; p_value: number | null; q_value: number | null }>(
    `SELECT a.name, s.pearson_r, s.r2, s.two_vs_two, s.p_value, s.q_value FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id
     JOIN attribute a ON a.id = s.attribute_id WHERE c.probe_run_id = $1 ORDER BY a.position`, [probeRunId])).rows;

  test('npm run probe -- --min-support 10 --min-variance 0.01 keeps exactly the attributes it should, records the rest, and warns about 10 permutations', async () => {
    const args = ['--run', String(gloveRunId), '--norms', 'sparse-mcrae', '--folds', '5', '--permutations', '10', '--bootstrap', '20', '--min-support', '10', '--min-variance', '0.01'];
    const probe = () => spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(PROJECT_ROOT, 'scripts/probe.ts'), ...args],
      { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8', timeout: 240_000 });
    const cli = probe();
    expect(cli.status).toBe(0);
    // The one line on stderr is the warning; stdout is one JSON event per line.
    expect(cli.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^probe: warning: with 10 permutations the smallest p-value is 1\/11 = 0\.0909.*no q-value of this run can be below 0\.05\. Use --permutations 20 or more\.$/)]);
    const events = cli.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    const kept = expectedKept(10, true);
    const excludedNames = SPARSE_ATTRIBUTES.map((a) => a.name).filter((name) => !kept.includes(name));
    expect(events.find((e) => e.event === 'start')).toMatchObject({ attributeCount: kept.length, excludedAttributeCount: excludedNames.length });
    const probeRunId = events.find((e) => e.event === 'done')!.probeRunId as number;

    // The database: one row per excluded attribute, the rule it failed and its figures.
    const excluded = (await db.pool.query<{ name: string; reason: string; support_count: number; variance: number | null }>(
      `SELECT a.name, e.reason::text, e.support_count, e.variance FROM excluded_attribute e JOIN attribute a ON a.id = e.attribute_id
       WHERE e.probe_run_id = $1 ORDER BY a.position`, [probeRunId])).rows;
    expect(excluded.map((e) => e.name)).toEqual(excludedNames);
    for (const row of excluded) {
      const design = SPARSE_ATTRIBUTES.find((a) => a.name === row.name)!;
      expect(row).toMatchObject({ reason: design.support < 10 ? 'MIN_SUPPORT' : 'MIN_VARIANCE', support_count: design.support });
    }
    expect(excluded.find((e) => e.name === 'constant_count')).toMatchObject({ reason: 'MIN_VARIANCE', variance: 0 });

    // Scores: exactly the kept attributes, every one finite; the concept with an empty cell in an
    // excluded attribute is probed (completeness is over the kept attributes only).
    const scores = await storedScores(probeRunId);
    expect(scores.map((s) => s.name)).toEqual(kept);
    for (const s of scores) for (const v of [s.pearson_r, s.r2, s.two_vs_two, s.p_value, s.q_value]) expect(Number.isFinite(v)).toBe(true);
    const cell = (await db.pool.query<{ concept_count: number }>('SELECT concept_count FROM probe_cell WHERE probe_run_id = $1', [probeRunId])).rows;
    expect(cell).toEqual([{ concept_count: SPARSE_CONCEPTS.length }]);
    // The dense features are read-outs of the word vectors: with their words found, GloVe predicts them.
    const dense = scores.filter((s) => s.name.startsWith('dense_'));
    expect(dense.reduce((sum, s) => sum + s.pearson_r, 0) / dense.length).toBeGreaterThan(0.3);
    // With 10 permutations no q-value is below 1/11.
    for (const s of scores) expect(s.q_value!).toBeGreaterThanOrEqual(1 / 11 - 1e-12);

    // Re-run: the same identity, nothing to do, nothing recorded twice.
    const again = probe();
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toMatchObject({ event: 'done', probeRunId, status: 'NOTHING_TO_DO' });
    expect((await db.pool.query('SELECT 1 FROM excluded_attribute WHERE probe_run_id = $1', [probeRunId])).rowCount).toBe(excludedNames.length);

    // Served over HTTP.
    const api = await startTestApi(db);
    try {
      const response = await api.graphql(`query ($id: ID!, $dataset: ID!) {
        probeRun(id: $id) {
          cvScheme minimumPValue minimumQValue canReachSignificance loose: canReachSignificance(level: 0.1)
          attributeSelection { minSupport minVariance attributeCount excludedAttributeCount
            excludedAttributes { attribute { name } reason supportCount variance } }
        }
        concepts(normsDatasetId: $dataset, first: 100) { nodes { word displayWord sense } }
      }`, { id: String(probeRunId), dataset: String(datasetId) });
      expect(response.body.errors).toBeUndefined();
      const run = response.body.data.probeRun;
      expect(run).toMatchObject({
        minimumPValue: 1 / 11, minimumQValue: 1 / 11, canReachSignificance: false, loose: true,
        attributeSelection: { minSupport: 10, minVariance: 0.01, attributeCount: kept.length, excludedAttributeCount: excludedNames.length },
      });
      expect(run.cvScheme).toMatch(/attributes kept with a non-zero rating for ≥ 10 of the run's concepts and rating variance ≥ 0\.01 over them$/);
      expect(run.attributeSelection.excludedAttributes.map((e: any) => e.attribute.name)).toEqual(excludedNames);
      expect(run.attributeSelection.excludedAttributes.find((e: any) => e.attribute.name === 'listed_for_3')).toEqual(
        { attribute: { name: 'listed_for_3' }, reason: 'MIN_SUPPORT', supportCount: 3, variance: excluded.find((e) => e.name === 'listed_for_3')!.variance });
      const concepts = response.body.data.concepts.nodes as { word: string; displayWord: string; sense: string | null }[];
      expect(concepts.find((c) => c.word === 'bat_(animal)')).toEqual({ word: 'bat_(animal)', displayWord: 'bat', sense: 'animal' });
      expect(concepts.find((c) => c.word === 'fire_truck')).toEqual({ word: 'fire_truck', displayWord: 'fire truck', sense: null });
      expect(concepts.find((c) => c.word === 'dog')).toEqual({ word: 'dog', displayWord: 'dog', sense: null });

      const bad = await api.graphql(`query ($id: ID!) { probeRun(id: $id) { canReachSignificance(level: 0) } }`, { id: String(probeRunId) });
      expect(bad.body.errors![0]).toMatchObject({ message: 'Argument `level` must be in (0, 1], got 0.', extensions: { code: 'BAD_USER_INPUT', argument: 'level' } });
    } finally {
      await api.stop();
    }
  }, 600_000);

  test('without a selection every attribute is probed, the run is another one, and the empty cell drops its concept', async () => {
    const summary = await runProbe(db.pool, { extractionRunId: gloveRunId, norms: 'sparse-mcrae', settings: { folds: 5, permutations: 20, bootstrap: 20 } });
    expect(summary).toMatchObject({ status: 'COMPLETED', created: true, written: 1 });
    expect((await db.pool.query('SELECT 1 FROM excluded_attribute WHERE probe_run_id = $1', [summary.probeRunId])).rowCount).toBe(0);
    const cell = (await db.pool.query<{ concept_count: number }>('SELECT concept_count FROM probe_cell WHERE probe_run_id = $1', [summary.probeRunId])).rows;
    // The concept with an empty `listed_twice` cell (MISSING_CELL_CONCEPT) is left out: one concept set per run.
    expect(cell).toEqual([{ concept_count: SPARSE_CONCEPTS.length - 1 }]);
    // Near-empty features are probed too (those constant over the 29 concepts get no score).
    const names = (await storedScores(summary.probeRunId)).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['listed_for_1', 'listed_for_2', 'rare_1']));
    expect(names).not.toContain('constant_count');
    expect(names).not.toContain('listed_for_0');

    const api = await startTestApi(db);
    try {
      const response = await api.graphql(`query ($id: ID!) { probeRun(id: $id) {
        minimumPValue canReachSignificance attributeSelection { minSupport minVariance attributeCount excludedAttributeCount excludedAttributes { reason } } } }`,
      { id: String(summary.probeRunId) });
      expect(response.body.errors).toBeUndefined();
      // 20 permutations: the smallest p is 1/21 < 0.05, so a q-value below 0.05 is possible.
      expect(response.body.data.probeRun).toEqual({
        minimumPValue: 1 / 21, canReachSignificance: true,
        attributeSelection: { minSupport: null, minVariance: null, attributeCount: SPARSE_ATTRIBUTES.length, excludedAttributeCount: 0, excludedAttributes: [] },
      });
    } finally {
      await api.stop();
    }
  }, 300_000);
});
