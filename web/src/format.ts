// Number and label formatting shared by the charts, their tooltips and captions.
import type { Metric } from './generated/operations.ts';

export const METRIC_LABELS: Record<string, string> = {
  PEARSON_R: 'Pearson r',
  R2: 'R²',
  TWO_VS_TWO: '2-vs-2 accuracy',
  SIGNIFICANT_SHARE: 'share significant (q < 0.05)',
  ATTRIBUTE_TWO_VS_TWO: 'attribute-pair 2-vs-2',
  ATTRIBUTE_RSA: 'attribute RSA',
  CONCEPT_TWO_VS_TWO: 'concept-profile 2-vs-2',
};

export function metricLabel(metric: Metric | string): string {
  return METRIC_LABELS[metric] ?? metric.toLowerCase().replace(/_/g, ' ');
}

export function num(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);
}

export function interval(low: number | null | undefined, high: number | null | undefined): string {
  return low === null || low === undefined || high === null || high === undefined ? 'no interval (n < 2)' : `95% [${num(low)}, ${num(high)}]`;
}

/** "measured chance 0.012 (n 650; theoretical 0)" or, without controls, the theoretical level. */
export function chanceText(chance: { theoretical: number; measured: number | null; measuredScoreCount?: number }): string {
  if (chance.measured === null) return `chance ${num(chance.theoretical)} (theoretical; no shuffled-ratings control stored)`;
  const count = chance.measuredScoreCount === undefined ? '' : `, from ${chance.measuredScoreCount} controls`;
  return `measured chance ${num(chance.measured)} (theoretical ${num(chance.theoretical)}${count})`;
}

export function chanceLevel(chance: { theoretical: number; measured: number | null }): number {
  return chance.measured ?? chance.theoretical;
}
