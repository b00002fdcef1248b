// Where the heavy matrix products of a probe run. Plain TypeScript loops reach ~1 GFlop/s here;
// onnxruntime-node's CPU MatMul (MLAS DGEMM, multithreaded) measured ~50 GFlop/s in float64 on the
// same machine (scripts/bench/probe.ts prints both), so large products go to ONNX Runtime and small
// ones stay in TypeScript where a session call would cost more than the product.
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { matmul as matmulTs } from './linalg.ts';

export interface MatmulBackend {
  readonly name: string;
  /** out (p×q) = A (p×k) · B (k×q), row-major float64. */
  matmul(a: Float64Array, b: Float64Array, p: number, k: number, q: number): Promise<Float64Array>;
}

export const typescriptBackend: MatmulBackend = {
  name: 'typescript',
  async matmul(a, b, p, k, q) {
    return matmulTs(a, b, p, k, q);
  },
};

/** A one-node ONNX graph: c = MatMul(a, b) on float64 with symbolic shapes. */
function matmulModel(): Uint8Array {
  const { onnx } = onnxProto;
  const DOUBLE = 11;
  const tensor = (name: string, rows: string, cols: string) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: rows }, { dimParam: cols }] } } },
  });
  const graph = onnx.GraphProto.create({
    name: 'probe_matmul',
    node: [onnx.NodeProto.create({ opType: 'MatMul', input: ['a', 'b'], output: ['c'] })],
    input: [tensor('a', 'p', 'k'), tensor('b', 'k', 'q')],
    output: [tensor('c', 'p', 'q')],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

/** Products smaller than this many multiply-adds stay in TypeScript by default. */
const ONNX_THRESHOLD = 200_000;

let onnxSession: Promise<ort.InferenceSession> | undefined;

export async function createOnnxBackend(options: { minMultiplyAdds?: number } = {}): Promise<MatmulBackend> {
  const threshold = options.minMultiplyAdds ?? ONNX_THRESHOLD;
  onnxSession ??= ort.InferenceSession.create(matmulModel(), { graphOptimizationLevel: 'disabled' });
  const session = await onnxSession;
  return {
    name: 'onnxruntime',
    async matmul(a, b, p, k, q) {
      if (p * k * q < threshold || p === 0 || q === 0 || k === 0) return matmulTs(a, b, p, k, q);
      const { c } = await session.run({ a: new ort.Tensor('float64', a, [p, k]), b: new ort.Tensor('float64', b, [k, q]) });
      return c!.data as Float64Array;
    },
  };
}
