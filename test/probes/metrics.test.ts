import { attributePairTwoVsTwo, attributeRsa } from '../../src/probes/disentanglement.ts';
import { assignFolds, foldMembers } from '../../src/probes/folds.ts';
import { conceptTwoVsTwo, pearson, rSquared, scoreColumns, twoVsTwo } from '../../src/probes/metrics.ts';
import { seededRandom } from '../../src/probes/random.ts';

const column = (values: number[]) => Float64Array.from(values);

test('Pearson r and R² on a hand example', () => {
  const t = column([1, 2, 3, 4]);
  const p = column([2, 2, 4, 4]);
  // r = cov/(sd·sd): centred p = [-1,-1,1,1], t = [-1.5,-.5,.5,1.5] → 4/(2·√5)
  expect(pearson(p, t, 4, 1, 0)).toBeCloseTo(4 / (2 * Math.sqrt(5)), 12);
  // SSres = 1+0+1+0 = 2, SStot = 5
  expect(rSquared(p, t, 4, 1, 0)).toBeCloseTo(1 - 2 / 5, 12);
  expect(Number.isNaN(pearson(column([1, 1, 1, 1]), t, 4, 1, 0))).toBe(true);
});

test('per-attribute 2-vs-2 counts same-fold pairs only, ties as one half, equal truths excluded', () => {
  const truth = column([1, 2, 3, 3]);
  const predicted = column([1.1, 1.9, 0, 5]);
  // fold A = {0,1}: |1.1-1|+|1.9-2| = .2 < |1.1-2|+|1.9-1| = 1.8 → correct
  // fold B = {2,3}: t equal → excluded
  expect(twoVsTwo(predicted, truth, 1, 0, [Int32Array.from([0, 1]), Int32Array.from([2, 3])])).toBe(1);
  // swapped predictions → wrong; identical predictions → tie 0.5
  expect(twoVsTwo(column([2, 1, 0, 0]), truth, 1, 0, [Int32Array.from([0, 1])])).toBe(0);
  expect(twoVsTwo(column([7, 7, 0, 0]), truth, 1, 0, [Int32Array.from([0, 1])])).toBe(0.5);
  // pairs across folds are never compared: one fold per concept → no pair → NaN
  expect(Number.isNaN(twoVsTwo(predicted, truth, 1, 0, [Int32Array.from([0]), Int32Array.from([1])]))).toBe(true);
});

test('concept 2-vs-2 (the profile 2-vs-2) is 1 for predictions equal to the truth profiles and 0 when profiles are swapped', () => {
  const truth = Float64Array.from([1, 5, 2, /* c1 */ 4, 1, 3]);
  const folds = [Int32Array.from([0, 1])];
  expect(conceptTwoVsTwo(truth, truth, 3, 3, folds)).toBe(1);
  const swapped = Float64Array.from([4, 1, 3, 1, 5, 2]);
  expect(conceptTwoVsTwo(swapped, truth, 3, 3, folds)).toBe(0);
});

test('attribute-pair 2-vs-2: perfect predictions → 1, entangled (identical) predictions → 0.5', () => {
  const n = 20, m = 3;
  const truth = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    truth[i * m] = i;
    truth[i * m + 1] = (i * 7) % 11;
    truth[i * m + 2] = Math.sin(i);
  }
  const perfect = attributePairTwoVsTwo(truth, truth, n, m, m);
  expect(perfect).toHaveLength(3);
  expect([...perfect].every((v) => v === 1)).toBe(true);
  // b predicted with a's z-scores: the two predictions carry the same information → every concept ties
  const stats = (a: number) => {
    const v = [...Array(n).keys()].map((i) => truth[i * m + a]!);
    const mean = v.reduce((s, x) => s + x, 0) / n;
    return { mean, sd: Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / n) };
  };
  const s0 = stats(0), s1 = stats(1);
  const entangled = Float64Array.from(truth);
  for (let i = 0; i < n; i++) entangled[i * m + 1] = s1.mean + s1.sd * ((truth[i * m]! - s0.mean) / s0.sd);
  expect(attributePairTwoVsTwo(entangled, truth, n, m, m)[0]).toBe(0.5);
});

test('attribute RSA is 1 for perfect predictions and lower when attribute relations are scrambled', () => {
  const n = 40, m = 5;
  const truth = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) truth[i * m + a] = Math.sin(i * (a + 1)) + (a % 2) * i / n;
  expect(attributeRsa(truth, truth, n, m, m)).toBeCloseTo(1, 12);
  const scrambled = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) scrambled[i * m + a] = truth[((i * 17 + a * 5) % n) * m + a]!;
  expect(attributeRsa(scrambled, truth, n, m, m)).toBeLessThan(0.9);
});

test('scoreColumns equals pearson, rSquared and twoVsTwo column by column, bit for bit', () => {
  const n = 90, columns = 37;
  const random = seededRandom(21);
  // Half-point ratings (ties), one constant column (NaN r and R², 2-vs-2 over no pair) and noisy predictions.
  const truth = new Float64Array(n * columns).map((_, t) => (t % columns === 5 ? 2 : Math.round(10 * random()) / 2));
  const predicted = truth.map((v) => v + random() - 0.5);
  const folds = foldMembers(assignFolds(n, 6, 2));
  const scores = scoreColumns(predicted, truth, n, columns, folds);
  for (let c = 0; c < columns; c++) {
    expect(scores.pearson[c]).toBe(pearson(predicted, truth, n, columns, c));
    expect(scores.r2[c]).toBe(rSquared(predicted, truth, n, columns, c));
    expect(scores.twoVsTwo[c]).toBe(twoVsTwo(predicted, truth, columns, c, folds));
  }
  expect(Number.isNaN(scores.pearson[5]!)).toBe(true);
  expect(scores.pearson.filter((r) => r > 0.5).length).toBeGreaterThan(30);
});
