// What a probe run's permutation tests can show at all (issue 10, "honest significance"). With P
// permutations the smallest p-value is 1/(P+1) (src/probes/fdr.ts: the +1 correction), and a
// Benjamini–Hochberg q-value is never smaller than the smallest p: q_(k) = min_{j ≥ k} M·p_(j)/j ≥
// p_(1). With 10 permutations no q can be below 0.09, so "nothing significant" says nothing about the
// probes; a run, the API and the CLI say so instead of leaving the reader to find out. Pure.

export interface SignificanceReach {
  /** 1/(P+1); null without permutations (no p-values). */
  minimumPValue: number | null;
  /** The smallest q any run with these settings can get: all its tests at the smallest p. */
  minimumQValue: number | null;
  /** Whether some q-value can be below `level` (strictly, as "q < 0.05"). */
  canReach: boolean;
  /** The fewest permutations with which a q-value can be below `level`. */
  permutationsNeeded: number;
  /**
   * For a q-value below `level`, at least this many of the run's `testCount` tests (cells ×
   * attributes, one BH family) must sit at the smallest p; null when unreachable or testCount unknown.
   */
  testsAtMinimumNeeded: number | null;
}

export function significanceReach(permutations: number, level: number, testCount?: number): SignificanceReach {
  if (!(level > 0 && level <= 1)) throw new RangeError(`significance level must be in (0, 1], got ${level}.`);
  // P + 1 > 1/level, i.e. P = floor(1/level) (exactly, for levels like 0.05 whose inverse is a whole number).
  const permutationsNeeded = Math.max(0, Math.floor(1 / level + 1e-9));
  if (!(permutations > 0)) return { minimumPValue: null, minimumQValue: null, canReach: false, permutationsNeeded, testsAtMinimumNeeded: null };
  const minimumPValue = 1 / (permutations + 1);
  const canReach = minimumPValue < level;
  // k tests at p = pMin give q = M·pMin/k among them; below level when k > M·pMin/level.
  const testsAtMinimumNeeded = canReach && testCount !== undefined && testCount > 0
    ? Math.min(testCount, Math.floor((testCount * minimumPValue) / level) + 1) : null;
  return { minimumPValue, minimumQValue: minimumPValue, canReach, permutationsNeeded, testsAtMinimumNeeded };
}

/**
 * The CLI's warning for a run of `attributeCount` attributes over `cellCount` cells, or null when
 * nothing needs saying: no q-value can be below `level`, or one can only when more than half of the
 * run's tests reach the smallest p.
 */
export function significanceWarning(permutations: number, attributeCount: number, cellCount: number, level = 0.05): string | null {
  const testCount = attributeCount * cellCount;
  const reach = significanceReach(permutations, level, testCount);
  if (reach.minimumPValue === null) return `--permutations 0: no p- or q-values are computed; use at least ${reach.permutationsNeeded} for a q-value below ${level} to be possible.`;
  const p = reach.minimumPValue.toPrecision(3);
  if (!reach.canReach) {
    return `with ${permutations} permutations the smallest p-value is 1/${permutations + 1} = ${p}, and no Benjamini–Hochberg q-value can be below it: ` +
      `no q-value of this run can be below ${level}. Use --permutations ${reach.permutationsNeeded} or more.`;
  }
  if (reach.testsAtMinimumNeeded !== null && reach.testsAtMinimumNeeded > testCount / 2) {
    return `with ${permutations} permutations (smallest p ${p}) a q-value below ${level} needs at least ${reach.testsAtMinimumNeeded} of the run's ` +
      `${testCount} tests (${attributeCount} attributes × ${cellCount} cells) at that smallest p; use more permutations.`;
  }
  return null;
}
