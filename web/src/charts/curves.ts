// Curves per attribute group, one small panel each: the text encoder's layers (left) and the chosen
// component's timesteps, mean over its layers (right), on one y scale with 95% bands and the
// measured chance level dashed, so "the semantics come from CLIP, not from diffusion" shows at a
// glance. Two colours from the Okabe–Ito palette (colour-blind safe), told apart by marker too.
import * as Plot from '@observablehq/plot';
import type { AtlasCurvesQuery } from '../generated/operations.ts';
import type { Row } from '../export.ts';
import { chanceLevel, interval, metricLabel, num } from '../format.ts';

export const CURVE_COLUMNS = ['attributeGroup', 'series', 'position', 'label', 'mean', 'scoreCount', 'ciLow', 'ciHigh'];

type GridPart = NonNullable<AtlasCurvesQuery['timeline']>;

interface CurvePoint extends Row {
  attributeGroup: string;
  series: string;
  position: number;
  label: string;
  mean: number | null;
  scoreCount: number;
  ciLow: number | null;
  ciHigh: number | null;
}

/** Rows of a [ATTRIBUTE_GROUP, X] grid, X positions offset by `start`. */
function points(grid: GridPart, series: string, start: number): CurvePoint[] {
  const [groups, xs] = grid.axes;
  if (!groups || !xs) return [];
  const rows: CurvePoint[] = [];
  for (const group of groups.values) {
    for (const x of xs.values) {
      const index = group.index * xs.values.length + x.index;
      rows.push({
        attributeGroup: group.label,
        series,
        position: start + x.index,
        label: x.label,
        mean: grid.columns.mean[index] ?? null,
        scoreCount: grid.columns.scoreCount[index] ?? 0,
        ciLow: grid.columns.ciLow[index] ?? null,
        ciHigh: grid.columns.ciHigh[index] ?? null,
      });
    }
  }
  return rows;
}

export function curveRows(data: AtlasCurvesQuery, names: { textEncoder: string; timeline: string }): CurvePoint[] {
  const textEncoder = data.textEncoder ? points(data.textEncoder, names.textEncoder, 0) : [];
  const width = data.textEncoder?.axes[1]?.values.length ?? 0;
  return [...textEncoder, ...points(data.timeline, names.timeline, width ? width + 1 : 0)];
}

const COLOURS = ['#0072B2', '#D55E00'];

export function drawCurves(
  container: HTMLElement,
  data: AtlasCurvesQuery,
  rows: CurvePoint[],
  options: { width: number; metric: string; names: { textEncoder: string; timeline: string }; selectedGroup?: string },
): void {
  const chance = chanceLevel(data.timeline.chance);
  const groups = data.timeline.axes[0]?.values.map((value) => value.label) ?? [];
  const columns = Math.min(4, Math.max(1, groups.length));
  const facet = (group: string) => {
    const at = groups.indexOf(group);
    return { fx: at % columns, fy: Math.floor(at / columns) };
  };
  const placed = rows.filter((row) => row.mean !== null).map((row) => ({ ...row, ...facet(row.attributeGroup) }));
  const facets = groups.map((group) => ({ group, chance, selected: group === options.selectedGroup, ...facet(group) }));
  const series = [data.textEncoder ? options.names.textEncoder : null, options.names.timeline].filter((name): name is string => name !== null);
  const labels = new Map(rows.map((row) => [row.position, `${row.series}: ${row.label}`]));
  const describe = (row: CurvePoint) =>
    `${row.attributeGroup} · ${row.series} ${row.label}: mean ${num(row.mean)}, n ${row.scoreCount}, ${interval(row.ciLow, row.ciHigh)}`;
  // The y scale follows the means and chance, not the bands: a group with few attributes can have an
  // interval many times wider than every curve, which would flatten them all; bands are clipped.
  const means = [...placed.map((row) => row.mean as number), chance];
  const low = Math.min(...means);
  const high = Math.max(...means);
  const pad = Math.max(0.05, 0.25 * (high - low));
  const figure = Plot.plot({
    width: options.width,
    height: Math.ceil(groups.length / columns) * 150 + 70,
    marginLeft: 45,
    fx: { axis: null, padding: 0.1 },
    fy: { axis: null, padding: 0.2 },
    x: { label: 'text encoder layer · timestep (mean over layers), denoising order →', ticks: [], tickFormat: (p: number) => labels.get(p) ?? '' },
    y: { label: `mean ${metricLabel(options.metric)} (bands clipped)`, grid: true, domain: [low - pad, high + pad] },
    color: { domain: series, range: COLOURS.slice(0, series.length), legend: true },
    symbol: { domain: series, range: ['circle', 'square'] },
    marks: [
      Plot.frame({ stroke: '#ddd' }),
      Plot.rect(facets.filter((f) => f.selected), { fx: 'fx', fy: 'fy', fill: 'none', stroke: '#000', strokeWidth: 1.5, className: 'selected-group' }),
      Plot.areaY(placed, { x: 'position', y1: 'ciLow', y2: 'ciHigh', z: 'series', fill: 'series', fillOpacity: 0.18, fx: 'fx', fy: 'fy', clip: true }),
      Plot.lineY(placed, { x: 'position', y: 'mean', z: 'series', stroke: 'series', fx: 'fx', fy: 'fy', className: 'curve-line' }),
      Plot.dot(placed, { x: 'position', y: 'mean', stroke: 'series', symbol: 'series', r: 2, fx: 'fx', fy: 'fy', title: describe, className: 'curve-point' }),
      Plot.ruleY(facets, { y: 'chance', fx: 'fx', fy: 'fy', stroke: '#444', strokeDasharray: '4 3', className: 'chance-line' }),
      Plot.text(facets, { text: 'group', fx: 'fx', fy: 'fy', frameAnchor: 'top-left', dx: 4, dy: 4, fontWeight: 'bold' }),
    ],
  });
  container.append(figure);
}
