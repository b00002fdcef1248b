// Node metadata_props of an ONNX model, read straight from the protobuf bytes. onnx-proto 8 follows
// onnx 1.10, whose NodeProto has no metadata_props (field 9, IR version 10), so protobufjs drops them
// on decode; but torch's dynamo exporter keeps module scopes ONLY there
// (`pkg.torch.onnx.name_scopes`), node names being `node_add_12`. This walker reads exactly those
// entries and skips everything else by length (weights are never copied). A leaf module (no imports):
// onnx-model.ts attaches its result to the decoded nodes.

/** One metadata entry, in onnx-proto's StringStringEntryProto shape. */
export interface MetadataEntry {
  key: string;
  value: string;
}

const MODEL_GRAPH = 7; // ModelProto.graph
const GRAPH_NODE = 1; // GraphProto.node
const NODE_METADATA = 9; // NodeProto.metadata_props
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

class MetadataReadError extends Error {}

/** The fields of one protobuf message: field number, wire type, and for length-delimited ones the byte range. */
function* fields(bytes: Uint8Array, start: number, end: number): Generator<{ field: number; wire: number; from: number; to: number }> {
  let at = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= end) throw new MetadataReadError('truncated varint');
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new MetadataReadError('varint longer than 10 bytes');
  };
  while (at < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      varint();
      yield { field, wire, from: at, to: at };
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      yield { field, wire, from: at, to: at };
    } else if (wire === 2) {
      const length = varint();
      const from = at;
      at += length;
      if (at > end) throw new MetadataReadError('length-delimited field runs past its message');
      yield { field, wire, from, to: at };
    } else {
      throw new MetadataReadError(`unsupported wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder();

/**
 * Per node of the main graph (by its index in graph.node, the order protobuf decodes them in), its
 * metadata entries; nodes without any are absent. Bytes that are not a readable model give an empty
 * map: decoding them proper is decodeModel's job, and it reports that error.
 */
export function readNodeMetadata(modelBytes: Uint8Array): Map<number, MetadataEntry[]> {
  const result = new Map<number, MetadataEntry[]>();
  try {
    let nodeIndex = 0;
    for (const graph of fields(modelBytes, 0, modelBytes.length)) {
      if (graph.field !== MODEL_GRAPH || graph.wire !== 2) continue;
      // A repeated message field may legally come in several parts; protobufjs merges them in order.
      for (const node of fields(modelBytes, graph.from, graph.to)) {
        if (node.field !== GRAPH_NODE || node.wire !== 2) continue;
        const entries: MetadataEntry[] = [];
        for (const prop of fields(modelBytes, node.from, node.to)) {
          if (prop.field !== NODE_METADATA || prop.wire !== 2) continue;
          const entry: MetadataEntry = { key: '', value: '' };
          for (const part of fields(modelBytes, prop.from, prop.to)) {
            if (part.wire !== 2) continue;
            if (part.field === ENTRY_KEY) entry.key = utf8.decode(modelBytes.subarray(part.from, part.to));
            if (part.field === ENTRY_VALUE) entry.value = utf8.decode(modelBytes.subarray(part.from, part.to));
          }
          entries.push(entry);
        }
        if (entries.length) result.set(nodeIndex, entries);
        nodeIndex++;
      }
    }
  } catch (error) {
    if (error instanceof MetadataReadError) return new Map();
    throw error;
  }
  return result;
}

/** A decoded node that may carry the metadata protobufjs dropped. */
export interface NodeWithMetadata {
  metadataProps?: MetadataEntry[] | null;
}

/**
 * Puts each node's metadata_props back on the decoded graph's nodes (as `metadataProps`, the name
 * newer onnx-proto versions decode it to). Encoding ignores the property: a tapped copy carries none.
 */
export function attachNodeMetadata(nodes: readonly object[] | null | undefined, modelBytes: Uint8Array): void {
  if (!nodes?.length) return;
  for (const [index, entries] of readNodeMetadata(modelBytes)) {
    const node = nodes[index] as NodeWithMetadata | undefined;
    if (node && !node.metadataProps?.length) node.metadataProps = entries;
  }
}

/** The value of one metadata key on a node, if present. */
export function nodeMetadata(node: object, key: string): string | undefined {
  return (node as NodeWithMetadata).metadataProps?.find((entry) => entry.key === key)?.value;
}
