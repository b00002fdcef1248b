// Disentanglement over diffusion time: the attribute-pair 2-vs-2 of every block (layer) of the
// chosen component at each timestep (from the probe cells), on an ordered colour-blind-safe scheme
// (viridis: dark = first block), with chance (0.5) dashed. Falls back to one curve over layers
// for a component without timesteps.
import * as Plot from '@observablehq/plot';
import type { Row } from '../export.ts';
import { num } from '../format.ts';

export const DISENTANGLEMENT_COLUMNS = ['layer', 'timestep', 'attributeTwoVsTwo', 'attributeRsa', 'conceptTwoVsTwo', 'conceptCount'];

export interface DisentanglementRow extends Row {
  layer: string;
  timestep: string;
  attributeTwoVsTwo: number | null;
  attributeRsa: number | null;
  conceptTwoVsTwo: number | null;
  conceptCount: number;
}

export function drawDisentanglement(
  container: HTMLElement,
  rows: DisentanglementRow[],
  options: { width: number; layers: string[]; timesteps: string[]; hasTimesteps: boolean },
): void {
  const defined = rows.filter((row) => row.attributeTwoVsTwo !== null);
  const describe = (row: DisentanglementRow) =>
    `${row.layer} · timestep ${row.timestep}: attribute-pair 2-vs-2 ${num(row.attributeTwoVsTwo)}, RSA ${num(row.attributeRsa)}`;
  const x = options.hasTimesteps ? 'timestep' : 'layer';
  const figure = Plot.plot({
    width: options.width,
    height: 300,
    marginLeft: 50,
    x: { label: options.hasTimesteps ? 'timestep (denoising order →)' : 'layer', domain: options.hasTimesteps ? options.timesteps : options.layers, type: 'point', padding: 0.3 },
    y: { label: 'attribute-pair 2-vs-2', grid: true },
    color: options.hasTimesteps ? { type: 'ordinal', scheme: 'viridis', domain: options.layers, legend: true } : undefined,
    marks: [
      Plot.ruleY([0.5], { stroke: '#444', strokeDasharray: '4 3', className: 'chance-line' }),
      Plot.lineY(defined, { x, y: 'attributeTwoVsTwo', z: options.hasTimesteps ? 'layer' : null, stroke: options.hasTimesteps ? 'layer' : '#0072B2', className: 'disentanglement-line' }),
      Plot.dot(defined, { x, y: 'attributeTwoVsTwo', fill: options.hasTimesteps ? 'layer' : '#0072B2', r: 2.5, title: describe, className: 'disentanglement-point' }),
    ],
  });
  container.append(figure);
}
