// Builds the SD-1.5-SIZED benchmark bundle (networks.ts): a folder laid out like an Optimum export
// of SD 1.5, with its activation shapes but cheap ops and random weights, so `npm run bench:extract`
// and scripts/bench/gpu.sh can measure what leaves session.run and the host's work at Stable
// Diffusion scale without a real export or network access. Built locally on demand into a cache
// folder (git-ignored `.bench/`), reused while the builder's version and sizes are the same; never
// committed. NOT Stable Diffusion, and model_index.json says so.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config.ts';
import { encodeModel } from '../../bundles/onnx-model.ts';
import { binderWords, moveWeightsToExternalData, TEMPLATE_WORDS } from '../tiny-bundle/build.ts';
import { buildVocabulary } from '../tiny-bundle/vocabulary.ts';
import { SD15_SIZES, textEncoderGraph, unetGraph, vaeDecoderGraph, type Sd15Sizes } from './networks.ts';

/** Bump when the networks change: cached bundles of another version are rebuilt. */
export const SD15_SIZED_VERSION = 'sd15-sized v1';

export const DEFAULT_SD15_SIZED_CACHE = path.join(PROJECT_ROOT, '.bench', 'bundles');

export interface Sd15SizedOptions {
  /** Parent folder of the cached bundles (default `.bench/bundles`). */
  cacheDir?: string;
  seed?: number;
  /** Sizes other than SD 1.5's (tests build a reduced copy); default SD15_SIZES. */
  sizes?: Partial<Omit<Sd15Sizes, 'vocabSize'>>;
  /** Words given whole-word tokens (default: the Binder concepts + template words). */
  words?: string[];
}

export interface Sd15SizedBundle {
  dir: string;
  /** false: built now; true: a complete cached copy was reused. */
  reused: boolean;
  bytes: number;
  seconds: number;
  sizes: Sd15Sizes;
}

const STAMP = 'probe-atlas-build.json';

export function buildSd15SizedBundle(options: Sd15SizedOptions = {}): Sd15SizedBundle {
  const started = performance.now();
  const seed = options.seed ?? 0;
  const words = [...new Set([...(options.words ?? binderWords()), ...TEMPLATE_WORDS])].sort();
  const base = { ...SD15_SIZES, ...options.sizes };
  const key = createHash('sha256').update(JSON.stringify({ version: SD15_SIZED_VERSION, seed, base, words })).digest('hex').slice(0, 12);
  const cacheDir = path.resolve(options.cacheDir ?? DEFAULT_SD15_SIZED_CACHE);
  const dir = path.join(cacheDir, `sd15-sized-${key}`);
  const stampFile = path.join(dir, STAMP);
  if (existsSync(stampFile)) {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { bytes: number; sizes: Sd15Sizes };
    return { dir, reused: true, bytes: stamp.bytes, seconds: (performance.now() - started) / 1000, sizes: stamp.sizes };
  }

  const vocabulary = buildVocabulary(words);
  const sizes: Sd15Sizes = { ...base, vocabSize: vocabulary.vocab.size };
  // Written beside the final folder and renamed into place, so a killed build never looks complete.
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  let bytes = 0;
  let modelBytes = 0;
  const write = (relative: string, content: Uint8Array | string) => {
    const file = path.join(staging, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  };
  const json = (relative: string, value: unknown) => write(relative, `${JSON.stringify(value, null, 2)}\n`);
  try {
    json('model_index.json', {
      _class_name: 'OnnxStableDiffusionPipeline',
      _diffusers_version: '0.30.0',
      _probe_atlas: {
        kind: 'TINY_TEST_NETWORK',
        name: 'sd15-sized-bench-network',
        note: "not Stable Diffusion: a benchmark network with SD 1.5's activation shapes, cheap ops and random weights (src/demo/sd15-sized)",
        seed,
      },
      scheduler: ['diffusers', 'DDIMScheduler'],
      text_encoder: ['diffusers', 'OnnxRuntimeModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'OnnxRuntimeModel'],
      vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    });
    // SD 1.5's own scheduler config.
    json('scheduler/scheduler_config.json', {
      _class_name: 'DDIMScheduler', beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085, clip_sample: false,
      num_train_timesteps: 1000, prediction_type: 'epsilon', set_alpha_to_one: false, steps_offset: 1, timestep_spacing: 'leading',
    });
    json('tokenizer/vocab.json', Object.fromEntries(vocabulary.vocab));
    write('tokenizer/merges.txt', `#version: 0.2\n${vocabulary.merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`);
    json('tokenizer/special_tokens_map.json', { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
    json('tokenizer/tokenizer_config.json', { model_max_length: sizes.maxPositions, do_lower_case: true, tokenizer_class: 'CLIPTokenizer', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' });
    json('text_encoder/config.json', { hidden_size: sizes.hidden, num_hidden_layers: sizes.layers, max_position_embeddings: sizes.maxPositions, vocab_size: sizes.vocabSize });
    json('unet/config.json', { sample_size: sizes.latentSize, in_channels: sizes.latentChannels, cross_attention_dim: sizes.hidden, block_out_channels: sizes.unetChannels });
    json('vae_decoder/config.json', { scaling_factor: 0.18215, latent_channels: sizes.latentChannels, block_out_channels: [...sizes.vaeChannels.slice(1)].reverse() });
    write('text_encoder/model.onnx', encodeModel(textEncoderGraph(sizes, seed + 1)));
    const unet = unetGraph(sizes, seed + 2);
    write('unet/model.onnx_data', moveWeightsToExternalData(unet, 'model.onnx_data'));
    write('unet/model.onnx', encodeModel(unet));
    write('vae_decoder/model.onnx', encodeModel(vaeDecoderGraph(sizes, seed + 3)));
    modelBytes = bytes; // the bundle's own files, the stamp not counted
    json(STAMP, { version: SD15_SIZED_VERSION, seed, bytes: modelBytes, sizes });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return { dir, reused: false, bytes: modelBytes, seconds: (performance.now() - started) / 1000, sizes };
}
