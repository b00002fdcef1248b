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

/** Per metric: the probe_score columns (whitelisted identifiers) and the chance level in theory. */
export const GRID_METRICS = {
  PEARSON_R: { column: 'pearson_r', nullColumn: 'null_pearson_r', theoreticalChance: 0 },
  R2: { column: 'r2', nullColumn: 'null_r2', theoreticalChance: 0 },
  TWO_VS_TWO: { column: 'two_vs_two', nullColumn: 'null_two_vs_two', theoreticalChance: 0.5 },
} as const;
export type GridMetric = keyof typeof GRID_METRICS;

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
  groupBy: GridDimension[];
  left: CompareSide;
  right: CompareSide;
}

export type BestPer = 'ATTRIBUTE_GROUP' | 'ATTRIBUTE';

export interface BestQuery {
  metric: GridMetric;
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
  groupBy?: Maybe<readonly string[]>;
  filter?: Maybe<RawGridFilter>;
}

export interface RawCompareSide {
  filter?: Maybe<RawGridFilter>;
  aggregateOver?: Maybe<readonly string[]>;
}

export interface RawCompareInput {
  metric?: Maybe<string>;
  groupBy?: Maybe<readonly string[]>;
  filter?: Maybe<RawGridFilter>;
  left?: Maybe<RawCompareSide>;
  right?: Maybe<RawCompareSide>;
}

export interface RawBestInput {
  metric?: Maybe<string>;
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
  return {
    metric: metric(raw.metric, `${argument}.metric`),
    groupBy: dimensions(raw.groupBy, `${argument}.groupBy`, true),
    filters: [parseGridFilter(raw.filter, `${argument}.filter`)],
  };
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
    return { filters: [shared, parseGridFilter(value.filter, `${argument}.${name}.filter`)], aggregateOver };
  };
  const left = side(raw.left, 'left');
  const right = side(raw.right, 'right');
  for (const dimension of left.aggregateOver) {
    if (right.aggregateOver.includes(dimension)) {
      throw new GridInputError(`${argument}.right.aggregateOver`, `must not repeat ${dimension}, which ${argument}.left.aggregateOver already averages over; drop it from ${argument}.groupBy instead.`);
    }
  }
  return { metric: metric(raw.metric, `${argument}.metric`), groupBy, left, right };
}

export function parseBestInput(raw: RawBestInput, argument = 'input'): BestQuery {
  return {
    metric: metric(raw.metric, `${argument}.metric`),
    per: oneOf(raw.per ?? 'ATTRIBUTE_GROUP', ['ATTRIBUTE_GROUP', 'ATTRIBUTE'] as const, `${argument}.per`),
    filters: [parseGridFilter(raw.filter, `${argument}.filter`)],
  };
}
