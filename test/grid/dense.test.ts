// Dense-grid assembly on arrays: row-major order, holes, broadcasting and axis unions.
import { assembleComparison, assembleDense, coordinatesOf, mergeAxisValues, type Axis, type AxisValue } from '../../src/grid/dense.ts';

const value = (index: number, key: string, sort: number[]): AxisValue => ({
  index, key, label: key, id: key === 'none' ? null : Number(key), timestep: null, sort,
});
const layers: Axis = { dimension: 'LAYER', values: [value(0, '30', [0]), value(1, '10', [1]), value(2, '20', [2])] };
const timesteps: Axis = { dimension: 'TIMESTEP', values: [value(0, 'none', [0, 0]), value(1, '900', [1, -900])] };

test('row-major coordinates: the last axis varies fastest', () => {
  expect([0, 1, 2, 3, 4, 5].map((i) => coordinatesOf(i, [3, 2]))).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
  expect(coordinatesOf(0, [])).toEqual([]);
});

test('sparse rows land in their cells; missing cells are n = 0 with nulls; unknown keys are dropped', () => {
  const cells = assembleDense([layers, timesteps], [
    { keys: [20, null], n: 3, mean: 0.5, sd: 0.1, nullMean: 0.01, nullN: 3 },
    { keys: [30, 900], n: 1, mean: 0.2, sd: null, nullMean: null, nullN: 0 },
    { keys: [99, 900], n: 5, mean: 0.9, sd: 0.1, nullMean: null, nullN: 0 },
  ]);
  expect(cells).toHaveLength(6);
  expect(cells.map((cell) => cell.n)).toEqual([0, 1, 0, 0, 3, 0]);
  expect(cells[4]).toMatchObject({ index: 4, coordinates: [2, 0], mean: 0.5, nullMean: 0.01 });
  expect(cells[1]).toMatchObject({ mean: 0.2, sd: null, ciLow: null, ciHigh: null });
  expect(cells[4]!.ciLow).toBeLessThan(0.5);
  expect(cells[0]).toMatchObject({ mean: null, sd: null, ciLow: null, nullMean: null });
});

test('a comparison side aggregated over a dimension is broadcast along it', () => {
  const groups: Axis = { dimension: 'ATTRIBUTE_GROUP', values: [value(0, '1', [0]), value(1, '2', [1])] };
  const cells = assembleComparison(
    [groups, layers],
    ['LAYER'],
    [],
    [{ keys: [1, null], n: 4, mean: 0.6, sd: 0.1, nullMean: null, nullN: 0 }],
    [
      { keys: [1, 10], n: 3, mean: 0.2, sd: 0.1, nullMean: null, nullN: 0 },
      { keys: [2, 10], n: 3, mean: 0.3, sd: 0.1, nullMean: null, nullN: 0 },
    ],
  );
  expect(cells.map((cell) => [cell.left.n, cell.right.n])).toEqual([[4, 0], [4, 3], [4, 0], [0, 0], [0, 3], [0, 0]]);
  expect(cells[1]!.difference).toBeCloseTo(0.4, 12);
  expect(cells[1]!.ciLow).toBeLessThan(0.4);
  expect(cells[0]!.difference).toBeNull();
  expect(cells[4]!.difference).toBeNull();
});

test('axis union keeps catalogue order and re-indexes', () => {
  const merged = mergeAxisValues([value(0, '900', [1, -900]), value(1, '100', [1, -100])], [value(0, 'none', [0, 0]), value(1, '100', [1, -100])]);
  expect(merged.map((v) => [v.index, v.key])).toEqual([[0, 'none'], [1, '900'], [2, '100']]);
});
