// One outer fold of the cross-validated ridge (ridge.ts): standardise on the training rows, centre
// the targets, decompose once, choose each target's alpha by exact leave-one-out and predict the test
// rows. The unit of work both the in-process loop (ridge.ts) and the worker pool (fold-pool.ts,
// fold-worker.ts) run, kept apart from both so neither imports the other's caller (no import cycle).
import { shiftedInverseDiagonal, solveShiftedTridiagonal, symmetricEigen, tridiagonalizePanelled } from './linalg.ts';
import { blockSumsOfSquares, multiplyTransposed, type MatmulBackend } from './matmul-backend.ts';

export interface Standardised {
  train: Float64Array;
  test: Float64Array;
}

/** Z-scores training rows with their own mean and SD (population SD, as scikit-learn's StandardScaler; constant features → 0) and test rows with the training statistics. */
export function standardiseFold(features: Float32Array | Float64Array, d: number, train: Int32Array, test: Int32Array): Standardised {
  // Float32 activations are widened once, so the three passes below run on one array type.
  const wide = features instanceof Float64Array ? features : new Float64Array(features);
  return standardiseWide(wide, d, train, test);
}

function standardiseWide(features: Float64Array, d: number, train: Int32Array, test: Int32Array): Standardised {
  const mean = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  const rows = train.length;
  for (let r = 0; r < rows; r++) {
    const offset = train[r]! * d;
    for (let j = 0; j < d; j++) mean[j]! += features[offset + j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= rows;
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const offset = train[r]! * d, target = r * d;
    for (let j = 0; j < d; j++) {
      const c = features[offset + j]! - mean[j]!;
      out[target + j] = c;
      sumSquares[j]! += c * c;
    }
  }
  const inverseScale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(sumSquares[j]! / rows);
    // scikit-learn keeps scale 1 for (numerically) constant features: they become 0 after centring.
    inverseScale[j] = sd > 10 * Number.EPSILON * Math.abs(mean[j]!) && sd > 0 ? 1 / sd : 1;
  }
  for (let r = 0; r < rows; r++) {
    const target = r * d;
    for (let j = 0; j < d; j++) out[target + j]! *= inverseScale[j]!;
  }
  const testOut = new Float64Array(test.length * d);
  for (let r = 0; r < test.length; r++) {
    const offset = test[r]! * d, target = r * d;
    for (let j = 0; j < d; j++) testOut[target + j] = (features[offset + j]! - mean[j]!) * inverseScale[j]!;
  }
  return { train: out, test: testOut };
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
  /** alphas × columns sums of squared LOO residuals (the screened Gram path has them only when asked for). */
  looErrors?: Float64Array;
  /** Screened Gram path: columns whose alpha the float32 screen left open, decided in float64. */
  decidedInFloat64?: number;
}

/**
 * How the Gram path (d ≥ n) searches the alphas. 'stacked' (the default): every alpha's LOO errors
 * as column sums of squares of ONE stacked product, screened in float32 where the backend can (the
 * close calls redone in float64); fitGramStacked. 'per-alpha': the earlier path (one float64
 * product of n × columns per alpha), kept callable as the reference the benchmark times and the
 * tests compare against. Both choose the same alphas and predict the same values, to rounding.
 */
export type GramMethod = 'stacked' | 'per-alpha';

