// Validation of grid requests: every refusal names the argument at fault.
import { GridInputError, parseBestInput, parseCompareInput, parseGridInput, type RawGridFilter } from '../../src/grid/input.ts';

function argumentOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof GridInputError) return error.argument;
    throw error;
  }
  throw new Error('expected a GridInputError');
}

test.each<[string, RawGridFilter, string]>([
  ['a non-integer id', { layerIds: ['3', '2.5'] }, 'input.filter.layerIds[1]'],
  ['a negative id', { componentIds: ['-1'] }, 'input.filter.componentIds[0]'],
  ['an id beyond int4', { attributeIds: ['9999999999'] }, 'input.filter.attributeIds[0]'],
  ['a word as id', { probeRunIds: ['abc'] }, 'input.filter.probeRunIds[0]'],
  ['zero as id', { extractionRunIds: ['0'] }, 'input.filter.extractionRunIds[0]'],
  ['an empty list', { attributeGroupIds: [] }, 'input.filter.attributeGroupIds'],
  ['an unknown component kind', { componentKinds: ['GPU'] }, 'input.filter.componentKinds[0]'],
  ['a fractional timestep', { timesteps: [1.5] }, 'input.filter.timesteps[0]'],
  ['an empty group name', { attributeGroupNames: [''] }, 'input.filter.attributeGroupNames[0]'],
])('%s is refused', (_name, filter, argument) => {
  expect(argumentOf(() => parseGridInput({ groupBy: ['LAYER'], filter }))).toBe(argument);
});

test('groupBy: duplicates and unknown dimensions; metric: unknown values', () => {
  expect(argumentOf(() => parseGridInput({ groupBy: ['LAYER', 'TIMESTEP', 'LAYER'] }))).toBe('input.groupBy');
  expect(argumentOf(() => parseGridInput({ groupBy: ['DEPTH'] }))).toBe('input.groupBy[0]');
  expect(argumentOf(() => parseGridInput({ metric: 'ACCURACY', groupBy: [] }))).toBe('input.metric');
  expect(argumentOf(() => parseBestInput({ per: 'LAYER' }))).toBe('input.per');
});

test('valid input is normalised: ids to numbers, duplicates removed, null timestep kept', () => {
  const query = parseGridInput({ groupBy: ['TIMESTEP'], filter: { layerIds: ['4', 4, '5'], timesteps: [null, 801, 801] } });
  expect(query).toEqual({ metric: 'PEARSON_R', groupBy: ['TIMESTEP'], filters: [{ layerIds: [4, 5], timesteps: [null, 801] }] });
});

test('comparison sides: aggregateOver must be grouped, and not on both sides', () => {
  const base = { groupBy: ['LAYER', 'TIMESTEP'] };
  expect(argumentOf(() => parseCompareInput({ ...base, left: { aggregateOver: ['ATTRIBUTE'] }, right: {} }))).toBe('input.left.aggregateOver');
  expect(argumentOf(() => parseCompareInput({ ...base, left: { aggregateOver: ['LAYER'] }, right: { aggregateOver: ['LAYER'] } }))).toBe('input.right.aggregateOver');
  expect(argumentOf(() => parseCompareInput({ ...base, left: {} }))).toBe('input.right');
  expect(argumentOf(() => parseCompareInput({ ...base, left: { filter: { layerIds: ['x'] } }, right: {} }))).toBe('input.left.filter.layerIds[0]');
  expect(argumentOf(() => parseCompareInput({ ...base, filter: { probeRunIds: [] }, left: {}, right: {} }))).toBe('input.filter.probeRunIds');
});

