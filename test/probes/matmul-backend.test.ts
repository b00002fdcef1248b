/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Products with a transposed operand (ONNX Runtime Gemm with transA / transB, TypeScript loops, and
// the transpose-then-MatMul fallback for a backend without gemm) against the textbook triple loop;
// the blocks' column sums of squares of a stacked product (float64, and float32 within its bound).
import { blockSumsOfSquares, createOnnxBackend, multiplyTransposed, typescriptBackend, type MatmulBackend } from '../../src/probes/matmul-backend.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { naive, transpose } from './reference.ts';


let onnx: MatmulBackend;
beforeAll(async () => {
  onnx = await createOnnxBackend({ minMultiplyAdds: 0, intraOpThreads: 1 });
});

test.each([['onnxruntime'], ['typescript'], ['matmul only']])('op(A)·op(B) with A or B stored transposed (%s)', async (name) => {
  const backend = name === 'onnxruntime' ? onnx : name === 'typescript' ? typescriptBackend : { name: 'plain', matmul: typescriptBackend.matmul };
  const random = seededRandom(5);
  const [p, k, q] = [7, 11, 5];
  const a = new Float64Array(p * k).map(() => random() - 0.5);
  const b = new Float64Array(k * q).map(() => random() - 0.5);
  const expected = naive(a, b, p, k, q);
  const viaA = await multiplyTransposed(backend, transpose(a, p, k), b, p, k, q, 'a');
  const viaB = await multiplyTransposed(backend, a, transpose(b, k, q), p, k, q, 'b');
  expect(viaA.length).toBe(p * q);
  expect(viaB.length).toBe(p * q);
  for (let t = 0; t < p * q; t++) {
    expect(Math.abs(viaA[t]! - expected[t]!)).toBeLessThan(1e-14);
    expect(Math.abs(viaB[t]! - expected[t]!)).toBeLessThan(1e-14);
  }
});

test.each([['onnxruntime'], ['typescript'], ['matmul only']])('column sums of squares per block of a stacked product (%s)', async (name) => {
  const backend = name === 'onnxruntime' ? onnx : name === 'typescript' ? typescriptBackend : { name: 'plain', matmul: typescriptBackend.matmul };
  const random = seededRandom(8);
  const [blocks, rows, k, q] = [3, 6, 9, 4];
  const a = new Float64Array(blocks * rows * k).map(() => random() - 0.5);
  const b = new Float64Array(k * q).map(() => random() - 0.5);
  const product = naive(a, b, blocks * rows, k, q);
  const expected = new Float64Array(blocks * q);
  for (let g = 0; g < blocks; g++) for (let i = 0; i < rows; i++) for (let j = 0; j < q; j++) expected[g * q + j]! += product[(g * rows + i) * q + j]! ** 2;
  const sums = await blockSumsOfSquares(backend, a, b, blocks, rows, k, q);
  expect(sums.length).toBe(blocks * q);
  for (let t = 0; t < sums.length; t++) expect(Math.abs(sums[t]! - expected[t]!)).toBeLessThan(1e-14 * expected[t]! + 1e-15);
  if (name !== 'onnxruntime') return;
  // float32: within the bound fitGramStacked relies on (γ_{k+3} per entry of the product, γ_{rows+1} on the sum).
  const sums32 = await onnx.blockSumsOfSquaresFloat32!(new Float32Array(a), new Float32Array(b), blocks, rows, k, q);
  const gamma = (m: number) => (m * 2 ** -24) / (1 - m * 2 ** -24);
  let exactlyEqual = 0;
  for (let g = 0; g < blocks; g++) for (let j = 0; j < q; j++) {
    let bound = 0;
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += Math.abs(a[(g * rows + i) * k + l]! * b[l * q + j]!);
      bound += (gamma(k + 3) * s) ** 2;
    }
    const t = g * q + j;
    const root = Math.sqrt(sums32[t]!);
    expect(Math.abs(root - Math.sqrt(expected[t]!))).toBeLessThanOrEqual(Math.sqrt(bound) + gamma(rows + 1) * root);
    if (sums32[t] === expected[t]) exactlyEqual++;
  }
  expect(exactlyEqual).toBeLessThan(blocks * q); // really float32: not the float64 values
});
