// Read-only look-ups shared by the demo steps: the dataset and concepts, the tiny bundle, and what is
// left of each run the demo would produce (a step's `isDone`), asked of the run modules' own plan()
// (src/runs/plan.ts) with the settings the demo passes them, so the demo never re-derives an identity.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../bundles/bundle.ts';
import { planGloveBaseline } from '../../baselines/glove-run.ts';
import { defaultSettings, type ExtractionSettings } from '../../extraction/pipeline.ts';
import { DdimScheduler, ddimConfigFrom } from '../../extraction/scheduler.ts';
import { extractionSettingsHash, resolvedTapSummary } from '../../extraction/identity.ts';
import { planExtraction } from '../../extraction/run.ts';
import { findNormsDataset, selectConcepts, type SelectedConcept } from '../../norms/query.ts';
import type { CellKey } from '../../probe-runs/load.ts';
import { planProbe } from '../../probe-runs/run.ts';
import type { RunPlan } from '../../runs/plan.ts';
import type { SeedDatabase } from '../seed-step.ts';
import { DemoPipelineError } from './errors.ts';
import { evenlySpacedTimesteps, type DemoPipelineSettings } from './settings.ts';

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

/**
 * The extraction settings the demo passes to runExtraction (the rest are the bundle's defaults). The
 * VAE decodes at every recorded timestep (not the run default, the final one only), so the demo's
 * charts keep their VAE-by-timestep cells; on the tiny network that costs little.
 */
export function demoExtractionSettings(bundle: Bundle, settings: DemoPipelineSettings): Pick<ExtractionSettings, 'steps' | 'timesteps' | 'vae'> {
  const schedule = new DdimScheduler(ddimConfigFrom(bundle.schedulerConfig), settings.steps).timesteps;
  return { steps: settings.steps, timesteps: evenlySpacedTimesteps([...schedule], settings.recordedTimesteps), vae: 'all' };
}

/** What is left of the demo's extraction run on this bundle (on the CPU with the default taps, as extraction-step.ts runs it). */
export async function demoExtractionPlan(db: SeedDatabase, bundle: Bundle, settings: DemoPipelineSettings): Promise<RunPlan<{ id: number; word: string }>> {
  const full: ExtractionSettings = { ...defaultSettings(bundle), ...demoExtractionSettings(bundle, settings) };
  const hash = extractionSettingsHash({ bundle, settings: full, taps: resolvedTapSummary(bundle), device: 'cpu' });
  const dataset = await demoDataset(db, settings);
  return planExtraction(db.pool, hash, await demoConcepts(db, settings, dataset.id));
}

/** What is left of the GloVe baseline run over the demo's concepts. */
export async function demoGlovePlan(db: SeedDatabase, settings: DemoPipelineSettings): Promise<RunPlan<{ id: number; word: string }>> {
  const dataset = await demoDataset(db, settings);
  return planGloveBaseline(db.pool, await demoConcepts(db, settings, dataset.id));
}

/** What is left of the demo's probe run on this extraction run and dataset; null while the extraction run is not COMPLETED. */
export async function demoProbePlan(db: SeedDatabase, extractionRunId: number, datasetId: number, settings: DemoPipelineSettings): Promise<RunPlan<CellKey> | null> {
  return planProbe(db.pool, { extractionRunId, norms: String(datasetId), settings: settings.probe });
}