test('cell-level metrics refuse attribute dimensions and filters, naming the argument; bestCells refuses them outright', () => {
  expect(argumentOf(() => parseGridInput({ metric: 'ATTRIBUTE_RSA', groupBy: ['LAYER', 'ATTRIBUTE_GROUP'] }))).toBe('input.groupBy');
  expect(argumentOf(() => parseGridInput({ metric: 'CONCEPT_TWO_VS_TWO', groupBy: ['ATTRIBUTE'] }))).toBe('input.groupBy');
  expect(argumentOf(() => parseGridInput({ metric: 'ATTRIBUTE_TWO_VS_TWO', groupBy: ['LAYER'], filter: { attributeGroupNames: ['Vision'] } }))).toBe('input.filter.attributeGroupNames');
  expect(() => parseGridInput({ metric: 'ATTRIBUTE_TWO_VS_TWO', groupBy: ['LAYER'], filter: { attributeIds: ['3'] } })).toThrow(/^input\.filter\.attributeIds: does not apply to metric ATTRIBUTE_TWO_VS_TWO/);
  expect(argumentOf(() => parseCompareInput({ metric: 'ATTRIBUTE_RSA', groupBy: ['LAYER'], left: {}, right: { filter: { attributeGroupIds: ['2'] } } }))).toBe('input.right.filter.attributeGroupIds');
  expect(argumentOf(() => parseBestInput({ metric: 'ATTRIBUTE_RSA' }))).toBe('input.metric');
  // The same grouping is fine for a per-attribute metric.
  expect(parseGridInput({ metric: 'PEARSON_R', groupBy: ['ATTRIBUTE_GROUP'], filter: { attributeGroupNames: ['Vision'] } }).groupBy).toEqual(['ATTRIBUTE_GROUP']);
});

test('significanceLevel: SIGNIFICANT_SHARE only, in (0, 1], 0.05 by default', () => {
  expect(parseGridInput({ metric: 'SIGNIFICANT_SHARE', groupBy: [] }).significanceLevel).toBe(0.05);
  expect(parseGridInput({ metric: 'SIGNIFICANT_SHARE', significanceLevel: 0.01, groupBy: [] }).significanceLevel).toBe(0.01);
  expect(argumentOf(() => parseGridInput({ metric: 'PEARSON_R', significanceLevel: 0.05, groupBy: [] }))).toBe('input.significanceLevel');
  expect(argumentOf(() => parseGridInput({ metric: 'SIGNIFICANT_SHARE', significanceLevel: 0, groupBy: [] }))).toBe('input.significanceLevel');
  expect(argumentOf(() => parseBestInput({ metric: 'SIGNIFICANT_SHARE', significanceLevel: 1.5 }))).toBe('input.significanceLevel');
});

test('paired: PEARSON_R or R2 only, counts bounded, defaults filled in', () => {
  const base = { groupBy: ['LAYER'], left: {}, right: {} };
  expect(parseCompareInput({ ...base, paired: {} }).paired).toEqual({ bootstrapCount: 1000, permutationCount: 1000, seed: 0 });
  expect(parseCompareInput({ ...base, metric: 'R2', paired: { bootstrapCount: 0, seed: 5 } }).paired).toEqual({ bootstrapCount: 0, permutationCount: 1000, seed: 5 });
  expect(parseCompareInput(base).paired).toBeUndefined();
  expect(() => parseCompareInput({ ...base, metric: 'TWO_VS_TWO', paired: {} })).toThrow(/^input\.metric: must be PEARSON_R or R2 for input\.paired: .*fold/);
  expect(argumentOf(() => parseCompareInput({ ...base, metric: 'ATTRIBUTE_RSA', paired: {} }))).toBe('input.metric');
  expect(argumentOf(() => parseCompareInput({ ...base, paired: { permutationCount: 10_001 } }))).toBe('input.paired.permutationCount');
  expect(argumentOf(() => parseCompareInput({ ...base, paired: { bootstrapCount: -1 } }))).toBe('input.paired.bootstrapCount');
  expect(argumentOf(() => parseCompareInput({ ...base, paired: { seed: 1.5 } }))).toBe('input.paired.seed');
});
