/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Every exporter layout of the real-architecture fixtures (../shared/data/bundles, SOURCE.md there)
// resolves with the default taps and tokenizer, through the project's own code and real ONNX Runtime
// sessions: Optimum + transformers 4 (the primary), transformers 5 (no /text_model/ scope level,
// tokenizer.json only: its text taps match its own torch reference), float16 weights (taps typed
// float16), and torch's dynamo exporter (module scopes only in name_scopes metadata, under a wrapper
// module `u`: the same blocks as the primary's UNet, and the same tensors for the same weights).
// Skipped, saying so, without SHARED_BUNDLES_DIR.
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../src/bundles/bundle.ts';
import { BundleError } from '../../src/bundles/errors.ts';
import { DataType, onnx, readModel } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { writeTappedModel } from '../../src/bundles/tapped-model.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName, type Tap } from '../../src/bundles/taps.ts';

const SHARED = process.env.SHARED_BUNDLES_DIR;
const describeShared = SHARED ? describe : describe.skip;
const title = (what: string) => (SHARED ? what : `${what}… SKIPPED: set SHARED_BUNDLES_DIR to the shared data/bundles folder to run it`);

interface ReferencePrompt {
  concept: string;
  prompt: string;
  input_ids: number[];
  eot_index: number;
  concept_positions: number[];
  vectors: Record<string, { eot: number[]; mean: number[]; concept: number[] }>;
}
interface Reference {
  text_encoder: { prompts: ReferencePrompt[]; layers: { label: string; onnx_tensor: string }[] };
  unet?: { layers: { label: string; onnx_tensor: string }[]; inputs: { sample: { data: number[] }; encoder_hidden_states: { data: number[] } } };
  vae_decoder?: { layers: { label: string; onnx_tensor: string }[] };
}

const COMPONENTS: ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];
let work: string;
const bundles = {} as Record<'primary' | 'transformers5' | 'fp16' | 'dynamo', Bundle>;
let reference: Reference;
let reference5: Reference;

/** Copies a read-only fixture folder so the copy can be changed and removed. */
function writableCopy(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  const walk = (dir: string) => {
    chmodSync(dir, 0o755);
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else chmodSync(full, 0o644);
    }
  };
  walk(to);
}

const defaults = (bundle: Bundle, name: ComponentName) => resolveTaps(bundle.components[name].model.graph!, DEFAULT_TAPS[name], bundle.components[name].file);