export interface FoldOptions {
  method?: GramMethod;
  /** Compute every alpha's LOO error exactly (float64) and return them; otherwise the screen may skip them. */
  exactLooErrors?: boolean;
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

/** Keeps, per column, the weighted coefficients of the alpha with the smallest LOO error so far (strictly smaller: the first alpha wins ties, as scikit-learn). Row k of the candidate coefficients starts at weighted[k·stride + offset]. */
function keepBest(errors: Float64Array, bestError: Float64Array, chosenAlpha: Int32Array, a: number, weighted: Float64Array, bestWeighted: Float64Array, rows: number, columns: number, stride = columns, offset = 0): void {
  const improved: number[] = [];
  for (let c = 0; c < columns; c++) {
    if (errors[c]! < bestError[c]!) {
      bestError[c] = errors[c]!;
      chosenAlpha[c] = a;
      improved.push(c);
    }
  }
  if (improved.length === columns) {
    for (let k = 0; k < rows; k++) bestWeighted.set(weighted.subarray(k * stride + offset, k * stride + offset + columns), k * columns);
    return;
  }
  for (let k = 0; k < rows; k++) for (const c of improved) bestWeighted[k * columns + c] = weighted[k * stride + offset + c]!;
}

/** Products of P with the solutions of several alphas are batched up to this many columns (n × this many float64 per batch). */
const BATCHED_COLUMNS = 1024;

/**
 * K = X Xᵀ (n×n) from three products over the halves X = [X₁; X₂] (K₁₁, K₂₁, K₂₂; K₁₂ = K₂₁ᵀ is
 * mirrored): 3/4 of the multiply-adds of one full product, which would compute both triangles.
 */
async function symmetricKernel(backend: MatmulBackend, x: Float64Array, n: number, d: number): Promise<Float64Array> {
  const h = n >> 1;
  if (h === 0) return multiplyTransposed(backend, x, x, n, d, n, 'b');
  const top = x.subarray(0, h * d), bottom = x.subarray(h * d, n * d);
  const m = n - h;
  const k11 = await multiplyTransposed(backend, top, top, h, d, h, 'b');
  const k21 = await multiplyTransposed(backend, bottom, top, m, d, h, 'b');
  const k22 = await multiplyTransposed(backend, bottom, bottom, m, d, m, 'b');
  const kernel = new Float64Array(n * n);
  for (let i = 0; i < h; i++) kernel.set(k11.subarray(i * h, (i + 1) * h), i * n);
  for (let i = 0; i < m; i++) {
    const row = (h + i) * n;
    kernel.set(k21.subarray(i * h, (i + 1) * h), row);
    kernel.set(k22.subarray(i * m, (i + 1) * m), row + h);
    for (let j = 0; j < h; j++) kernel[j * n + h + i] = k21[i * h + j]!;
  }
  return kernel;
}

/**
 * One outer fold. `xTrain` is standardised (so its columns are centred) and `yTrain` centred;
 * predictions come back without the target mean.
 *
 * Gram path (d ≥ n), method 'per-alpha' (the default 'stacked' is fitGramStacked): K = X Xᵀ. With the intercept left unpenalised, the training residual is
 * α (K + αI)⁻¹ y for centred y and the hat matrix is K(K+αI)⁻¹ + 11ᵀ/n, so the exact LOO residual
 * is c_i / G_ii with c = (K+αI)⁻¹ y and G = (K+αI)⁻¹ − 11ᵀ/(nα) (1 is in K's null space because X
 * is centred). K is reduced once to K = P T Pᵀ (T tridiagonal); for each alpha,
 * (K+αI)⁻¹ = P (T+αI)⁻¹ Pᵀ costs O(n) per column through an LDLᵀ solve — the eigenvectors of T
 * (the expensive QL sweep) are never needed. Test predictions: K_test,train c. At small alpha this
 * path subtracts 1/(nα) from [(K+αI)⁻¹]_ii and solves a near-singular T + αI (K's null vector), so
 * its LOO sums are accurate to ~1e-7 relative there (measured at α = 0.01, n = 247, d = 1280); the
 * stacked path, on K + 11ᵀ, agrees with a brute-force refit to ~1e-15.
 *
 * Covariance path (d < n): C = Xᵀ X = V diag(λ) Vᵀ, Z = X V. Fitted values Z diag(1/(λ+α)) Zᵀ y,
 * leverage H_ii = Σ_k Z_ik² /(λ_k+α) + 1/n, LOO residual (y_i − ŷ_i)/(1 − H_ii).
 */
async function fitFold(
  xTrain: Float64Array, xTest: Float64Array, yTrain: Float64Array, nTrain: number, nTest: number, d: number, columns: number,
  alphas: readonly number[], backend: MatmulBackend, watch: Stopwatch, options: FoldOptions = {},
): Promise<FoldFit> {
  if (d >= nTrain && (options.method ?? 'stacked') === 'stacked') {
    return fitGramStacked(xTrain, xTest, yTrain, nTrain, nTest, d, columns, alphas, backend, watch, options.exactLooErrors ?? false);
  }
  const bestError = new Float64Array(columns).fill(Infinity);
  const chosenAlpha = new Int32Array(columns);
  const looErrors = new Float64Array(alphas.length * columns);
  if (d >= nTrain) {
    const n = nTrain;
    const kernel = await watch.time('products', () => symmetricKernel(backend, xTrain, n, d));
    // K = P T Pᵀ: every alpha then needs only O(n) tridiagonal solves per column (no QL sweep).
    const tridiagonal = await watch.time('decomposition', () => tridiagonalizePanelled(kernel, n, (a, b, p, k, q) => backend.matmul(a, b, p, k, q)));
    const basis = tridiagonal.basis; // Pᵀ, row-major (products with P take it transposed)
    const projected = await watch.time('products', () => backend.matmul(basis, yTrain, n, n, columns)); // B = Pᵀ y
    const bestSolved = new Float64Array(n * columns);
    const gDiagonals = new Float64Array(alphas.length * n);
    const scratch = new Float64Array(n * n);
    for (let a = 0; a < alphas.length; a++) {
      // G_ii = [P (T+αI)⁻¹ Pᵀ]_ii − 1/(nα)
      shiftedInverseDiagonal(tridiagonal, alphas[a]!, basis, scratch, gDiagonals.subarray(a * n, (a + 1) * n));
      for (let i = 0; i < n; i++) gDiagonals[a * n + i]! -= 1 / (n * alphas[a]!);
    }
    // Several alphas share one product c = P [S_α1 S_α2 …] (fewer, larger products), within a memory bound.
    const group = Math.max(1, Math.min(alphas.length, Math.floor(BATCHED_COLUMNS / columns)));
    const solved = new Float64Array(n * columns);
    for (let first = 0; first < alphas.length; first += group) {
      const count = Math.min(group, alphas.length - first);
      const width = count * columns;
      const stacked = count === 1 ? solved : new Float64Array(n * width);
      for (let g = 0; g < count; g++) {
        solveShiftedTridiagonal(tridiagonal, alphas[first + g]!, projected, columns, solved); // S = (T+αI)⁻¹ Pᵀ y
        if (count > 1) for (let i = 0; i < n; i++) stacked.set(solved.subarray(i * columns, (i + 1) * columns), i * width + g * columns);
      }
      const dual = await watch.time('products', () => multiplyTransposed(backend, basis, stacked, n, n, width, 'a')); // c = P S = (K+αI)⁻¹ y
      for (let g = 0; g < count; g++) {
        const a = first + g;
        const errors = new Float64Array(columns);
        for (let i = 0; i < n; i++) {
          const inverse = 1 / gDiagonals[a * n + i]!;
          const offset = i * width + g * columns;
          for (let c = 0; c < columns; c++) {
            const e = dual[offset + c]! * inverse;
            errors[c]! += e * e;
          }
        }
        looErrors.set(errors, a * columns);
        keepBest(errors, bestError, chosenAlpha, a, stacked, bestSolved, n, columns, width, g * columns);
      }
    }
    // ŷ_test = K_test,train P S*, with (K_test,train P) formed once.
    const testKernel = await watch.time('products', () => multiplyTransposed(backend, xTest, xTrain, nTest, d, n, 'b'));
    const testBasis = await watch.time('products', () => multiplyTransposed(backend, testKernel, basis, nTest, n, n, 'b'));
    const predictions = await watch.time('products', () => backend.matmul(testBasis, bestSolved, nTest, n, columns));
    return { predictions, chosenAlpha, path: 'gram', looErrors };
  }

  const cross = await watch.time('products', () => multiplyTransposed(backend, xTrain, xTrain, d, nTrain, d, 'a'));
  const { values, vectors } = await watch.time('decomposition', () => symmetricEigen(cross, d));
  for (let k = 0; k < d; k++) if (values[k]! < 0) values[k] = 0;
  // vectors holds Vᵀ: products with V take it transposed.
  const scores = await watch.time('products', () => multiplyTransposed(backend, xTrain, vectors, nTrain, d, d, 'b')); // Z = X V
  const projected = await watch.time('products', () => multiplyTransposed(backend, scores, yTrain, d, nTrain, columns, 'a')); // B = Zᵀ y
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
  const testScores = await watch.time('products', () => multiplyTransposed(backend, xTest, vectors, nTest, d, d, 'b'));
  const predictions = await watch.time('products', () => backend.matmul(testScores, bestWeighted, nTest, d, columns));
  return { predictions, chosenAlpha, path: 'covariance', looErrors };
}

/** Float32 unit roundoff, and γ_k = k·u/(1 − k·u), the bound on the relative error of a k-term float32 sum or dot product (any order). */
const FLOAT32_UNIT = 2 ** -24;
const gamma32 = (k: number) => (k * FLOAT32_UNIT) / (1 - k * FLOAT32_UNIT);
/** The screen's bound is widened by this factor for the float64 rounding of its own inputs (F, ‖F‖_F, ‖b‖: relative ~1e-13). */
const SCREEN_SAFETY = 1 + 1e-6;

/** Rows × selected columns of a row-major rows × columns matrix. */
function gatherColumns(values: Float64Array, rows: number, columns: number, selected: Int32Array): Float64Array {
  const out = new Float64Array(rows * selected.length);
  for (let r = 0; r < rows; r++) {
    const from = r * columns, to = r * selected.length;
    for (let s = 0; s < selected.length; s++) out[to + s] = values[from + selected[s]!]!;
  }
  return out;
}

/**
 * The Gram path with every alpha's LOO errors from ONE stacked product. K' = X Xᵀ + 11ᵀ = P T Pᵀ
 * (tridiagonal reduction; the added 11ᵀ makes the intercept's direction, the constant vector, an
 * eigenvector of eigenvalue n instead of 0, as scikit-learn's RidgeCV does, so no alpha meets a
 * near-singular system). For centred y (orthogonal to 1), c = (K+αI)⁻¹ y = (K'+αI)⁻¹ y, formed per
 * alpha as P (T+αI)⁻¹ Pᵀ (n tridiagonal solves, two n×n products); G = (K+αI)⁻¹ − 11ᵀ/(nα) =
 * (K'+αI)⁻¹ − 11ᵀ/(n(n+α)); the LOO residual is c_i / G_ii, so each column's sum of squared LOO
 * residuals is a column sum of squares of F_α y with F_α = diag(1/G) (K'+αI)⁻¹. The F_α of all
 * alphas are stacked (alphas·n × n) and multiplied with the targets once; only the sums leave the
 * backend.
 *
 * On a backend with float32 products that product runs in float32 with a rigorous bound: every
 * entry of (F̃ Ỹ)_j is within γ_{n+3} Σ_k |F_ik| |y_kj| of the exact one (float32 rounding of both
 * operands and a float32 dot product in any order), so the column's √(sum) lies within
 * γ_{n+3} ‖F_α‖_F ‖y_j‖₂ of the float32 value's (itself within γ_{n+1} of its float32 sum). A column
 * whose smallest upper bound is below every other alpha's lower bound has its alpha; the rest
 * (close calls, constant columns) are decided on float64 sums of their candidate alphas only, the
 * first alpha winning ties. Predictions are float64: ŷ_test = K_test,train (K'+αI)⁻¹ y.
 */
async function fitGramStacked(
  xTrain: Float64Array, xTest: Float64Array, yTrain: Float64Array, n: number, nTest: number, d: number, columns: number,
  alphas: readonly number[], backend: MatmulBackend, watch: Stopwatch, exact: boolean,
): Promise<FoldFit> {
  const A = alphas.length;
  const kernel = await watch.time('products', () => symmetricKernel(backend, xTrain, n, d));
  for (let t = 0; t < n * n; t++) kernel[t]! += 1; // + 11ᵀ: the intercept's direction gets eigenvalue n
  const tridiagonal = await watch.time('decomposition', () => tridiagonalizePanelled(kernel, n, (a, b, p, k, q) => backend.matmul(a, b, p, k, q)));
  const basis = tridiagonal.basis; // Pᵀ, row-major
  const identity = new Float64Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  const inverses: Float64Array[] = []; // (K' + αI)⁻¹ = P (T+αI)⁻¹ Pᵀ per alpha
  const stacked = new Float64Array(A * n * n); // F_α = diag(1/G) (K' + αI)⁻¹, alpha after alpha
  const frobenius = new Float64Array(A); // ‖F_α‖_F
  for (let a = 0; a < A; a++) {
    const alpha = alphas[a]!;
    const solved = solveShiftedTridiagonal(tridiagonal, alpha, identity, n, new Float64Array(n * n)); // (T+αI)⁻¹
    const m = await watch.time('products', () => multiplyTransposed(backend, basis, solved, n, n, n, 'a')); // P (T+αI)⁻¹
    const inverse = await watch.time('products', () => backend.matmul(m, basis, n, n, n)); // … Pᵀ
    inverses.push(inverse);
    const f = stacked.subarray(a * n * n, (a + 1) * n * n);
    const intercept = 1 / (n * (n + alpha));
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const h = 1 / (inverse[i * n + i]! - intercept); // 1/G_ii, G_ii = [(K'+αI)⁻¹]_ii − 1/(n(n+α))
      for (let k = 0; k < n; k++) {
        const v = h * inverse[i * n + k]!;
        f[i * n + k] = v;
        squares += v * v;
      }
    }
    frobenius[a] = Math.sqrt(squares);
  }

