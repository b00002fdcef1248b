/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Ridge CV against a direct float64 reference: standardise on the training fold, solve the normal
// equations, brute-force leave-one-out by refitting. Both decomposition paths (d ≥ n: Gram; d < n:
// cross-product), both Gram methods (stacked, per-alpha) and both product backends (TypeScript loops
// and onnxruntime-node) are checked; then the float32 alpha screen against float64 sums and the
// per-alpha path on a realistic cell (real Binder ratings and 20 permuted copies as targets).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { PROJECT_ROOT } from '../../src/config.ts';
import { cellPermutations } from '../../src/probes/cell.ts';
import { assignFolds, foldMembers } from '../../src/probes/folds.ts';
import { createOnnxBackend, typescriptBackend, type MatmulBackend } from '../../src/probes/matmul-backend.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { ridgeCrossValidate } from '../../src/probes/ridge.ts';
import { bruteForceLoo, gaussianSampler, predict, ridgeNormalEquations, standardiseAll } from './reference.ts';

const ALPHAS = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5];

function problem(n: number, d: number, q: number, seed: number) {
  const normal = gaussianSampler(seededRandom(seed));
  const features = new Float64Array(n * d).map(() => normal());
  const weights = new Float64Array(d * q).map(() => normal());
  const targets = new Float64Array(n * q);
  for (let i = 0; i < n; i++) for (let c = 0; c < q; c++) {
    let s = 2 + c; // non-zero intercepts
    for (let j = 0; j < d; j++) s += features[i * d + j]! * weights[j * q + c]! * 0.3;
    targets[i * q + c] = s + normal() * (c + 1);
  }
  return { features, targets };
}

let onnx: MatmulBackend;
beforeAll(async () => {
  onnx = await createOnnxBackend({ minMultiplyAdds: 0 }); // every product through ONNX Runtime
});

describe.each([
  ['d > n (Gram path)', 40, 50, 'gram'],
  ['d < n (cross-product path)', 60, 8, 'covariance'],
])('%s', (_label, n, d, path) => {
  const q = 4;
  const { features, targets } = problem(n, d, q, n + d);
  const foldOf = assignFolds(n, 5, 1);
  const referenceLoo: Float64Array[][] = []; // brute-force LOO per fold, shared by both backends

  test.each([['typescript', 'stacked'], ['onnxruntime', 'stacked'], ['typescript', 'per-alpha'], ['onnxruntime', 'per-alpha']] as const)('out-of-fold predictions and alpha choices match the reference (%s products, %s Gram method)', async (backendName, method) => {
    const backend = backendName === 'typescript' ? typescriptBackend : onnx;
    const result = await ridgeCrossValidate({ features, n, d, targets, columns: q, foldOf, alphas: ALPHAS, keepLooErrors: true, method }, backend);
    expect(result.paths.every((p) => p === path)).toBe(true);
    let worst = 0, worstLoo = 0;
    result.folds.forEach((test, f) => {
      const testSet = new Set(test);
      const train = [...Array(n).keys()].filter((i) => !testSet.has(i));
      const x = standardiseAll(features, n, d, train);
      const trainX = new Float64Array(train.length * d), trainY = new Float64Array(train.length * q);
      train.forEach((row, r) => {
        trainX.set(x.subarray(row * d, (row + 1) * d), r * d);
        trainY.set(targets.subarray(row * q, (row + 1) * q), r * q);
      });
      const looByAlpha = (referenceLoo[f] ??= ALPHAS.map((alpha) => bruteForceLoo(trainX, trainY, train.length, d, q, alpha)));
      for (let c = 0; c < q; c++) {
        // exact LOO equals brute-force LOO for every alpha, and the chosen alpha is the brute-force argmin
        looByAlpha.forEach((errors, a) => {
          const ours = result.looErrors![(f * ALPHAS.length + a) * q + c]!;
          worstLoo = Math.max(worstLoo, Math.abs(ours - errors[c]!) / errors[c]!);
        });
        let best = 0;
        looByAlpha.forEach((errors, a) => { if (errors[c]! < looByAlpha[best]![c]!) best = a; });
        expect(result.chosenAlpha[f * q + c]).toBe(best);
        const fit = ridgeNormalEquations(x, targets, train, d, q, ALPHAS[best]!);
        for (const row of test) worst = Math.max(worst, Math.abs(result.predictions[row * q + c]! - predict(x, row, d, q, fit, c)));
      }
    });
    expect(worst).toBeLessThan(1e-8);
    expect(worstLoo).toBeLessThan(1e-8);
    // the grid is exercised: not every choice sits at one end
    expect(new Set(result.chosenAlpha).size).toBeGreaterThan(1);
  });
});

test('a fold never trains on its own test concepts, and every concept is predicted exactly once', async () => {
  const n = 30, d = 5;
  const { features, targets } = problem(n, d, 1, 9);
  const foldOf = assignFolds(n, 6, 4);
  const result = await ridgeCrossValidate({ features, n, d, targets, columns: 1, foldOf, alphas: [1] });
  const seen = new Int32Array(n);
  for (const test of result.folds) for (const row of test) seen[row]!++;
  expect([...seen]).toEqual(new Array(n).fill(1));
  expect(result.folds).toEqual(foldMembers(foldOf));
  // Changing one test concept's target must not change its own prediction (it is not in its training set).
  const changed = Float64Array.from(targets);
  changed[0] = 1e6;
  const again = await ridgeCrossValidate({ features, n, d, targets: changed, columns: 1, foldOf, alphas: [1] });
  expect(again.predictions[0]).toBeCloseTo(result.predictions[0]!, 9);
});

