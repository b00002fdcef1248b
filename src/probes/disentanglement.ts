// Whether a representation keeps attributes apart: attribute-level 2-vs-2 and attribute RSA, both
// on out-of-fold predictions of the real (unshuffled) ratings. Definitions: docs/metrics.md.
import { compareTwoVsTwo } from './metrics.ts';

/**
 * Attribute-pair 2-vs-2. Each attribute's predictions and ratings are z-scored with the mean and SD
 * of its human ratings over the cell's concepts (so a constant prediction sits at chance). For a pair
 * (a, b) and a concept i with z_a,i ≠ z_b,i, the concept is correct when
 * |p̃_a,i − t̃_a,i| + |p̃_b,i − t̃_b,i| < |p̃_a,i − t̃_b,i| + |p̃_b,i − t̃_a,i| (0.5 on a tie);
 * accuracy(a, b) = share of correct concepts. Returns accuracies for a < b in row-major pair order.
 */
export function attributePairTwoVsTwo(predicted: Float64Array, truth: Float64Array, n: number, columns: number, attributes: number): Float64Array {
  const zp = new Float64Array(n * attributes);
  const zt = new Float64Array(n * attributes);
  for (let a = 0; a < attributes; a++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += truth[i * columns + a]!;
    const mean = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (truth[i * columns + a]! - mean) ** 2;
    const sd = Math.sqrt(v / n);
    const scale = sd > 0 ? 1 / sd : 0;
    for (let i = 0; i < n; i++) {
      zp[i * attributes + a] = (predicted[i * columns + a]! - mean) * scale;
      zt[i * attributes + a] = (truth[i * columns + a]! - mean) * scale;
    }
  }
  const out = new Float64Array((attributes * (attributes - 1)) / 2);
  let pair = 0;
  for (let a = 0; a < attributes; a++) {
    for (let b = a + 1; b < attributes; b++) {
      let correct = 0, total = 0;
      for (let i = 0; i < n; i++) {
        const ta = zt[i * attributes + a]!, tb = zt[i * attributes + b]!;
        if (ta === tb) continue;
        const pa = zp[i * attributes + a]!, pb = zp[i * attributes + b]!;
        const matched = Math.abs(pa - ta) + Math.abs(pb - tb);
        const swapped = Math.abs(pa - tb) + Math.abs(pb - ta);
        correct += compareTwoVsTwo(matched, swapped);
        total++;
      }
      out[pair++] = total > 0 ? correct / total : NaN;
    }
  }
  return out;
}

/** attributes × attributes Pearson correlations over concepts of the first `attributes` columns. */
export function attributeCorrelations(values: Float64Array, n: number, columns: number, attributes: number): Float64Array {
  const centred = new Float64Array(n * attributes);
  const norms = new Float64Array(attributes);
  for (let a = 0; a < attributes; a++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[i * columns + a]!;
    const mean = s / n;
    for (let i = 0; i < n; i++) {
      const c = values[i * columns + a]! - mean;
      centred[i * attributes + a] = c;
      norms[a]! += c * c;
    }
  }
  const out = new Float64Array(attributes * attributes);
  for (let i = 0; i < n; i++) {
    const row = i * attributes;
    for (let a = 0; a < attributes; a++) {
      const ca = centred[row + a]!;
      for (let b = a; b < attributes; b++) out[a * attributes + b]! += ca * centred[row + b]!;
    }
  }
  for (let a = 0; a < attributes; a++) {
    for (let b = a; b < attributes; b++) {
      const denominator = Math.sqrt(norms[a]! * norms[b]!);
      const r = denominator > 0 ? out[a * attributes + b]! / denominator : NaN;
      out[a * attributes + b] = r;
      out[b * attributes + a] = r;
    }
  }
  return out;
}

/** Upper triangle (i < j, row-major; the layout src/db/cell-matrices.ts stores) of a full attributes × attributes matrix. */
export function upperTriangleOf(full: Float64Array, attributes: number): Float64Array {
  const out = new Float64Array((attributes * (attributes - 1)) / 2);
  let k = 0;
  for (let a = 0; a < attributes; a++) for (let b = a + 1; b < attributes; b++) out[k++] = full[a * attributes + b]!;
  return out;
}

/**
 * The attribute similarity matrices of a cell as upper triangles (i < j, row-major): Pearson r over
 * concepts between two attributes' out-of-fold predictions (model) and between their human ratings
 * (human); NaN where an attribute is constant. Stored per cell as 'model_similarity' and
 * 'human_similarity' (docs/metrics.md §6).
 */
export function attributeSimilarities(predicted: Float64Array, truth: Float64Array, n: number, columns: number, attributes: number): { model: Float64Array; human: Float64Array } {
  return {
    model: upperTriangleOf(attributeCorrelations(predicted, n, columns, attributes), attributes),
    human: upperTriangleOf(attributeCorrelations(truth, n, columns, attributes), attributes),
  };
}

/** Pearson r between two upper triangles (model and human attribute similarities); NaN entries are skipped pairwise. */
export function rsaOfTriangles(model: Float64Array, human: Float64Array): number {
  const xs: number[] = [], ys: number[] = [];
  for (let k = 0; k < model.length; k++) {
    const x = model[k]!, y = human[k]!;
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    xs.push(x);
    ys.push(y);
  }
  if (xs.length < 2) return NaN;
  const mx = xs.reduce((s, v) => s + v, 0) / xs.length, my = ys.reduce((s, v) => s + v, 0) / ys.length;
  let cov = 0, vx = 0, vy = 0;
  xs.forEach((x, k) => {
    const y = ys[k]!;
    cov += (x - mx) * (y - my);
    vx += (x - mx) ** 2;
    vy += (y - my) ** 2;
  });
  return vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : NaN;
}

/** Pearson r between the upper triangles (diagonal excluded) of the predicted and human attribute correlation matrices; NaN entries are skipped pairwise. */
export function attributeRsa(predicted: Float64Array, truth: Float64Array, n: number, columns: number, attributes: number): number {
  const { model, human } = attributeSimilarities(predicted, truth, n, columns, attributes);
  return rsaOfTriangles(model, human);
}
