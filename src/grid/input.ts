// Validation of grid, comparison and best-cell requests: raw (GraphQL-shaped) input in, typed
// queries out, or a GridInputError naming the offending argument path (e.g. `input.filter.layerIds`).
// Pure: the SQL layer and the resolvers both call it. Ids are read by src/db/ids.ts, as every API argument is.
import { ComponentKind as PrismaComponentKind } from '../generated/prisma/enums.ts';
import { idProblem, idValue } from '../db/ids.ts';
import { CodedError } from '../errors.ts';

export const GRID_DIMENSIONS = ['COMPONENT', 'LAYER', 'TIMESTEP', 'POOLING', 'ATTRIBUTE_GROUP', 'ATTRIBUTE'] as const;
export type GridDimension = (typeof GRID_DIMENSIONS)[number];

/** The component kinds, from the Prisma enum (the SDL's `ComponentKind` is checked against it in test/graphql/naming.test.ts). */
export const COMPONENT_KINDS = Object.values(PrismaComponentKind);
export type ComponentKind = PrismaComponentKind;

/**
 * Per metric: where its values live (`score`: one per probe_score row, i.e. per cell and attribute;
 * `cell`: one per probe_cell, computed over all the cell's attributes), the column (whitelisted
 * identifiers), the shuffled-ratings control column where one is stored, and the chance level in
 * theory. SIGNIFICANT_SHARE reads q_value as an indicator (q < level), so its mean is a share.
 */
export const GRID_METRICS = {
  PEARSON_R: { scope: 'score', column: 'pearson_r', nullColumn: 'null_pearson_r', theoreticalChance: 0 },
  R2: { scope: 'score', column: 'r2', nullColumn: 'null_r2', theoreticalChance: 0 },
  TWO_VS_TWO: { scope: 'score', column: 'two_vs_two', nullColumn: 'null_two_vs_two', theoreticalChance: 0.5 },
  SIGNIFICANT_SHARE: { scope: 'score', column: 'q_value', nullColumn: null, theoreticalChance: 0 },
  ATTRIBUTE_TWO_VS_TWO: { scope: 'cell', column: 'attribute_two_vs_two', nullColumn: null, theoreticalChance: 0.5 },
  ATTRIBUTE_RSA: { scope: 'cell', column: 'attribute_rsa', nullColumn: null, theoreticalChance: 0 },
  CONCEPT_TWO_VS_TWO: { scope: 'cell', column: 'concept_two_vs_two', nullColumn: null, theoreticalChance: 0.5 },
} as const satisfies Record<string, { scope: 'score' | 'cell'; column: string; nullColumn: string | null; theoreticalChance: number }>;
export type GridMetric = keyof typeof GRID_METRICS;

/** Metrics stored once per probe cell: no attribute dimension, no attribute filter. */
export function isCellMetric(metric: GridMetric): boolean {
  return GRID_METRICS[metric].scope === 'cell';
}

/** The q-value level of SIGNIFICANT_SHARE when none is given. */
export const DEFAULT_SIGNIFICANCE_LEVEL = 0.05;

/** The paired comparison's settings (compareGrid's `paired`); the numbers are src/probes/paired.ts's. */
export interface PairedSettings {
  bootstrapCount: number;
  permutationCount: number;
  seed: number;
}
export const PAIRED_DEFAULTS: PairedSettings = { bootstrapCount: 1_000, permutationCount: 1_000, seed: 0 };
export const MAX_PAIRED_REPLICATES = 10_000;

/** Dense grids larger than this are refused before any aggregation runs. */
export const DEFAULT_MAX_GRID_CELLS = 100_000;

export interface GridFilter {
  componentKinds?: ComponentKind[];
  componentIds?: number[];
  layerIds?: number[];
  /** `null` selects cells without a timestep (text encoders). */
  timesteps?: (number | null)[];
  attributeGroupNames?: string[];
  attributeGroupIds?: number[];
  attributeIds?: number[];
  extractionRunIds?: number[];
  probeRunIds?: number[];
  poolings?: string[];
}

export interface GridQuery {
  metric: GridMetric;
  /** SIGNIFICANT_SHARE only: scores count as significant when q < this level. */
  significanceLevel?: number;
  groupBy: GridDimension[];
  /** All must hold (the comparison ANDs its shared filter with each side's). */
  filters: GridFilter[];
}

export interface CompareSide {
  filters: GridFilter[];
  /** Dimensions of groupBy this side is averaged over and then broadcast along. */
  aggregateOver: GridDimension[];
}

