// Command-line arguments of `npm run probe`, parsed by node:util parseArgs into probe-run options, with
// errors (ArgumentError, exit 2) naming the argument at fault.
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

export function parseProbeArguments(argv: readonly string[]): ProbeRunOptions {
  // A repeated option keeps its last value, as before.
  const { values } = parseCliArguments({ args: [...argv], options: OPTIONS });
  const { run, norms } = values;
  if (run === undefined) throw new ArgumentError('--run <extraction run id> is required.');
  if (norms === undefined) throw new ArgumentError('--norms <dataset name[@version] or id> is required.');
  const list = (flag: keyof typeof OPTIONS) => values[flag]?.split(',').map((s) => s.trim()).filter(Boolean);
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
