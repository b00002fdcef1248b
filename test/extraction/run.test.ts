/** @jest-environment ./test/bundles/onnx-environment.cjs */
// End-to-end extraction on the tiny bundle: real ONNX sessions, real PostgreSQL.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { planExtraction, runExtraction, type RunEvent } from '../../src/extraction/run.ts';
import { readSummaryMatrix } from '../../src/db/summaries.ts';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { defaultSettings, Pipeline } from '../../src/extraction/pipeline.ts';
import { extractionSettingsHash, resolvedTapSummary } from '../../src/extraction/identity.ts';
import { insertDataset, tempTinyBundle, type TempBundle } from './fixtures.ts';

let db: TestDatabase;
let bundle: TempBundle;
let poisoned: TempBundle;

beforeAll(async () => {
  db = await createTestDatabase();
  bundle = tempTinyBundle({ embeddings: 'random' }); // GloVe rows are checked in test/bundles/taps.test.ts
  poisoned = tempTinyBundle({ poisonWords: ['banana'], embeddings: 'random' });
  await insertDataset(db.prisma, 'test-norms', ['hammer', 'dog', 'banana', 'apricot']);
});

afterAll(async () => {
  await db?.drop();
  bundle?.remove();
  poisoned?.remove();
});

const TEXT_LAYERS = 6; // embeddings, layers.0-3, final_layer_norm
const UNET_LAYERS = 5; // down_blocks.0-1, mid_block, up_blocks.0-1
const VAE_LAYERS = 3; // mid_block, up_blocks.0-1

async function count(sql: string, params: unknown[]): Promise<number> {
  const result = await db.pool.query<{ n: string }>(sql, params);
  return Number(result.rows[0]!.n);
}

test('3 concepts × 3 steps store one row per (concept, layer, timestep, pooling); a re-run writes nothing', async () => {
  const events: RunEvent[] = [];
  const options = {
    db, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir,
    concepts: ['hammer', 'dog', 'apricot'], settings: { steps: 3 }, onEvent: (e: RunEvent) => events.push(e),
  };
  const report = await runExtraction(options);
  const perConcept = TEXT_LAYERS * 3 + UNET_LAYERS * 3 + VAE_LAYERS * 1; // the VAE decodes at the final recorded step by default
  expect(report.status).toBe('COMPLETED');
  expect(report.rowsWritten).toBe(3 * perConcept);
  expect(await count('SELECT count(*) AS n FROM activation_summary WHERE run_id = $1', [report.runId])).toBe(3 * perConcept);

  const run = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: report.runId } });
  expect(run).toMatchObject({ status: 'COMPLETED', doneCount: 3, plannedCount: 3, stepCount: 3, guidanceScale: 7.5, device: 'cpu', error: null });
  const timings = run.timings as Record<string, number>;
  expect(timings.unet).toBeGreaterThan(0);
  expect(timings.concepts).toBe(3);

  // Components and layers, ordered, with per-prompt shapes.
  const components = await db.prisma.component.findMany({ where: { modelId: run.modelId }, orderBy: { position: 'asc' }, include: { layers: { orderBy: { index: 'asc' } } } });
  expect(components.map((c) => [c.name, c.kind, c.hasTimesteps])).toEqual([
    ['text_encoder', 'TEXT_ENCODER', false], ['unet', 'UNET', true], ['vae_decoder', 'VAE_DECODER', true],
  ]);
  expect(components[0]!.layers.map((l) => l.name)).toEqual(['embeddings', 'layers.0', 'layers.1', 'layers.2', 'layers.3', 'final_layer_norm']);
  expect(components[0]!.layers[1]!.shape).toEqual([77, 100]);
  expect(components[1]!.layers.map((l) => [l.name, l.shape])).toEqual([
    ['down_blocks.0', [32, 4, 4]], ['down_blocks.1', [64, 4, 4]], ['mid_block', [64, 4, 4]], ['up_blocks.0', [64, 8, 8]], ['up_blocks.1', [32, 8, 8]],
  ]);
  const model = await db.prisma.model.findUniqueOrThrow({ where: { id: run.modelId } });
  expect(model.kind).toBe('TINY_TEST_NETWORK');

  // Text layers: NULL timestep, three poolings; UNet: the scheduler's timestep values.
  const textLayer = components[0]!.layers[2]!;
  const timesteps = await db.pool.query('SELECT DISTINCT timestep FROM activation_summary WHERE run_id = $1 AND layer_id = $2', [report.runId, textLayer.id]);
  expect(timesteps.rows).toEqual([{ timestep: null }]);
  const unetTimesteps = await db.pool.query('SELECT DISTINCT timestep FROM activation_summary WHERE run_id = $1 AND layer_id = $2 ORDER BY timestep DESC', [report.runId, components[1]!.layers[0]!.id]);
  expect(unetTimesteps.rows.map((r) => r.timestep)).toEqual([667, 334, 1]);
  const matrix = await readSummaryMatrix(db.pool, { runId: report.runId, layerId: textLayer.id, timestep: null, pooling: 'concept' });
  expect(matrix.conceptIds).toHaveLength(3);
  expect(matrix.dim).toBe(100);

  // Same settings again: nothing to do, nothing written, the run untouched.
  const again = await runExtraction({ ...options, onEvent: undefined });
  expect(again.runId).toBe(report.runId);
  expect(again.rowsWritten).toBe(0);
  expect(await count('SELECT count(*) AS n FROM activation_summary WHERE run_id = $1', [report.runId])).toBe(3 * perConcept);
  const after = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: report.runId } });
  expect(after.finishedAt).toEqual(run.finishedAt);

  // A different seed is a different run.
  const other = await runExtraction({ ...options, concepts: ['hammer'], settings: { steps: 3, seed: 1 }, onEvent: undefined });
  expect(other.runId).not.toBe(report.runId);
  expect(events.map((e) => e.event)).toEqual(['start', 'batch', 'concept', 'concept', 'concept', 'done']); // 3 concepts: one batch (default 4)
  expect(events.find((e) => e.event === 'batch')).toMatchObject({ size: 3, unetCalls: 3, textEncoderCalls: 1, vaeCalls: 1 });
});

