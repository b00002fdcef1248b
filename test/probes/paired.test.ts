// The paired comparison's numeric core on arrays: the statistic against the project's own metrics,
// the size of the permutation test on null data (the two selections exchangeable per concept: p
// uniform, ~5% below 0.05 over many fixed seeds), its power and the bootstrap's coverage on a planted
// difference, and determinism. Fixed seeds throughout, so every run sees the same numbers.
import { pairedComparison, type PairedInput, type PairedMetric } from '../../src/probes/paired.ts';
import { pearson, rSquared } from '../../src/probes/metrics.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { gaussianSampler } from './reference.ts';

/** Ratings n × m and, per cell, predictions `signal · truth + noise` with independent noise. */
function dataset(seed: number, n: number, m: number, leftSignals: number[], rightSignals: number[]) {
  const normal = gaussianSampler(seededRandom(seed));
  const truth = new Float64Array(n * m).map(() => 3 + normal());
  const cell = (signal: number) => truth.map((t) => signal * (t - 3) + normal());
  return { n, attributes: m, truth, left: leftSignals.map(cell), right: rightSignals.map(cell) };
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

test('the statistic is the left mean minus the right mean of the per-attribute metric, as src/probes/metrics.ts computes it', () => {
  const data = dataset(11, 40, 3, [0.8, 0.5], [0.2]);
  const metrics: [PairedMetric, typeof pearson][] = [['pearson_r', pearson], ['r2', rSquared]];
  for (const [metric, reference] of metrics) {
    const result = pairedComparison({ ...data, metric, bootstrapCount: 0, permutationCount: 0, seed: 0 });
    const sideMean = (cells: Float64Array[]) => mean(cells.flatMap((cell) => [0, 1, 2].map((a) => reference(cell, data.truth, 40, 3, a))));
    expect(result.leftMean).toBeCloseTo(sideMean(data.left), 12);
    expect(result.rightMean).toBeCloseTo(sideMean(data.right), 12);
    expect(result.difference).toBeCloseTo(sideMean(data.left) - sideMean(data.right), 12);
    expect(result).toMatchObject({ ciLow: null, ciHigh: null, pValue: null });
  }
});

test('identical selections: difference 0, p = 1, and the interval is the point', () => {
  const data = dataset(3, 30, 2, [0.6], [0.6]);
  const result = pairedComparison({ ...data, right: data.left, metric: 'pearson_r', bootstrapCount: 50, permutationCount: 99, seed: 1 });
  expect(result.difference).toBe(0);
  expect(result.pValue).toBe(1);
  expect([result.ciLow, result.ciHigh]).toEqual([0, 0]);
});

test('deterministic in the seed; another seed gives another (close) interval', () => {
  const input: PairedInput = { ...dataset(5, 50, 3, [0.7], [0.4]), metric: 'pearson_r', bootstrapCount: 300, permutationCount: 300, seed: 7 };
  const a = pairedComparison(input);
  expect(pairedComparison(input)).toEqual(a);
  const b = pairedComparison({ ...input, seed: 8 });
  expect(b.difference).toBe(a.difference);
  expect(b.ciLow).not.toBe(a.ciLow);
  expect(Math.abs(b.ciLow! - a.ciLow!)).toBeLessThan(0.1);
});

/** p-values of `count` null datasets (all cells with the same signal: exchangeable per concept). */
function nullPValues(count: number, left: number[], right: number[], metric: PairedMetric): number[] {
  const values: number[] = [];
  for (let seed = 0; seed < count; seed++) {
    const data = dataset(1_000 + seed, 30, 3, left, right);
    values.push(pairedComparison({ ...data, metric, bootstrapCount: 0, permutationCount: 99, seed }).pValue!);
  }
  return values;
}

test.each([
  ['one cell a side (the sign flip), Pearson r', [0.5], [0.5], 'pearson_r' as const],
  ['two cells left, one right, R²', [0.5, 0.5], [0.5], 'r2' as const],
])('right size on null data: p is uniform, about 5%% below 0.05 (%s)', (_name, left, right, metric) => {
  const count = 300;
  const p = nullPValues(count, left, right, metric);
  const below = (x: number) => p.filter((value) => value <= x).length / count;
  // Binomial sd of a 5% share over 300 datasets is 1.3%; a broken test (e.g. unpaired, or p from
  // one side only) lands far outside.
  expect(below(0.05)).toBeGreaterThan(0.015);
  expect(below(0.05)).toBeLessThan(0.09);
  // Uniform overall: the empirical CDF stays within a Kolmogorov–Smirnov band (1% level: 1.63/√300).
  for (const x of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) expect(Math.abs(below(x) - x)).toBeLessThan(0.094);
  expect(Math.min(...p)).toBeGreaterThanOrEqual(1 / 100);
});

test('power on a planted difference: small p, and a bootstrap interval that excludes 0 and covers the true difference', () => {
  const n = 100;
  // Population r of signal·t + noise with unit variances: signal / √(signal² + 1).
  const truthDifference = 0.6 / Math.sqrt(1.36) - 0.3 / Math.sqrt(1.09);
  let significant = 0;
  let covered = 0;
  let excludesZero = 0;
  const seeds = 30;
  for (let seed = 0; seed < seeds; seed++) {
    const data = dataset(5_000 + seed, n, 4, [0.6], [0.3]);
    const result = pairedComparison({ ...data, metric: 'pearson_r', bootstrapCount: 300, permutationCount: 99, seed });
    if (result.pValue! < 0.05) significant++;
    if (result.ciLow! <= truthDifference && truthDifference <= result.ciHigh!) covered++;
    if (result.ciLow! > 0) excludesZero++;
  }
  expect(significant / seeds).toBeGreaterThan(0.9);
  expect(excludesZero / seeds).toBeGreaterThan(0.9);
  expect(covered / seeds).toBeGreaterThan(0.85);
});

test('the paired interval is narrower than an unpaired one when the two selections share their errors', () => {
  // Both cells see the same concept-level noise (as neighbouring layers do); only a small part differs.
  const normal = gaussianSampler(seededRandom(99));
  const n = 80, m = 2;
  const truth = new Float64Array(n * m).map(() => normal());
  const shared = truth.map(() => normal());
  const left = truth.map((t, i) => 0.5 * t + shared[i]! + 0.2 * normal());
  const right = truth.map((t, i) => 0.45 * t + shared[i]! + 0.2 * normal());
  const paired = pairedComparison({ metric: 'pearson_r', n, attributes: m, truth, left: [left], right: [right], bootstrapCount: 400, permutationCount: 0, seed: 0 });
  // Unpaired: each side resampled on its own (against the ratings themselves, r = 1 in every replicate).
  const alone = (cell: Float64Array, seed: number) => pairedComparison({ metric: 'pearson_r', n, attributes: m, truth, left: [cell], right: [truth], bootstrapCount: 400, permutationCount: 0, seed });
  const l = alone(left, 1), r = alone(right, 2);
  const unpairedWidth = Math.hypot(l.ciHigh! - l.ciLow!, r.ciHigh! - r.ciLow!);
  expect(paired.ciHigh! - paired.ciLow!).toBeLessThan(0.5 * unpairedWidth);
});

test('inconsistent shapes are refused, naming what is wrong', () => {
  const data = dataset(1, 10, 2, [0.5], [0.5]);
  const base = { ...data, metric: 'pearson_r' as const, bootstrapCount: 0, permutationCount: 0, seed: 0 };
  expect(() => pairedComparison({ ...base, right: [] })).toThrow(/each side needs at least one cell/);
  expect(() => pairedComparison({ ...base, left: [new Float64Array(19)] })).toThrow(/cell 0 has 19 predictions, expected 20/);
  expect(() => pairedComparison({ ...base, permutationCount: -1 })).toThrow(/permutationCount/);
});
