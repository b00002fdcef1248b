// Multiple-comparison control for the permutation tests of a probe run.

/** Permutation p-value with the +1 correction: p = (1 + #{null ≥ observed}) / (1 + P). NaN observations give NaN. */
export function permutationPValue(observed: number, nulls: ArrayLike<number>): number {
  if (Number.isNaN(observed)) return NaN;
  let atLeast = 0;
  for (let p = 0; p < nulls.length; p++) if (nulls[p]! >= observed) atLeast++;
  return (1 + atLeast) / (1 + nulls.length);
}

/**
 * Benjamini–Hochberg q-values: q_(k) = min_{j ≥ k} min(1, m·p_(j)/j) over the m p-values sorted
 * ascending. NaN p-values are left out of m and get NaN.
 */
export function benjaminiHochberg(pValues: ArrayLike<number>): Float64Array {
  const q = new Float64Array(pValues.length).fill(NaN);
  const order: number[] = [];
  for (let i = 0; i < pValues.length; i++) if (!Number.isNaN(pValues[i]!)) order.push(i);
  order.sort((a, b) => pValues[a]! - pValues[b]!);
  const m = order.length;
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const index = order[rank - 1]!;
    running = Math.min(running, (m * pValues[index]!) / rank);
    q[index] = running;
  }
  return q;
}
