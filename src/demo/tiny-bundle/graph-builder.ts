// A small ONNX graph builder that names nodes and tensors the way torch.onnx.export does
// (`/scope/Op`, `/scope/Op_1`, outputs `<node>_output_0`), so the tiny bundle's tensor names look
// like a real Optimum export and the same tap patterns find the same blocks in both.
import { DataType, onnx, type AttributeProto, type IModelProto, type NodeProto, type TensorProto, type ValueInfo } from '../../bundles/onnx-model.ts';

export type AttributeValue = number | number[] | string | { tensor: TensorProto } | { float: number };

export type Dim = number | string;

export function valueInfo(name: string, elemType: number, dims: Dim[] | null): ValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims === null ? undefined : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  return { name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) };
}

function attribute(name: string, value: AttributeValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.TENSOR, t: value.tensor };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private readonly scopes: string[] = [];
  private readonly opCounts = new Map<string, number>();
  private constantCount = 0;

  /** Runs `body` with node names prefixed by `/<name>` (nested scopes join with `/`). */
  scope<T>(name: string, body: () => T): T {
    this.scopes.push(name);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  private get prefix(): string {
    return this.scopes.length ? `/${this.scopes.join('/')}` : '';
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: Dim[] | null): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  weight(name: string, dims: number[], values: Float32Array): string {
    const full = [...this.scopes, name].join('.');
    this.initializers.push(floatTensor(full, dims, values));
    return full;
  }

  ints(values: number[]): string {
    const name = `onnx::Constant_${this.constantCount++}`;
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }

  intScalar(value: number): string {
    const name = `onnx::Constant_${this.constantCount++}`;
    this.initializers.push(int64Tensor(name, [], [value]));
    return name;
  }

  scalar(value: number): string {
    const name = `onnx::Scalar_${this.constantCount++}`;
    this.initializers.push(floatTensor(name, [], new Float32Array([value])));
    return name;
  }

  /** Adds one node; returns its output tensor names. `outputName` forces a graph-level name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, options: { outputs?: number; outputName?: string } = {}): string[] {
    const key = `${this.prefix}/${opType}`;
    const count = this.opCounts.get(key) ?? 0;
    this.opCounts.set(key, count + 1);
    const name = count === 0 ? key : `${key}_${count}`;
    const n = options.outputs ?? 1;
    const outs = Array.from({ length: n }, (_, i) => (i === 0 && options.outputName ? options.outputName : `${name}_output_${i}`));
    this.nodes.push({ name, opType, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  /** The single output of one node. */
  one(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, outputName?: string): string {
    return this.op(opType, inputs, attrs, { outputName })[0]!;
  }

  model(graphName: string, opset = 17): IModelProto {
    return {
      irVersion: 8,
      producerName: 'probe-atlas tiny bundle builder',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
  }
}
