import { assignFolds, foldMembers } from '../../src/probes/folds.ts';
import { seededPermutation } from '../../src/probes/random.ts';

test('folds partition the concepts: disjoint, covering, sizes within one, deterministic by seed', () => {
  const n = 275, k = 10;
  const foldOf = assignFolds(n, k, 0);
  const folds = foldMembers(foldOf);
  expect(folds).toHaveLength(k);
  const all = folds.flatMap((f) => [...f]).sort((a, b) => a - b);
  expect(all).toEqual([...Array(n).keys()]); // union = all, and no concept twice (so train ∩ test = ∅)
  const sizes = folds.map((f) => f.length);
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  expect(assignFolds(n, k, 0)).toEqual(foldOf);
  expect(assignFolds(n, k, 1)).not.toEqual(foldOf);
  // shuffled, not contiguous: the first fold is not the first 28 concepts
  expect([...folds[0]!]).not.toEqual([...Array(28).keys()]);
});

test('bad fold counts are refused', () => {
  expect(() => assignFolds(5, 1, 0)).toThrow(/folds must be an integer ≥ 2/);
  expect(() => assignFolds(3, 4, 0)).toThrow(/Cannot split 3 concepts into 4 folds/);
});

test('seeded permutations are permutations and differ between seeds', () => {
  const a = seededPermutation(50, 1);
  expect([...a].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
  expect(seededPermutation(50, 1)).toEqual(a);
  expect(seededPermutation(50, 2)).not.toEqual(a);
});
