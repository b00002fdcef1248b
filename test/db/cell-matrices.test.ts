// The one layout of a cell's stored matrices and predictions (src/db/cell-matrices.ts): the triangle
// index walks the pairs in the probe's order, values round-trip as float32 (NaN included), and bytes
// whose length does not match their ids are refused naming the row instead of being read half-way.
import {
  CellDataError, denseFromTriangle, packMatrix, packTriangle, triangleIndex, triangleLength, unpackMatrix, unpackTriangle,
} from '../../src/db/cell-matrices.ts';

test('triangleIndex numbers the pairs a < b in row-major order, as the probe writes them', () => {
  for (const m of [2, 3, 7, 65]) {
    let k = 0;
    for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) expect(triangleIndex(i, j, m)).toBe(k++);
    expect(k).toBe(triangleLength(m));
  }
});

test('a triangle and a matrix round-trip as little-endian float32, NaN included', () => {
  const triangle = [0.1, NaN, -0.75];
  const bytes = packTriangle(triangle, 3);
  expect(bytes.toString('hex')).toBe('cdcccc3d' + '0000c07f' + '000040bf');
  expect([...unpackTriangle(bytes, 3, 'row')]).toEqual([Math.fround(0.1), NaN, -0.75]);
  // An unaligned copy (as pg may hand it over) reads the same.
  const shifted = Buffer.concat([Buffer.from([0]), bytes]).subarray(1);
  expect([...unpackTriangle(shifted, 3, 'row')]).toEqual([Math.fround(0.1), NaN, -0.75]);
  const predictions = Float64Array.from([1, 2, 3, 4, 5, 6.5]);
  expect([...unpackMatrix(packMatrix(predictions, 2, 3), 2, 3, 'row')]).toEqual([1, 2, 3, 4, 5, 6.5]);
});

test('bytes of the wrong length for their ids are refused with BAD_CELL_DATA naming the row', () => {
  const bytes = packTriangle([1, 2, 3], 3);
  const read = () => unpackTriangle(bytes, 4, 'probe_cell_matrix (cell 9, pair_accuracy)');
  expect(read).toThrow(CellDataError);
  expect(read).toThrow(/probe_cell_matrix \(cell 9, pair_accuracy\): 12 bytes, expected 6 float32 values/);
  expect(() => unpackMatrix(bytes, 2, 2, 'probe_cell_prediction (cell 9)')).toThrow(/cell 9.*expected 4 float32/);
  expect(() => packTriangle([1, 2], 3)).toThrow(RangeError);
});

test('the dense matrix of chosen rows is symmetric, NaN as null, with the diagonal asked for', () => {
  // m = 4: (0,1)=1 (0,2)=2 (0,3)=3 (1,2)=4 (1,3)=NaN (2,3)=6
  const triangle = Float32Array.from([1, 2, 3, 4, NaN, 6]);
  expect(denseFromTriangle(triangle, 4, [3, 1, 0], (i) => (i === 1 ? null : 1))).toEqual([
    [1, null, 3],
    [null, null, 1],
    [3, 1, 1],
  ]);
});
