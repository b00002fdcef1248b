// The paired comparison of two selections of probe cells on the same concepts (issue 10 item 4):
// "is the text encoder's last layer better than this UNet block at this timestep, for the Vision
// attributes?" Both selections predicted the same attributes of the same concepts, so the question
// is paired over concepts, and the descriptive Welch interval of the grid (which treats attribute
// scores as independent draws) cannot answer it. From the stored out-of-fold predictions (no refit):
// - the statistic D = mean over the left cells' (cell, attribute) scores − the same over the right;
// - a paired percentile bootstrap over concepts: one multiplicity vector per replicate, applied to
//   both sides at once, each score recomputed weighted (as src/probes/bootstrap.ts does);
// - a permutation p-value: per concept, its prediction rows are shuffled among the selection's cells
//   (left and right together, the same shuffle for every attribute of the concept). With one cell on
//   each side this is the sign flip of the paired design: each concept's two predictions swap sides
//   with probability 1/2. Two-sided: p = (1 + #{|D*| ≥ |D|}) / (1 + P).
// Pure numerics on typed arrays, no I/O; tested on arrays (test/probes/paired.test.ts).
import { quantileSorted } from './bootstrap.ts';
import { deriveSeed, seededRandom } from './random.ts';

/** The per-attribute metrics a paired comparison can recompute from predictions alone (2-vs-2 needs the folds). */
export type PairedMetric = 'pearson_r' | 'r2';
export const PAIRED_METRICS: readonly PairedMetric[] = ['pearson_r', 'r2'];

export interface PairedInput {
  metric: PairedMetric;
  /** Concepts (rows). */
  n: number;
  /** Attributes (columns), the same on both sides. */
  attributes: number;
  /** Human ratings, n × attributes row-major. */
  truth: Float64Array;
  /** One n × attributes row-major prediction matrix per probe cell of the left selection (at least one). */
  left: readonly Float64Array[];
  /** The same for the right selection (at least one). */
  right: readonly Float64Array[];
  /** Bootstrap replicates over concepts (0: no interval). */
  bootstrapCount: number;
  /** Random within-concept relabellings (0: no p-value). */
  permutationCount: number;
  seed: number;
  /** Confidence level of the interval, 0.95 by default. */
  level?: number;
}

export interface PairedResult {
  leftMean: number;
  rightMean: number;
  /** leftMean − rightMean, recomputed from the predictions. */
  difference: number;
  /** Percentile bootstrap interval on `difference`; null without replicates or when every replicate was undefined. */
  ciLow: number | null;
  ciHigh: number | null;
  /** Two-sided permutation p-value; null without permutations. At least 1 / (1 + permutationCount). */
  pValue: number | null;
}

/** Column moments of one cell's metric, reused across calls (sized for the attributes). */
class Moments {
  readonly sp: Float64Array;
  readonly st: Float64Array;
  readonly spp: Float64Array;
  readonly stt: Float64Array;
  readonly spt: Float64Array;
  constructor(m: number) {
    this.sp = new Float64Array(m);
    this.st = new Float64Array(m);
    this.spp = new Float64Array(m);
    this.stt = new Float64Array(m);
    this.spt = new Float64Array(m);
  }
}

/**
 * Mean over the attributes of one cell's metric, concepts weighted by `weight` (null: all 1), in one
 * row-major pass; concept i's predictions are row i of `source(i)` (a relabelling picks the cell per concept). NaN attributes (no variance under these weights) are left out of the mean; NaN
 * when all are.
 */
function cellMean(metric: PairedMetric, source: (i: number) => Float64Array, truth: Float64Array, n: number, m: number, weight: Float64Array | null, s: Moments): number {
  const { sp, st, spp, stt, spt } = s;
  sp.fill(0);
  st.fill(0);
  spp.fill(0);
  stt.fill(0);
  spt.fill(0);
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const w = weight === null ? 1 : weight[i]!;
    if (w === 0) continue;
    sw += w;
    const row = i * m;
    const predicted = source(i);
    for (let a = 0; a < m; a++) {
      const p = predicted[row + a]!;
      const t = truth[row + a]!;
      const wp = w * p;
      const wt = w * t;
      sp[a]! += wp;
      st[a]! += wt;
      spp[a]! += wp * p;
      stt[a]! += wt * t;
      spt[a]! += wp * t;
    }
  }
  let total = 0;
  let count = 0;
  for (let a = 0; a < m; a++) {
    // Centred sums from raw moments: the inputs are ratings-scale numbers stored as float32, far
    // from the cancellation regime of float64.
    const vp = spp[a]! - (sp[a]! * sp[a]!) / sw;
    const vt = stt[a]! - (st[a]! * st[a]!) / sw;
    let value: number;
    if (metric === 'pearson_r') {
      const cov = spt[a]! - (sp[a]! * st[a]!) / sw;
      value = vp > 0 && vt > 0 ? cov / Math.sqrt(vp * vt) : NaN;
    } else {
      // Σw (t − p)² = Σw t² − 2 Σw pt + Σw p².
      value = vt > 0 ? 1 - (stt[a]! - 2 * spt[a]! + spp[a]!) / vt : NaN;
    }
    if (!Number.isNaN(value)) {
      total += value;
      count++;
    }
  }
  return count > 0 ? total / count : NaN;
}

