// Seeded randomness for folds, permutations and bootstrap: every random choice in a probe run is a
// pure function of its seed, so a re-run (or a resumed run) reproduces it exactly.

import { mulberry32 } from '../random.ts';

/** mulberry32 (src/random.ts): a small, fast 32-bit generator; uniform in [0, 1). */
export const seededRandom = mulberry32;

/** Derives independent streams from one seed (e.g. one per permutation) by hashing (seed, stream). */
export function deriveSeed(seed: number, stream: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
