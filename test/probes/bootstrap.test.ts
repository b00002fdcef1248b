import { bootstrapGroups, type GroupMetric } from '../../src/probes/bootstrap.ts';
import { assignFolds, foldMembers } from '../../src/probes/folds.ts';
import { pearson, rSquared, twoVsTwo } from '../../src/probes/metrics.ts';
import { seededRandom } from '../../src/probes/random.ts';
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
