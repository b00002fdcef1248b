// Group-level summaries with a percentile bootstrap over concepts: resample concepts with
// replacement, recompute each attribute's metric from the SAME out-of-fold predictions (no refit),
// average over the group's attributes, and take the 2.5th/97.5th percentiles of those averages.
// bootstrapGroups runs the replicates as loops; bootstrapGroupsWithProducts as two matrix products
// per batch of replicates (the same draws, the same intervals to ~1e-14), for a full research cell.
import type { MatmulBackend } from './matmul-backend.ts';
import { compareTwoVsTwo } from './metrics.ts';
import { seededRandom } from './random.ts';

export type GroupMetric = 'pearson_r' | 'r2' | 'two_vs_two';
export const GROUP_METRICS: readonly GroupMetric[] = ['pearson_r', 'r2', 'two_vs_two'];

export interface GroupInterval {
  group: number;
  metric: GroupMetric;
  mean: number;
  ciLow: number;
  ciHigh: number;
}

export interface BootstrapInput {
  predicted: Float64Array;
  truth: Float64Array;
  n: number;
  columns: number;
  /** groups[g] = the columns (attributes) in group g. */
  groups: readonly (readonly number[])[];
  folds: readonly Int32Array[];
  /** The per-attribute point estimates, indexed by column (the group mean is their average). */
  pointEstimates: Record<GroupMetric, Float64Array>;
  replicates: number;
  seed: number;
  /** Confidence level, 0.95 by default. */
  level?: number;
}

