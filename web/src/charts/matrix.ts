// The attribute × attribute matrix of one cell: how similar the attributes are in the human ratings
// (left) and in the model's out-of-fold predictions (right), on one diverging colour-blind-safe
// scale (PuOr, −1…1, pivot 0 = unrelated), so structure the model keeps or loses is side by side.
import * as Plot from '@observablehq/plot';
import type { AtlasMatrixQuery } from '../generated/operations.ts';
import type { Row } from '../export.ts';
import { num } from '../format.ts';

export const MATRIX_COLUMNS = ['source', 'row', 'column', 'value'];
export const MATRIX_SOURCES = { human: 'human ratings', model: 'model predictions' } as const;

export interface MatrixRow extends Row {
  source: string;
  row: string;
  column: string;
  value: number | null;
}

type Matrix = NonNullable<NonNullable<AtlasMatrixQuery['probeCell']>['human']>;

export function matrixRows(matrices: { human: Matrix | null; model: Matrix | null }): MatrixRow[] {
  const rows: MatrixRow[] = [];
  for (const key of ['human', 'model'] as const) {
    const matrix = matrices[key];
    if (!matrix) continue;
    matrix.attributes.forEach((rowAttribute, i) => {
      matrix.attributes.forEach((columnAttribute, j) => {
        rows.push({ source: MATRIX_SOURCES[key], row: rowAttribute.name, column: columnAttribute.name, value: matrix.values[i]?.[j] ?? null });
      });
    });
  }
  return rows;
}

export function drawMatrix(container: HTMLElement, rows: MatrixRow[], attributes: string[], options: { width: number }): void {
  const sources = [...new Set(rows.map((row) => row.source))];
  const side = Math.min(520, Math.floor((options.width - 150) / Math.max(1, sources.length)));
  const figure = Plot.plot({
    width: side * sources.length + 140,
    height: side + 120,
    marginLeft: 110,
    marginBottom: 100,
    padding: 0,
    fx: { label: null, domain: sources },
    x: { domain: attributes, tickRotate: -90, label: null, tickSize: 0 },
    y: { domain: attributes, label: null, tickSize: 0 },
    color: { type: 'diverging', scheme: 'PuOr', domain: [-1, 1], pivot: 0, legend: true, label: 'Pearson r between attributes' },
    marks: [
      Plot.cell(rows.filter((row) => row.value !== null), {
        fx: 'source',
        x: 'column',
        y: 'row',
        fill: 'value',
        title: (row: MatrixRow) => `${row.source}: ${row.row} × ${row.column} = ${num(row.value)}`,
        className: 'matrix-cell',
      }),
    ],
  });
  container.append(figure);
}
