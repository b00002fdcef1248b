// Command-line arguments of `npm run probe`, parsed by node:util parseArgs into probe-run options (and,
// with --enqueue, how the run is planned into jobs), with errors (ArgumentError, exit 2) naming the
// argument at fault.
import type { ParseArgsConfig } from 'node:util';
import { parseCliArguments } from '../cli.ts';
import { ArgumentError } from '../errors.ts';
import type { ProbeRunOptions } from './run.ts';
import type { ProbeSettings } from './settings.ts';

const OPTIONS = {
  run: { type: 'string' }, norms: { type: 'string' },
  folds: { type: 'string' }, seed: { type: 'string' }, permutations: { type: 'string' }, bootstrap: { type: 'string' },
  category: { type: 'string' }, 'exclude-category': { type: 'string' }, alphas: { type: 'string' },
  pooling: { type: 'string' }, layers: { type: 'string' }, timesteps: { type: 'string' },
  'min-support': { type: 'string' }, 'min-variance': { type: 'string' },
  enqueue: { type: 'boolean' }, 'job-size': { type: 'string' }, 'max-attempts': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

function number(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new ArgumentError(`--${flag}: "${raw}" is not a number.`);
  return value;
}

function integer(flag: string, raw: string): number {
  const value = number(flag, raw);
  if (!Number.isInteger(value)) throw new ArgumentError(`--${flag}: "${raw}" is not an integer.`);
  return value;
}

const parse = (argv: readonly string[]) => parseCliArguments({ args: [...argv], options: OPTIONS }).values;

export function parseProbeArguments(argv: readonly string[]): ProbeRunOptions {
  // A repeated option keeps its last value, as before.
  const values = parse(argv);
  const { run, norms } = values;
  if (run === undefined) throw new ArgumentError('--run <extraction run id> is required.');
  if (norms === undefined) throw new ArgumentError('--norms <dataset name[@version] or id> is required.');
  const list = (flag: 'category' | 'exclude-category' | 'alphas' | 'pooling' | 'layers' | 'timesteps') => values[flag]?.split(',').map((s) => s.trim()).filter(Boolean);
  const settings: Partial<ProbeSettings> = {};
  for (const flag of ['folds', 'seed', 'permutations', 'bootstrap'] as const) {
    const raw = values[flag];
    if (raw !== undefined) settings[flag] = integer(flag, raw);
  }
  const categories = list('category');
  if (categories) settings.categories = categories;
  const exclude = list('exclude-category');
  if (exclude) settings.excludeCategories = exclude;
  const alphas = list('alphas');
  if (alphas) settings.alphas = alphas.map((a) => number('alphas', a));
  const pooling = list('pooling');
  if (pooling) settings.poolings = pooling;
  const layers = list('layers');
  if (layers) settings.layers = layers.map((l) => integer('layers', l));
  const timesteps = list('timesteps');
  if (timesteps) settings.timesteps = timesteps.map((t) => (t === 'none' ? null : integer('timesteps', t)));
  const minSupport = values['min-support'];
  if (minSupport !== undefined) settings.minSupport = integer('min-support', minSupport);
  const minVariance = values['min-variance'];
  if (minVariance !== undefined) settings.minVariance = number('min-variance', minVariance);
  return { extractionRunId: integer('run', run), norms, settings };
}

/** `--enqueue`: plan the run into jobs of `jobSize` cells for the worker processes instead of fitting here. */
export interface EnqueueOptions {
  jobSize: number;
  maxAttempts: number;
}

export const DEFAULT_JOB_SIZE = 8;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** The --enqueue options, or null without --enqueue (then --job-size and --max-attempts are refused). */
export function parseEnqueueArguments(argv: readonly string[]): EnqueueOptions | null {
  const values = parse(argv);
  if (!values.enqueue) {
    for (const flag of ['job-size', 'max-attempts'] as const) {
      if (values[flag] !== undefined) throw new ArgumentError(`--${flag} plans jobs: it needs --enqueue.`);
    }
    return null;
  }
  const positive = (flag: 'job-size' | 'max-attempts', fallback: number) => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const value = integer(flag, raw);
    if (value < 1) throw new ArgumentError(`--${flag} must be at least 1, got ${value}.`);
    return value;
  };
  return { jobSize: positive('job-size', DEFAULT_JOB_SIZE), maxAttempts: positive('max-attempts', DEFAULT_MAX_ATTEMPTS) };
}