  const chosenAlpha = new Int32Array(columns);
  let looErrors: Float64Array | undefined;
  let decidedInFloat64: number | undefined;
  const screen = backend.blockSumsOfSquaresFloat32;
  if (exact || screen === undefined) {
    looErrors = await watch.time('products', () => blockSumsOfSquares(backend, stacked, yTrain, A, n, n, columns));
    for (let c = 0; c < columns; c++) {
      let best = 0;
      for (let a = 1; a < A; a++) if (looErrors[a * columns + c]! < looErrors[best * columns + c]!) best = a;
      chosenAlpha[c] = best;
    }
  } else {
    const sums = await watch.time('products', () => screen.call(backend, new Float32Array(stacked), new Float32Array(yTrain), A, n, n, columns));
    const norms = new Float64Array(columns); // ‖y_j‖₂
    for (let k = 0; k < n; k++) for (let c = 0; c < columns; c++) norms[c]! += yTrain[k * columns + c]! ** 2;
    for (let c = 0; c < columns; c++) norms[c] = Math.sqrt(norms[c]!) * (1 + 1e-12);
    const sumGamma = gamma32(n + 1), productGamma = SCREEN_SAFETY * gamma32(n + 3);
    const lower = new Float64Array(A * columns), upper = new Float64Array(A * columns);
    for (let a = 0; a < A; a++) {
      const scale = productGamma * frobenius[a]!;
      for (let c = 0; c < columns; c++) {
        const t = a * columns + c;
        const eta = scale * norms[c]!;
        const low = Math.sqrt(sums[t]! / (1 + sumGamma)) - eta, high = Math.sqrt(sums[t]! / (1 - sumGamma)) + eta;
        lower[t] = low > 0 ? low * low : 0;
        upper[t] = high * high;
      }
    }
    // Candidates per column: the alphas whose lower bound does not exceed the smallest upper bound.
    const open: number[] = [];
    const candidates: number[][] = Array.from({ length: A }, () => []);
    for (let c = 0; c < columns; c++) {
      let bestUpper = Infinity, best = 0;
      for (let a = 0; a < A; a++) if (upper[a * columns + c]! < bestUpper) {
        bestUpper = upper[a * columns + c]!;
        best = a;
      }
      let count = 0;
      for (let a = 0; a < A; a++) if (lower[a * columns + c]! <= bestUpper) count++;
      chosenAlpha[c] = best;
      if (count > 1) {
        open.push(c);
        for (let a = 0; a < A; a++) if (lower[a * columns + c]! <= bestUpper) candidates[a]!.push(c);
      }
    }
    decidedInFloat64 = open.length;
    if (open.length > 0) {
      // Float64 sums of the open columns' candidate alphas only; the first alpha wins ties.
      const exactSums: (Map<number, number> | undefined)[] = [];
      for (let a = 0; a < A; a++) {
        const selected = Int32Array.from(candidates[a]!);
        if (selected.length === 0) continue;
        const b = gatherColumns(yTrain, n, columns, selected);
        const values = await watch.time('products', () => blockSumsOfSquares(backend, stacked.subarray(a * n * n, (a + 1) * n * n), b, 1, n, n, selected.length));
        exactSums[a] = new Map(Array.from(selected, (c, index) => [c, values[index]!]));
      }
      for (const c of open) {
        let best = -1, bestSum = Infinity;
        for (let a = 0; a < A; a++) {
          const sum = exactSums[a]?.get(c);
          if (sum === undefined) continue;
          if (best < 0 || sum < bestSum) {
            best = a;
            bestSum = sum;
          }
        }
        chosenAlpha[c] = best;
      }
    }
  }

