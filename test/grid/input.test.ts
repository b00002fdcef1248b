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
