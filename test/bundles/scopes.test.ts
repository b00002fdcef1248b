// Scope paths of nodes, whichever torch exporter wrote them: TorchScript node names as they are, and
// dynamo's pkg.torch.onnx.name_scopes (a Python list literal in NodeProto.metadata_props, which
// onnx-proto does not decode: read from the bytes by node-metadata.ts, checked here on hand-encoded
// protobuf, so the test does not depend on the reader it checks).
import { decodeModel, onnx } from '../../src/bundles/onnx-model.ts';
import { readNodeMetadata } from '../../src/bundles/node-metadata.ts';
import { modulePrefixes, nodeScope, parsePythonStringList, scopePathFromNameScopes } from '../../src/bundles/scopes.ts';

test('a Python list of strings parses, quotes and escapes included; anything else is no scope', () => {
  expect(parsePythonStringList("['', 'u', 'u.down_blocks.1', 'add_12']")).toEqual(['', 'u', 'u.down_blocks.1', 'add_12']);
  expect(parsePythonStringList(`["it's", 'a\\'b', 'tab\\t']`)).toEqual(["it's", "a'b", 'tab\t']);
  expect(parsePythonStringList('[]')).toEqual([]);
  expect(parsePythonStringList("('', 'u')")).toBeUndefined();
  expect(parsePythonStringList("['', u]")).toBeUndefined();
});

test('each module element adds the part past the previous one as ONE segment; the last element is the node', () => {
  expect(scopePathFromNameScopes(['', 'u', 'u.down_blocks.1', 'u.down_blocks.1.resnets.0', 'add_12'])).toBe('/u/down_blocks.1/resnets.0/add_12');
  expect(scopePathFromNameScopes(['', 'down_blocks.1', 'down_blocks.1.attentions.0', 'mul'])).toBe('/down_blocks.1/attentions.0/mul');
  expect(scopePathFromNameScopes(['', 'add_3'])).toBeUndefined(); // a node at the root has no module
  expect(modulePrefixes('/u/down_blocks.1/resnets.0/add_12')).toEqual(['/u/', '/u/down_blocks.1/', '/u/down_blocks.1/resnets.0/']);
});

test('nodeScope: a scoped name wins, else the name_scopes metadata, else none', () => {
  expect(nodeScope({ name: '/down_blocks.1/resnets.0/Add' })).toEqual({ path: '/down_blocks.1/resnets.0/Add', source: 'node-name' });
  const dynamo = { name: 'node_add_12', metadataProps: [{ key: 'pkg.torch.onnx.name_scopes', value: "['', 'u', 'u.mid_block', 'add_12']" }] };
  expect(nodeScope(dynamo)).toEqual({ path: '/u/mid_block/add_12', source: 'name-scopes' });
  expect(nodeScope({ name: 'Identity_12' })).toBeUndefined();
});

// Minimal protobuf writer for the test: tag, varint length, bytes.
const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(Math.floor(n / 128))]);
const field = (number: number, payload: Uint8Array | string): number[] => {
  const bytes = typeof payload === 'string' ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...varint(number * 8 + 2), ...varint(bytes.length), ...bytes];
};
const message = (...parts: number[][]) => Uint8Array.from(parts.flat());

test('metadata_props (NodeProto field 9) are read per node from the model bytes and put back on decodeModel\'s nodes', () => {
  const entry = (key: string, value: string) => field(9, message(field(1, key), field(2, value)));
  const node = (name: string, output: string, ...extra: number[][]) => field(1, message(field(1, 'x'), field(2, output), field(3, name), field(4, 'Neg'), ...extra));
  const graph = message(
    node('node_a', 'a', entry('pkg.torch.onnx.name_scopes', "['', 'u', 'u.blk', 'neg']"), entry('namespace', 'ignored')),
    node('node_b', 'b'),
    node('node_c', 'y', entry('pkg.torch.onnx.name_scopes', "['', 'u', 'u.head', 'neg_1']")),
    field(2, 'g'),
    field(12, message(field(1, 'y'))), // output
  );
  const bytes = message(varint(1 * 8), varint(10), field(7, graph));
  const read = readNodeMetadata(bytes);
  expect([...read.keys()]).toEqual([0, 2]);
  expect(read.get(0)).toEqual([{ key: 'pkg.torch.onnx.name_scopes', value: "['', 'u', 'u.blk', 'neg']" }, { key: 'namespace', value: 'ignored' }]);
  const model = decodeModel(bytes, 'hand.onnx');
  expect(model.graph!.node!.map((n) => nodeScope(n)?.path)).toEqual(['/u/blk/neg', undefined, '/u/head/neg_1']);
  // Encoding ignores the attached property: the tapped copy is a valid model (onnx-proto's schema).
  expect(onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish()).graph!.node!.map((n) => n.name)).toEqual(['node_a', 'node_b', 'node_c']);
  // Bytes that are no model give no metadata (decodeModel reports those).
  expect(readNodeMetadata(Uint8Array.from([0x3a, 0x7f, 1])).size).toBe(0);
});
