/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The project's own path (loadBundle → resolveTaps → the pooling surgery of writeTappedModel → an
// onnxruntime-node session → the pooled outputs) against torch: the real-architecture SD 1.5 fixtures'
// tapped, pooled vectors must equal the torch reference in ../shared/data/bundles/reference/ within
// SOURCE.md's "Observed error" bounds (1e-4 relative for float32, 2e-2 for float16), for the float32
// bundle, its float16-weights/float32-I/O copy and a float16-I/O copy made here from it. Skips (and
// says so) without SHARED_BUNDLES_DIR.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle, type Bundle } from '../../src/bundles/bundle.ts';
import { DataType, encodeModel, type ModelProto } from '../../src/bundles/onnx-model.ts';
import { createSession, ort } from '../../src/bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName } from '../../src/bundles/taps.ts';
import { writeTappedModel, type PoolingSurgery } from '../../src/bundles/tapped-model.ts';
import { meanOverTokens, poolingWeights, spatialMean, type TextPooling } from '../../src/extraction/pooling.ts';

const SHARED = process.env.SHARED_BUNDLES_DIR;

interface ReferenceLayer { label: string; onnx_tensor: string; spatial_mean?: number[] }
interface ReferencePrompt { concept: string; prompt: string; input_ids: number[]; eot_index: number; concept_positions: number[]; vectors: Record<string, Record<string, number[]>> }
interface Reference {
  text_encoder: { layers: ReferenceLayer[]; prompts: ReferencePrompt[] };
  unet: { inputs: { sample: { data: number[] }; timestep: { value: number }; encoder_hidden_states: { data: number[] } }; layers: ReferenceLayer[]; out_sample: { data: number[]; spatial_mean: number[] } };
  vae_decoder: { layers: ReferenceLayer[]; sample: { spatial_mean: number[] } };
}

/** SOURCE.md's metric: max |ours − torch| / max |torch|. */
function relativeError(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  expect(ours.length).toBe(reference.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return diff / scale;
}

const POOLINGS: TextPooling[] = ['eot', 'mean', 'concept'];

async function session(bundle: Bundle, name: ComponentName, surgery: PoolingSurgery, cacheDir: string) {
  const component = bundle.components[name];
  const taps = resolveTaps(component.model.graph!, DEFAULT_TAPS[name], component.file);
  const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir, weights: component.weights, surgery });
  const { session } = await createSession(tapped, 'cpu');
  return { session, taps, names: tapped.names };
}

