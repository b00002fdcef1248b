// Command-line arguments of `npm run probe`, parsed into probe-run options with errors naming the argument.
import { ProbeRunError } from './errors.ts';
import type { ProbeRunOptions } from './run.ts';
import type { ProbeSettings } from './settings.ts';

const LIST_FLAGS = new Set(['category', 'exclude-category', 'alphas', 'pooling', 'layers', 'timesteps']);
const NUMBER_FLAGS = new Set(['run', 'folds', 'seed', 'permutations', 'bootstrap']);

function number(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new ProbeRunError('BAD_ARGUMENT', `--${flag}: "${raw}" is not a number.`);
  return value;
}

function integer(flag: string, raw: string): number {
  const value = number(flag, raw);
  if (!Number.isInteger(value)) throw new ProbeRunError('BAD_ARGUMENT', `--${flag}: "${raw}" is not an integer.`);
  return value;
}

export function parseProbeArguments(argv: readonly string[]): ProbeRunOptions {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--')) throw new ProbeRunError('BAD_ARGUMENT', `Unexpected argument "${token}" (arguments are --name value).`);
    const eq = token.indexOf('=');
    const flag = eq > 0 ? token.slice(2, eq) : token.slice(2);
    const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
    if (!LIST_FLAGS.has(flag) && !NUMBER_FLAGS.has(flag) && flag !== 'norms') throw new ProbeRunError('BAD_ARGUMENT', `Unknown option --${flag}.`);
    if (value === undefined) throw new ProbeRunError('BAD_ARGUMENT', `--${flag} needs a value.`);
    values.set(flag, value);
  }
  const run = values.get('run');
  const norms = values.get('norms');
  if (run === undefined) throw new ProbeRunError('BAD_ARGUMENT', '--run <extraction run id> is required.');
  if (norms === undefined) throw new ProbeRunError('BAD_ARGUMENT', '--norms <dataset name[@version] or id> is required.');
  const list = (flag: string) => values.get(flag)?.split(',').map((s) => s.trim()).filter(Boolean);
  const settings: Partial<ProbeSettings> = {};
  for (const flag of ['folds', 'seed', 'permutations', 'bootstrap'] as const) {
    const raw = values.get(flag);
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
  return { extractionRunId: integer('run', run), norms, settings };
}
