// Read-only look-ups shared by the demo steps: the dataset and concepts, the tiny bundle, and whether
// the runs the demo would produce are already stored (a step's `isDone`). A look-up that cannot be
// sure answers "not done": the step then runs, and the extraction/probe runs' own settings-hash
// resumption makes that a no-op when the work is in fact complete.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../bundles/bundle.ts';
import { conceptSetHash, GLOVE_LOOKUP_RULE, GLOVE_MODEL_NAME } from '../../baselines/glove-run.ts';
import { glovePackageInfo } from '../../baselines/glove-loader.ts';
import { defaultSettings, type ExtractionSettings } from '../../extraction/pipeline.ts';
import { DdimScheduler, ddimConfigFrom } from '../../extraction/scheduler.ts';
import { extractionSettingsHash, resolvedTapSummary } from '../../extraction/identity.ts';
import { findNormsDataset, selectConcepts, type SelectedConcept } from '../../norms/query.ts';
import { normaliseSettings, probeSettingsHash } from '../../probe-runs/settings.ts';
import type { SeedDatabase } from '../seed-step.ts';
import { evenlySpacedTimesteps, type DemoPipelineSettings } from './settings.ts';

export class DemoPipelineError extends Error {
  constructor(readonly code: 'NOT_A_TINY_BUNDLE' | 'MISSING_PREREQUISITE', message: string) {
    super(message);
    this.name = 'DemoPipelineError';
  }
}

export async function demoDataset(db: SeedDatabase, settings: DemoPipelineSettings): Promise<{ id: number; name: string; version: number }> {
  return findNormsDataset(db.prisma, settings.norms);
}

/** The dataset's concepts in its order, cut to `conceptLimit`. */
export async function demoConcepts(db: SeedDatabase, settings: DemoPipelineSettings, datasetId: number): Promise<SelectedConcept[]> {
  const all = await selectConcepts(db.prisma, datasetId);
  return settings.conceptLimit === null ? all : all.slice(0, settings.conceptLimit);
}

/** The built tiny bundle, or null when its folder has no model_index.json yet. */
export function openDemoBundle(settings: DemoPipelineSettings): Bundle | null {
  if (!existsSync(path.join(settings.bundleDir, 'model_index.json'))) return null;
  const bundle = loadBundle(settings.bundleDir);
  if (bundle.kind !== 'TINY_TEST_NETWORK') {
    throw new DemoPipelineError('NOT_A_TINY_BUNDLE', `${settings.bundleDir} holds a bundle that is not the tiny test network (${bundle.name}); the demo pipeline only runs the tiny one. Move that bundle elsewhere, or skip the demo with DEMO_PIPELINE=false.`);
  }
  return bundle;
}

/** The extraction settings the demo passes to runExtraction (the rest are the bundle's defaults). */
export function demoExtractionSettings(bundle: Bundle, settings: DemoPipelineSettings): Pick<ExtractionSettings, 'steps' | 'timesteps'> {
  const schedule = new DdimScheduler(ddimConfigFrom(bundle.schedulerConfig), settings.steps).timesteps;
  return { steps: settings.steps, timesteps: evenlySpacedTimesteps([...schedule], settings.recordedTimesteps) };
}

export interface FoundRun {
  id: number;
  status: string;
}

/** The extraction run on this bundle with exactly the demo's settings, by runExtraction's own settings hash; null when there is none. */
export async function findDemoExtractionRun(db: SeedDatabase, bundle: Bundle, settings: DemoPipelineSettings): Promise<FoundRun | null> {
  const full: ExtractionSettings = { ...defaultSettings(bundle), ...demoExtractionSettings(bundle, settings) };
  // The demo extracts on the CPU with the default taps (see extraction-step.ts).
  const hash = extractionSettingsHash({ bundle, settings: full, taps: resolvedTapSummary(bundle), device: 'cpu' });
  const { rows } = await db.pool.query<FoundRun>('SELECT id, status FROM extraction_run WHERE settings_hash = $1', [hash]);
  return rows[0] ?? null;
}

/** Whether a run is COMPLETED and holds summaries of every one of these concepts. */
export async function extractionCovers(db: SeedDatabase, run: FoundRun, conceptIds: readonly number[]): Promise<boolean> {
  if (run.status !== 'COMPLETED') return false;
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(DISTINCT concept_id)::int AS n FROM activation_summary WHERE run_id = $1 AND concept_id = ANY($2::int[])',
    [run.id, conceptIds],
  );
  return rows[0]!.n === new Set(conceptIds).size;
}

/** The completed GloVe baseline run over exactly these words (same rule as runGloveBaseline's own check). */
export async function findCompletedGloveRun(db: SeedDatabase, words: readonly string[]): Promise<FoundRun | null> {
  const containment = { packageVersion: glovePackageInfo().version, lookupRule: GLOVE_LOOKUP_RULE, concepts: { sha256: conceptSetHash(words).sha256 } };
  const { rows } = await db.pool.query<FoundRun>(
    `SELECT r.id, r.status FROM extraction_run r JOIN model m ON m.id = r.model_id
     WHERE m.name = $1 AND r.status = 'COMPLETED' AND r.settings @> $2::jsonb ORDER BY r.id ASC LIMIT 1`,
    [GLOVE_MODEL_NAME, JSON.stringify(containment)],
  );
  return rows[0] ?? null;
}

/** Whether the probe run these settings identify (on this extraction run and dataset) is COMPLETED. */
export async function probeRunCompleted(db: SeedDatabase, extractionRunId: number, datasetId: number, settings: DemoPipelineSettings): Promise<boolean> {
  const extraction = await db.pool.query<{ finished_at: Date | null }>('SELECT finished_at FROM extraction_run WHERE id = $1', [extractionRunId]);
  const finishedAt = extraction.rows[0]?.finished_at;
  if (!finishedAt) return false;
  const hash = probeSettingsHash(extractionRunId, finishedAt, datasetId, normaliseSettings(settings.probe));
  const { rows } = await db.pool.query<{ status: string }>('SELECT status FROM probe_run WHERE settings_hash = $1', [hash]);
  return rows[0]?.status === 'COMPLETED';
}
