// Outer K-fold assignment over concepts: a seeded shuffle cut into K contiguous chunks whose sizes
// differ by at most one. Assigned once per probe run over its whole concept list, so every cell of
// the run (every layer and timestep) is evaluated on the same folds and cells are paired.
import { seededPermutation } from './random.ts';

/** foldOf[i] = the outer fold (0..k-1) of item i. */
export function assignFolds(n: number, k: number, seed: number): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`folds must be an integer ≥ 2, got ${k}.`);
  if (n < k) throw new RangeError(`Cannot split ${n} concepts into ${k} folds.`);
  const order = seededPermutation(n, seed);
  const foldOf = new Int32Array(n);
  const base = Math.floor(n / k);
  const larger = n % k; // the first `larger` folds get one extra item, as scikit-learn's KFold
  let position = 0;
  for (let fold = 0; fold < k; fold++) {
    const size = base + (fold < larger ? 1 : 0);
    for (let s = 0; s < size; s++) foldOf[order[position++]!] = fold;
  }
  return foldOf;
}

/** Members of each fold, ascending. Folds left empty by a subset are dropped. */
export function foldMembers(foldOf: Int32Array): Int32Array[] {
  const lists = new Map<number, number[]>();
  foldOf.forEach((fold, i) => {
    let list = lists.get(fold);
    if (!list) lists.set(fold, (list = []));
    list.push(i);
  });
  return [...lists.keys()].sort((a, b) => a - b).map((fold) => Int32Array.from(lists.get(fold)!));
}