/** max |a − b| / max |b|: the error measure of the reference files (SOURCE.md, "Observed error"). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}

async function tappedSession(bundle: Bundle, name: ComponentName, taps: readonly Tap[]) {
  const component = bundle.components[name];
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: path.join(work, 'cache'), weights: component.weights });
  return (await createSession(tapped, 'cpu')).session;
}

beforeAll(() => {
  if (!SHARED) return;
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-layouts-'));
  bundles.primary = loadBundle(path.join(SHARED, 'sd15-arch-tiny'));
  bundles.transformers5 = loadBundle(path.join(SHARED, 'sd15-arch-tiny-transformers5'));
  bundles.fp16 = loadBundle(path.join(SHARED, 'sd15-arch-tiny-fp16-io32'));
  // SOURCE.md: "To make a whole bundle, add the primary's other folders" to the dynamo UNet.
  const dynamo = path.join(work, 'dynamo-bundle');
  writableCopy(path.join(SHARED, 'sd15-arch-tiny'), dynamo);
  rmSync(path.join(dynamo, 'unet'), { recursive: true });
  writableCopy(path.join(SHARED, 'sd15-arch-tiny-dynamo-unet', 'unet'), path.join(dynamo, 'unet'));
  bundles.dynamo = loadBundle(dynamo);
  reference = JSON.parse(readFileSync(path.join(SHARED, 'reference', 'sd15-arch-tiny.json'), 'utf8')) as Reference;
  reference5 = JSON.parse(readFileSync(path.join(SHARED, 'reference', 'sd15-arch-tiny-transformers5.json'), 'utf8')) as Reference;
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describeShared('exporter layouts (fixtures)', () => {
  test(title('default taps resolve on every layout to the tensors the torch references name, typed as the graph says'), () => {
    for (const name of COMPONENTS) {
      const taps = defaults(bundles.primary, name);
      const named = (name === 'text_encoder' ? reference.text_encoder : reference[name]!).layers;
      expect(taps.map((t) => [t.label, t.tensor])).toEqual(named.map((l) => [l.label, l.onnx_tensor]));
      expect(taps.every((t) => t.elemType === DataType.FLOAT && t.scope?.source === 'node-name')).toBe(true);
    }
    // transformers 5: the text encoder has no /text_model/ level; the second default rule matches it.
    const text5 = defaults(bundles.transformers5, 'text_encoder');
    expect(text5.map((t) => [t.label, t.tensor])).toEqual(reference5.text_encoder.layers.map((l) => [l.label, l.onnx_tensor]));
    expect(text5.map((t) => t.scope?.matched)).toEqual(['/embeddings/', '/encoder/layers.0/', '/encoder/layers.1/', '/encoder/layers.2/', '/encoder/layers.3/', '/encoder/layers.4/', '/final_layer_norm/']);
    // float16 weights: the same blocks, and every tap reports float16 (SOURCE.md), never float32.
    for (const name of COMPONENTS) {
      const taps = defaults(bundles.fp16, name);
      expect(taps.map((t) => t.label)).toEqual(defaults(bundles.primary, name).map((t) => t.label));
      expect(new Set(taps.map((t) => t.elemType))).toEqual(new Set([DataType.FLOAT16]));
    }
  });

  test(title('the dynamo UNet resolves the same blocks as the primary\'s, from name_scopes metadata under its wrapper module'), () => {
    const dynamo = defaults(bundles.dynamo, 'unet');
    const primary = defaults(bundles.primary, 'unet');
    expect(dynamo.map((t) => t.label)).toEqual(primary.map((t) => t.label));
    expect(dynamo.map((t) => t.label)).toEqual(['down_blocks.0', 'down_blocks.1', 'down_blocks.2', 'down_blocks.3', 'mid_block', 'up_blocks.0', 'up_blocks.1', 'up_blocks.2', 'up_blocks.3']);
    for (const tap of dynamo) {
      expect(tap.scope).toEqual({ glob: tap.label.startsWith('mid') ? '/mid_block/' : `/${tap.label.split('.')[0]}.*/`, matched: `/u/${tap.label}/`, wrapper: 'u', source: 'name-scopes' });
      expect(tap.elemType).toBe(DataType.FLOAT);
      expect(tap.tensor).not.toContain('/');
    }
  });

  test(title('an unresolvable graph still gets TAP_NOT_FOUND with near matches'), () => {
    const file = path.join(SHARED!, 'sd15-arch-tiny-dynamo-unet', 'unet', 'model.onnx');
    const graph = readModel(file).graph!;
    expect(() => resolveTaps(graph, { scopes: ['/down_block.*/'] }, 'unet'))
      .toThrow(/unet: no node scope matches "\/down_block\.\*\/" \(tried at the root and under its only child module "\/u\/"\)\. Near matches: \/u\/down_blocks\.\d\//);
    // Decoded without its metadata (what onnx-proto alone gives), the graph has no scope at all.
    const bare = onnx.ModelProto.decode(readFileSync(file)).graph!;
    let error: unknown;
    try {
      resolveTaps(bare, DEFAULT_TAPS.unet, 'unet');
    } catch (caught) {
      error = caught;
    }
    expect((error as BundleError).code).toBe('TAP_NOT_FOUND');
    expect((error as Error).message).toMatch(/no node scope matches "\/down_blocks\.\*\/": none of the graph's 1571 nodes carries a module scope/);
  });

  test(title('the dynamo UNet\'s tapped blocks equal the primary\'s (same weights) at its static batch 2'), async () => {
    const unet = reference.unet!.inputs;
    const sample = new Float32Array(2 * 4096);
    sample.set(unet.sample.data);
    unet.sample.data.forEach((v, i) => (sample[4096 + i] = -0.5 * v)); // a second, different item
    const hidden = new Float32Array(2 * 77 * 32);
    hidden.set(unet.encoder_hidden_states.data);
    unet.encoder_hidden_states.data.forEach((v, i) => (hidden[2464 + i] = 0.7 * v));
    const feeds = {
      sample: new ort.Tensor('float32', sample, [2, 4, 32, 32]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), []),
      encoder_hidden_states: new ort.Tensor('float32', hidden, [2, 77, 32]),
    };
    const primaryTaps = defaults(bundles.primary, 'unet');
    const dynamoTaps = defaults(bundles.dynamo, 'unet');
    const a = await tappedSession(bundles.primary, 'unet', primaryTaps);
    const b = await tappedSession(bundles.dynamo, 'unet', dynamoTaps);
    try {
      const [ra, rb] = [await a.run(feeds), await b.run(feeds)];
      primaryTaps.forEach((tap, i) => {
        const [x, y] = [ra[tap.tensor]!, rb[dynamoTaps[i]!.tensor]!];
        expect([tap.label, y.dims]).toEqual([tap.label, x.dims]);
        expect(y.dims[0]).toBe(2);
        expect(relativeError(y.data as Float32Array, x.data as Float32Array)).toBeLessThanOrEqual(1e-4);
      });
      expect(relativeError(rb.out_sample!.data as Float32Array, ra.out_sample!.data as Float32Array)).toBeLessThanOrEqual(1e-4);
    } finally {
      await a.release();
      await b.release();
    }
  }, 180_000);

  test(title('the transformers-5 tokenizer (tokenizer.json) gives the reference ids, concept positions and end token, as the primary\'s does'), () => {
    expect(bundles.transformers5.tokenizer.files.map((f) => path.basename(f))).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(bundles.primary.tokenizer.files.map((f) => path.basename(f))).toEqual(['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']);
    for (const [bundle, ref] of [[bundles.primary, reference], [bundles.transformers5, reference5], [bundles.transformers5, reference]] as const) {
      expect(ref.text_encoder.prompts.length).toBe(5);
      for (const prompt of ref.text_encoder.prompts) {
        const start = prompt.prompt.lastIndexOf(prompt.concept);
        const encoding = bundle.tokenizer.encode(prompt.prompt, { start, end: start + prompt.concept.length });
        expect([prompt.concept, Array.from(encoding.ids)]).toEqual([prompt.concept, prompt.input_ids]);
        expect([encoding.eotIndex, encoding.spanPositions]).toEqual([prompt.eot_index, prompt.concept_positions]);
      }
    }
  });

  test(title('the transformers-5 text encoder\'s default taps, run through the project\'s sessions, match its torch reference'), async () => {
    const bundle = bundles.transformers5;
    const taps = defaults(bundle, 'text_encoder');
    const session = await tappedSession(bundle, 'text_encoder', taps);
    const declared = bundle.components.text_encoder.inputs.find((i) => i.name === 'input_ids')!.elemType;
    let worst = 0;
    let compared = 0;
    try {
      for (const prompt of reference5.text_encoder.prompts) {
        const ids = bundle.tokenizer.encode(prompt.prompt).ids;
        const input = declared === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, 77]) : new ort.Tensor('int32', Int32Array.from(ids), [1, 77]);
        const out = await session.run({ input_ids: input });
        for (const tap of taps) {
          const tensor = out[tap.tensor]!;
          const [, sequence, width] = tensor.dims as number[];
          expect(sequence).toBe(77);
          const data = tensor.data as Float32Array;
          const rowMean = (positions: number[]) => Float32Array.from({ length: width! }, (_, h) => positions.reduce((sum, p) => sum + data[p * width! + h]!, 0) / positions.length);
          const expected = prompt.vectors[tap.label]!;
          const pooled = {
            eot: rowMean([prompt.eot_index]),
            mean: rowMean(Array.from({ length: prompt.eot_index + 1 }, (_, p) => p)),
            concept: rowMean(prompt.concept_positions),
          };
          for (const pooling of ['eot', 'mean', 'concept'] as const) {
            worst = Math.max(worst, relativeError(pooled[pooling], expected[pooling]));
            compared++;
          }
        }
      }
    } finally {
      await session.release();
    }
    expect(compared).toBe(5 * 7 * 3);
    expect(worst).toBeLessThanOrEqual(1e-4);
  }, 120_000);
});

