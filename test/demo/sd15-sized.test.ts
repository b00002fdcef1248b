/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The SD-1.5-sized benchmark bundle: it loads as a bundle, the default taps resolve to the blocks an
// Optimum export of SD 1.5 has, and real sessions give SD 1.5's activation shapes (text encoder and
// UNet at full size; the VAE decoder, whose full-size maps are ~580 MB, at a reduced size that keeps
// its structure). Reuse of the cache is checked too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../src/bundles/bundle.ts';
import { encodeModel, onnx, type ModelProto } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName } from '../../src/bundles/taps.ts';
import { buildSd15SizedBundle, type Sd15SizedBundle } from '../../src/demo/sd15-sized/build.ts';
import { gaussian } from '../../src/extraction/random.ts';

let cache: string;
let built: Sd15SizedBundle;
let bundle: Bundle;
const WORDS = ['hammer', 'apple', 'bat'];

beforeAll(() => {
  cache = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-sd15-sized-'));
  built = buildSd15SizedBundle({ cacheDir: cache, words: WORDS });
  bundle = loadBundle(built.dir);
});

afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** Runs `component` with every default tap added as a graph output; returns the taps' shapes by label. */
async function tapShapes(b: Bundle, component: ComponentName, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const source = b.components[component];
  const taps = resolveTaps(source.model.graph!, DEFAULT_TAPS[component], component);
  const model = onnx.ModelProto.decode(source.bytes) as ModelProto;
  for (const tap of taps) if (!model.graph!.output!.some((o) => o.name === tap.tensor)) model.graph!.output!.push(onnx.ValueInfoProto.create({ name: tap.tensor, type: { tensorType: { elemType: tap.elemType } } }));
  const file = path.join(path.dirname(source.file), 'tapped-for-test.onnx');
  writeFileSync(file, encodeModel(model));
  const opened = await createSession({ modelPath: file, externalData: [], externalMode: 'none' }, 'cpu');
  try {
    const out = await opened.session.run(feeds);
    return Object.fromEntries(taps.map((tap) => [tap.label, [...out[tap.tensor]!.dims]]));
  } finally {
    await opened.session.release();
    rmSync(file);
  }
}

describe('the SD-1.5-sized bundle', () => {
  it('loads as a bundle that says it is not Stable Diffusion, with SD 1.5 configs', () => {
    expect(bundle.kind).toBe('TINY_TEST_NETWORK');
    expect(bundle.name).toBe('sd15-sized-bench-network');
    expect(bundle.components.unet.config).toMatchObject({ sample_size: 64, in_channels: 4, cross_attention_dim: 768, block_out_channels: [320, 640, 1280, 1280] });
    expect(bundle.components.unet.weights.length).toBe(1); // weights beside the UNet in external data, as real exports keep them
    expect(bundle.tokenizer.encode('a photo of a hammer').ids.length).toBe(77);
  });

  it('resolves the default taps to the blocks of an Optimum SD 1.5 export', () => {
    const labels = (name: ComponentName) => resolveTaps(bundle.components[name].model.graph!, DEFAULT_TAPS[name], name).map((t) => t.label);
    expect(labels('text_encoder')).toEqual(['embeddings', ...Array.from({ length: 12 }, (_, i) => `layers.${i}`), 'final_layer_norm']);
    expect(labels('unet')).toEqual(['down_blocks.0', 'down_blocks.1', 'down_blocks.2', 'down_blocks.3', 'mid_block', 'up_blocks.0', 'up_blocks.1', 'up_blocks.2', 'up_blocks.3']);
    expect(labels('vae_decoder')).toEqual(['mid_block', 'up_blocks.0', 'up_blocks.1', 'up_blocks.2', 'up_blocks.3']);
  });

  it("gives SD 1.5's activation shapes: 77×768 text states, UNet blocks 320–1280 channels at 64/32/16/8", async () => {
    const ids = Int32Array.from(bundle.tokenizer.encode('a photo of a hammer').ids);
    const text = await tapShapes(bundle, 'text_encoder', { input_ids: new ort.Tensor('int32', ids, [1, 77]) });
    expect(Object.values(text).every((dims) => dims.join('×') === '1×77×768')).toBe(true);
    expect(Object.keys(text)).toHaveLength(14);
    const unet = await tapShapes(bundle, 'unet', {
      sample: new ort.Tensor('float32', gaussian(4 * 64 * 64, 1), [1, 4, 64, 64]),
      timestep: new ort.Tensor('int64', new BigInt64Array([981n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', gaussian(77 * 768, 2), [1, 77, 768]),
    });
    expect(unet).toEqual({
      'down_blocks.0': [1, 320, 32, 32], 'down_blocks.1': [1, 640, 16, 16], 'down_blocks.2': [1, 1280, 8, 8], 'down_blocks.3': [1, 1280, 8, 8],
      mid_block: [1, 1280, 8, 8],
      'up_blocks.0': [1, 1280, 16, 16], 'up_blocks.1': [1, 1280, 32, 32], 'up_blocks.2': [1, 640, 64, 64], 'up_blocks.3': [1, 320, 64, 64],
    });
    // What leaves session.run per UNet call at batch 2 when every map is returned: the issue's ~50 MB.
    const bytes = 2 * 4 * Object.values(unet).reduce((sum, dims) => sum + dims.slice(1).reduce((a, b) => a * b, 1), 0);
    expect(bytes).toBe(50_462_720);
  });

  it('its VAE decoder keeps SD 1.5 VAE structure (×8 up, mid + four up blocks, channels 512/512/512/256/128 at full size), checked at 1/8 size', async () => {
    const small = buildSd15SizedBundle({ cacheDir: cache, words: WORDS, sizes: { latentSize: 8, vaeChannels: [64, 64, 64, 32, 16] } });
    const vae = await tapShapes(loadBundle(small.dir), 'vae_decoder', { latent_sample: new ort.Tensor('float32', gaussian(4 * 8 * 8, 3), [1, 4, 8, 8]) });
    expect(vae).toEqual({ mid_block: [1, 64, 8, 8], 'up_blocks.0': [1, 64, 16, 16], 'up_blocks.1': [1, 64, 32, 32], 'up_blocks.2': [1, 32, 64, 64], 'up_blocks.3': [1, 16, 64, 64] });
  });

  it('is reused from the cache while the builder and sizes are the same, and built apart for other sizes', () => {
    const again = buildSd15SizedBundle({ cacheDir: cache, words: WORDS });
    expect(again).toMatchObject({ dir: built.dir, reused: true, bytes: built.bytes });
    expect(built.reused).toBe(false);
    const other = buildSd15SizedBundle({ cacheDir: cache, words: WORDS, seed: 7 });
    expect(other.dir).not.toBe(built.dir);
    expect(loadBundle(other.dir).identity).not.toBe(bundle.identity);
  });
});
