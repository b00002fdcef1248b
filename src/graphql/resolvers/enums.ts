// The SDL's enums, tied to every hand-kept copy of their values. The SDL is the source: the generated
// types (src/graphql/generated/resolvers-types.ts) are its enums, with the stored spellings of
// src/graphql/enum-values.ts as internal values (`EOT` ⇄ 'eot'), which the executable schema maps so
// resolvers pass stored values through and arguments arrive stored-shaped. Each other copy — the
// writers' unions, the Prisma enums, the grid's inputs, the API's ErrorCode — must be the same set as
// the generated type: a value added or dropped on one side only fails type-checking here, naming it.
import type { GLOVE_POOLING } from '../../baselines/glove-run.ts';
import type { Device as StoredDevice } from '../../bundles/sessions.ts';
import type { Pooling as ExtractionPooling } from '../../extraction/pooling.ts';
import type { PROBE_METHODS } from '../../probe-runs/settings.ts';
import type { ExclusionReason } from '../../probe-runs/selection.ts';
import type { BestPer, GridDimension as GridInputDimension, GridMetric } from '../../grid/input.ts';
import type {
  AttributeExclusionReason as PrismaAttributeExclusionReason, ComponentKind as PrismaComponentKind, ModelKind as PrismaModelKind, RunStatus as PrismaRunStatus,
} from '../../generated/prisma/enums.ts';
import { GROUP_METRICS, type GroupMetric } from '../../probes/bootstrap.ts';
import { DEVICE_VALUES, POOLING_VALUES, PROBE_METHOD_VALUES } from '../enum-values.ts';
import type { ErrorCode as ApiErrorCode } from '../errors.ts';
import type {
  AttributeExclusionReason,
  BestCellsPer,
  ComponentKind,
  Device,
  ErrorCode,
  GridDimension,
  Metric,
  ModelKind,
  Pooling,
  ProbeMethod,
  Resolvers,
  RunStatus,
} from '../generated/resolvers-types.ts';

/** `true` when A and B hold the same values; otherwise the values only one of them has. */
type SameValues<A, B> = [Exclude<A, B> | Exclude<B, A>] extends [never] ? true : { onlyOnOneSide: Exclude<A, B> | Exclude<B, A> };

const sameAsSdl: [
  SameValues<ExtractionPooling | typeof GLOVE_POOLING, Pooling>,
  SameValues<StoredDevice, Device>,
  SameValues<(typeof PROBE_METHODS)[number], ProbeMethod>,
  SameValues<PrismaModelKind, ModelKind>,
  SameValues<PrismaComponentKind, ComponentKind>,
  SameValues<PrismaRunStatus, RunStatus>,
  SameValues<GridMetric, Metric>,
  SameValues<GridInputDimension, GridDimension>,
  SameValues<BestPer, BestCellsPer>,
  SameValues<`${ApiErrorCode}`, ErrorCode>,
  SameValues<ExclusionReason, AttributeExclusionReason>,
  SameValues<PrismaAttributeExclusionReason, AttributeExclusionReason>,
] = [true, true, true, true, true, true, true, true, true, true, true, true];
void sameAsSdl;

/** `Metric` keeps its names as values (the grid inputs use them); a stored group-score metric maps to its name. */
const METRIC_BY_STORED: Record<GroupMetric, Metric> = { pearson_r: 'PEARSON_R', r2: 'R2', two_vs_two: 'TWO_VS_TWO' };

export function metricOfStored(stored: string): Metric {
  const metric = METRIC_BY_STORED[stored as GroupMetric];
  if (!metric) throw new Error(`Stored metric ${JSON.stringify(stored)} is none of ${GROUP_METRICS.join(', ')}.`);
  return metric;
}

export const enumResolvers = {
  Pooling: POOLING_VALUES,
  Device: DEVICE_VALUES,
  ProbeMethod: PROBE_METHOD_VALUES,
} satisfies Resolvers;
