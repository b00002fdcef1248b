// Cross-validated ridge regression with the regularisation chosen per target by exact leave-one-out
// on the training fold. Per outer fold: standardise features with the training fold's mean and SD,
// centre targets on the training fold (the unpenalised intercept), decompose ONCE (the n×n Gram
// matrix when d ≥ n — reduced to tridiagonal form —, the d×d cross-product otherwise — eigen-
// decomposed), then every alpha and every target column (the real ratings and any permuted copies)
// reuses that basis, so each alpha costs O(n²) per target instead of a new O(n³) solve. docs/metrics.md gives the formulas.
import { solveShiftedTridiagonal, symmetricEigen, tridiagonalizeBlocked } from './linalg.ts';
import { foldMembers } from './folds.ts';
import { typescriptBackend, type MatmulBackend } from './matmul-backend.ts';

export interface RidgeCvInput {
  /** n × d features, row-major (Float32 activations are widened to float64 per fold). */
  features: Float32Array | Float64Array;
  n: number;
  d: number;
  /** n × columns targets, row-major. */
  targets: Float64Array;
  columns: number;
  /** Outer fold of each row. */
  foldOf: Int32Array;
  /** Candidate regularisation strengths (> 0), in the order ties are broken (first wins). */
  alphas: readonly number[];
  /** Also return every fold's mean squared LOO error per alpha and column (for checks). */
  keepLooErrors?: boolean;
}

export interface RidgeCvResult {
  /** n × columns out-of-fold predictions. */
  predictions: Float64Array;
  /** folds × columns: index into alphas chosen on each fold's training set. */
  chosenAlpha: Int32Array;
  folds: Int32Array[];
  /** Which decomposition each fold used: 'gram' (d ≥ n_train) or 'covariance'. */
  paths: ('gram' | 'covariance')[];
  /** folds × alphas × columns mean squared LOO errors on each training fold, when asked for. */
  looErrors?: Float64Array;
  /** Seconds spent in matrix products, decompositions (tridiagonalisation / eigendecomposition) and the rest. */
  timings: { products: number; decomposition: number; other: number };
}

export interface Standardised {
  train: Float64Array;
  test: Float64Array;
}

/** Z-scores training rows with their own mean and SD (population SD, as scikit-learn's StandardScaler; constant features → 0) and test rows with the training statistics. */
export function standardiseFold(features: Float32Array | Float64Array, d: number, train: Int32Array, test: Int32Array): Standardised {
  const mean = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  for (const row of train) {
    const offset = row * d;
    for (let j = 0; j < d; j++) mean[j]! += features[offset + j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= train.length;
  for (const row of train) {
    const offset = row * d;
    for (let j = 0; j < d; j++) {
      const c = features[offset + j]! - mean[j]!;
      sumSquares[j]! += c * c;
    }
  }
  const inverseScale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(sumSquares[j]! / train.length);
    // scikit-learn keeps scale 1 for (numerically) constant features: they become 0 after centring.
    inverseScale[j] = sd > 10 * Number.EPSILON * Math.abs(mean[j]!) && sd > 0 ? 1 / sd : 1;
  }
  const scale = (rows: Int32Array) => {
    const out = new Float64Array(rows.length * d);
    rows.forEach((row, r) => {
      const offset = row * d;
      for (let j = 0; j < d; j++) out[r * d + j] = (features[offset + j]! - mean[j]!) * inverseScale[j]!;
    });
    return out;
  };
  return { train: scale(train), test: scale(test) };
}

export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

function gatherRows(values: Float64Array, columns: number, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length * columns);
  rows.forEach((row, r) => out.set(values.subarray(row * columns, (row + 1) * columns), r * columns));
  return out;
}

/** Centres columns in place and returns their means. */
function centreColumns(values: Float64Array, rows: number, columns: number): Float64Array {
  const mean = new Float64Array(columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) mean[c]! += values[r * columns + c]!;
  for (let c = 0; c < columns; c++) mean[c]! /= rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) values[r * columns + c]! -= mean[c]!;
  return mean;
}

interface FoldFit {
  /** test rows × columns predictions. */
  predictions: Float64Array;
  chosenAlpha: Int32Array;
  path: 'gram' | 'covariance';
  /** alphas × columns sums of squared LOO residuals. */
  looErrors: Float64Array;
}

class Stopwatch {
  products = 0;
  decomposition = 0;
  other = 0;
  async time<T>(bucket: 'products' | 'decomposition', work: () => T | Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    this[bucket] += (performance.now() - started) / 1000;
    return result;
  }
}

/** Scales row k of `projected` (rows × columns) by w[k]. */
function scaleRows(projected: Float64Array, w: Float64Array, rows: number, columns: number, out: Float64Array): void {
  for (let k = 0; k < rows; k++) {
    const wk = w[k]!;
    const offset = k * columns;
    for (let c = 0; c < columns; c++) out[offset + c] = projected[offset + c]! * wk;
  }
}