function check(input: PairedInput): void {
  const { n, attributes: m } = input;
  if (!Number.isInteger(n) || n < 3) throw new RangeError(`paired comparison: needs at least 3 concepts, got ${n}`);
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`paired comparison: needs at least 1 attribute, got ${m}`);
  if (input.truth.length !== n * m) throw new RangeError(`paired comparison: truth has ${input.truth.length} values, expected n × attributes = ${n * m}`);
  if (input.left.length === 0 || input.right.length === 0) throw new RangeError('paired comparison: each side needs at least one cell');
  [...input.left, ...input.right].forEach((cell, index) => {
    if (cell.length !== n * m) throw new RangeError(`paired comparison: cell ${index} has ${cell.length} predictions, expected ${n * m}`);
  });
  for (const [name, value] of [['bootstrapCount', input.bootstrapCount], ['permutationCount', input.permutationCount]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`paired comparison: ${name} must be an integer ≥ 0, got ${value}`);
  }
}

/**
 * The paired difference of the two selections' mean metric, its bootstrap interval over concepts
 * and its permutation p-value. Deterministic in `seed`: replicates use stream 0 of it, permutations stream 1.
 */
export function pairedComparison(input: PairedInput): PairedResult {
  check(input);
  const { metric, n, attributes: m, truth, left, right } = input;
  const level = input.level ?? 0.95;
  const moments = new Moments(m);
  const sideMean = (side: readonly Float64Array[], weight: Float64Array | null) => {
    let total = 0;
    let count = 0;
    for (const cell of side) {
      const value = cellMean(metric, () => cell, truth, n, m, weight, moments);
      if (!Number.isNaN(value)) {
        total += value;
        count++;
      }
    }
    return count > 0 ? total / count : NaN;
  };
  const leftMean = sideMean(left, null);
  const rightMean = sideMean(right, null);
  const difference = leftMean - rightMean;

  let ciLow: number | null = null;
  let ciHigh: number | null = null;
  if (input.bootstrapCount > 0) {
    const random = seededRandom(deriveSeed(input.seed, 0));
    const weight = new Float64Array(n);
    const draws: number[] = [];
    for (let b = 0; b < input.bootstrapCount; b++) {
      weight.fill(0);
      for (let s = 0; s < n; s++) weight[Math.floor(random() * n)]! += 1;
      const value = sideMean(left, weight) - sideMean(right, weight);
      if (!Number.isNaN(value)) draws.push(value);
    }
    if (draws.length > 0) {
      const sorted = Float64Array.from(draws).sort();
      ciLow = quantileSorted(sorted, (1 - level) / 2);
      ciHigh = quantileSorted(sorted, 1 - (1 - level) / 2);
    }
  }

  let pValue: number | null = null;
  if (input.permutationCount > 0 && !Number.isNaN(difference)) {
    pValue = permutationPValue(input, difference, moments);
  }
  return { leftMean, rightMean, difference, ciLow, ciHigh, pValue };
}

/**
 * Within-concept relabelling: slot s of concept i holds the predictions of cell order[s], a uniformly
 * random permutation of the K cells drawn per concept (the same for all its attributes). The
 * statistic is recomputed unweighted; |D*| ≥ |D| up to a relative 1e-12 counts as at least as
 * extreme (ties count against rejection, which keeps the test valid).
 */
function permutationPValue(input: PairedInput, observed: number, moments: Moments): number {
  const { metric, n, attributes: m, truth } = input;
  const cells = [...input.left, ...input.right];
  const K = cells.length;
  const leftCount = input.left.length;
  const random = seededRandom(deriveSeed(input.seed, 1));
  // order[i·K + s]: the cell whose predictions concept i has in slot s.
  const order = new Int32Array(n * K);
  const threshold = Math.abs(observed) * (1 - 1e-12);
  let extreme = 0;
  for (let p = 0; p < input.permutationCount; p++) {
    for (let i = 0; i < n; i++) {
      const base = i * K;
      for (let s = 0; s < K; s++) order[base + s] = s;
      for (let s = K - 1; s > 0; s--) {
        const j = Math.floor(random() * (s + 1));
        const t = order[base + s]!;
        order[base + s] = order[base + j]!;
        order[base + j] = t;
      }
    }
    let leftTotal = 0, leftDefined = 0, rightTotal = 0, rightDefined = 0;
    for (let s = 0; s < K; s++) {
      const value = cellMean(metric, (i) => cells[order[i * K + s]!]!, truth, n, m, null, moments);
      if (Number.isNaN(value)) continue;
      if (s < leftCount) {
        leftTotal += value;
        leftDefined++;
      } else {
        rightTotal += value;
        rightDefined++;
      }
    }
    const statistic = leftTotal / leftDefined - rightTotal / rightDefined;
    if (!(Math.abs(statistic) < threshold)) extreme++; // NaN counts as extreme (conservative)
  }
  return (1 + extreme) / (1 + input.permutationCount);
}
