// Where the heavy matrix products of a probe run. Plain TypeScript loops reach ~1 GFlop/s here;
// onnxruntime-node's CPU MatMul / Gemm (MLAS, float64) is many times faster (scripts/bench/probe.ts
// prints both), so large products go to ONNX Runtime and small ones stay in TypeScript where a
// session call would cost more than the product. Gemm with transA / transB spares callers the
// transposes of large operands. The ridge's LOO errors are sums of squares of stacked products, so a
// backend can also return just those (ReduceSumSquare after the product, in float64 or, for the
// alpha screen, float32). A backend carries a `spec` so fold-pool workers can rebuild it.
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
  /**
   * Column sums of squares of each block of rows of a stacked product, without handing the product
   * back: for A (blocks·rows × k) and B (k × q), out[g·q + j] = Σ_{i<rows} ((A B)[g·rows + i][j])².
   * Optional: without it, `blockSumsOfSquares` multiplies with `matmul` and sums in TypeScript.
   */
  blockSumsOfSquares?(a: Float64Array, b: Float64Array, blocks: number, rows: number, k: number, q: number): Promise<Float64Array>;
  /**
   * The same in float32 throughout (float32 operands, products, accumulation and sums) — several
   * times the float64 speed and inexact by a bounded amount (docs/metrics.md): the ridge's alpha
   * screen, whose every close call is decided again in float64. Absent: no fast float32 product.
   */
  blockSumsOfSquaresFloat32?(a: Float32Array, b: Float32Array, blocks: number, rows: number, k: number, q: number): Promise<Float32Array>;
}

/** At most this many product values exist at once in `blockSumsOfSquares` (blocks are taken in groups to stay under it). */
const BLOCK_PRODUCT_VALUES = 1 << 22;

function blockGroups(blocks: number, rows: number, q: number): number {
  return Math.max(1, Math.min(blocks, Math.floor(BLOCK_PRODUCT_VALUES / Math.max(1, rows * q))));
}

/** Column sums of squares per block of A·B (see MatmulBackend.blockSumsOfSquares) on any backend. */
export async function blockSumsOfSquares(backend: MatmulBackend, a: Float64Array, b: Float64Array, blocks: number, rows: number, k: number, q: number): Promise<Float64Array> {
  if (backend.blockSumsOfSquares) return backend.blockSumsOfSquares(a, b, blocks, rows, k, q);
  const out = new Float64Array(blocks * q);
  const group = blockGroups(blocks, rows, q);
  for (let first = 0; first < blocks; first += group) {
    const count = Math.min(group, blocks - first);
    const product = await backend.matmul(a.subarray(first * rows * k, (first + count) * rows * k), b, count * rows, k, q);
    sumSquaresOfBlocks(product, count, rows, q, out.subarray(first * q, (first + count) * q));
  }
  return out;
}