test('--timesteps records a subset; guided pooling adds rows; unknown timesteps are rejected', async () => {
  const report = await runExtraction({
    db, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir, concepts: ['dog'],
    settings: { steps: 4, timesteps: [751, 1], spatialPoolings: ['spatial_mean', 'guided_spatial_mean'], vae: false },
  });
  expect(report.rowsWritten).toBe(TEXT_LAYERS * 3 + UNET_LAYERS * 2 * 2);
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir, concepts: ['dog'], settings: { steps: 4, timesteps: [500] } }))
    .rejects.toThrow(/--timesteps 500 not in the 4-step schedule \(751,501,251,1\)/);
});

test('a non-finite activation fails the run naming concept, layer and timestep; nothing partial is written', async () => {
  // Batch 1: the concept before the poisoned one is committed (in a batch, the batch fails as one).
  const promise = runExtraction({ db, bundleDir: poisoned.dir, norms: 'test-norms', cacheDir: poisoned.cacheDir, concepts: ['hammer', 'banana', 'dog'], settings: { steps: 2 }, batch: 1 });
  await expect(promise).rejects.toThrow(/Concept "banana": text_encoder layer embeddings produced a non-finite value/);
  const run = await db.prisma.extractionRun.findFirstOrThrow({ where: { status: 'FAILED' } });
  expect(run.error).toMatch(/banana/);
  expect(run.doneCount).toBe(1);
  const perConcept = await db.pool.query<{ word: string; n: string }>(
    'SELECT c.word, count(*) AS n FROM activation_summary s JOIN concept c ON c.id = s.concept_id WHERE s.run_id = $1 GROUP BY c.word', [run.id]);
  expect(perConcept.rows.map((r) => r.word)).toEqual(['hammer']);
});

test('unknown norms dataset or concept → clear errors', async () => {
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'nope', cacheDir: bundle.cacheDir })).rejects.toThrow(/--norms "nope": no such dataset; give an id, a name \(latest version\) or name@version \(known: test-norms@1\)/);
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir, concepts: ['hamer'] })).rejects.toThrow(/"hamer" is not in the dataset. Near matches: hammer/);
});

test('a concept that tokenises to nothing (or is cut off by the 77-token limit) is an error naming it', async () => {
  await insertDataset(db.prisma, 'odd-norms', ['dog', ' ']);
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'odd-norms', cacheDir: bundle.cacheDir, concepts: [' '], settings: { steps: 1 } }))
    .rejects.toThrow(/Concept " " tokenises to nothing in prompt "a photo of a  "/);
  const longTemplate = `${Array.from({ length: 80 }, () => 'photo').join(' ')} {concept}`;
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'odd-norms', cacheDir: bundle.cacheDir, concepts: ['dog'], settings: { steps: 1, template: longTemplate } }))
    .rejects.toThrow(/Concept "dog" tokenises to nothing .* \(truncated at 77 tokens\)/);
});