  // ŷ_test = K_test,train P (T+αI)⁻¹ b for each column's alpha (columns grouped by alpha).
  const testKernel = await watch.time('products', () => multiplyTransposed(backend, xTest, xTrain, nTest, d, n, 'b'));
  const predictions = new Float64Array(nTest * columns);
  const byAlpha: number[][] = Array.from({ length: A }, () => []);
  for (let c = 0; c < columns; c++) byAlpha[chosenAlpha[c]!]!.push(c);
  for (let a = 0; a < A; a++) {
    const selected = byAlpha[a]!;
    if (selected.length === 0) continue;
    const z = await watch.time('products', () => backend.matmul(testKernel, inverses[a]!, nTest, n, n)); // K_test (K'+αI)⁻¹
    const all = selected.length === columns;
    const b = all ? yTrain : gatherColumns(yTrain, n, columns, Int32Array.from(selected));
    const part = await watch.time('products', () => backend.matmul(z, b, nTest, n, selected.length));
    if (all) predictions.set(part);
    else for (let r = 0; r < nTest; r++) for (let s = 0; s < selected.length; s++) predictions[r * columns + selected[s]!] = part[r * selected.length + s]!;
  }
  return { predictions, chosenAlpha, path: 'gram', ...(looErrors ? { looErrors } : {}), ...(decidedInFloat64 === undefined ? {} : { decidedInFloat64 }) };
}