/** out[g·q + j] += Σ_i product[(g·rows + i)·q + j]², summed over rows in order. */
function sumSquaresOfBlocks(product: Float64Array, blocks: number, rows: number, q: number, out: Float64Array): void {
  for (let g = 0; g < blocks; g++) {
    const target = g * q;
    for (let i = 0; i < rows; i++) {
      const row = (g * rows + i) * q;
      for (let j = 0; j < q; j++) {
        const v = product[row + j]!;
        out[target + j]! += v * v;
      }
    }
  }
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

type Product = 'matmul' | 'a' | 'b' | 'squares64' | 'squares32';

/** A one-node ONNX graph on float64 with symbolic shapes: c = MatMul(a, b), or Gemm with transA / transB. */
function productModel(product: Product): Uint8Array {
  const { onnx } = onnxProto;
  const DOUBLE = 11, FLOAT = 1, INT64 = 7;
  const tensor = (name: string, rows: string, cols: string) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: rows }, { dimParam: cols }] } } },
  });
  const flag = (name: string) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: 1 });
  if (product === 'squares64' || product === 'squares32') {
    // c = ReduceSumSquare(Reshape(MatMul(a, b), [blocks, rows, q]), axes = [1]): only blocks × q values leave the session.
    const elemType = product === 'squares64' ? DOUBLE : FLOAT;
    const typed = (name: string, dims: string[]) => onnx.ValueInfoProto.create({
      name, type: { tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
    });
    const shape = onnx.ValueInfoProto.create({ name: 'shape', type: { tensorType: { elemType: INT64, shape: { dim: [{ dimValue: 3 }] } } } });
    const graph = onnx.GraphProto.create({
      name: 'probe_block_squares',
      node: [
        onnx.NodeProto.create({ opType: 'MatMul', input: ['a', 'b'], output: ['product'] }),
        onnx.NodeProto.create({ opType: 'Reshape', input: ['product', 'shape'], output: ['stacked'] }),
        onnx.NodeProto.create({
          opType: 'ReduceSumSquare', input: ['stacked'], output: ['c'],
          attribute: [
            onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }),
            onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
          ],
        }),
      ],
      input: [typed('a', ['p', 'k']), typed('b', ['k', 'q']), shape],
      output: [typed('c', ['blocks', 'q'])],
    });
    return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
  }
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
  const [plain, transposedA, transposedB, squares64, squares32] = await Promise.all([
    productSession('matmul', threads), productSession('a', threads), productSession('b', threads),
    productSession('squares64', threads), productSession('squares32', threads),
  ]);
  const small = (p: number, k: number, q: number) => p * k * q < threshold || p === 0 || q === 0 || k === 0;
  /** One session call per group of blocks (a bounded product inside the session), results concatenated. */
  async function blockSquares<T extends Float64Array | Float32Array>(
    session: ort.InferenceSession, type: 'float64' | 'float32', a: T, b: T, blocks: number, rows: number, k: number, q: number, out: T,
  ): Promise<T> {
    const group = blockGroups(blocks, rows, q);
    for (let first = 0; first < blocks; first += group) {
      const count = Math.min(group, blocks - first);
      const { c } = await session.run({
        a: new ort.Tensor(type, a.subarray(first * rows * k, (first + count) * rows * k), [count * rows, k]),
        b: new ort.Tensor(type, b, [k, q]),
        shape: new ort.Tensor('int64', BigInt64Array.from([BigInt(count), BigInt(rows), BigInt(q)]), [3]),
      });
      out.set(c!.data as T, first * q);
    }
    return out;
  }
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
    async blockSumsOfSquares(a, b, blocks, rows, k, q) {
      const out = new Float64Array(blocks * q);
      if (blocks * rows === 0 || q === 0) return out;
      if (small(blocks * rows, k, q)) {
        sumSquaresOfBlocks(matmulTs(a.subarray(0, blocks * rows * k), b, blocks * rows, k, q), blocks, rows, q, out);
        return out;
      }
      return blockSquares(squares64, 'float64', a, b, blocks, rows, k, q, out);
    },
    async blockSumsOfSquaresFloat32(a, b, blocks, rows, k, q) {
      const out = new Float32Array(blocks * q);
      if (blocks * rows === 0 || q === 0 || k === 0) return out;
      return blockSquares(squares32, 'float32', a, b, blocks, rows, k, q, out);
    },
  };
}

/** Rebuilds a backend from its spec (in a fold-pool worker: one intra-op thread per worker). */
export async function backendFromSpec(spec: BackendSpec, intraOpThreads?: number): Promise<MatmulBackend> {
  if (spec.kind === 'typescript') return typescriptBackend;
  if (spec.kind === 'onnxruntime') return createOnnxBackend({ minMultiplyAdds: spec.minMultiplyAdds, ...(intraOpThreads === undefined ? {} : { intraOpThreads }) });
  throw new Error(`Unknown matmul backend kind ${JSON.stringify((spec as { kind: unknown }).kind)}.`);
}
