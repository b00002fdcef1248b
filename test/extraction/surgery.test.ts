/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The pooling surgery on small graphs whose answers are known by hand, on real ONNX sessions: the
// spatial mean and the guidance split (order [u..., c...]), float16 graph inputs fed as float32,
// names that never collide with the export's own, and a tap cache keyed by the surgery. On the tiny
// bundle: --full-maps returns the full maps too (and counts their bytes), the default does not.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { DataType, onnx } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { resolveTaps } from '../../src/bundles/taps.ts';
import { tapCacheKey, writeTappedModel, type PoolingSurgery } from '../../src/bundles/tapped-model.ts';
import { GraphBuilder } from '../../src/demo/tiny-bundle/graph-builder.ts';
import { defaultSettings, Pipeline } from '../../src/extraction/pipeline.ts';
import { tempTinyBundle, type TempBundle } from './fixtures.ts';

let work: string;
let tiny: TempBundle;
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-surgery-'));
  tiny = tempTinyBundle({ embeddings: 'random' });
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  tiny?.remove();
});

/** x [B, 2, 2, 1] (float32 or float16) → /block/: x × 2 → y = block + 1; a tensor already named like an added one. */
function smallModel(elemType: number) {
  const g = new GraphBuilder();
  const x = g.input('x', elemType, ['batch', 2, 2, 1]);
  const inner = elemType === DataType.FLOAT ? x : g.one('Cast', [x], { to: DataType.FLOAT });
  const hidden = g.scope('block', () => g.one('Mul', [inner, g.weight('two', [1], new Float32Array([2]))]));
  const shifted = g.one('Add', [hidden, g.weight('one', [1], new Float32Array([1]))], {}, 'probe_atlas/tap/0/pooled');
  const out = elemType === DataType.FLOAT ? shifted : g.one('Cast', [shifted], { to: elemType });
  g.one('Identity', [out], {}, 'y');
  g.output('y', elemType, ['batch', 2, 2, 1]);
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(onnx.ModelProto.create(g.model('small', 18))).finish());
  return { model, bytes: onnx.ModelProto.encode(model).finish() };
}

test('spatial mean and guidance in the graph: halves in [u…, c…] order, the guided output, float16 inputs fed as float32, no name collisions', async () => {
  for (const elemType of [DataType.FLOAT, DataType.FLOAT16]) {
    const { model, bytes } = smallModel(elemType);
    const taps = resolveTaps(model.graph!, { scopes: ['/block/'] }, 'small');
    const surgery: PoolingSurgery = { reduce: 'spatial', guidance: { halves: ['conditional', 'guided'] }, keep: ['y'] };
    const tapped = writeTappedModel({ sourcePath: path.join(work, 'model.onnx'), sourceBytes: bytes, model, taps, cacheDir: path.join(work, `cache-${elemType}`), surgery });
    const names = tapped.names;
    expect(names.taps[0]!.conditional).not.toBe('probe_atlas/tap/0/pooled'); // taken by the export: the added one is renamed
    const { session } = await createSession(tapped, 'cpu');
    // Batch 4 = [u1, u2, c1, c2]; channel means of x: u1 (1, 2), u2 (3, 4), c1 (5, 6), c2 (7, 8).
    const x = new Float32Array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
    const out = await session.run({ x: new ort.Tensor('float32', x, [4, 2, 2, 1]), [names.guidanceScale!]: new ort.Tensor('float32', new Float32Array([3]), [1]) });
    expect(Array.from(out[names.taps[0]!.conditional!]!.data as Float32Array)).toEqual([10, 12, 14, 16]); // 2 × c
    // u + 3 (c − u) on 2x: 2 + 3·8 = 26, 4 + 24 = 28, 6 + 24 = 30, 8 + 24 = 32.
    expect(Array.from(out[names.taps[0]!.guided!]!.data as Float32Array)).toEqual([26, 28, 30, 32]);
    const noise = out[names.guidedNoise!]!;
    expect(noise.type).toBe('float32');
    expect(noise.dims).toEqual([2, 2, 2, 1]); // the guided y alone: half the batch
    expect(Array.from(noise.data as Float32Array)).toEqual([27, 27, 29, 29, 31, 31, 33, 33]);
    expect(Array.from(out[names.taps[0]!.shape!]!.data as BigInt64Array, Number)).toEqual([4, 2, 2, 1]);
    expect(Object.keys(out).sort()).toEqual([names.taps[0]!.conditional!, names.taps[0]!.guided!, names.taps[0]!.shape!, names.guidedNoise!].sort());
    await session.release();
  }
});

test('the tap cache key covers the surgery: another surgery is another copy, the same one is reused', () => {
  const { model, bytes } = smallModel(DataType.FLOAT);
  const taps = resolveTaps(model.graph!, { scopes: ['/block/'] }, 'small');
  const a: PoolingSurgery = { reduce: 'spatial', keep: ['y'] };
  const b: PoolingSurgery = { reduce: 'spatial', keep: ['y'], fullMaps: true };
  expect(tapCacheKey(bytes, taps, [], a)).not.toBe(tapCacheKey(bytes, taps, [], b));
  expect(tapCacheKey(bytes, taps, [], a)).not.toBe(tapCacheKey(bytes, taps, []));
  const options = { sourcePath: path.join(work, 'model.onnx'), sourceBytes: bytes, model, taps, cacheDir: path.join(work, 'key-cache') };
  const first = writeTappedModel({ ...options, surgery: a });
  expect(first.reused).toBe(false);
  expect(writeTappedModel({ ...options, surgery: a })).toMatchObject({ reused: true, modelPath: first.modelPath, names: first.names });
  expect(writeTappedModel({ ...options, surgery: b }).modelPath).not.toBe(first.modelPath);
});

test('--full-maps returns the full maps beside the pooled vectors (their bytes counted); the default returns pooled vectors only', async () => {
  const bundle = loadBundle(tiny.dir);
  const settings = { ...defaultSettings(bundle), steps: 1 };
  const bytesPerUnetCall = async (fullMaps: boolean) => {
    const pipeline = await Pipeline.open({ bundle, settings, device: 'cpu', cacheDir: tiny.cacheDir, batch: 1, fullMaps });
    try {
      const { timings, concepts } = await pipeline.extractBatch(['dog']);
      return { bytes: timings.components.unet.outputBytes / timings.components.unet.calls, summaries: concepts[0]!.summaries };
    } finally {
      await pipeline.release();
    }
  };
  const [pooled, full] = [await bytesPerUnetCall(false), await bytesPerUnetCall(true)];
  // Pooled: the guided noise [1, 4, 8, 8] float32 + per tap [1, C] and its shape; full adds [2, C, h, w] per tap.
  expect(pooled.bytes).toBeLessThan(4 * 4 * 8 * 8 + 5 * (4 * 64 + 32));
  expect(full.bytes).toBeGreaterThan(10 * pooled.bytes);
  expect(full.summaries.map((s) => Array.from(s.vector))).toEqual(pooled.summaries.map((s) => Array.from(s.vector)));
}, 60_000);