test('the same concept and seed give the same summaries in a fresh pipeline; another seed does not', async () => {
  const tiny = loadBundle(bundle.dir);
  const open = (seed: number) => Pipeline.open({ bundle: tiny, settings: { ...defaultSettings(tiny), steps: 2, seed }, device: 'cpu', cacheDir: bundle.cacheDir });
  const [a, b, c] = [await open(0), await open(0), await open(5)];
  try {
    const [ra, rb, rc] = [await a.extractConcept('dog'), await b.extractConcept('dog'), await c.extractConcept('dog')];
    expect(ra.prompt).toBe('a photo of a dog');
    expect(ra.summaries.map((s) => Array.from(s.vector))).toEqual(rb.summaries.map((s) => Array.from(s.vector)));
    const last = (r: typeof ra) => Array.from(r.summaries.find((s) => s.component === 'unet' && s.layer === 'up_blocks.1' && s.timestep === 1)!.vector);
    expect(last(rc)).not.toEqual(last(ra));
    // The text encoder does not see the latent noise: its summaries do not depend on the seed.
    const text = (r: typeof ra) => r.summaries.filter((s) => s.component === 'text_encoder').map((s) => Array.from(s.vector));
    expect(text(rc)).toEqual(text(ra));
  } finally {
    await Promise.all([a.release(), b.release(), c.release()]);
  }
});

test('--norms name@version and id resolve like a name; the stored hash is the canonical identity the demo looks up', async () => {
  const options = { db, bundleDir: bundle.dir, cacheDir: bundle.cacheDir, concepts: ['dog'], settings: { steps: 1, vae: false } };
  const byName = await runExtraction({ ...options, norms: 'test-norms' });
  const dataset = await db.prisma.normsDataset.findFirstOrThrow({ where: { name: 'test-norms' } });
  const byVersion = await runExtraction({ ...options, norms: 'test-norms@1' });
  const byId = await runExtraction({ ...options, norms: String(dataset.id) });
  expect([byVersion.runId, byId.runId]).toEqual([byName.runId, byName.runId]);
  await expect(runExtraction({ ...options, norms: 'test-norms@2' })).rejects.toThrow(/--norms "test-norms@2": no such dataset/);

  // Same settings spelled in another key order hash the same, without opening a pipeline.
  const tiny = loadBundle(bundle.dir);
  const full = { ...defaultSettings(tiny), steps: 1, vae: false };
  const reordered = Object.fromEntries(Object.entries(full).reverse()) as typeof full;
  const taps = resolvedTapSummary(tiny);
  expect(extractionSettingsHash({ bundle: tiny, settings: full, taps, device: 'cpu' })).toBe(byName.settingsHash);
  expect(extractionSettingsHash({ bundle: tiny, settings: reordered, taps, device: 'cpu' })).toBe(byName.settingsHash);
  const row = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: byName.runId } });
  expect(row.settingsHash).toBe(byName.settingsHash);
});

test('tap sets that differ between runs get distinct layer indexes', async () => {
  await insertDataset(db.prisma, 'tap-norms', ['dog']);
  const options = { db, bundleDir: bundle.dir, norms: 'tap-norms', cacheDir: bundle.cacheDir, concepts: ['dog'], settings: { steps: 1, vae: false } };
  // First a subset (layers.2 takes index 0, layers.3 index 1), then the default taps, whose positions 0 and 1 are taken.
  await runExtraction({ ...options, taps: { text_encoder: { scopes: ['/text_model/encoder/layers.2/', '/text_model/encoder/layers.3/'] } } });
  // "dog" with these settings was extracted by an earlier test: the run is COMPLETED (reported NOTHING_TO_DO) either way.
  const report = await runExtraction(options);
  const run = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: report.runId } });
  expect(run.status).toBe('COMPLETED');
  const layers = await db.prisma.layer.findMany({ where: { component: { modelId: run.modelId, name: 'text_encoder' } }, orderBy: { index: 'asc' } });
  expect(layers.map((l) => l.name).sort()).toEqual(['embeddings', 'final_layer_norm', 'layers.0', 'layers.1', 'layers.2', 'layers.3']);
  expect(new Set(layers.map((l) => l.index)).size).toBe(6);
  const stored = await count('SELECT count(DISTINCT layer_id) AS n FROM activation_summary s JOIN layer l ON l.id = s.layer_id JOIN component c ON c.id = l.component_id WHERE s.run_id = $1 AND c.name = $2', [report.runId, 'text_encoder']);
  expect(stored).toBe(6);
});

