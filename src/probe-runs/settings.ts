// Probe-run settings: defaults, validation, the canonical form that is hashed into the run's identity,
// and the human-readable description of the cross-validation scheme.
import { identityHash } from '../identity.ts';
import { ProbeRunError } from './errors.ts';

/**
 * Bump when the numerics change in a way that changes results: old runs then keep their identity.
 * v2: the Gram path fits on K + 11ᵀ, and every cell stores its matrices and out-of-fold predictions.
 */
export const PROBE_METHOD = 'ridge-loo/v2';

/** Every method a stored probe run can name (older runs keep theirs). */
export const PROBE_METHODS = ['ridge-loo/v1', PROBE_METHOD] as const;

export interface ProbeSettings {
  folds: number;
  seed: number;
  /** Candidate alphas, ascending (ties go to the smaller one). */
  alphas: number[];
  permutations: number;
  bootstrap: number;
  /** Keep only concepts of these dataset categories (null = all). */
  categories: string[] | null;
  excludeCategories: string[];
  /** Restrict cells (null = every pooling / layer / timestep of the extraction run). */
  poolings: string[] | null;
  layers: number[] | null;
  /** null inside the list selects components without timesteps. */
  timesteps: (number | null)[] | null;
  /**
   * Attribute selection (sparse feature-production norms, docs/norms.md): keep attributes with a
   * non-zero, non-missing rating for at least this many of the run's concepts (null = keep all).
   */
  minSupport: number | null;
  /** And with at least this population variance of their ratings over the run's concepts (null = no floor). */
  minVariance: number | null;
}

/** 8 log-spaced alphas, 10^-2 … 10^5: wide enough for standardised features with d from 100 to a few thousand (docs/metrics.md). */
export const DEFAULT_ALPHAS = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5];

export const DEFAULT_SETTINGS: ProbeSettings = {
  folds: 10,
  seed: 0,
  alphas: DEFAULT_ALPHAS,
  permutations: 100,
  bootstrap: 1000,
  categories: null,
  excludeCategories: [],
  poolings: null,
  layers: null,
  timesteps: null,
  minSupport: null,
  minVariance: null,
};

function sortedUnique<T extends string | number>(values: readonly T[]): T[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Validates and normalises (sorted, deduplicated lists) so that equal settings hash equally. */
export function normaliseSettings(partial: Partial<ProbeSettings>): ProbeSettings {
  const s = { ...DEFAULT_SETTINGS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as ProbeSettings;
  const integer = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) throw new ProbeRunError('BAD_ARGUMENT', `--${name} must be an integer ≥ ${min}, got ${value}.`);
  };
  integer('folds', s.folds, 2);
  integer('seed', s.seed, 0);
  integer('permutations', s.permutations, 0);
  integer('bootstrap', s.bootstrap, 0);
  if (s.minSupport !== null) integer('min-support', s.minSupport, 1);
  if (s.minVariance !== null && !(Number.isFinite(s.minVariance) && s.minVariance >= 0)) {
    throw new ProbeRunError('BAD_ARGUMENT', `--min-variance must be a finite number ≥ 0, got ${s.minVariance}.`);
  }
  if (s.alphas.length === 0 || s.alphas.some((a) => !(a > 0) || !Number.isFinite(a))) {
    throw new ProbeRunError('BAD_ARGUMENT', `--alphas must be finite numbers > 0, got ${s.alphas.join(',')}.`);
  }
  const timesteps = s.timesteps === null ? null : [...new Set(s.timesteps)].sort((a, b) => (a === null ? -1 : b === null ? 1 : a - b));
  return {
    folds: s.folds,
    seed: s.seed,
    alphas: sortedUnique(s.alphas),
    permutations: s.permutations,
    bootstrap: s.bootstrap,
    categories: s.categories === null ? null : sortedUnique(s.categories),
    excludeCategories: sortedUnique(s.excludeCategories),
    poolings: s.poolings === null ? null : sortedUnique(s.poolings),
    layers: s.layers === null ? null : sortedUnique(s.layers),
    timesteps,
    minSupport: s.minSupport,
    minVariance: s.minVariance,
  };
}

export { canonicalJson } from '../identity.ts';

/**
 * The run's identity. The extraction run's finished_at is part of it: an extraction that was resumed
 * and grew gets a new probe run instead of reporting the old results as up to date.
 */
export function probeSettingsHash(extractionRunId: number, extractionFinishedAt: Date, datasetId: number, settings: ProbeSettings): string {
  // Without a selection the settings hash as they did before it existed (null members are left out),
  // so runs made then keep their identity; with one, the selection is part of the identity.
  const { minSupport, minVariance, ...rest } = settings;
  const hashed = { ...rest, minSupport: minSupport ?? undefined, minVariance: minVariance ?? undefined };
  return identityHash({ extractionRunId, extractionFinishedAt: extractionFinishedAt.toISOString(), datasetId, method: PROBE_METHOD, settings: hashed });
}

/** The attribute selection in words, e.g. `attributes with a non-zero rating for ≥ 10 concepts`; null when none. */
export function describeAttributeSelection(s: Pick<ProbeSettings, 'minSupport' | 'minVariance'>): string | null {
  const parts: string[] = [];
  if (s.minSupport !== null) parts.push(`a non-zero rating for ≥ ${s.minSupport} of the run's concepts`);
  if (s.minVariance !== null) parts.push(`rating variance ≥ ${s.minVariance} over them`);
  return parts.length === 0 ? null : `attributes kept with ${parts.join(' and ')}`;
}

export function describeCvScheme(s: ProbeSettings): string {
  const alphas = s.alphas.map((a) => a.toExponential(0)).join(', ');
  return `${s.folds}-fold outer CV over concepts (seeded shuffle, seed ${s.seed}; same folds in every cell); ` +
    `features standardised and ratings centred on the training fold; alpha per attribute by exact LOO on the training fold from {${alphas}}; ` +
    `chance from ${s.permutations} joint permutations of concepts' ratings; group CIs from ${s.bootstrap} bootstrap resamples of concepts` +
    (describeAttributeSelection(s) === null ? '' : `; ${describeAttributeSelection(s)}`);
}