/** Keeps, per column, the weighted coefficients of the alpha with the smallest LOO error so far (strictly smaller: the first alpha wins ties, as scikit-learn). */
function keepBest(errors: Float64Array, bestError: Float64Array, chosenAlpha: Int32Array, a: number, weighted: Float64Array, bestWeighted: Float64Array, rows: number, columns: number): void {
  const improved: number[] = [];
  for (let c = 0; c < columns; c++) {
    if (errors[c]! < bestError[c]!) {
      bestError[c] = errors[c]!;
      chosenAlpha[c] = a;
      improved.push(c);
    }
  }
  if (improved.length === columns) {
    bestWeighted.set(weighted.subarray(0, rows * columns));
    return;
  }
  for (let k = 0; k < rows; k++) for (const c of improved) bestWeighted[k * columns + c] = weighted[k * columns + c]!;
}

/**
 * One outer fold. `xTrain` is standardised (so its columns are centred) and `yTrain` centred;
 * predictions come back without the target mean.
 *
 * Gram path (d ≥ n): K = X Xᵀ. With the intercept left unpenalised, the training residual is
 * α (K + αI)⁻¹ y for centred y and the hat matrix is K(K+αI)⁻¹ + 11ᵀ/n, so the exact LOO residual
 * is c_i / G_ii with c = (K+αI)⁻¹ y and G = (K+αI)⁻¹ − 11ᵀ/(nα) (1 is in K's null space because X
 * is centred). K is reduced once to K = P T Pᵀ (T tridiagonal); for each alpha,
 * (K+αI)⁻¹ = P (T+αI)⁻¹ Pᵀ costs O(n) per column through an LDLᵀ solve — the eigenvectors of T
 * (the expensive QL sweep) are never needed. Test predictions: K_test,train c.
 *
 * Covariance path (d < n): C = Xᵀ X = V diag(λ) Vᵀ, Z = X V. Fitted values Z diag(1/(λ+α)) Zᵀ y,
 * leverage H_ii = Σ_k Z_ik² /(λ_k+α) + 1/n, LOO residual (y_i − ŷ_i)/(1 − H_ii).
 */
async function fitFold(
  xTrain: Float64Array, xTest: Float64Array, yTrain: Float64Array, nTrain: number, nTest: number, d: number, columns: number,
  alphas: readonly number[], backend: MatmulBackend, watch: Stopwatch,
): Promise<FoldFit> {
  const bestError = new Float64Array(columns).fill(Infinity);
  const chosenAlpha = new Int32Array(columns);
  const looErrors = new Float64Array(alphas.length * columns);
  const xTrainT = transpose(xTrain, nTrain, d);
  if (d >= nTrain) {
    const n = nTrain;
    const kernel = await watch.time('products', () => backend.matmul(xTrain, xTrainT, n, d, n));
    // K = P T Pᵀ: every alpha then needs only O(n) tridiagonal solves per column (no QL sweep).
    const tridiagonal = await watch.time('decomposition', () => tridiagonalizeBlocked(kernel, n, (a, b, p, k, q) => backend.matmul(a, b, p, k, q)));
    const basis = tridiagonal.basis; // Pᵀ, row-major
    const basisT = transpose(basis, n, n); // P
    const projected = await watch.time('products', () => backend.matmul(basis, yTrain, n, n, columns)); // B = Pᵀ y
    const solved = new Float64Array(n * columns);
    const bestSolved = new Float64Array(n * columns);
    const gDiagonal = new Float64Array(n);
    const inverseBasis = new Float64Array(n * n);
    for (let a = 0; a < alphas.length; a++) {
      const alpha = alphas[a]!;
      // G_ii = [P (T+αI)⁻¹ Pᵀ]_ii − 1/(nα)
      solveShiftedTridiagonal(tridiagonal, alpha, basis, n, inverseBasis); // (T+αI)⁻¹ Pᵀ
      gDiagonal.fill(-1 / (n * alpha));
      for (let k = 0; k < n; k++) {
        const row = k * n;
        for (let i = 0; i < n; i++) gDiagonal[i]! += basis[row + i]! * inverseBasis[row + i]!;
      }
      solveShiftedTridiagonal(tridiagonal, alpha, projected, columns, solved); // S = (T+αI)⁻¹ Pᵀ y
      const dual = await watch.time('products', () => backend.matmul(basisT, solved, n, n, columns)); // c = P S = (K+αI)⁻¹ y
      const errors = new Float64Array(columns);
      for (let i = 0; i < n; i++) {
        const inverse = 1 / gDiagonal[i]!;
        const offset = i * columns;
        for (let c = 0; c < columns; c++) {
          const e = dual[offset + c]! * inverse;
          errors[c]! += e * e;
        }
      }
      looErrors.set(errors, a * columns);
      keepBest(errors, bestError, chosenAlpha, a, solved, bestSolved, n, columns);
    }
    // ŷ_test = K_test,train P S*, with (K_test,train P) formed once.
    const testKernel = await watch.time('products', () => backend.matmul(xTest, xTrainT, nTest, d, n));
    const testBasis = await watch.time('products', () => backend.matmul(testKernel, basisT, nTest, n, n));
    const predictions = await watch.time('products', () => backend.matmul(testBasis, bestSolved, nTest, n, columns));
    return { predictions, chosenAlpha, path: 'gram', looErrors };
  }

  const cross = await watch.time('products', () => backend.matmul(xTrainT, xTrain, d, nTrain, d));
  const { values, vectors } = await watch.time('decomposition', () => symmetricEigen(cross, d));
  for (let k = 0; k < d; k++) if (values[k]! < 0) values[k] = 0;
  const vectorsT = transpose(vectors, d, d); // V
  const scores = await watch.time('products', () => backend.matmul(xTrain, vectorsT, nTrain, d, d)); // Z = X V
  const projected = await watch.time('products', () => backend.matmul(transpose(scores, nTrain, d), yTrain, d, nTrain, columns)); // B = Zᵀ y
  const weighted = new Float64Array(d * columns);
  const bestWeighted = new Float64Array(d * columns);
  const leverage = new Float64Array(nTrain);
  const w = new Float64Array(d);
  for (let a = 0; a < alphas.length; a++) {
    const alpha = alphas[a]!;
    for (let k = 0; k < d; k++) w[k] = 1 / (values[k]! + alpha);
    for (let i = 0; i < nTrain; i++) {
      let h = 1 / nTrain;
      const row = i * d;
      for (let k = 0; k < d; k++) h += scores[row + k]! * scores[row + k]! * w[k]!;
      leverage[i] = h;
    }
    scaleRows(projected, w, d, columns, weighted);
    const fitted = await watch.time('products', () => backend.matmul(scores, weighted, nTrain, d, columns));
    const errors = new Float64Array(columns);
    for (let i = 0; i < nTrain; i++) {
      const inverse = 1 / (1 - leverage[i]!);
      const offset = i * columns;
      for (let c = 0; c < columns; c++) {
        const e = (yTrain[offset + c]! - fitted[offset + c]!) * inverse;
        errors[c]! += e * e;
      }
    }
    looErrors.set(errors, a * columns);
    keepBest(errors, bestError, chosenAlpha, a, weighted, bestWeighted, d, columns);
  }
  const testScores = await watch.time('products', () => backend.matmul(xTest, vectorsT, nTest, d, d));
  const predictions = await watch.time('products', () => backend.matmul(testScores, bestWeighted, nTest, d, columns));
  return { predictions, chosenAlpha, path: 'covariance', looErrors };
}

