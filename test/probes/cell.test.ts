// The whole per-cell computation on synthetic data whose answer is known: a linear signal must be
// recovered (r ≈ 1, 2-vs-2 ≈ 1, p at its floor), and unrelated targets must score at the chance
// level that the permutation control measures (2-vs-2 ≈ 0.5; cross-validated r is NOT centred on 0
// under the null — see docs/metrics.md — so it is compared to the permutation null instead).
import { probeCell } from '../../src/probes/cell.ts';
import { assignFolds } from '../../src/probes/folds.ts';
import { pearson, twoVsTwo } from '../../src/probes/metrics.ts';
import { seededPermutation, seededRandom } from '../../src/probes/random.ts';
import { ridgeCrossValidate } from '../../src/probes/ridge.ts';
import { gaussianSampler } from './reference.ts';

const ALPHAS = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5];

test('a known linear signal is recovered: r ≈ 1, 2-vs-2 ≈ 1, minimal p-value, chance measured near 0.5', async () => {
  const n = 120, d = 30, m = 6, P = 19;
  const normal = gaussianSampler(seededRandom(11));
  const features = new Float32Array(n * d).map(() => normal());
  const weights = new Float64Array(d * m).map(() => normal());
  const ratings = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) {
    let s = 3;
    for (let j = 0; j < d; j++) s += features[i * d + j]! * weights[j * m + a]!;
    ratings[i * m + a] = s + 0.01 * normal();
  }
  const result = await probeCell({
    features, n, d, ratings, attributes: m, groups: [[0, 1, 2], [3, 4, 5]], foldOf: assignFolds(n, 10, 0),
    alphas: ALPHAS, permutations: P, bootstrap: 200, seed: 0,
  });
  for (const a of result.attributes) {
    expect(a.pearsonR).toBeGreaterThan(0.999);
    expect(a.r2).toBeGreaterThan(0.99);
    expect(a.twoVsTwo).toBeGreaterThan(0.98);
    expect(a.pValue).toBeCloseTo(1 / (P + 1), 12);
    expect(Math.abs(a.nullTwoVsTwo! - 0.5)).toBeLessThan(0.1);
    expect(a.nullPearsonR!).toBeLessThan(0.3);
    expect(a.alpha).toBeLessThanOrEqual(1);
  }
  expect(result.groups).toHaveLength(2 * 3);
  for (const g of result.groups) expect(g.ciLow).toBeLessThanOrEqual(g.mean);
  expect(result.attributeRsa).toBeGreaterThan(0.99);
  expect(result.attributeTwoVsTwo).toBeGreaterThan(0.9);
  expect(result.conceptTwoVsTwo).toBeGreaterThan(0.95);
  expect(result.pairAccuracies).toHaveLength((m * (m - 1)) / 2);
});

test('targets unrelated to the features score at the measured chance level', async () => {
  const n = 100, d = 20, columns = 80;
  const normal = gaussianSampler(seededRandom(5));
  const features = new Float64Array(n * d).map(() => normal());
  // Half the columns: signal targets shuffled over concepts (the "shuffled labels" case);
  // the other half: fresh noise. Both are null; their metrics must agree within sampling spread.
  const signal = new Float64Array(n);
  for (let i = 0; i < n; i++) signal[i] = features[i * d]! + features[i * d + 1]!;
  const targets = new Float64Array(n * columns);
  for (let c = 0; c < columns; c++) {
    const perm = seededPermutation(n, 1000 + c);
    for (let i = 0; i < n; i++) targets[i * columns + c] = c < columns / 2 ? signal[perm[i]!]! + 0.3 * normal() : normal();
  }
  const cv = await ridgeCrossValidate({ features, n, d, targets, columns, foldOf: assignFolds(n, 10, 0), alphas: ALPHAS });
  const accuracies = Array.from({ length: columns }, (_, c) => twoVsTwo(cv.predictions, targets, columns, c, cv.folds));
  const rs = Array.from({ length: columns }, (_, c) => pearson(cv.predictions, targets, n, columns, c));
  const summary = (values: number[]) => {
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
    return { mean, se: sd / Math.sqrt(values.length) };
  };
  // 2-vs-2: chance is exactly 0.5 by symmetry; allow 4 standard errors of the mean over columns.
  const acc = summary(accuracies);
  expect(Math.abs(acc.mean - 0.5)).toBeLessThan(4 * acc.se);
  // r: shuffled-signal and pure-noise columns come from the same null distribution.
  const shuffled = summary(rs.slice(0, columns / 2)), noise = summary(rs.slice(columns / 2));
  expect(Math.abs(shuffled.mean - noise.mean)).toBeLessThan(4 * Math.hypot(shuffled.se, noise.se));
  // and that null sits well below any real signal, at or below 0 (CV r is biased downwards under the null)
  expect(shuffled.mean).toBeLessThan(4 * shuffled.se);
  expect(shuffled.mean).toBeGreaterThan(-0.4);
});
