// Settings of the first-start demo pipeline (tiny bundle → extraction → probes, plus the GloVe
// baseline). They are REDUCED on purpose so a first start finishes in a few minutes on two cores;
// docs/demo.md says how to run the research settings.
import path from 'node:path';
import { PROJECT_ROOT } from '../../config.ts';
import type { ProbeSettings } from '../../probe-runs/settings.ts';

export interface DemoPipelineSettings {
  /** Where the tiny test bundle is built when absent (git-ignored). */
  bundleDir: string;
  /** Tapped copies of the ONNX models (shared with `npm run extract`'s default). */
  cacheDir: string;
  /** Seed of the tiny bundle's random weights. */
  bundleSeed: number;
  /** Norms dataset name (its latest version is used). */
  norms: string;
  /** Only the first N concepts of the dataset, in its order (tests); null = all of them. */
  conceptLimit: number | null;
  /** DDIM denoising steps. */
  steps: number;
  /** Record activations at this many evenly spaced timesteps of the schedule (first and last included). */
  recordedTimesteps: number;
  /** ONNX Runtime intra-op threads for extraction; 1 leaves the other core to the API (and is faster for the tiny network). */
  threads: number;
  /** Probe settings for both probe runs (unset fields take the research defaults). */
  probe: Partial<ProbeSettings>;
  /** Whether the GloVe baseline (and its probe run) is part of the pipeline. */
  glove: boolean;
}

/**
 * The demo: every Binder concept, 50 DDIM steps recorded at 10 timesteps, probes with 10 folds but
 * 20 permutations and 200 bootstrap resamples (research defaults: 100 and 1000).
 */
export const DEMO_PIPELINE_SETTINGS: Readonly<DemoPipelineSettings> = Object.freeze({
  bundleDir: path.join(PROJECT_ROOT, 'bundles', 'tiny'),
  cacheDir: path.join(PROJECT_ROOT, 'bundles', '.tap-cache'),
  bundleSeed: 0,
  norms: 'binder2016',
  conceptLimit: null,
  steps: 50,
  recordedTimesteps: 10,
  threads: 1,
  probe: Object.freeze({ folds: 10, permutations: 20, bootstrap: 200 }),
  glove: true,
});

/** `count` timesteps of a schedule at evenly spaced positions, keeping its order; the whole schedule when count ≥ its length. */
export function evenlySpacedTimesteps(schedule: readonly number[], count: number): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`recordedTimesteps must be an integer ≥ 1, got ${count}.`);
  if (count >= schedule.length) return [...schedule];
  if (count === 1) return [schedule[schedule.length - 1]!];
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add(Math.round((i * (schedule.length - 1)) / (count - 1)));
  return [...picked].sort((a, b) => a - b).map((index) => schedule[index]!);
}
