// Scores of out-of-fold predictions. All take row-major n × columns matrices and a column index, so
// the same code scores real and permuted targets; scoreColumns scores every column at once (rows
// read contiguously: a cell's permuted copies are thousands of columns). Definitions: docs/metrics.md.

/**
 * One 2-vs-2 decision: 1 when the matched distance is smaller, 0 when larger, 0.5 on a tie. Sums that
 * agree to 1e-12 (relative) count as ties, so mathematically equal distances are not split by round-off.
 */
export function compareTwoVsTwo(matched: number, swapped: number): number {
  const tolerance = 1e-12 * (Math.abs(matched) + Math.abs(swapped));
  return matched < swapped - tolerance ? 1 : matched > swapped + tolerance ? 0 : 0.5;
}

/** Pearson r between predicted and true values of one column (NaN if either is constant). */
export function pearson(predicted: Float64Array, truth: Float64Array, n: number, columns: number, column: number): number {
  let sp = 0, st = 0;
  for (let i = 0; i < n; i++) {
    sp += predicted[i * columns + column]!;
    st += truth[i * columns + column]!;
  }
  const mp = sp / n, mt = st / n;
  let cov = 0, vp = 0, vt = 0;
  for (let i = 0; i < n; i++) {
    const a = predicted[i * columns + column]! - mp;
    const b = truth[i * columns + column]! - mt;
    cov += a * b;
    vp += a * a;
    vt += b * b;
  }
  return vp > 0 && vt > 0 ? cov / Math.sqrt(vp * vt) : NaN;
}

/** R² = 1 − SS_res/SS_tot of out-of-fold predictions (can be negative; NaN if the truth is constant). */
export function rSquared(predicted: Float64Array, truth: Float64Array, n: number, columns: number, column: number): number {
  let st = 0;
  for (let i = 0; i < n; i++) st += truth[i * columns + column]!;
  const mt = st / n;
  let residual = 0, total = 0;
  for (let i = 0; i < n; i++) {
    const t = truth[i * columns + column]!;
    const e = t - predicted[i * columns + column]!;
    residual += e * e;
    total += (t - mt) * (t - mt);
  }
  return total > 0 ? 1 - residual / total : NaN;
}

/**
 * Per-attribute 2-vs-2 over pairs of concepts held out in the same fold: a pair (i, j) with
 * t_i ≠ t_j is correct when |p_i − t_i| + |p_j − t_j| < |p_i − t_j| + |p_j − t_i|, half-correct on
 * a tie. Returns the share of correct pairs (NaN if no pair qualifies).
 */
export function twoVsTwo(predicted: Float64Array, truth: Float64Array, columns: number, column: number, folds: readonly Int32Array[]): number {
  let correct = 0, pairs = 0;
  for (const fold of folds) {
    for (let a = 0; a < fold.length; a++) {
      const i = fold[a]!;
      const pi = predicted[i * columns + column]!, ti = truth[i * columns + column]!;
      for (let b = a + 1; b < fold.length; b++) {
        const j = fold[b]!;
        const tj = truth[j * columns + column]!;
        if (ti === tj) continue;
        const pj = predicted[j * columns + column]!;
        const matched = Math.abs(pi - ti) + Math.abs(pj - tj);
        const swapped = Math.abs(pi - tj) + Math.abs(pj - ti);
        correct += compareTwoVsTwo(matched, swapped);
        pairs++;
      }
    }
  }
  return pairs > 0 ? correct / pairs : NaN;
}