/** Worst relative error per component of the bundle's pooled taps against the torch reference. */
async function compare(bundle: Bundle, reference: Reference, cacheDir: string, mapTolerance: number): Promise<Record<string, number>> {
  const errors: Record<string, number> = { text: 0, textFullMaps: 0, unet: 0, unetNoise: 0, vae: 0 };
  // Text encoder: all five prompts in one call, pooled in the graph; full maps too, to check the
  // in-graph reduction against the JS pooling functions on the same session's maps.
  const text = await session(bundle, 'text_encoder', { reduce: 'text', keep: ['last_hidden_state'], fullMaps: true }, cacheDir);
  const prompts = reference.text_encoder.prompts;
  const ids = new BigInt64Array(prompts.length * 77);
  const weights = new Float32Array(prompts.length * POOLINGS.length * 77);
  prompts.forEach((p, i) => {
    const encoding = bundle.tokenizer.encode(p.prompt);
    expect(Array.from(encoding.ids)).toEqual(p.input_ids); // the project's tokenizer gives torch's ids
    ids.set(p.input_ids.map(BigInt), i * 77);
    weights.set(poolingWeights(POOLINGS, p.eot_index, p.concept_positions, 77), i * POOLINGS.length * 77);
  });
  const out = await text.session.run({
    input_ids: new ort.Tensor('int64', ids, [prompts.length, 77]),
    [text.names.poolingWeights!]: new ort.Tensor('float32', weights, [prompts.length, POOLINGS.length, 77]),
  });
  expect(text.taps.map((t) => t.label)).toEqual(reference.text_encoder.layers.map((l) => l.label));
  text.taps.forEach((tap, t) => {
    const pooled = out[text.names.taps[t]!.pooled!]!;
    const hidden = pooled.dims[2]!;
    expect(pooled.dims).toEqual([prompts.length, POOLINGS.length, hidden]);
    const full = out[text.names.taps[t]!.full!]!;
    prompts.forEach((p, i) => {
      POOLINGS.forEach((pooling, k) => {
        const ours = (pooled.data as Float32Array).subarray((i * POOLINGS.length + k) * hidden, (i * POOLINGS.length + k + 1) * hidden);
        errors.text = Math.max(errors.text!, relativeError(ours, p.vectors[tap.label]![pooling]!));
        const positions = pooling === 'eot' ? [p.eot_index] : pooling === 'mean' ? Array.from({ length: p.eot_index + 1 }, (_, j) => j) : p.concept_positions;
        errors.textFullMaps = Math.max(errors.textFullMaps!, relativeError(ours, meanOverTokens(full.data as Float32Array, full.dims, i, positions)));
      });
    });
  });
  await text.session.release();

  // UNet: batch [u, c] with c the stored sample and hidden states and u the same sample on zero
  // context; guidance 1 makes the guided noise u + 1·(c − u) = c's out_sample, and the conditional
  // half of each pooled tap is c's spatial mean: both check the halves' order too.
  const unet = await session(bundle, 'unet', { reduce: 'spatial', guidance: { halves: ['conditional', 'guided'] }, keep: ['out_sample'] }, cacheDir);
  const sample = Float32Array.from(reference.unet.inputs.sample.data);
  const context = Float32Array.from(reference.unet.inputs.encoder_hidden_states.data);
  const doubledSample = new Float32Array(sample.length * 2);
  doubledSample.set(sample);
  doubledSample.set(sample, sample.length);
  const doubledContext = new Float32Array(context.length * 2);
  doubledContext.set(context, context.length);
  const unetOut = await unet.session.run({
    sample: new ort.Tensor('float32', doubledSample, [2, 4, 32, 32]),
    timestep: new ort.Tensor('float32', new Float32Array([reference.unet.inputs.timestep.value]), []),
    encoder_hidden_states: new ort.Tensor('float32', doubledContext, [2, 77, context.length / 77]),
    [unet.names.guidanceScale!]: new ort.Tensor('float32', new Float32Array([1]), [1]),
  });
  expect(unet.taps.map((t) => t.label)).toEqual(reference.unet.layers.map((l) => l.label));
  unet.taps.forEach((_tap, t) => {
    const conditional = unetOut[unet.names.taps[t]!.conditional!]!;
    expect(conditional.dims[0]).toBe(1);
    errors.unet = Math.max(errors.unet!, relativeError(conditional.data as Float32Array, reference.unet.layers[t]!.spatial_mean!));
    errors.unet = Math.max(errors.unet!, relativeError(unetOut[unet.names.taps[t]!.guided!]!.data as Float32Array, reference.unet.layers[t]!.spatial_mean!));
  });
  const noise = unetOut[unet.names.guidedNoise!]!;
  expect(noise.dims).toEqual([1, 4, 32, 32]); // the guided noise alone leaves session.run, not both halves
  errors.unetNoise = relativeError(noise.data as Float32Array, reference.unet.out_sample.data);
  await unet.session.release();

  // VAE: the stored sample fed verbatim (the reference does not divide by scaling_factor).
  const vae = await session(bundle, 'vae_decoder', { reduce: 'spatial', keep: [], pooled: ['sample'] }, cacheDir);
  const vaeOut = await vae.session.run({ latent_sample: new ort.Tensor('float32', sample, [1, 4, 32, 32]) });
  expect(vae.taps.map((t) => t.label)).toEqual(reference.vae_decoder.layers.map((l) => l.label));
  vae.taps.forEach((_tap, t) => {
    errors.vae = Math.max(errors.vae!, relativeError(vaeOut[vae.names.taps[t]!.pooled!]!.data as Float32Array, reference.vae_decoder.layers[t]!.spatial_mean!));
  });
  errors.vae = Math.max(errors.vae!, relativeError(vaeOut[vae.names.pooled.sample!]!.data as Float32Array, reference.vae_decoder.sample.spatial_mean));
  // Full maps on request: the spatial reduction in the graph equals the JS one on the returned map
  // (to float32 rounding; a float16 tap is reduced in float16 before its cast, hence mapTolerance).
  const vaeFull = await session(bundle, 'vae_decoder', { reduce: 'spatial', keep: [], pooled: ['sample'], fullMaps: true }, cacheDir);
  const fullOut = await vaeFull.session.run({ latent_sample: new ort.Tensor('float32', sample, [1, 4, 32, 32]) });
  const mid = fullOut[vaeFull.names.taps[0]!.full!]!;
  expect(relativeError(fullOut[vaeFull.names.taps[0]!.pooled!]!.data as Float32Array, spatialMean(mid.data as Float32Array, mid.dims, 0))).toBeLessThan(mapTolerance);
  await vae.session.release();
  await vaeFull.session.release();
  return errors;
}

/**
 * A float16-I/O bundle from the float16-weights/float32-I/O one: the converter's graph_input_cast /
 * graph_output_cast nodes dropped and the graph inputs and outputs retyped float16, as an export
 * that keeps float16 at the boundary has it.
 */
