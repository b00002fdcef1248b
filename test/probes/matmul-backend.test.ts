/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Products with a transposed operand (ONNX Runtime Gemm with transA / transB, TypeScript loops, and
// the transpose-then-MatMul fallback for a backend without gemm) against the textbook triple loop.
import { createOnnxBackend, multiplyTransposed, typescriptBackend, type MatmulBackend } from '../../src/probes/matmul-backend.ts';
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