function correlationOfRows(a: Float64Array, aOffset: number, b: Float64Array, bOffset: number, length: number): number {
  let sa = 0, sb = 0;
  for (let k = 0; k < length; k++) {
    sa += a[aOffset + k]!;
    sb += b[bOffset + k]!;
  }
  const ma = sa / length, mb = sb / length;
  let cov = 0, va = 0, vb = 0;
  for (let k = 0; k < length; k++) {
    const x = a[aOffset + k]! - ma, y = b[bOffset + k]! - mb;
    cov += x * y;
    va += x * x;
    vb += y * y;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/**
 * Concept 2-vs-2 (`conceptTwoVsTwo` in code, database and API; Mitchell et al. 2008 call it the profile
 * 2-vs-2) over pairs of concepts held out together, using the whole
 * attribute profile (the first `attributes` columns) and correlation distance 1 − r: correct when
 * d(p_i, t_i) + d(p_j, t_j) < d(p_i, t_j) + d(p_j, t_i); ties count 0.5.
 */
export function conceptTwoVsTwo(predicted: Float64Array, truth: Float64Array, columns: number, attributes: number, folds: readonly Int32Array[]): number {
  let correct = 0, pairs = 0;
  for (const fold of folds) {
    for (let a = 0; a < fold.length; a++) {
      const i = fold[a]!;
      for (let b = a + 1; b < fold.length; b++) {
        const j = fold[b]!;
        const matched = 2 - correlationOfRows(predicted, i * columns, truth, i * columns, attributes) - correlationOfRows(predicted, j * columns, truth, j * columns, attributes);
        const swapped = 2 - correlationOfRows(predicted, i * columns, truth, j * columns, attributes) - correlationOfRows(predicted, j * columns, truth, i * columns, attributes);
        correct += compareTwoVsTwo(matched, swapped);
        pairs++;
      }
    }
  }
  return pairs > 0 ? correct / pairs : NaN;
}

export interface ColumnScores {
  pearson: Float64Array;
  r2: Float64Array;
  twoVsTwo: Float64Array;
}

/**
 * pearson, rSquared and twoVsTwo of every column, equal bit for bit to calling them column by column
 * (each column's sums take the rows and pairs in the same order), but reading each row's columns
 * contiguously instead of striding down one column at a time.
 */
export function scoreColumns(predicted: Float64Array, truth: Float64Array, n: number, columns: number, folds: readonly Int32Array[]): ColumnScores {
  const sp = new Float64Array(columns), st = new Float64Array(columns);
  for (let i = 0; i < n; i++) {
    const row = i * columns;
    for (let c = 0; c < columns; c++) {
      sp[c]! += predicted[row + c]!;
      st[c]! += truth[row + c]!;
    }
  }
  for (let c = 0; c < columns; c++) {
    sp[c]! /= n;
    st[c]! /= n;
  }
  const cov = new Float64Array(columns), vp = new Float64Array(columns), vt = new Float64Array(columns), residual = new Float64Array(columns);
  for (let i = 0; i < n; i++) {
    const row = i * columns;
    for (let c = 0; c < columns; c++) {
      const p = predicted[row + c]!, t = truth[row + c]!;
      const a = p - sp[c]!, b = t - st[c]!;
      cov[c]! += a * b;
      vp[c]! += a * a;
      vt[c]! += b * b;
      const e = t - p;
      residual[c]! += e * e;
    }
  }
  const pearsonR = new Float64Array(columns), r2 = new Float64Array(columns);
  for (let c = 0; c < columns; c++) {
    pearsonR[c] = vp[c]! > 0 && vt[c]! > 0 ? cov[c]! / Math.sqrt(vp[c]! * vt[c]!) : NaN;
    r2[c] = vt[c]! > 0 ? 1 - residual[c]! / vt[c]! : NaN;
  }
  const correct = new Float64Array(columns), pairs = new Float64Array(columns);
  for (const fold of folds) {
    for (let a = 0; a < fold.length; a++) {
      const rowI = fold[a]! * columns;
      for (let b = a + 1; b < fold.length; b++) {
        const rowJ = fold[b]! * columns;
        for (let c = 0; c < columns; c++) {
          const ti = truth[rowI + c]!, tj = truth[rowJ + c]!;
          if (ti === tj) continue;
          const pi = predicted[rowI + c]!, pj = predicted[rowJ + c]!;
          // compareTwoVsTwo, inlined (this loop runs for every pair and every permuted column)
          const matched = Math.abs(pi - ti) + Math.abs(pj - tj), swapped = Math.abs(pi - tj) + Math.abs(pj - ti);
          const tolerance = 1e-12 * (Math.abs(matched) + Math.abs(swapped));
          correct[c]! += 0.5 * (Number(matched < swapped - tolerance) + Number(matched <= swapped + tolerance)); // 1, ½ or 0 without a branch
          pairs[c]!++;
        }
      }
    }
  }
  const twoVsTwoAll = new Float64Array(columns);
  for (let c = 0; c < columns; c++) twoVsTwoAll[c] = pairs[c]! > 0 ? correct[c]! / pairs[c]! : NaN;
  return { pearson: pearsonR, r2, twoVsTwo: twoVsTwoAll };
}