export interface CompareQuery {
  metric: GridMetric;
  significanceLevel?: number;
  /** When set, each cell also gets the paired test over concepts (from stored predictions). */
  paired?: PairedSettings;
  groupBy: GridDimension[];
  left: CompareSide;
  right: CompareSide;
}

export type BestPer = 'ATTRIBUTE_GROUP' | 'ATTRIBUTE';

export interface BestQuery {
  metric: GridMetric;
  significanceLevel?: number;
  per: BestPer;
  filters: GridFilter[];
}

/** `problem` reads after the argument: "input.groupBy" + "lists LAYER twice; …". */
export class GridInputError extends CodedError<'BAD_GRID_INPUT'> {
  constructor(readonly argument: string, readonly problem: string) {
    super('BAD_GRID_INPUT', 'bad-input', `${argument}: ${problem}`);
  }
}

type Maybe<T> = T | null | undefined;

export interface RawGridFilter {
  componentKinds?: Maybe<readonly string[]>;
  componentIds?: Maybe<readonly (string | number)[]>;
  layerIds?: Maybe<readonly (string | number)[]>;
  timesteps?: Maybe<readonly (number | null)[]>;
  attributeGroupNames?: Maybe<readonly string[]>;
  attributeGroupIds?: Maybe<readonly (string | number)[]>;
  attributeIds?: Maybe<readonly (string | number)[]>;
  extractionRunIds?: Maybe<readonly (string | number)[]>;
  probeRunIds?: Maybe<readonly (string | number)[]>;
  poolings?: Maybe<readonly string[]>;
}

export interface RawGridInput {
  metric?: Maybe<string>;
  significanceLevel?: Maybe<number>;
  groupBy?: Maybe<readonly string[]>;
  filter?: Maybe<RawGridFilter>;
}

export interface RawCompareSide {
  filter?: Maybe<RawGridFilter>;
  aggregateOver?: Maybe<readonly string[]>;
}

export interface RawPairedInput {
  bootstrapCount?: Maybe<number>;
  permutationCount?: Maybe<number>;
  seed?: Maybe<number>;
}

export interface RawCompareInput {
  metric?: Maybe<string>;
  significanceLevel?: Maybe<number>;
  paired?: Maybe<RawPairedInput>;
  groupBy?: Maybe<readonly string[]>;
  filter?: Maybe<RawGridFilter>;
  left?: Maybe<RawCompareSide>;
  right?: Maybe<RawCompareSide>;
}

export interface RawBestInput {
  metric?: Maybe<string>;
  significanceLevel?: Maybe<number>;
  per?: Maybe<string>;
  filter?: Maybe<RawGridFilter>;
}

const MAX_INT4 = 2_147_483_647;
const MAX_LIST = 10_000;

function list<T>(value: Maybe<readonly T[]>, argument: string): readonly T[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value)) throw new GridInputError(argument, 'must be a list.');
  if (value.length === 0) throw new GridInputError(argument, 'must not be empty (omit it to select everything).');
  if (value.length > MAX_LIST) throw new GridInputError(argument, `must hold at most ${MAX_LIST} values.`);
  return value;
}

function ids(value: Maybe<readonly (string | number)[]>, argument: string): number[] | undefined {
  const raw = list(value, argument);
  if (!raw) return undefined;
  return [...new Set(raw.map((id, index) => {
    const parsed = idValue(id);
    if (parsed === null) throw new GridInputError(`${argument}[${index}]`, idProblem(id));
    return parsed;
  }))];
}

