// Pure assembly of dense grids from sparse aggregate rows: every combination of the axes' values,
// row-major in groupBy order, n = 0 and nulls where no score exists. Tested on arrays.
import type { GridDimension } from './input.ts';
import { meanInterval, welchInterval, type Summary } from './stats.ts';

export interface AxisValue {
  index: number;
  /** Stable key within the axis: the entity id, the timestep ("none" for no timestep) or the pooling name. */
  key: string;
  label: string;
  /** Catalogue id (component, layer, attribute group, attribute); null on the timestep axis. */
  id: number | null;
  /** The timestep on the TIMESTEP axis (null = none); null elsewhere. */
  timestep: number | null;
  /** Ordering key from the catalogue (e.g. component position, layer index), compared element-wise. */
  sort: number[];
}

export interface Axis {
  dimension: GridDimension;
  values: AxisValue[];
}

/** One sparse aggregate: `keys[i]` is the raw key on groupBy[i] (id, timestep or pooling; null = no timestep). */
export interface AggregateRow extends Summary {
  keys: (number | string | null)[];
  nullMean: number | null;
  nullN: number;
}

export interface GridCell extends Summary {
  index: number;
  coordinates: number[];
  ciLow: number | null;
  ciHigh: number | null;
  /** Mean of the shuffled-ratings control over the same scores (null where none was stored). */
  nullMean: number | null;
}

export function axisKey(dimension: GridDimension, raw: number | string | null): string {
  if (raw === null) return dimension === 'TIMESTEP' ? 'none' : 'null';
  return String(raw);
}

export function denseSize(axes: readonly Axis[]): number {
  return axes.reduce((size, axis) => size * axis.values.length, 1);
}

/** Row-major coordinates of cell `index` (the last axis varies fastest). */
export function coordinatesOf(index: number, lengths: readonly number[]): number[] {
  const coordinates = new Array<number>(lengths.length);
  for (let axis = lengths.length - 1; axis >= 0; axis--) {
    const length = lengths[axis]!;
    coordinates[axis] = index % length;
    index = Math.floor(index / length);
  }
  return coordinates;
}

function keyIndexes(axes: readonly Axis[]): Map<string, number>[] {
  return axes.map((axis) => new Map(axis.values.map((value) => [value.key, value.index])));
}

export function cellFromSummary(index: number, coordinates: number[], summary: Summary, nullMean: number | null): GridCell {
  const interval = meanInterval(summary.mean, summary.sd, summary.n);
  return {
    index,
    coordinates,
    n: summary.n,
    mean: summary.mean,
    sd: summary.sd,
    ciLow: interval?.low ?? null,
    ciHigh: interval?.high ?? null,
    nullMean,
  };
}

/** Dense cells over `axes`, filled from `rows`; rows whose key is on no axis are ignored. */
export function assembleDense(axes: readonly Axis[], rows: readonly AggregateRow[]): GridCell[] {
  const lengths = axes.map((axis) => axis.values.length);
  const size = denseSize(axes);
  const byIndex = new Map<number, AggregateRow>();
  const indexes = keyIndexes(axes);
  for (const row of rows) {
    let index = 0;
    let found = true;
    for (let axis = 0; axis < axes.length; axis++) {
      const position = indexes[axis]!.get(axisKey(axes[axis]!.dimension, row.keys[axis] ?? null));
      if (position === undefined) {
        found = false;
        break;
      }
      index = index * lengths[axis]! + position;
    }
    if (found) byIndex.set(index, row);
  }
  const cells = new Array<GridCell>(size);
  for (let index = 0; index < size; index++) {
    const row = byIndex.get(index);
    const coordinates = coordinatesOf(index, lengths);
    cells[index] = row
      ? cellFromSummary(index, coordinates, row, row.nullMean)
      : cellFromSummary(index, coordinates, { mean: null, sd: null, n: 0 }, null);
  }
  return cells;
}

function compareSort(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Union of two axes' values (by key), in catalogue order, re-indexed. */
export function mergeAxisValues(left: readonly AxisValue[], right: readonly AxisValue[]): AxisValue[] {
  const byKey = new Map<string, AxisValue>();
  for (const value of [...left, ...right]) if (!byKey.has(value.key)) byKey.set(value.key, value);
  return [...byKey.values()]
    .sort((a, b) => compareSort(a.sort, b.sort))
    .map((value, index) => ({ ...value, index }));
}

export interface ComparisonCell {
  index: number;
  coordinates: number[];
  left: Summary;
  right: Summary;
  /** left mean − right mean; null when either side has no score. */
  difference: number | null;
  ciLow: number | null;
  ciHigh: number | null;
}

/**
 * Dense comparison cells. `groupBy[i]` is matched on a side unless that side aggregates over it
 * (its rows then carry null there and are broadcast along the result axis).
 */
export function assembleComparison(
  axes: readonly Axis[],
  leftAggregateOver: readonly GridDimension[],
  rightAggregateOver: readonly GridDimension[],
  leftRows: readonly AggregateRow[],
  rightRows: readonly AggregateRow[],
): ComparisonCell[] {
  const lengths = axes.map((axis) => axis.values.length);
  const sideKey = (aggregateOver: readonly GridDimension[], keyOn: (axis: number) => string) =>
    axes.map((axis, i) => (aggregateOver.includes(axis.dimension) ? '*' : keyOn(i))).join('|');
  const index = (rows: readonly AggregateRow[], aggregateOver: readonly GridDimension[]) =>
    new Map(rows.map((row) => [sideKey(aggregateOver, (i) => axisKey(axes[i]!.dimension, row.keys[i] ?? null)), row]));
  const leftByKey = index(leftRows, leftAggregateOver);
  const rightByKey = index(rightRows, rightAggregateOver);
  const none: Summary = { mean: null, sd: null, n: 0 };
  const size = denseSize(axes);
  const cells = new Array<ComparisonCell>(size);
  for (let cell = 0; cell < size; cell++) {
    const coordinates = coordinatesOf(cell, lengths);
    const keyOn = (i: number) => axes[i]!.values[coordinates[i]!]!.key;
    const leftRow = leftByKey.get(sideKey(leftAggregateOver, keyOn));
    const rightRow = rightByKey.get(sideKey(rightAggregateOver, keyOn));
    const left: Summary = leftRow ? { mean: leftRow.mean, sd: leftRow.sd, n: leftRow.n } : none;
    const right: Summary = rightRow ? { mean: rightRow.mean, sd: rightRow.sd, n: rightRow.n } : none;
    const interval = welchInterval(left, right);
    cells[cell] = {
      index: cell,
      coordinates,
      left,
      right,
      difference: left.mean !== null && right.mean !== null ? left.mean - right.mean : null,
      ciLow: interval?.low ?? null,
      ciHigh: interval?.high ?? null,
    };
  }
  return cells;
}
