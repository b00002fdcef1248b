/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The group bootstrap: intervals that behave (cover, narrow with n, reproduce from the seed), the
// contiguous loops equal to the first one-attribute-at-a-time version bit for bit, and the batched
// matrix-product version equal to the loops.
import { bootstrapGroups, bootstrapGroupsWithProducts, type GroupMetric } from '../../src/probes/bootstrap.ts';
import { createOnnxBackend, typescriptBackend } from '../../src/probes/matmul-backend.ts';
import { assignFolds, foldMembers } from '../../src/probes/folds.ts';
import { pearson, rSquared, twoVsTwo } from '../../src/probes/metrics.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { referenceBootstrapGroups } from './bootstrap-reference.ts';
import { gaussianSampler } from './reference.ts';

function intervals(n: number, seed: number) {
  const m = 3;
  const normal = gaussianSampler(seededRandom(seed));
  const truth = new Float64Array(n * m).map(() => normal());
  const predicted = truth.map((t) => 0.6 * t + 0.8 * normal());
  const folds = foldMembers(assignFolds(n, 5, seed));
  const pointEstimates = {} as Record<GroupMetric, Float64Array>;
  pointEstimates.pearson_r = Float64Array.from([0, 1, 2], (c) => pearson(predicted, truth, n, m, c));
  pointEstimates.r2 = Float64Array.from([0, 1, 2], (c) => rSquared(predicted, truth, n, m, c));
  pointEstimates.two_vs_two = Float64Array.from([0, 1, 2], (c) => twoVsTwo(predicted, truth, m, c, folds));
  return bootstrapGroups({ predicted, truth, n, columns: m, groups: [[0, 1, 2]], folds, pointEstimates, replicates: 400, seed: 1 });
}

test('the 95% interval contains the group mean, for every metric', () => {
  const result = intervals(120, 3);
  expect(result.map((r) => r.metric).sort()).toEqual(['pearson_r', 'r2', 'two_vs_two']);
  for (const r of result) {
    expect(r.ciLow).toBeLessThan(r.mean);
    expect(r.ciHigh).toBeGreaterThan(r.mean);
  }
  // the r interval sits around the population value 0.6 for this construction
  const r = result.find((g) => g.metric === 'pearson_r')!;
  expect(r.ciLow).toBeLessThan(0.6 + 0.05);
  expect(r.ciHigh).toBeGreaterThan(0.6 - 0.05);
});

test('the interval narrows as concepts are added (about 1/√n)', () => {
  const small = intervals(50, 5), large = intervals(800, 5);
  for (const metric of ['pearson_r', 'r2', 'two_vs_two'] as const) {
    const width = (rows: typeof small) => rows.find((g) => g.metric === metric)!.ciHigh - rows.find((g) => g.metric === metric)!.ciLow;
    expect(width(large)).toBeLessThan(0.5 * width(small)); // √(50/800) = 0.25
  }
});

test('the bootstrap is reproducible from its seed', () => {
  expect(intervals(60, 2)).toEqual(intervals(60, 2));
});

test('equals the one-attribute-at-a-time bootstrap bit for bit (realistic shape: 275 concepts, 60 grouped attributes of 70 columns, tied ratings)', () => {
  const n = 275, columns = 70, seed = 9;
  const normal = gaussianSampler(seededRandom(seed));
  // Ratings rounded to a half-point grid, so many pairs are tied and excluded from the 2-vs-2.
  const truth = new Float64Array(n * columns).map(() => Math.round(2 * (3 + normal())) / 2);
  const predicted = truth.map((v) => 0.5 * v + normal());
  const folds = foldMembers(assignFolds(n, 10, seed));
  const groups = Array.from({ length: 7 }, (_, g) => Array.from({ length: g === 6 ? 5 : 10 }, (_, k) => g * 10 + k).filter((c) => c % 13 !== 4));
  const pointEstimates = {} as Record<GroupMetric, Float64Array>;
  pointEstimates.pearson_r = Float64Array.from({ length: columns }, (_, c) => pearson(predicted, truth, n, columns, c));
  pointEstimates.r2 = Float64Array.from({ length: columns }, (_, c) => rSquared(predicted, truth, n, columns, c));
  pointEstimates.two_vs_two = Float64Array.from({ length: columns }, (_, c) => twoVsTwo(predicted, truth, columns, c, folds));
  const input = { predicted, truth, n, columns, groups, folds, pointEstimates, replicates: 300, seed: 4 };
  const fast = bootstrapGroups(input);
  expect(fast).toHaveLength(7 * 3);
  expect(fast.every((g) => g.ciLow < g.ciHigh)).toBe(true);
  expect(fast).toEqual(referenceBootstrapGroups(input));
});

test('the batched products give the loops\' intervals (to 1e-12) from the same draws, on either backend', async () => {
  const n = 275, columns = 40, seed = 12;
  const normal = gaussianSampler(seededRandom(seed));
  const truth = new Float64Array(n * columns).map(() => Math.round(2 * (3 + normal())) / 2);
  const predicted = truth.map((v) => 3 + 0.4 * v + normal()); // biased, so R² and r differ
  const folds = foldMembers(assignFolds(n, 10, seed));
  const groups = [[0, 1, 2, 3, 4], [5, 7, 9, 11], Array.from({ length: 28 }, (_, k) => 12 + k)];
  const pointEstimates = {} as Record<GroupMetric, Float64Array>;
  pointEstimates.pearson_r = Float64Array.from({ length: columns }, (_, c) => pearson(predicted, truth, n, columns, c));
  pointEstimates.r2 = Float64Array.from({ length: columns }, (_, c) => rSquared(predicted, truth, n, columns, c));
  pointEstimates.two_vs_two = Float64Array.from({ length: columns }, (_, c) => twoVsTwo(predicted, truth, columns, c, folds));
  const input = { predicted, truth, n, columns, groups, folds, pointEstimates, replicates: 600, seed: 2 }; // > one batch of 250
  const loops = bootstrapGroups(input);
  for (const backend of [typescriptBackend, await createOnnxBackend({ minMultiplyAdds: 0 })]) {
    const batched = await bootstrapGroupsWithProducts(input, backend);
    expect(batched.map((g) => [g.group, g.metric, g.mean])).toEqual(loops.map((g) => [g.group, g.metric, g.mean]));
    batched.forEach((g, k) => {
      expect(Math.abs(g.ciLow - loops[k]!.ciLow)).toBeLessThan(1e-12);
      expect(Math.abs(g.ciHigh - loops[k]!.ciHigh)).toBeLessThan(1e-12);
      if (g.metric === 'two_vs_two') expect([g.ciLow, g.ciHigh]).toEqual([loops[k]!.ciLow, loops[k]!.ciHigh]); // exact counts
    });
    expect(loops.some((g) => g.metric === 'r2' && g.ciHigh < 0.5)).toBe(true);
  }
});
