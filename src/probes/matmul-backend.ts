// Where the heavy matrix products of a probe run. Plain TypeScript loops reach ~1 GFlop/s here;
// onnxruntime-node's CPU MatMul / Gemm (MLAS, float64) is many times faster (scripts/bench/probe.ts
// prints both), so large products go to ONNX Runtime and small ones stay in TypeScript where a
// session call would cost more than the product. Gemm with transA / transB spares callers the
// transposes of large operands. A backend carries a `spec` so fold-pool workers can rebuild it.
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { matmul as matmulTs, matmulTransposeA, matmulTransposeB } from './linalg.ts';

export interface MatmulBackend {
  readonly name: string;
  /** How a worker thread rebuilds an equivalent backend (absent: this backend cannot leave its thread). */
  readonly spec?: BackendSpec;
  /** out (p×q) = A (p×k) · B (k×q), row-major float64. */
  matmul(a: Float64Array, b: Float64Array, p: number, k: number, q: number): Promise<Float64Array>;
  /**
   * out (p×q) = op(A) · op(B) where the operand marked `transposed` is stored transposed (A as k×p,
   * or B as q×k), so callers need not transpose large matrices themselves. Optional: without it,
   * `multiplyTransposed` transposes in TypeScript and calls `matmul`.
   */
  gemm?(a: Float64Array, b: Float64Array, p: number, k: number, q: number, transposed: 'a' | 'b'): Promise<Float64Array>;
}

/** op(A) · op(B) on any backend (see MatmulBackend.gemm). */
export function multiplyTransposed(backend: MatmulBackend, a: Float64Array, b: Float64Array, p: number, k: number, q: number, transposed: 'a' | 'b'): Promise<Float64Array> {
  if (backend.gemm) return backend.gemm(a, b, p, k, q, transposed);
  return transposed === 'a' ? backend.matmul(transposeMatrix(a, k, p), b, p, k, q) : backend.matmul(a, transposeMatrix(b, q, k), p, k, q);
}

function transposeMatrix(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

export type BackendSpec = { kind: 'typescript' } | { kind: 'onnxruntime'; minMultiplyAdds: number };

export interface OnnxBackendOptions {
  /** Products below this many multiply-adds stay in TypeScript. */
  minMultiplyAdds?: number;
  /** ONNX Runtime intra-op threads (default: its own choice, one per core). Fold-pool workers use 1. */
  intraOpThreads?: number;
}

export const typescriptBackend: MatmulBackend = {
  name: 'typescript',
  spec: { kind: 'typescript' },
  async matmul(a, b, p, k, q) {
    return matmulTs(a, b, p, k, q);
  },
  async gemm(a, b, p, k, q, transposed) {
    return transposed === 'a' ? matmulTransposeA(a, b, k, p, q) : matmulTransposeB(a, b, p, k, q);
  },
};

type Product = 'matmul' | 'a' | 'b';

/** A one-node ONNX graph on float64 with symbolic shapes: c = MatMul(a, b), or Gemm with transA / transB. */
function productModel(product: Product): Uint8Array {
  const { onnx } = onnxProto;
  const DOUBLE = 11;
  const tensor = (name: string, rows: string, cols: string) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: rows }, { dimParam: cols }] } } },
  });
  const flag = (name: string) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: 1 });
  const node = product === 'matmul'
    ? onnx.NodeProto.create({ opType: 'MatMul', input: ['a', 'b'], output: ['c'] })
    : onnx.NodeProto.create({ opType: 'Gemm', input: ['a', 'b'], output: ['c'], attribute: [flag(product === 'a' ? 'transA' : 'transB')] });
  const graph = onnx.GraphProto.create({
    name: 'probe_matmul',
    node: [node],
    input: [product === 'a' ? tensor('a', 'k', 'p') : tensor('a', 'p', 'k'), product === 'b' ? tensor('b', 'q', 'k') : tensor('b', 'k', 'q')],
    output: [tensor('c', 'p', 'q')],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

/** Products smaller than this many multiply-adds stay in TypeScript by default. */
const ONNX_THRESHOLD = 200_000;

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function productSession(product: Product, intraOpThreads: number): Promise<ort.InferenceSession> {
  const key = `${product}/${intraOpThreads}`;
  let session = sessions.get(key);
  if (session === undefined) {
    session = ort.InferenceSession.create(productModel(product), {
      graphOptimizationLevel: 'disabled',
      ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
      // Idle intra-op threads otherwise spin after every product, taking a core from the TypeScript
      // work (Householder reduction, tridiagonal solves) that runs between products.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    sessions.set(key, session);
  }
  return session;
}

export async function createOnnxBackend(options: OnnxBackendOptions = {}): Promise<MatmulBackend> {
  const threshold = options.minMultiplyAdds ?? ONNX_THRESHOLD;
  const threads = options.intraOpThreads ?? 0;
  const [plain, transposedA, transposedB] = await Promise.all([productSession('matmul', threads), productSession('a', threads), productSession('b', threads)]);
  const small = (p: number, k: number, q: number) => p * k * q < threshold || p === 0 || q === 0 || k === 0;
  return {
    name: 'onnxruntime',
    spec: { kind: 'onnxruntime', minMultiplyAdds: threshold },
    async matmul(a, b, p, k, q) {
      if (small(p, k, q)) return matmulTs(a, b, p, k, q);
      const { c } = await plain.run({ a: new ort.Tensor('float64', a, [p, k]), b: new ort.Tensor('float64', b, [k, q]) });
      return c!.data as Float64Array;
    },
    async gemm(a, b, p, k, q, transposed) {
      if (small(p, k, q)) return transposed === 'a' ? matmulTransposeA(a, b, k, p, q) : matmulTransposeB(a, b, p, k, q);
      const session = transposed === 'a' ? transposedA : transposedB;
      const { c } = await session.run({
        a: new ort.Tensor('float64', a, transposed === 'a' ? [k, p] : [p, k]),
        b: new ort.Tensor('float64', b, transposed === 'b' ? [q, k] : [k, q]),
      });
      return c!.data as Float64Array;
    },
  };
}

/** Rebuilds a backend from its spec (in a fold-pool worker: one intra-op thread per worker). */
export async function backendFromSpec(spec: BackendSpec, intraOpThreads?: number): Promise<MatmulBackend> {
  if (spec.kind === 'typescript') return typescriptBackend;
  if (spec.kind === 'onnxruntime') return createOnnxBackend({ minMultiplyAdds: spec.minMultiplyAdds, ...(intraOpThreads === undefined ? {} : { intraOpThreads }) });
  throw new Error(`Unknown matmul backend kind ${JSON.stringify((spec as { kind: unknown }).kind)}.`);
}