function strings(value: Maybe<readonly string[]>, argument: string): string[] | undefined {
  const raw = list(value, argument);
  if (!raw) return undefined;
  raw.forEach((text, index) => {
    if (typeof text !== 'string' || text.length === 0) throw new GridInputError(`${argument}[${index}]`, 'must be a non-empty string.');
  });
  return [...new Set(raw)];
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], argument: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new GridInputError(argument, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}.`);
  }
  return value as T;
}

function metric(value: Maybe<string>, argument: string): GridMetric {
  return oneOf(value ?? 'PEARSON_R', Object.keys(GRID_METRICS) as GridMetric[], argument);
}

function dimensions(value: Maybe<readonly string[]>, argument: string, allowEmpty: boolean): GridDimension[] {
  if (value === null || value === undefined) {
    if (allowEmpty) return [];
    throw new GridInputError(argument, 'is required.');
  }
  if (!Array.isArray(value)) throw new GridInputError(argument, 'must be a list.');
  const seen = new Set<GridDimension>();
  return value.map((item, index) => {
    const dimension = oneOf(item, GRID_DIMENSIONS, `${argument}[${index}]`);
    if (seen.has(dimension)) throw new GridInputError(argument, `must list each dimension at most once; ${dimension} appears twice.`);
    seen.add(dimension);
    return dimension;
  });
}

function significanceLevel(metric: GridMetric, value: Maybe<number>, argument: string): number | undefined {
  if (metric !== 'SIGNIFICANT_SHARE') {
    if (value !== null && value !== undefined) throw new GridInputError(argument, `applies to metric SIGNIFICANT_SHARE only, not ${metric}; omit it.`);
    return undefined;
  }
  if (value === null || value === undefined) return DEFAULT_SIGNIFICANCE_LEVEL;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw new GridInputError(argument, `must be a q-value level in (0, 1], got ${JSON.stringify(value)}.`);
  return value;
}

/** Which attribute-scoped arguments a filter sets (the cell-level metrics refuse them). */
const ATTRIBUTE_FILTER_FIELDS = ['attributeGroupNames', 'attributeGroupIds', 'attributeIds'] as const;

/**
 * A cell-level metric is one number per probe cell over all of the cell's attributes: grouping by
 * or filtering on attribute groups or attributes cannot select part of it, so such a request is
 * refused (naming the argument) rather than silently answered over every attribute.
 */
function refuseAttributeScope(metric: GridMetric, groupBy: readonly GridDimension[], groupByArgument: string, filters: readonly [GridFilter, string][]): void {
  if (!isCellMetric(metric)) return;
  const scoped = groupBy.find((dimension) => dimension === 'ATTRIBUTE_GROUP' || dimension === 'ATTRIBUTE');
  if (scoped) {
    throw new GridInputError(groupByArgument, `cannot hold ${scoped} with metric ${metric}: it is one number per probe cell, computed over all of the cell's attributes; group by COMPONENT, LAYER, TIMESTEP or POOLING.`);
  }
  for (const [filter, argument] of filters) {
    const field = ATTRIBUTE_FILTER_FIELDS.find((name) => filter[name] !== undefined);
    if (field) {
      throw new GridInputError(`${argument}.${field}`, `does not apply to metric ${metric}, one number per probe cell over all of its attributes; omit it (or choose a per-attribute metric).`);
    }
  }
}

