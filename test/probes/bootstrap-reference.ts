// The group bootstrap as first written (src/probes/bootstrap.ts before it took every attribute of a
// concept or pair in one contiguous inner loop): one attribute at a time, reading down the columns.
// Kept as the reference the faster version must match bit for bit (test/probes/bootstrap.test.ts).
import { GROUP_METRICS, quantileSorted, type BootstrapInput, type GroupInterval, type GroupMetric } from '../../src/probes/bootstrap.ts';
import { compareTwoVsTwo } from '../../src/probes/metrics.ts';
import { seededRandom } from '../../src/probes/random.ts';

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

export function referenceBootstrapGroups(input: BootstrapInput): GroupInterval[] {
  const { predicted, truth, n, columns, groups, folds, replicates, seed } = input;
  const level = input.level ?? 0.95;
  const attributes = new Set(groups.flat());
  // Per fold and attribute, the 2-vs-2 outcome of every same-fold pair as a dense local matrix
  // (NaN = tied truth, excluded), so a replicate only visits pairs of concepts it actually drew.
  const outcomes = new Map<number, Float64Array[]>();
  for (const c of attributes) {
    outcomes.set(c, folds.map((fold) => {
      const size = fold.length;
      const o = new Float64Array(size * size).fill(NaN);
      for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++) {
        const i = fold[a]!, j = fold[b]!;
        const ti = truth[i * columns + c]!, tj = truth[j * columns + c]!;
        if (ti === tj) continue;
        const pi = predicted[i * columns + c]!, pj = predicted[j * columns + c]!;
        o[a * size + b] = compareTwoVsTwo(Math.abs(pi - ti) + Math.abs(pj - tj), Math.abs(pi - tj) + Math.abs(pj - ti));
      }
      return o;
    }));
  }
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
    for (const c of attributes) {
      let sw = 0, sp = 0, st = 0;
      for (let i = 0; i < n; i++) {
        const w = weight[i]!;
        if (w === 0) continue;
        sw += w;
        sp += w * predicted[i * columns + c]!;
        st += w * truth[i * columns + c]!;
      }
      const mp = sp / sw, mt = st / sw;
      let cov = 0, vp = 0, vt = 0, residual = 0;
      for (let i = 0; i < n; i++) {
        const w = weight[i]!;
        if (w === 0) continue;
        const p = predicted[i * columns + c]!, t = truth[i * columns + c]!;
        cov += w * (p - mp) * (t - mt);
        vp += w * (p - mp) * (p - mp);
        vt += w * (t - mt) * (t - mt);
        residual += w * (t - p) * (t - p);
      }
      perAttribute.pearson_r[c] = vp > 0 && vt > 0 ? cov / Math.sqrt(vp * vt) : NaN;
      perAttribute.r2[c] = vt > 0 ? 1 - residual / vt : NaN;
      const byFold = outcomes.get(c)!;
      let correct = 0, total = 0;
      for (let f = 0; f < folds.length; f++) {
        const o = byFold[f]!, local = drawnLocal[f]!, w = drawnWeight[f]!, count = drawnCount[f]!, size = folds[f]!.length;
        for (let x = 0; x < count; x++) {
          const row = local[x]! * size, wx = w[x]!;
          for (let y = x + 1; y < count; y++) {
            const v = o[row + local[y]!]!;
            if (v !== v) continue; // NaN: tied truth
            const wxy = wx * w[y]!;
            correct += wxy * v;
            total += wxy;
          }
        }
      }
      perAttribute.two_vs_two[c] = total > 0 ? correct / total : NaN;
    }
    for (const metric of GROUP_METRICS) {
      groups.forEach((members, g) => {
        draws[metric][g]![b] = nanMean(perAttribute[metric], members);
      });
    }
  }
  const result: GroupInterval[] = [];
  groups.forEach((members, g) => {
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
