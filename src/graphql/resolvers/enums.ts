// The SDL's closed sets whose stored spelling differs from the enum value's name: each maps its
// values to what the database holds (`EOT` ⇄ 'eot'), so resolvers pass stored values through and
// arguments arrive stored-shaped. Typed against the writers' own unions: a new pooling, device or
// method there fails type-checking here until the SDL lists it.
import type { GLOVE_POOLING } from '../../baselines/glove-run.ts';
import type { Device } from '../../bundles/sessions.ts';
import type { Pooling } from '../../extraction/pooling.ts';
import type { PROBE_METHOD } from '../../probe-runs/settings.ts';
import type { GridMetric } from '../../grid/input.ts';
import { GROUP_METRICS, type GroupMetric } from '../../probes/bootstrap.ts';

type Stored = Pooling | typeof GLOVE_POOLING;

const POOLING = {
  EOT: 'eot',
  MEAN: 'mean',
  CONCEPT: 'concept',
  SPATIAL_MEAN: 'spatial_mean',
  GUIDED_SPATIAL_MEAN: 'guided_spatial_mean',
  WORD: 'word',
} as const satisfies Record<string, Stored>;

/** Every stored pooling has an enum value (a compile error names the one missing). */
type MissingPooling = Exclude<Stored, (typeof POOLING)[keyof typeof POOLING]>;
const everyPooling: [MissingPooling] extends [never] ? true : MissingPooling = true;

const DEVICE = { CPU: 'cpu', CUDA: 'cuda' } as const satisfies Record<string, Device>;
const everyDevice: [Exclude<Device, (typeof DEVICE)[keyof typeof DEVICE]>] extends [never] ? true : never = true;

const PROBE_METHOD_VALUES = { RIDGE_LOO_V1: 'ridge-loo/v1' } as const satisfies Record<string, typeof PROBE_METHOD>;

/** `Metric` keeps its names as values (the grid inputs use them); a stored group-score metric maps to its name. */
const METRIC_BY_STORED: Record<GroupMetric, GridMetric> = { pearson_r: 'PEARSON_R', r2: 'R2', two_vs_two: 'TWO_VS_TWO' };

export function metricOfStored(stored: string): GridMetric {
  const metric = METRIC_BY_STORED[stored as GroupMetric];
  if (!metric) throw new Error(`Stored metric ${JSON.stringify(stored)} is none of ${GROUP_METRICS.join(', ')}.`);
  return metric;
}

void everyPooling;
void everyDevice;

export const enumResolvers = {
  Pooling: POOLING,
  Device: DEVICE,
  ProbeMethod: PROBE_METHOD_VALUES,
};
