/** @jest-environment ./test/bundles/onnx-environment.cjs */
// End-to-end extraction on the tiny bundle: real ONNX sessions, real PostgreSQL.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runExtraction, type RunEvent } from '../../src/extraction/run.ts';
import { readSummaryMatrix } from '../../src/db/summaries.ts';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { defaultSettings, Pipeline } from '../../src/extraction/pipeline.ts';
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
  const perConcept = TEXT_LAYERS * 3 + UNET_LAYERS * 3 + VAE_LAYERS * 3;
  expect(report.status).toBe('COMPLETED');
  expect(report.rowsWritten).toBe(3 * perConcept);
  expect(await count('SELECT count(*) AS n FROM activation_summary WHERE run_id = $1', [report.runId])).toBe(3 * perConcept);

  const run = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: report.runId } });
  expect(run).toMatchObject({ status: 'COMPLETED', progressDone: 3, progressTotal: 3, numSteps: 3, guidanceScale: 7.5, device: 'cpu', error: null });
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
  expect(events.map((e) => e.event)).toEqual(['start', 'concept', 'concept', 'concept', 'done']);
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
  const promise = runExtraction({ db, bundleDir: poisoned.dir, norms: 'test-norms', cacheDir: poisoned.cacheDir, concepts: ['hammer', 'banana', 'dog'], settings: { steps: 2 } });
  await expect(promise).rejects.toThrow(/Concept "banana": text_encoder layer embeddings produced a non-finite value/);
  const run = await db.prisma.extractionRun.findFirstOrThrow({ where: { status: 'FAILED' } });
  expect(run.error).toMatch(/banana/);
  expect(run.progressDone).toBe(1);
  const perConcept = await db.pool.query<{ word: string; n: string }>(
    'SELECT c.word, count(*) AS n FROM activation_summary s JOIN concept c ON c.id = s.concept_id WHERE s.run_id = $1 GROUP BY c.word', [run.id]);
  expect(perConcept.rows.map((r) => r.word)).toEqual(['hammer']);
});

test('unknown norms dataset or concept → clear errors', async () => {
  await expect(runExtraction({ db, bundleDir: bundle.dir, norms: 'nope', cacheDir: bundle.cacheDir })).rejects.toThrow(/--norms "nope": no such dataset \(known: test-norms\)/);
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