test('bad input is rejected with the offending argument named', async () => {
  const features = new Float64Array(20);
  await expect(ridgeCrossValidate({ features, n: 10, d: 3, targets: new Float64Array(10), columns: 1, foldOf: new Int32Array(10), alphas: [1] })).rejects.toThrow(/features has 20 values/);
  await expect(ridgeCrossValidate({ features, n: 10, d: 2, targets: new Float64Array(10), columns: 1, foldOf: assignFolds(10, 2, 0), alphas: [0] })).rejects.toThrow(/alphas/);
  const targets = new Float64Array(10);
  targets[3] = NaN;
  await expect(ridgeCrossValidate({ features, n: 10, d: 2, targets, columns: 1, foldOf: assignFolds(10, 2, 0), alphas: [1] })).rejects.toThrow(/row 3, column 0/);
});

describe('the float32 alpha screen on a realistic cell', () => {
  // n = 275 real Binder concepts; 12 attributes and 20 jointly permuted copies as targets, plus one
  // constant column (every alpha ties: the screen must leave it to float64, where the first wins);
  // d = 400 Gaussian features carrying a weak signal of the first attributes.
  const rows: Record<string, string>[] = parse(readFileSync(path.join(PROJECT_ROOT, 'data/norms/binder2016/ratings.csv'), 'utf8'), { columns: true });
  const names = Object.keys(rows[0]!).filter((key) => key !== 'concept' && rows.every((row) => Number.isFinite(Number(row[key])))).slice(0, 12);
  const n = rows.length, m = names.length, d = 400, permutations = 20;
  const columns = m * (1 + permutations) + 1;
  const normal = gaussianSampler(seededRandom(77));
  const features = new Float32Array(n * d).map(() => normal());
  const targets = new Float64Array(n * columns);
  const shuffles = cellPermutations(n, permutations, 5);
  for (let i = 0; i < n; i++) {
    names.forEach((name, a) => {
      const value = (row: number) => Number(rows[row]![name]);
      targets[i * columns + a] = value(i);
      shuffles.forEach((perm, p) => (targets[i * columns + (p + 1) * m + a] = value(perm[i]!)));
      if (a < 4) for (let j = 0; j < 8; j++) features[i * d + a * 8 + j]! += 0.5 * value(i);
    });
    targets[i * columns + columns - 1] = 3;
  }
  const foldOf = assignFolds(n, 10, 0);
  const input = { features, n, d, targets, columns, foldOf, alphas: ALPHAS, parallel: false };

  test('chooses the alphas of the float64 sums and the per-alpha path, and predicts the same values', async () => {
    const screened = await ridgeCrossValidate(input, onnx);
    const exact = await ridgeCrossValidate({ ...input, keepLooErrors: true }, onnx);
    const perAlpha = await ridgeCrossValidate({ ...input, keepLooErrors: true, method: 'per-alpha' }, onnx);
    expect(screened.paths.every((p) => p === 'gram')).toBe(true);
    expect(screened.looErrors).toBeUndefined();
    // The screen decided most choices in float32 and left the close ones (at least the constant column's) to float64.
    expect(screened.decidedInFloat64).toBeGreaterThanOrEqual(10);
    expect(screened.decidedInFloat64).toBeLessThan(screened.chosenAlpha.length / 2);
    expect(exact.decidedInFloat64).toBe(0);
    expect([...screened.chosenAlpha]).toEqual([...exact.chosenAlpha]);
    let worst = 0;
    for (let t = 0; t < exact.predictions.length; t++) worst = Math.max(worst, Math.abs(screened.predictions[t]! - exact.predictions[t]!));
    expect(worst).toBeLessThan(1e-12);
    for (let f = 0; f < 10; f++) expect(screened.chosenAlpha[f * columns + columns - 1]).toBe(0); // all tied: the first alpha
    expect(new Set(screened.chosenAlpha).size).toBeGreaterThan(2);
    // Against the per-alpha path: same LOO sums to its accuracy, the same alpha wherever its two
    // smallest LOO sums differ by more than that accuracy, and the same predictions there.
    const A = ALPHAS.length;
    let worstLoo = 0, compared = 0, worstPrediction = 0;
    for (let f = 0; f < 10; f++) {
      for (let c = 0; c < columns - 1; c++) {
        const sums = Array.from({ length: A }, (_, a) => perAlpha.looErrors![(f * A + a) * columns + c]!);
        sums.forEach((v, a) => (worstLoo = Math.max(worstLoo, Math.abs(v - exact.looErrors![(f * A + a) * columns + c]!) / v)));
        const sorted = [...sums].sort((x, y) => x - y);
        if ((sorted[1]! - sorted[0]!) / sorted[0]! < 1e-6) continue;
        compared++;
        expect(screened.chosenAlpha[f * columns + c]).toBe(perAlpha.chosenAlpha[f * columns + c]);
        for (const row of exact.folds[f]!) worstPrediction = Math.max(worstPrediction, Math.abs(screened.predictions[row * columns + c]! - perAlpha.predictions[row * columns + c]!));
      }
    }
    expect(worstLoo).toBeLessThan(1e-6);
    expect(compared).toBeGreaterThan(0.95 * 10 * (columns - 1));
    expect(worstPrediction).toBeLessThan(1e-8);
  }, 120_000);
});
