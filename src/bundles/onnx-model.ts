// Reading and writing ONNX ModelProto without Python, through onnx-proto (protobufjs 6).
// Everything that touches the protobuf layout lives here so the rest of the code sees plain values.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { CodedError } from '../errors.ts';
import { attachNodeMetadata } from './node-metadata.ts';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type ValueInfo = onnxProto.onnx.IValueInfoProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

export const DataType = onnx.TensorProto.DataType;

const TYPE_NAMES: Record<number, string> = {
  [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.DOUBLE]: 'float64',
  [DataType.INT32]: 'int32', [DataType.INT64]: 'int64', [DataType.BOOL]: 'bool', [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8', [DataType.BFLOAT16]: 'bfloat16', [DataType.STRING]: 'string',
};

export function elemTypeName(type: number | null | undefined): string {
  return TYPE_NAMES[type ?? 0] ?? `type#${type ?? 0}`;
}

/** protobufjs hands int64 fields back as Long objects or numbers depending on the installed `long`. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

export class OnnxDecodeError extends CodedError<'BAD_ONNX'> {
  constructor(readonly file: string, cause: unknown) {
    super('BAD_ONNX', 'bad-input', `${file} is not a valid ONNX model (protobuf decode failed: ${cause instanceof Error ? cause.message : String(cause)}).`, { cause });
  }
}

export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxDecodeError(file, error);
  }
  // Random bytes often decode "successfully" into an empty message: a model must have a graph.
  if (!model.graph || (model.graph.node?.length ?? 0) === 0 || (model.graph.output?.length ?? 0) === 0) {
    throw new OnnxDecodeError(file, new Error('no graph, nodes or outputs'));
  }
  // onnx-proto (onnx 1.10) drops NodeProto.metadata_props, where dynamo exports keep module scopes.
  attachNodeMetadata(model.graph.node, bytes);
  return model;
}

export function readModel(file: string): ModelProto {
  return decodeModel(readFileSync(file), file);
}

export function encodeModel(model: IModelProto): Uint8Array {
  const problem = onnx.ModelProto.verify(model);
  if (problem) throw new Error(`Invalid ONNX model: ${problem}`);
  return onnx.ModelProto.encode(model as onnxProto.onnx.ModelProto).finish();
}

export interface TensorSignature {
  name: string;
  elemType: string;
  /** Static size, or the symbolic name of a dynamic axis, or null when neither is given. */
  dims: (number | string | null)[] | null;
}

export function signatureOf(info: ValueInfo): TensorSignature {
  const tensor = info.type?.tensorType;
  const shape = tensor?.shape;
  return {
    name: info.name ?? '',
    elemType: elemTypeName(tensor?.elemType),
    dims: shape
      ? (shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null))
      : null,
  };
}

/** Initializer names of a graph (they may also be listed as graph inputs in old exports). */
export function initializerNames(graph: GraphProto): Set<string> {
  return new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
}

/** The graph inputs a caller must feed: declared inputs that are not initializers. */
export function feedInputs(graph: GraphProto): TensorSignature[] {
  const inits = initializerNames(graph);
  return (graph.input ?? []).filter((i) => !inits.has(i.name ?? '')).map(signatureOf);
}

export function outputs(graph: GraphProto): TensorSignature[] {
  return (graph.output ?? []).map(signatureOf);
}

/** Relative locations of the external data files referenced by a graph's initializers. */
export function externalDataLocations(graph: GraphProto): string[] {
  const out = new Set<string>();
  for (const tensor of graph.initializer ?? []) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
    if (location) out.add(location);
  }
  return [...out];
}