function count(value: Maybe<number>, fallback: number, argument: string, min: number): number {
  if (value === null || value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > MAX_PAIRED_REPLICATES) {
    throw new GridInputError(argument, `must be an integer from ${min} to ${MAX_PAIRED_REPLICATES}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function pairedSettings(metric: GridMetric, raw: Maybe<RawPairedInput>, argument: string, metricArgument: string): PairedSettings | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (metric !== 'PEARSON_R' && metric !== 'R2') {
    throw new GridInputError(metricArgument, `must be PEARSON_R or R2 for ${argument}: the paired test recomputes the metric from stored predictions, and ${metric} ${isCellMetric(metric) ? 'is a cell-level metric' : metric === 'TWO_VS_TWO' ? 'needs the fold of every concept, which is not stored with them' : 'is a q-value share, not a score'}.`);
  }
  const seed = raw.seed ?? PAIRED_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_INT4) throw new GridInputError(`${argument}.seed`, `must be an integer from 0 to ${MAX_INT4}, got ${JSON.stringify(raw.seed)}.`);
  return {
    bootstrapCount: count(raw.bootstrapCount, PAIRED_DEFAULTS.bootstrapCount, `${argument}.bootstrapCount`, 0),
    permutationCount: count(raw.permutationCount, PAIRED_DEFAULTS.permutationCount, `${argument}.permutationCount`, 0),
    seed,
  };
}

export function parseGridFilter(raw: Maybe<RawGridFilter>, argument: string): GridFilter {
  if (raw === null || raw === undefined) return {};
  const filter: GridFilter = {};
  const kinds = list(raw.componentKinds, `${argument}.componentKinds`);
  if (kinds) filter.componentKinds = [...new Set(kinds.map((kind, i) => oneOf(kind, COMPONENT_KINDS, `${argument}.componentKinds[${i}]`)))];
  const timesteps = list(raw.timesteps, `${argument}.timesteps`);
  if (timesteps) {
    filter.timesteps = [...new Set(timesteps.map((timestep, index) => {
      if (timestep === null) return null;
      if (!Number.isInteger(timestep) || timestep < 0 || timestep > MAX_INT4) {
        throw new GridInputError(`${argument}.timesteps[${index}]`, `must be a timestep (an integer ≥ 0, or null for none), got ${JSON.stringify(timestep)}.`);
      }
      return timestep;
    }))];
  }
  const assign = <K extends keyof GridFilter>(key: K, value: GridFilter[K] | undefined) => {
    if (value !== undefined) filter[key] = value;
  };
  assign('componentIds', ids(raw.componentIds, `${argument}.componentIds`));
  assign('layerIds', ids(raw.layerIds, `${argument}.layerIds`));
  assign('attributeGroupNames', strings(raw.attributeGroupNames, `${argument}.attributeGroupNames`));
  assign('attributeGroupIds', ids(raw.attributeGroupIds, `${argument}.attributeGroupIds`));
  assign('attributeIds', ids(raw.attributeIds, `${argument}.attributeIds`));
  assign('extractionRunIds', ids(raw.extractionRunIds, `${argument}.extractionRunIds`));
  assign('probeRunIds', ids(raw.probeRunIds, `${argument}.probeRunIds`));
  assign('poolings', strings(raw.poolings, `${argument}.poolings`));
  return filter;
}

export function parseGridInput(raw: RawGridInput, argument = 'input'): GridQuery {
  const chosen = metric(raw.metric, `${argument}.metric`);
  const groupBy = dimensions(raw.groupBy, `${argument}.groupBy`, true);
  const filter = parseGridFilter(raw.filter, `${argument}.filter`);
  refuseAttributeScope(chosen, groupBy, `${argument}.groupBy`, [[filter, `${argument}.filter`]]);
  const level = significanceLevel(chosen, raw.significanceLevel, `${argument}.significanceLevel`);
  return { metric: chosen, ...(level === undefined ? {} : { significanceLevel: level }), groupBy, filters: [filter] };
}

export function parseCompareInput(raw: RawCompareInput, argument = 'input'): CompareQuery {
  const groupBy = dimensions(raw.groupBy, `${argument}.groupBy`, true);
  const shared = parseGridFilter(raw.filter, `${argument}.filter`);
  const side = (value: Maybe<RawCompareSide>, name: 'left' | 'right'): CompareSide => {
    if (!value) throw new GridInputError(`${argument}.${name}`, 'is required.');
    const aggregateOver = dimensions(value.aggregateOver, `${argument}.${name}.aggregateOver`, true);
    for (const dimension of aggregateOver) {
      if (!groupBy.includes(dimension)) {
        throw new GridInputError(`${argument}.${name}.aggregateOver`, `must only list dimensions of ${argument}.groupBy; ${dimension} is not grouped by.`);
      }
    }
    const own = parseGridFilter(value.filter, `${argument}.${name}.filter`);
    sideFilters.push([own, `${argument}.${name}.filter`]);
    return { filters: [shared, own], aggregateOver };
  };
  const sideFilters: [GridFilter, string][] = [[shared, `${argument}.filter`]];
  const left = side(raw.left, 'left');
  const right = side(raw.right, 'right');
  for (const dimension of left.aggregateOver) {
    if (right.aggregateOver.includes(dimension)) {
      throw new GridInputError(`${argument}.right.aggregateOver`, `must not repeat ${dimension}, which ${argument}.left.aggregateOver already averages over; drop it from ${argument}.groupBy instead.`);
    }
  }
  const chosen = metric(raw.metric, `${argument}.metric`);
  refuseAttributeScope(chosen, groupBy, `${argument}.groupBy`, sideFilters);
  const level = significanceLevel(chosen, raw.significanceLevel, `${argument}.significanceLevel`);
  const paired = pairedSettings(chosen, raw.paired, `${argument}.paired`, `${argument}.metric`);
  return {
    metric: chosen,
    ...(level === undefined ? {} : { significanceLevel: level }),
    ...(paired === undefined ? {} : { paired }),
    groupBy,
    left,
    right,
  };
}

export function parseBestInput(raw: RawBestInput, argument = 'input'): BestQuery {
  const chosen = metric(raw.metric, `${argument}.metric`);
  if (isCellMetric(chosen)) {
    throw new GridInputError(`${argument}.metric`, `cannot be ${chosen} in bestCells, which ranks cells per attribute group or attribute: ${chosen} is one number per probe cell over all its attributes. Use grid with groupBy [LAYER, TIMESTEP] (or POOLING) instead.`);
  }
  const level = significanceLevel(chosen, raw.significanceLevel, `${argument}.significanceLevel`);
  return {
    metric: chosen,
    ...(level === undefined ? {} : { significanceLevel: level }),
    per: oneOf(raw.per ?? 'ATTRIBUTE_GROUP', ['ATTRIBUTE_GROUP', 'ATTRIBUTE'] as const, `${argument}.per`),
    filters: [parseGridFilter(raw.filter, `${argument}.filter`)],
  };
}
