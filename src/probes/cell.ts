// Everything computed for one probe cell (one representation × one norms dataset), on arrays only:
// the ridge CV on the real ratings and on P jointly-permuted copies (one pass: permuted copies are
// extra target columns sharing each fold's decomposition), per-attribute scores with measured chance
// and permutation p-values, group means with bootstrap intervals, and the disentanglement measures.
import { attributePairTwoVsTwo, attributeSimilarities, rsaOfTriangles } from './disentanglement.ts';
import { bootstrapGroupsOn, type GroupInterval, type GroupMetric } from './bootstrap.ts';
import { permutationPValue } from './fdr.ts';
import { conceptTwoVsTwo, scoreColumns } from './metrics.ts';
import { deriveSeed, seededPermutation } from './random.ts';
import { ridgeCrossValidate } from './ridge.ts';
import { typescriptBackend, type MatmulBackend } from './matmul-backend.ts';

export interface CellInput {
  features: Float32Array | Float64Array;
  n: number;
  d: number;
  /** n × attributes human ratings, row-major. */
  ratings: Float64Array;
  attributes: number;
  /** groups[g] = attribute indices of group g. */
  groups: readonly (readonly number[])[];
  foldOf: Int32Array;
  alphas: readonly number[];
  permutations: number;
  bootstrap: number;
  seed: number;
}

export interface AttributeResult {
  pearsonR: number;
  r2: number;
  twoVsTwo: number;
  /** Median over outer folds of the chosen alpha (geometric mean of the middle two for an even count). */
  alpha: number;
  /** Means over the P permutations (null when P = 0). */
  nullPearsonR: number | null;
  nullR2: number | null;
  nullTwoVsTwo: number | null;
  pValue: number | null;
}

export interface CellResult {
  n: number;
  attributes: AttributeResult[];
  groups: GroupInterval[];
  /** Attribute-pair 2-vs-2 accuracies for a < b, row-major pair order (stored as the 'pair_accuracy' matrix). */
  pairAccuracies: Float64Array;
  /** Pearson r between attributes' out-of-fold predictions over concepts, a < b, same order ('model_similarity'). */
  modelSimilarity: Float64Array;
  /** Pearson r between attributes' human ratings over concepts, a < b, same order ('human_similarity'). */
  humanSimilarity: Float64Array;
  attributeTwoVsTwo: number;
  attributeRsa: number;
  /** Concept-level 2-vs-2 over whole profiles (stored as probe_cell.concept_two_vs_two, API ProbeCell.conceptTwoVsTwo). */
  conceptTwoVsTwo: number;
  /** Out-of-fold predictions of the real ratings, n × attributes. */
  predictions: Float64Array;
  timings: { fit: number; products: number; decomposition: number; score: number; bootstrap: number; disentanglement: number };
}

export function medianAlpha(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.sqrt(sorted[middle - 1]! * sorted[middle]!);
}

/** The seeded concept permutations of a cell: row i of copy p takes the ratings of concept perm[p][i]. */
export function cellPermutations(n: number, count: number, seed: number): Int32Array[] {
  return Array.from({ length: count }, (_, p) => seededPermutation(n, deriveSeed(seed, p + 1)));
}

export const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export async function probeCell(input: CellInput, backend: MatmulBackend = typescriptBackend): Promise<CellResult> {
  const { n, d, ratings, attributes: m, foldOf, alphas, permutations: P } = input;
  if (ratings.length !== n * m) throw new RangeError(`ratings has ${ratings.length} values, expected ${n}×${m}.`);
  let started = performance.now();
  const columns = m * (1 + P);
  const targets = new Float64Array(n * columns);
  const shuffles = cellPermutations(n, P, input.seed);
  for (let i = 0; i < n; i++) {
    targets.set(ratings.subarray(i * m, (i + 1) * m), i * columns);
    shuffles.forEach((perm, p) => targets.set(ratings.subarray(perm[i]! * m, (perm[i]! + 1) * m), i * columns + (p + 1) * m));
  }
  const cv = await ridgeCrossValidate({ features: input.features, n, d, targets, columns, foldOf, alphas }, backend);
  const fit = (performance.now() - started) / 1000;

  started = performance.now();
  const pointEstimates: Record<GroupMetric, Float64Array> = {
    pearson_r: new Float64Array(m), r2: new Float64Array(m), two_vs_two: new Float64Array(m),
  };
  const results: AttributeResult[] = [];
  const scores = scoreColumns(cv.predictions, targets, n, columns, cv.folds);
  for (let a = 0; a < m; a++) {
    const r = scores.pearson[a]!, r2 = scores.r2[a]!, accuracy = scores.twoVsTwo[a]!;
    pointEstimates.pearson_r[a] = r;
    pointEstimates.r2[a] = r2;
    pointEstimates.two_vs_two[a] = accuracy;
    const nullR = new Float64Array(P);
    let sumR = 0, sumR2 = 0, sumAccuracy = 0;
    for (let p = 0; p < P; p++) {
      const column = (p + 1) * m + a;
      nullR[p] = scores.pearson[column]!;
      sumR += nullR[p]!;
      sumR2 += scores.r2[column]!;
      sumAccuracy += scores.twoVsTwo[column]!;
    }
    const chosen: number[] = [];
    for (let f = 0; f < cv.folds.length; f++) chosen.push(alphas[cv.chosenAlpha[f * columns + a]!]!);
    results.push({
      pearsonR: r,
      r2,
      twoVsTwo: accuracy,
      alpha: medianAlpha(chosen),
      nullPearsonR: P > 0 ? finiteOrNull(sumR / P) : null,
      nullR2: P > 0 ? finiteOrNull(sumR2 / P) : null,
      nullTwoVsTwo: P > 0 ? finiteOrNull(sumAccuracy / P) : null,
      pValue: P > 0 ? finiteOrNull(permutationPValue(r, nullR)) : null,
    });
  }
  const predictions = new Float64Array(n * m);
  for (let i = 0; i < n; i++) predictions.set(cv.predictions.subarray(i * columns, i * columns + m), i * m);
  const score = (performance.now() - started) / 1000;

  started = performance.now();
  const groups = await bootstrapGroupsOn(backend, {
    predicted: predictions, truth: ratings, n, columns: m, groups: input.groups, folds: cv.folds,
    pointEstimates, replicates: input.bootstrap, seed: deriveSeed(input.seed, 0),
  });
  const bootstrap = (performance.now() - started) / 1000;

  started = performance.now();
  const pairAccuracies = attributePairTwoVsTwo(predictions, ratings, n, m, m);
  let pairSum = 0, pairCount = 0;
  for (const v of pairAccuracies) if (!Number.isNaN(v)) {
    pairSum += v;
    pairCount++;
  }
  const similarity = attributeSimilarities(predictions, ratings, n, m, m);
  const result: CellResult = {
    n,
    attributes: results,
    groups,
    pairAccuracies,
    modelSimilarity: similarity.model,
    humanSimilarity: similarity.human,
    attributeTwoVsTwo: pairCount > 0 ? pairSum / pairCount : NaN,
    attributeRsa: rsaOfTriangles(similarity.model, similarity.human),
    conceptTwoVsTwo: conceptTwoVsTwo(predictions, ratings, m, m, cv.folds),
    predictions,
    timings: { fit, products: cv.timings.products, decomposition: cv.timings.decomposition, score, bootstrap, disentanglement: 0 },
  };
  result.timings.disentanglement = (performance.now() - started) / 1000;
  return result;
}