export async function ridgeCrossValidate(input: RidgeCvInput, backend: MatmulBackend = typescriptBackend): Promise<RidgeCvResult> {
  const { features, n, d, targets, columns, foldOf, alphas } = input;
  if (features.length !== n * d) throw new RangeError(`features has ${features.length} values, expected n×d = ${n}×${d}.`);
  if (targets.length !== n * columns) throw new RangeError(`targets has ${targets.length} values, expected n×columns = ${n}×${columns}.`);
  if (foldOf.length !== n) throw new RangeError(`foldOf has ${foldOf.length} entries, expected ${n}.`);
  if (alphas.length === 0 || alphas.some((alpha) => !(alpha > 0) || !Number.isFinite(alpha))) {
    throw new RangeError(`alphas must be finite and > 0, got [${alphas.join(', ')}].`);
  }
  for (let t = 0; t < targets.length; t++) {
    if (!Number.isFinite(targets[t]!)) throw new RangeError(`targets has a non-finite value at row ${Math.floor(t / columns)}, column ${t % columns}.`);
  }
  const started = performance.now();
  const watch = new Stopwatch();
  const folds = foldMembers(foldOf);
  if (folds.length < 2) throw new RangeError('Cross-validation needs at least 2 non-empty folds.');
  const predictions = new Float64Array(n * columns);
  const chosenAlpha = new Int32Array(folds.length * columns);
  const paths: ('gram' | 'covariance')[] = [];
  const looErrors = input.keepLooErrors ? new Float64Array(folds.length * alphas.length * columns) : undefined;
  const isTest = new Uint8Array(n);
  for (let f = 0; f < folds.length; f++) {
    const test = folds[f]!;
    isTest.fill(0);
    for (const row of test) isTest[row] = 1;
    const train = new Int32Array(n - test.length);
    let t = 0;
    for (let i = 0; i < n; i++) if (!isTest[i]) train[t++] = i;
    if (train.length < 3) throw new RangeError(`Fold ${f} leaves only ${train.length} training rows.`);
    const x = standardiseFold(features, d, train, test);
    const y = gatherRows(targets, columns, train);
    const yMean = centreColumns(y, train.length, columns);
    const fit = await fitFold(x.train, x.test, y, train.length, test.length, d, columns, alphas, backend, watch);
    test.forEach((row, r) => {
      for (let c = 0; c < columns; c++) predictions[row * columns + c] = fit.predictions[r * columns + c]! + yMean[c]!;
    });
    chosenAlpha.set(fit.chosenAlpha, f * columns);
    if (looErrors) looErrors.set(fit.looErrors.map((e) => e / train.length), f * alphas.length * columns);
    paths.push(fit.path);
  }
  const total = (performance.now() - started) / 1000;
  return { predictions, chosenAlpha, folds, paths, looErrors, timings: { products: watch.products, decomposition: watch.decomposition, other: total - watch.products - watch.decomposition } };
}