/** One outer fold's results, as computed in-process or by a pool worker. */
export interface OuterFoldResult {
  /** test rows × columns predictions (target means included). */
  predictions: Float64Array;
  chosenAlpha: Int32Array;
  path: 'gram' | 'covariance';
  /** alphas × columns mean squared LOO errors on the training fold (absent when the screened Gram path was not asked for them). */
  looErrors?: Float64Array;
  /** Screened Gram path: how many columns the float32 screen left to float64. */
  decidedInFloat64?: number;
  /** Seconds in products, decomposition, and the fold's total. */
  timings: { products: number; decomposition: number; total: number };
}

/** Standardises, centres and fits one outer fold (the unit of work the fold pool distributes). */
export async function fitOuterFold(
  features: Float32Array | Float64Array, d: number, targets: Float64Array, columns: number,
  train: Int32Array, test: Int32Array, alphas: readonly number[], backend: MatmulBackend, options: FoldOptions = {},
): Promise<OuterFoldResult> {
  const started = performance.now();
  const watch = new Stopwatch();
  const x = standardiseFold(features, d, train, test);
  const y = gatherRows(targets, columns, train);
  const yMean = centreColumns(y, train.length, columns);
  const fit = await fitFold(x.train, x.test, y, train.length, test.length, d, columns, alphas, backend, watch, options);
  const predictions = fit.predictions;
  for (let r = 0; r < test.length; r++) for (let c = 0; c < columns; c++) predictions[r * columns + c]! += yMean[c]!;
  const looErrors = fit.looErrors;
  if (looErrors) for (let t = 0; t < looErrors.length; t++) looErrors[t]! /= train.length;
  return {
    predictions, chosenAlpha: fit.chosenAlpha, path: fit.path, ...(looErrors ? { looErrors } : {}),
    ...(fit.decidedInFloat64 === undefined ? {} : { decidedInFloat64: fit.decidedInFloat64 }),
    timings: { products: watch.products, decomposition: watch.decomposition, total: (performance.now() - started) / 1000 },
  };
}