/** Linear-interpolation quantile of sorted values (numpy's default). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

function nanMean(values: ArrayLike<number>, indices: readonly number[]): number {
  let sum = 0, count = 0;
  for (const i of indices) {
    const v = values[i]!;
    if (!Number.isNaN(v)) {
      sum += v;
      count++;
    }
  }
  return count > 0 ? sum / count : NaN;
}

export function bootstrapGroups(input: BootstrapInput): GroupInterval[] {
  const { predicted, truth, n, columns, groups, folds, replicates, seed } = input;
  const level = input.level ?? 0.95;
  // The grouped attributes' values as a compact n × m copy, so every loop below runs over one row's
  // attributes at a time (contiguous) instead of down a column; each attribute's sums still take
  // the concepts (and pairs) in the same order as one attribute at a time would, bit for bit.
  const attributes = [...new Set(groups.flat())];
  const m = attributes.length;
  const p = new Float64Array(n * m), t = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let s = 0; s < m; s++) {
    p[i * m + s] = predicted[i * columns + attributes[s]!]!;
    t[i * m + s] = truth[i * columns + attributes[s]!]!;
  }
  // Per fold, the 2-vs-2 outcome of every same-fold pair (a < b) for every attribute, pair-major
  // (NaN = tied truth, excluded), so a replicate only visits pairs of concepts it actually drew.
  const pairStart = folds.map((fold) => Int32Array.from({ length: fold.length }, (_, a) => a * fold.length - (a * (a + 1)) / 2 - a - 1));
  const outcomes = folds.map((fold) => {
    const size = fold.length;
    const o = new Float64Array(((size * (size - 1)) / 2) * m).fill(NaN);
    let pair = 0;
    for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++, pair++) {
      const i = fold[a]!, j = fold[b]!;
      for (let s = 0; s < m; s++) {
        const ti = t[i * m + s]!, tj = t[j * m + s]!;
        if (ti === tj) continue;
        const pi = p[i * m + s]!, pj = p[j * m + s]!;
        o[pair * m + s] = compareTwoVsTwo(Math.abs(pi - ti) + Math.abs(pj - tj), Math.abs(pi - tj) + Math.abs(pj - ti));
      }
    }
    return o;
  });
  const drawnLocal = folds.map((fold) => new Int32Array(fold.length));
  const drawnWeight = folds.map((fold) => new Float64Array(fold.length));
  const drawnCount = new Int32Array(folds.length);

  const random = seededRandom(seed);
  const weight = new Float64Array(n);
  const draws: Record<GroupMetric, Float64Array[]> = {
    pearson_r: groups.map(() => new Float64Array(replicates)),
    r2: groups.map(() => new Float64Array(replicates)),
    two_vs_two: groups.map(() => new Float64Array(replicates)),
  };
  const perAttribute: Record<GroupMetric, Float64Array> = {
    pearson_r: new Float64Array(columns), r2: new Float64Array(columns), two_vs_two: new Float64Array(columns),
  };
  const sp = new Float64Array(m), st = new Float64Array(m), mp = new Float64Array(m), mt = new Float64Array(m);
  const cov = new Float64Array(m), vp = new Float64Array(m), vt = new Float64Array(m), residual = new Float64Array(m);
  const correct = new Float64Array(m), total = new Float64Array(m);
  for (let b = 0; b < replicates; b++) {
    weight.fill(0);
    for (let s = 0; s < n; s++) weight[Math.floor(random() * n)]! += 1;
    folds.forEach((fold, f) => {
      let count = 0;
      fold.forEach((i, local) => {
        if (weight[i]! === 0) return;
        drawnLocal[f]![count] = local;
        drawnWeight[f]![count++] = weight[i]!;
      });
      drawnCount[f] = count;
    });
    let sw = 0;
    sp.fill(0);
    st.fill(0);
    for (let i = 0; i < n; i++) {
      const w = weight[i]!;
      if (w === 0) continue;
      sw += w;
      const row = i * m;
      for (let s = 0; s < m; s++) {
        sp[s]! += w * p[row + s]!;
        st[s]! += w * t[row + s]!;
      }
    }
    for (let s = 0; s < m; s++) {
      mp[s] = sp[s]! / sw;
      mt[s] = st[s]! / sw;
    }
    cov.fill(0);
    vp.fill(0);
    vt.fill(0);
    residual.fill(0);
    for (let i = 0; i < n; i++) {
      const w = weight[i]!;
      if (w === 0) continue;
      const row = i * m;
      for (let s = 0; s < m; s++) {
        const pv = p[row + s]!, tv = t[row + s]!, mps = mp[s]!, mts = mt[s]!;
        cov[s]! += w * (pv - mps) * (tv - mts);
        vp[s]! += w * (pv - mps) * (pv - mps);
        vt[s]! += w * (tv - mts) * (tv - mts);
        residual[s]! += w * (tv - pv) * (tv - pv);
      }
    }
    correct.fill(0);
    total.fill(0);
    for (let f = 0; f < folds.length; f++) {
      const o = outcomes[f]!, start = pairStart[f]!, local = drawnLocal[f]!, w = drawnWeight[f]!, count = drawnCount[f]!;
      for (let x = 0; x < count; x++) {
        const first = start[local[x]!]!, wx = w[x]!;
        for (let y = x + 1; y < count; y++) {
          const base = (first + local[y]!) * m;
          const wxy = wx * w[y]!;
          for (let s = 0; s < m; s++) {
            const v = o[base + s]!;
            if (v !== v) continue; // NaN: tied truth
            correct[s]! += wxy * v;
            total[s]! += wxy;
          }
        }
      }
    }
    for (let s = 0; s < m; s++) {
      const c = attributes[s]!;
      perAttribute.pearson_r[c] = vp[s]! > 0 && vt[s]! > 0 ? cov[s]! / Math.sqrt(vp[s]! * vt[s]!) : NaN;
      perAttribute.r2[c] = vt[s]! > 0 ? 1 - residual[s]! / vt[s]! : NaN;
      perAttribute.two_vs_two[c] = total[s]! > 0 ? correct[s]! / total[s]! : NaN;
    }
    for (const metric of GROUP_METRICS) {
      groups.forEach((members, g) => {
        draws[metric][g]![b] = nanMean(perAttribute[metric], members);
      });
    }
  }
  return intervals(input, draws, level);
}

function intervals(input: BootstrapInput, draws: Record<GroupMetric, Float64Array[]>, level: number): GroupInterval[] {
  const result: GroupInterval[] = [];
  input.groups.forEach((members, g) => {
    for (const metric of GROUP_METRICS) {
      const sorted = draws[metric][g]!.filter((v) => !Number.isNaN(v)).sort();
      result.push({
        group: g,
        metric,
        mean: nanMean(input.pointEstimates[metric], members),
        ciLow: quantileSorted(sorted, (1 - level) / 2),
        ciHigh: quantileSorted(sorted, 1 - (1 - level) / 2),
      });
    }
  });
  return result;
}

/** Replicates per batch of bootstrapGroupsWithProducts (bounds its weight matrices: batch × same-fold pairs float64). */
const REPLICATE_BATCH = 250;

/**
 * bootstrapGroups with each batch of replicates as two matrix products on `backend` (ONNX Runtime:
 * many times faster than the loops): the concepts' weights W (replicates × n) times their values
 * [p, t, p², t², p·t, (t − p)²] give every weighted sum the r and R² need (one pass, on values centred by their
 * full-sample means, so it agrees with the two-pass loops to ~1e-14); the pairs' weights w_i·w_j
 * (replicates × same-fold pairs) times their 2-vs-2 outcomes and a tie mask give the 2-vs-2 counts,
 * which are sums of half-integers and so exactly those of the loops. Same draws from the same seed.
 */
