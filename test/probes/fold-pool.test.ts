/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The outer folds fitted on the worker pool (worker threads, shared memory) give the same numbers
// as fitted in this thread, for both decomposition paths and both product backends; errors in a
// worker come back as rejections; the pool closes and restarts on demand.
import { assignFolds } from '../../src/probes/folds.ts';
import { closeFoldPool } from '../../src/probes/fold-pool.ts';
import { createOnnxBackend, typescriptBackend, type BackendSpec, type MatmulBackend } from '../../src/probes/matmul-backend.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { ridgeCrossValidate } from '../../src/probes/ridge.ts';
import { gaussianSampler } from './reference.ts';

const ALPHAS = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5];

function problem(n: number, d: number, q: number, seed: number) {
  const normal = gaussianSampler(seededRandom(seed));
  const features = new Float32Array(n * d).map(() => normal());
  const targets = new Float64Array(n * q).map((_, t) => features[Math.floor(t / q) * d + (t % q)]! + normal());
  return { features, targets };
}

let onnx: MatmulBackend;
beforeAll(async () => {
  onnx = await createOnnxBackend({ minMultiplyAdds: 0 });
});
afterAll(() => closeFoldPool());

test.each([
  ['Gram path, ONNX Runtime products', 70, 90, 'onnxruntime'],
  ['covariance path, TypeScript products', 70, 12, 'typescript'],
])('%s: pool and in-thread fits agree', async (_label, n, d, backendName) => {
  const q = 5;
  const { features, targets } = problem(n, d, q, n * d);
  const foldOf = assignFolds(n, 7, 3);
  const backend = backendName === 'typescript' ? typescriptBackend : onnx;
  const base = { features, n, d, targets, columns: q, foldOf, alphas: ALPHAS, keepLooErrors: true };
  const serial = await ridgeCrossValidate({ ...base, parallel: false }, backend);
  const pooled = await ridgeCrossValidate({ ...base, parallel: true }, backend);
  expect(pooled.paths).toEqual(serial.paths);
  expect([...pooled.chosenAlpha]).toEqual([...serial.chosenAlpha]);
  let worst = 0;
  for (let t = 0; t < serial.predictions.length; t++) worst = Math.max(worst, Math.abs(pooled.predictions[t]! - serial.predictions[t]!));
  expect(worst).toBeLessThan(1e-10);
  let worstLoo = 0;
  for (let t = 0; t < serial.looErrors!.length; t++) worstLoo = Math.max(worstLoo, Math.abs(pooled.looErrors![t]! - serial.looErrors![t]!) / serial.looErrors![t]!);
  expect(worstLoo).toBeLessThan(1e-10);
  expect(pooled.timings.decomposition).toBeGreaterThan(0);
});

test('the float32 alpha screen runs in the workers too: pool and in-thread fits agree', async () => {
  const [n, d, q] = [70, 90, 30];
  const { features, targets } = problem(n, d, q, 4);
  const base = { features, n, d, targets, columns: q, foldOf: assignFolds(n, 7, 3), alphas: ALPHAS };
  const serial = await ridgeCrossValidate({ ...base, parallel: false }, onnx);
  const pooled = await ridgeCrossValidate({ ...base, parallel: true }, onnx);
  expect(pooled.looErrors).toBeUndefined();
  expect(pooled.decidedInFloat64).toBe(serial.decidedInFloat64);
  expect([...pooled.chosenAlpha]).toEqual([...serial.chosenAlpha]);
  let worst = 0;
  for (let t = 0; t < serial.predictions.length; t++) worst = Math.max(worst, Math.abs(pooled.predictions[t]! - serial.predictions[t]!));
  expect(worst).toBeLessThan(1e-10);
});

test('a closed pool restarts on the next fit, and a backend without a worker spec stays in this thread', async () => {
  const [n, d, q] = [40, 50, 2];
  const { features, targets } = problem(n, d, q, 7);
  const input = { features, n, d, targets, columns: q, foldOf: assignFolds(n, 4, 0), alphas: ALPHAS, parallel: true };
  const first = await ridgeCrossValidate(input, typescriptBackend);
  await closeFoldPool();
  const again = await ridgeCrossValidate(input, typescriptBackend);
  expect([...again.predictions]).toEqual([...first.predictions]);
  let calls = 0;
  const local: MatmulBackend = { name: 'counting', matmul: async (a, b, p, k, r) => { calls++; return typescriptBackend.matmul(a, b, p, k, r); } };
  const inThread = await ridgeCrossValidate(input, local);
  expect(calls).toBeGreaterThan(0); // ran here: a worker could not have called this closure
  expect(Math.max(...inThread.predictions.map((v, t) => Math.abs(v - first.predictions[t]!)))).toBeLessThan(1e-10);
});

test('an error inside a worker rejects the fit with its message, and the pool keeps working', async () => {
  const [n, d, q] = [30, 40, 1];
  const { features, targets } = problem(n, d, q, 9);
  const input = { features, n, d, targets, columns: q, foldOf: assignFolds(n, 3, 0), alphas: ALPHAS, parallel: true };
  const unknown: MatmulBackend = { name: 'unknown', spec: { kind: 'no-such-backend' } as unknown as BackendSpec, matmul: typescriptBackend.matmul };
  await expect(ridgeCrossValidate(input, unknown)).rejects.toThrow(/fold worker: Unknown matmul backend kind "no-such-backend"/);
  const after = await ridgeCrossValidate(input, typescriptBackend);
  expect(after.predictions.every(Number.isFinite)).toBe(true);
});
