// The heatmap: layer × timestep of one component, pooling and attribute group, coloured on a
// colour-blind-safe diverging scale (ColorBrewer PuOr) that pivots at the measured chance level;
// a dot marks every cell whose 95% interval includes chance, so chance is drawn, not only printed.
import * as Plot from '@observablehq/plot';
import type { AtlasHeatmapQuery } from '../generated/operations.ts';
import { chanceLevel, chanceText, interval, metricLabel, num } from '../format.ts';
import type { Row } from '../export.ts';

export interface HeatmapCell {
  index: number;
  layer: string;
  layerId: string | null;
  timestep: string;
  timestepValue: number | null;
  mean: number | null;
  sd: number | null;
  scoreCount: number;
  ciLow: number | null;
  ciHigh: number | null;
}

export const HEATMAP_COLUMNS = ['layer', 'layerId', 'timestep', 'mean', 'sd', 'scoreCount', 'ciLow', 'ciHigh'];

/** The grid's columns (row-major, LAYER then TIMESTEP) as one record per cell. */
export function heatmapCells(grid: AtlasHeatmapQuery['grid']): HeatmapCell[] {
  const [layers, timesteps] = grid.axes;
  if (!layers || !timesteps) throw new Error('The heatmap grid came back without its LAYER and TIMESTEP axes.');
  const cells: HeatmapCell[] = [];
  for (const layer of layers.values) {
    for (const timestep of timesteps.values) {
      const index = layer.index * timesteps.values.length + timestep.index;
      cells.push({
        index,
        layer: layer.label,
        layerId: layer.id,
        timestep: timestep.label,
        timestepValue: timestep.timestep,
        mean: grid.columns.mean[index] ?? null,
        sd: grid.columns.sd[index] ?? null,
        scoreCount: grid.columns.scoreCount[index] ?? 0,
        ciLow: grid.columns.ciLow[index] ?? null,
        ciHigh: grid.columns.ciHigh[index] ?? null,
      });
    }
  }
  return cells;
}

export function heatmapRows(cells: HeatmapCell[]): Row[] {
  return cells.map(({ layer, layerId, timestep, mean, sd, scoreCount, ciLow, ciHigh }) => ({ layer, layerId, timestep, mean, sd, scoreCount, ciLow, ciHigh }));
}

export function drawHeatmap(
  container: HTMLElement,
  grid: AtlasHeatmapQuery['grid'],
  cells: HeatmapCell[],
  options: { width: number; selected?: { layerId: string; timestep: string }; onSelect(cell: HeatmapCell): void },
): void {
  const chance = chanceLevel(grid.chance);
  const [layerAxis, timestepAxis] = grid.axes;
  const filled = cells.filter((cell) => cell.mean !== null);
  const empty = cells.filter((cell) => cell.mean === null);
  const nearChance = filled.filter((cell) => cell.ciLow !== null && cell.ciHigh !== null && cell.ciLow <= chance && chance <= cell.ciHigh);
  const describe = (cell: HeatmapCell) =>
    `${cell.layer} · timestep ${cell.timestep}: mean ${num(cell.mean)}, n ${cell.scoreCount}, ${interval(cell.ciLow, cell.ciHigh)}`;
  const selected = cells.filter((cell) => options.selected && cell.layerId === options.selected.layerId && cell.timestep === options.selected.timestep);
  const figure = Plot.plot({
    width: options.width,
    height: Math.max(160, 28 * (layerAxis?.values.length ?? 1) + 90),
    marginLeft: 150,
    marginBottom: 40,
    padding: 0.04,
    x: { label: 'timestep (denoising order →)', domain: timestepAxis?.values.map((value) => value.label), tickRotate: timestepAxis && timestepAxis.values.length > 20 ? -90 : 0 },
    y: { label: 'layer', domain: layerAxis?.values.map((value) => value.label) },
    color: {
      type: 'diverging',
      scheme: 'PuOr',
      pivot: chance,
      legend: true,
      label: `mean ${metricLabel(grid.metric)} (pivot: chance ${num(chance)})`,
    },
    marks: [
      Plot.cell(filled, { x: 'timestep', y: 'layer', fill: 'mean', title: describe, ariaLabel: describe, className: 'heatmap-cell', inset: 0.5 }),
      Plot.cell(empty, { x: 'timestep', y: 'layer', fill: '#f2f2f2', stroke: '#ccc', title: (cell: HeatmapCell) => `${describe(cell)} (no scores)`, className: 'heatmap-empty', inset: 0.5 }),
      Plot.dot(nearChance, { x: 'timestep', y: 'layer', r: 2.5, fill: '#222', className: 'heatmap-near-chance', ariaDescription: "95% interval includes chance" }),
      Plot.cell(selected, { x: 'timestep', y: 'layer', fill: 'none', stroke: '#000', strokeWidth: 2.5, className: 'heatmap-selected' }),
    ],
  });
  figure.querySelectorAll<SVGRectElement>('.heatmap-cell rect, .heatmap-empty rect').forEach((rect) => {
    rect.style.cursor = 'pointer';
  });
  figure.addEventListener('click', (event) => {
    const rect = (event.target as Element).closest('rect');
    const group = rect?.closest('.heatmap-cell, .heatmap-empty');
    if (!rect || !group) return;
    const data = group.classList.contains('heatmap-cell') ? filled : empty;
    const index = (rect as unknown as { __data__?: number }).__data__;
    const cell = typeof index === 'number' ? data[index] : undefined;
    if (cell) options.onSelect(cell);
  });
  container.append(figure);
}

export function heatmapCaption(grid: AtlasHeatmapQuery['grid'], cells: HeatmapCell[]): string {
  const empty = cells.filter((cell) => cell.mean === null).length;
  return `${cells.length} cells${empty ? ` (${empty} without scores yet)` : ''}; ${chanceText(grid.chance)}; a dot marks a cell whose 95% interval includes chance. Click a cell to see its attributes.`;
}