export function makeFloat16Io(fromDir: string, toDir: string): void {
  cpSync(fromDir, toDir, { recursive: true });
  for (const name of ['text_encoder', 'unet', 'vae_decoder'] as const) {
    const file = path.join(toDir, name, 'model.onnx');
    const model = loadBundle(fromDir).components[name].model as ModelProto;
    const graph = model.graph!;
    const rename = new Map<string, string>();
    const inputCasts = (graph.node ?? []).filter((n) => n.opType === 'Cast' && (n.name ?? '').startsWith('graph_input_cast'));
    const outputCasts = (graph.node ?? []).filter((n) => n.opType === 'Cast' && (n.name ?? '').startsWith('graph_output_cast'));
    for (const cast of inputCasts) rename.set(cast.output![0]!, cast.input![0]!); // consumers read the input itself
    for (const cast of outputCasts) rename.set(cast.input![0]!, cast.output![0]!); // the producer writes the output itself
    const dropped = new Set([...inputCasts, ...outputCasts]);
    const retyped = new Set([...inputCasts.map((c) => c.input![0]!), ...outputCasts.map((c) => c.output![0]!)]);
    const fp16 = (info: NonNullable<typeof graph.input>[number]) => retyped.has(info.name!) ? { ...info, type: { tensorType: { ...info.type!.tensorType!, elemType: DataType.FLOAT16 } } } : info;
    const map = (names: string[] | null | undefined) => (names ?? []).map((n) => rename.get(n) ?? n);
    const rewritten = {
      ...model,
      graph: {
        ...graph,
        node: (graph.node ?? []).filter((n) => !dropped.has(n)).map((n) => ({ ...n, input: map(n.input), output: map(n.output) })),
        input: (graph.input ?? []).map(fp16),
        output: (graph.output ?? []).map(fp16),
        valueInfo: (graph.valueInfo ?? []).filter((v) => !rename.has(v.name!)),
      },
    };
    writeFileSync(file, encodeModel(rewritten));
  }
}

if (SHARED) {
  const reference = JSON.parse(readFileSync(path.join(SHARED, 'reference', 'sd15-arch-tiny.json'), 'utf8')) as Reference;
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-reference-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test('sd15-arch-tiny: pooled in the graph, text layers (eot, mean, concept), UNet blocks, guided noise and VAE blocks equal torch within 1e-4', async () => {
    const errors = await compare(loadBundle(path.join(SHARED, 'sd15-arch-tiny')), reference, path.join(scratch, 'cache'), 1e-5);
    for (const [what, error] of Object.entries(errors)) expect([what, error < 1e-4]).toEqual([what, true]);
  }, 180_000);

  test('sd15-arch-tiny-fp16-io32 (float16 taps pooled, then cast in the graph): within 2e-2 of the float32 torch reference, never garbage', async () => {
    const bundle = loadBundle(path.join(SHARED, 'sd15-arch-tiny-fp16-io32'));
    expect(resolveTaps(bundle.components.unet.model.graph!, DEFAULT_TAPS.unet, 'unet').every((t) => t.elemType === DataType.FLOAT16)).toBe(true);
    const errors = await compare(bundle, reference, path.join(scratch, 'cache'), 1e-3);
    for (const [what, error] of Object.entries(errors)) expect([what, error < 2e-2]).toEqual([what, true]);
    expect(errors.unet).toBeGreaterThan(0); // float16 really ran (a float32 path would be ~1e-6)
  }, 180_000);

  test('a float16-I/O bundle (made here from fp16-io32): loads, is cast at the graph boundary, and is within 2e-2 of torch', async () => {
    const dir = path.join(scratch, 'fp16-io16');
    makeFloat16Io(path.join(SHARED, 'sd15-arch-tiny-fp16-io32'), dir);
    const bundle = loadBundle(dir);
    expect(bundle.components.unet.inputs.find((i) => i.name === 'sample')!.elemType).toBe('float16');
    expect(bundle.components.text_encoder.outputs.find((o) => o.name === 'last_hidden_state')!.elemType).toBe('float16');
    const errors = await compare(bundle, reference, path.join(scratch, 'cache'), 1e-3);
    for (const [what, error] of Object.entries(errors)) expect([what, error < 2e-2]).toEqual([what, true]);
  }, 180_000);

  test('transformers-5 export (no /text_model/, tokenizer.json only): its text encoder equals its own torch reference, its UNet and VAE the primary\'s, within 1e-4', async () => {
    const own = JSON.parse(readFileSync(path.join(SHARED, 'reference', 'sd15-arch-tiny-transformers5.json'), 'utf8')) as Pick<Reference, 'text_encoder'>;
    const errors = await compare(loadBundle(path.join(SHARED, 'sd15-arch-tiny-transformers5')), { ...reference, text_encoder: own.text_encoder }, path.join(scratch, 'cache'), 1e-5);
    for (const [what, error] of Object.entries(errors)) expect([what, error < 1e-4]).toEqual([what, true]);
  }, 180_000);

  test('the dynamo-exported UNet (node_* names, static batch 2, external data) gives the primary\'s UNet vectors within 1e-4', async () => {
    const dir = path.join(scratch, 'dynamo');
    cpSync(path.join(SHARED, 'sd15-arch-tiny'), dir, { recursive: true });
    rmSync(path.join(dir, 'unet'), { recursive: true, force: true });
    cpSync(path.join(SHARED, 'sd15-arch-tiny-dynamo-unet', 'unet'), path.join(dir, 'unet'), { recursive: true });
    const errors = await compare(loadBundle(dir), reference, path.join(scratch, 'cache'), 1e-5);
    for (const [what, error] of Object.entries(errors)) expect([what, error < 1e-4]).toEqual([what, true]);
  }, 180_000);
} else {
  test.skip('torch reference of the real-architecture fixtures: SKIPPED, set SHARED_BUNDLES_DIR to the shared data/bundles folder', () => {});
}