test('a second process on the same run fails clearly and leaves the run alone', async () => {
  const options = { db, bundleDir: bundle.dir, norms: 'test-norms', cacheDir: bundle.cacheDir, concepts: ['hammer'], settings: { steps: 1, seed: 7, vae: false } };
  const tiny = loadBundle(bundle.dir);
  const hash = extractionSettingsHash({ bundle: tiny, settings: { ...defaultSettings(tiny), ...options.settings }, taps: resolvedTapSummary(tiny), device: 'cpu' });
  // Another process holding the run's lock, as runExtraction takes it.
  const other = await db.pool.connect();
  try {
    await other.query('SELECT pg_advisory_lock(hashtext($1))', [hash]);
    await expect(runExtraction(options)).rejects.toMatchObject({ code: 'RUN_LOCKED', message: expect.stringMatching(/being written by another process/) });
    expect(await db.prisma.extractionRun.findUnique({ where: { settingsHash: hash } })).toBeNull();
    await other.query('SELECT pg_advisory_unlock(hashtext($1))', [hash]);
  } finally {
    other.release();
  }
  const report = await runExtraction(options);
  expect(report.settingsHash).toBe(hash);
  expect(report.status).toBe('COMPLETED');
});

test('aborting stops after the concept in flight (batch 1): FAILED "interrupted", progress counted from stored rows, resumable', async () => {
  await insertDataset(db.prisma, 'stop-norms', ['hammer', 'dog', 'banana', 'apricot']);
  const stop = new AbortController();
  const options = { db, bundleDir: bundle.dir, norms: 'stop-norms', cacheDir: bundle.cacheDir, settings: { steps: 1, vae: false }, batch: 1 };
  const promise = runExtraction({ ...options, signal: stop.signal, onEvent: (e: RunEvent) => { if (e.event === 'concept') stop.abort(); } });
  await expect(promise).rejects.toMatchObject({ code: 'INTERRUPTED', message: 'interrupted; re-run to resume' });
  const run = await db.prisma.extractionRun.findFirstOrThrow({ where: { error: 'interrupted; re-run to resume' } });
  expect(run.status).toBe('FAILED');
  const stored = await count('SELECT count(DISTINCT concept_id) AS n FROM activation_summary WHERE run_id = $1', [run.id]);
  expect(stored).toBeGreaterThanOrEqual(1);
  expect(stored).toBeLessThan(4);
  expect(run.doneCount).toBe(stored);
  const resumed = await runExtraction(options);
  expect(resumed).toMatchObject({ runId: run.id, status: 'COMPLETED', conceptsSkipped: stored, conceptsWritten: 4 - stored });
  expect((await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: run.id } })).doneCount).toBe(4);
});

test('plan() reports what is left of a partly done extraction run without running it', async () => {
  await insertDataset(db.prisma, 'plan-norms', ['hammer', 'dog', 'banana', 'apricot']);
  const options = { db, bundleDir: bundle.dir, norms: 'plan-norms', cacheDir: bundle.cacheDir, settings: { steps: 1, vae: false, seed: 21 }, batch: 1 };
  const tiny = loadBundle(bundle.dir);
  const hash = extractionSettingsHash({ bundle: tiny, settings: { ...defaultSettings(tiny), ...options.settings }, taps: resolvedTapSummary(tiny), device: 'cpu' });
  const dataset = await db.prisma.normsDataset.findFirstOrThrow({ where: { name: 'plan-norms' } });
  const concepts = (await db.prisma.datasetConcept.findMany({ where: { normsDatasetId: dataset.id }, orderBy: { position: 'asc' }, include: { concept: true } }))
    .map((c) => ({ id: c.concept.id, word: c.concept.word }));
  expect(await planExtraction(db.pool, hash, concepts)).toMatchObject({ run: null, total: 4, done: [], complete: false });

  const stop = new AbortController();
  await expect(runExtraction({ ...options, signal: stop.signal, onEvent: (e: RunEvent) => { if (e.event === 'concept') stop.abort(); } }))
    .rejects.toMatchObject({ code: 'INTERRUPTED' });
  const partly = await planExtraction(db.pool, hash, concepts);
  const stored = await count('SELECT count(DISTINCT concept_id) AS n FROM activation_summary WHERE run_id = $1', [partly.run!.id]);
  expect(partly).toMatchObject({ run: { status: 'FAILED' }, total: 4, complete: false });
  expect(partly.done).toHaveLength(stored);
  expect(partly.left).toHaveLength(4 - stored);
  expect(partly.run!.finishedAt).toBeInstanceOf(Date);

  const resumed = await runExtraction(options);
  expect(resumed).toMatchObject({ status: 'COMPLETED', conceptsWritten: 4 - stored });
  expect(await planExtraction(db.pool, hash, concepts)).toMatchObject({ complete: true, left: [], total: 4 });
  expect(await runExtraction(options)).toMatchObject({ status: 'NOTHING_TO_DO', rowsWritten: 0 });
});
