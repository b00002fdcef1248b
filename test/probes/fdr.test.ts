import { benjaminiHochberg, permutationPValue } from '../../src/probes/fdr.ts';

test('Benjamini–Hochberg q-values match a hand-computed example', () => {
  // sorted p: .005 .01 .03 .04 .2 → m·p/rank: .025 .025 .05 .05 .2 → running minimum from the top
  const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005, 0.2]);
  const expected = [0.025, 0.05, 0.05, 0.025, 0.2];
  expected.forEach((v, i) => expect(q[i]).toBeCloseTo(v, 12));
});

test('a non-monotone example uses the running minimum, q is capped at 1, NaN p-values are left out', () => {
  // sorted: .01(1) .02(2) .025(3) .9(4) → 4p/rank: .04 .04 .0333 .9 → minimum from the top: .0333 .0333 .0333 .9
  const q = benjaminiHochberg([0.9, 0.02, NaN, 0.01, 0.025]);
  expect(q[0]).toBeCloseTo(0.9, 12);
  expect(q[1]).toBeCloseTo(0.1 / 3, 12);
  expect(Number.isNaN(q[2]!)).toBe(true);
  expect(q[3]).toBeCloseTo(0.1 / 3, 12);
  expect(q[4]).toBeCloseTo(0.1 / 3, 12);
  expect(benjaminiHochberg([1, 1])[0]).toBe(1);
});

test('permutation p-value counts nulls at least as large, with the +1 correction', () => {
  expect(permutationPValue(0.5, [0.1, 0.2, 0.5, 0.7])).toBeCloseTo(3 / 5, 12);
  expect(permutationPValue(0.9, [0.1, 0.2])).toBeCloseTo(1 / 3, 12);
  expect(Number.isNaN(permutationPValue(NaN, [0.1]))).toBe(true);
});
