// Cross-validated ridge regression with the regularisation chosen per target by exact leave-one-out
// on the training fold. Per outer fold: standardise features with the training fold's mean and SD,
// centre targets on the training fold (the unpenalised intercept), decompose ONCE (the n×n Gram
// matrix when d ≥ n — reduced to tridiagonal form —, the d×d cross-product otherwise — eigen-
// decomposed), then every alpha and every target column (the real ratings and any permuted copies)
// reuses that basis, so each alpha costs O(n²) per target instead of a new O(n³) solve. On the Gram
// path all alphas' LOO errors come from one stacked product, screened in float32 with a rigorous
// bound and decided in float64 where the screen cannot tell (outer-fold.ts fitGramStacked).
// docs/metrics.md gives the formulas.
// One fold's fit is outer-fold.ts. Folds are independent: large ones run on a pool of worker threads
// (fold-pool.ts), one per core.
import { foldMembers } from './folds.ts';
import { typescriptBackend, type MatmulBackend } from './matmul-backend.ts';
import { canRebuildInWorker, fitFoldsInPool, PARALLEL_MIN_TRAIN_ROWS, poolSize } from './fold-pool.ts';
import { fitOuterFold, type FoldOptions, type GramMethod, type OuterFoldResult } from './outer-fold.ts';

export interface RidgeCvInput {
  /** n × d features, row-major (Float32 activations are widened to float64 once per call). */
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
  /** Fit the folds on the worker pool (true), in this thread (false), or decide by size (undefined). */
  parallel?: boolean;
  /** How the Gram path searches the alphas (outer-fold.ts GramMethod); 'stacked' unless asked. */
  method?: GramMethod;
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
  /** Gram path, float32 alpha screen: of the folds × columns alpha choices, how many the screen left to float64 (0 when nothing was screened). */
  decidedInFloat64: number;
  /** Seconds spent in matrix products, decompositions (tridiagonalisation / eigendecomposition) and the rest, summed over folds (over worker threads when the folds ran in parallel, so their sum can exceed the wall time). */
  timings: { products: number; decomposition: number; other: number };
}

/** Training rows of each fold (every row not in the fold's test set). */
function trainingRows(n: number, folds: Int32Array[]): Int32Array[] {
  const isTest = new Uint8Array(n);
  return folds.map((test, f) => {
    isTest.fill(0);
    for (const row of test) isTest[row] = 1;
    const train = new Int32Array(n - test.length);
    let t = 0;
    for (let i = 0; i < n; i++) if (!isTest[i]) train[t++] = i;
    if (train.length < 3) throw new RangeError(`Fold ${f} leaves only ${train.length} training rows.`);
    return train;
  });
}

/**
 * Runs the folds on the shared worker pool (fold-pool.ts) when it pays: more than one core, a
 * backend a worker can rebuild by name, and folds big enough that the O(n³) per-fold work dwarfs
 * the message round trip. `input.parallel` forces it either way.
 */
function shouldUsePool(input: RidgeCvInput, backend: MatmulBackend, trainRows: number): boolean {
  if (input.parallel !== undefined) return input.parallel && canRebuildInWorker(backend);
  return poolSize() > 1 && canRebuildInWorker(backend) && trainRows >= PARALLEL_MIN_TRAIN_ROWS;
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
  const folds = foldMembers(foldOf);
  if (folds.length < 2) throw new RangeError('Cross-validation needs at least 2 non-empty folds.');
  const trains = trainingRows(n, folds);
  const largestTrain = Math.max(...trains.map((t) => t.length));
  const pooled = shouldUsePool(input, backend, largestTrain);
  // Widened to float64 once per call (in shared memory for the pool), not once per fold.
  const wide = features instanceof Float64Array && !pooled ? features : widen(features, pooled);
  const options: FoldOptions = { method: input.method ?? 'stacked', exactLooErrors: input.keepLooErrors ?? false };
  const fits = pooled
    ? await fitFoldsInPool({ features: wide, d, targets, columns, alphas, backend, options, folds: folds.map((test, f) => ({ train: trains[f]!, test })) })
    : await fitFoldsSerially(wide, d, targets, columns, alphas, backend, folds, trains, options);
  const predictions = new Float64Array(n * columns);
  const chosenAlpha = new Int32Array(folds.length * columns);
  const looErrors = input.keepLooErrors ? new Float64Array(folds.length * alphas.length * columns) : undefined;
  const timings = { products: 0, decomposition: 0, other: 0 };
  let decidedInFloat64 = 0;
  fits.forEach((fit, f) => {
    folds[f]!.forEach((row, r) => predictions.set(fit.predictions.subarray(r * columns, (r + 1) * columns), row * columns));
    chosenAlpha.set(fit.chosenAlpha, f * columns);
    if (looErrors) looErrors.set(fit.looErrors!, f * alphas.length * columns);
    decidedInFloat64 += fit.decidedInFloat64 ?? 0;
    timings.products += fit.timings.products;
    timings.decomposition += fit.timings.decomposition;
    timings.other += fit.timings.total - fit.timings.products - fit.timings.decomposition;
  });
  return { predictions, chosenAlpha, folds, paths: fits.map((fit) => fit.path), looErrors, decidedInFloat64, timings };
}

function widen(features: Float32Array | Float64Array, shared: boolean): Float64Array {
  const out = new Float64Array(shared ? new SharedArrayBuffer(features.length * 8) : new ArrayBuffer(features.length * 8));
  out.set(features);
  return out;
}

async function fitFoldsSerially(
  features: Float32Array | Float64Array, d: number, targets: Float64Array, columns: number, alphas: readonly number[],
  backend: MatmulBackend, folds: Int32Array[], trains: Int32Array[], options: FoldOptions,
): Promise<OuterFoldResult[]> {
  const fits: OuterFoldResult[] = [];
  for (let f = 0; f < folds.length; f++) fits.push(await fitOuterFold(features, d, targets, columns, trains[f]!, folds[f]!, alphas, backend, options));
  return fits;
}

export { closeFoldPool } from './fold-pool.ts';
