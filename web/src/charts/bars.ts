// Per-attribute bars for one probe cell, sorted, coloured by whether the attribute passes the
// permutation test after FDR (q < 0.05; blue vs grey, and a × marker on every failing bar, so
// colour is never the only cue), with the cell's measured chance level as a dashed rule and the
// noise ceilings where the norms dataset has them.
import * as Plot from '@observablehq/plot';
import type { AtlasCellScoresQuery, Metric } from '../generated/operations.ts';
import type { Row } from '../export.ts';
import { chanceLevel, metricLabel, num } from '../format.ts';

export const BAR_COLUMNS = ['attribute', 'attributeGroup', 'value', 'pValue', 'qValue', 'passes'];
export const SIGNIFICANCE = 0.05;

export interface BarRow extends Row {
  attribute: string;
  attributeGroup: string;
  value: number;
  pValue: number | null;
  qValue: number | null;
  passes: string;
}

type Score = NonNullable<AtlasCellScoresQuery['probeCell']>['probeScores']['nodes'][number];

function metricValue(score: Score, metric: Metric | string): number {
  if (metric === 'R2') return score.r2;
  if (metric === 'TWO_VS_TWO') return score.twoVsTwo;
  return score.pearsonR;
}

export function barRows(data: AtlasCellScoresQuery, metric: Metric | string): BarRow[] {
  const scores = data.probeCell?.probeScores.nodes ?? [];
  return scores
    .map((score) => {
      const test = score.qValue ?? score.pValue;
      return {
        attribute: score.attribute.name,
        attributeGroup: score.attribute.attributeGroup.name,
        value: metricValue(score, metric),
        pValue: score.pValue,
        qValue: score.qValue,
        passes: test === null ? 'untested' : test < SIGNIFICANCE ? 'yes' : 'no', // strictly below, as SIGNIFICANT_SHARE and canReachSignificance count
      };
    })
    .sort((a, b) => b.value - a.value || a.attribute.localeCompare(b.attribute));
}

const LEGEND: Record<string, string> = {
  yes: `passes the permutation test (q < ${SIGNIFICANCE})`,
  no: `fails it (q ≥ ${SIGNIFICANCE})`,
  untested: 'no permutation test stored',
};

export function drawBars(
  container: HTMLElement,
  data: AtlasCellScoresQuery,
  rows: BarRow[],
  options: { width: number; metric: string; selectedGroup?: string; noiseCeiling?: Array<{ attribute: string; ceiling: number }> },
): void {
  const chance = data.grid.chance ? chanceLevel(data.grid.chance) : 0;
  const present = (['yes', 'no', 'untested'] as const).filter((kind) => rows.some((row) => row.passes === kind));
  const figure = Plot.plot({
    width: options.width,
    height: rows.length * 15 + 70,
    marginLeft: 130,
    x: { label: metricLabel(options.metric), grid: true },
    y: { label: null, domain: rows.map((row) => row.attribute) },
    color: { domain: present.map((kind) => LEGEND[kind]!), range: present.map((kind) => ({ yes: '#0072B2', no: '#BBBBBB', untested: '#999999' })[kind]), legend: true },
    marks: [
      Plot.barX(rows, {
        x: 'value',
        y: 'attribute',
        fill: (row: BarRow) => LEGEND[row.passes],
        stroke: (row: BarRow) => (row.attributeGroup === options.selectedGroup ? '#000' : 'none'),
        title: (row: BarRow) => `${row.attribute} (${row.attributeGroup}): ${num(row.value)}, p ${num(row.pValue)}, q ${num(row.qValue)}`,
        className: 'attribute-bar',
      }),
      Plot.dot(rows.filter((row) => row.passes === 'no'), { x: 'value', y: 'attribute', symbol: 'times', r: 3.5, stroke: '#000', className: 'fails-permutation-test' }),
      ...(options.noiseCeiling?.length ? [Plot.tickX(options.noiseCeiling, { x: 'ceiling', y: 'attribute', stroke: '#009E73', strokeWidth: 2, className: 'noise-ceiling' })] : []),
      Plot.ruleX([0]),
      Plot.ruleX([chance], { stroke: '#444', strokeDasharray: '4 3', className: 'chance-line' }),
    ],
  });
  container.append(figure);
}