export async function bootstrapGroupsWithProducts(input: BootstrapInput, backend: MatmulBackend): Promise<GroupInterval[]> {
  const { predicted, truth, n, columns, groups, folds, replicates, seed } = input;
  const level = input.level ?? 0.95;
  const attributes = [...new Set(groups.flat())];
  const m = attributes.length;
  // values (n × 6m): p, t, p², t², p·t per attribute, centred by the full-sample means, and (t − p)².
  const values = new Float64Array(n * 6 * m);
  for (let s = 0; s < m; s++) {
    const c = attributes[s]!;
    let sp = 0, st = 0;
    for (let i = 0; i < n; i++) {
      sp += predicted[i * columns + c]!;
      st += truth[i * columns + c]!;
    }
    const mp = sp / n, mt = st / n;
    for (let i = 0; i < n; i++) {
      const pv = predicted[i * columns + c]! - mp, tv = truth[i * columns + c]! - mt;
      const row = i * 6 * m;
      values[row + s] = pv;
      values[row + m + s] = tv;
      values[row + 2 * m + s] = pv * pv;
      values[row + 3 * m + s] = tv * tv;
      values[row + 4 * m + s] = pv * tv;
      values[row + 5 * m + s] = (truth[i * columns + c]! - predicted[i * columns + c]!) ** 2;
    }
  }
  // Same-fold pairs (a < b, in fold order) and their outcomes (pairs × 2m): 2-vs-2 outcome (0 on a tie) and 1 unless tied.
  const first: number[] = [], second: number[] = [];
  for (const fold of folds) for (let a = 0; a < fold.length; a++) for (let b = a + 1; b < fold.length; b++) {
    first.push(fold[a]!);
    second.push(fold[b]!);
  }
  const pairs = first.length;
  const outcomes = new Float64Array(pairs * 2 * m);
  for (let q = 0; q < pairs; q++) {
    const i = first[q]!, j = second[q]!;
    for (let s = 0; s < m; s++) {
      const c = attributes[s]!;
      const ti = truth[i * columns + c]!, tj = truth[j * columns + c]!;
      if (ti === tj) continue;
      const pi = predicted[i * columns + c]!, pj = predicted[j * columns + c]!;
      outcomes[q * 2 * m + s] = compareTwoVsTwo(Math.abs(pi - ti) + Math.abs(pj - tj), Math.abs(pi - tj) + Math.abs(pj - ti));
      outcomes[q * 2 * m + m + s] = 1;
    }
  }
  const random = seededRandom(seed);
  const draws: Record<GroupMetric, Float64Array[]> = {
    pearson_r: groups.map(() => new Float64Array(replicates)),
    r2: groups.map(() => new Float64Array(replicates)),
    two_vs_two: groups.map(() => new Float64Array(replicates)),
  };
  const perAttribute: Record<GroupMetric, Float64Array> = {
    pearson_r: new Float64Array(columns), r2: new Float64Array(columns), two_vs_two: new Float64Array(columns),
  };
  for (let start = 0; start < replicates; start += REPLICATE_BATCH) {
    const batch = Math.min(REPLICATE_BATCH, replicates - start);
    const weights = new Float64Array(batch * n);
    for (let r = 0; r < batch; r++) for (let s = 0; s < n; s++) weights[r * n + Math.floor(random() * n)]! += 1;
    const pairWeights = new Float64Array(batch * pairs);
    for (let r = 0; r < batch; r++) {
      const w = weights.subarray(r * n, (r + 1) * n), row = r * pairs;
      for (let q = 0; q < pairs; q++) pairWeights[row + q] = w[first[q]!]! * w[second[q]!]!;
    }
    const sums = await backend.matmul(weights, values, batch, n, 6 * m);
    const counts = await backend.matmul(pairWeights, outcomes, batch, pairs, 2 * m);
    for (let r = 0; r < batch; r++) {
      const row = r * 6 * m;
      for (let s = 0; s < m; s++) {
        const c = attributes[s]!;
        const mp = sums[row + s]! / n, mt = sums[row + m + s]! / n; // the weights of a replicate sum to n
        const vp = sums[row + 2 * m + s]! - n * mp * mp, vt = sums[row + 3 * m + s]! - n * mt * mt;
        const cov = sums[row + 4 * m + s]! - n * mp * mt;
        const residual = sums[row + 5 * m + s]!;
        perAttribute.pearson_r[c] = vp > 0 && vt > 0 ? cov / Math.sqrt(vp * vt) : NaN;
        perAttribute.r2[c] = vt > 0 ? 1 - residual / vt : NaN;
        const correct = counts[r * 2 * m + s]!, total = counts[r * 2 * m + m + s]!;
        perAttribute.two_vs_two[c] = total > 0 ? correct / total : NaN;
      }
      for (const metric of GROUP_METRICS) {
        groups.forEach((members, g) => {
          draws[metric][g]![start + r] = nanMean(perAttribute[metric], members);
        });
      }
    }
  }
  return intervals(input, draws, level);
}

/** The faster bootstrap for `backend`: batched products on ONNX Runtime, the loops on TypeScript products (same intervals either way, to ~1e-14). */
export function bootstrapGroupsOn(backend: MatmulBackend, input: BootstrapInput): Promise<GroupInterval[]> {
  return backend.spec?.kind === 'onnxruntime' ? bootstrapGroupsWithProducts(input, backend) : Promise.resolve(bootstrapGroups(input));
}
