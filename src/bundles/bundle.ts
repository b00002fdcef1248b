// A bundle = a local folder laid out like Hugging Face Optimum's ONNX export of a diffusers Stable
// Diffusion pipeline. Loading reads ONLY that folder and checks every file the extraction needs,
// so a broken bundle fails here with the file or tensor named, not deep inside a run.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BundleError } from './errors.ts';
import { checkExternalData, type WeightFile } from './external-data.ts';
import { DigestCache } from './file-digest.ts';
import { decodeModel, feedInputs, outputs, OnnxDecodeError, type ModelProto, type TensorSignature } from './onnx-model.ts';
import { loadTokenizer, type ClipTokenizer } from './tokenizer.ts';
import type { ComponentName } from './taps.ts';

export type BundleKind = 'STABLE_DIFFUSION' | 'TINY_TEST_NETWORK';

export interface BundleComponent {
  name: ComponentName;
  file: string;
  bytes: Buffer;
  model: ModelProto;
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** Component config.json (Optimum copies the diffusers/transformers config beside each model), or {}. */
  config: Record<string, unknown>;
  /** External weight files with their checked sizes and content hashes (none when weights are inline). */
  weights: WeightFile[];
}

export interface Bundle {
  dir: string;
  kind: BundleKind;
  /** Display name: `_probe_atlas.name`, else the folder name. */
  name: string;
  modelIndex: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  /** Path of scheduler/scheduler_config.json, for error messages. */
  schedulerFile: string;
  tokenizer: ClipTokenizer;
  components: Record<ComponentName, BundleComponent>;
  /** sha256 over the configs, tokenizer files, model protobufs and external weights (name, size, sha256). */
  identity: string;
}

function readJsonFile(file: string, required = true): Record<string, unknown> {
  if (!existsSync(file)) {
    if (!required) return {};
    throw new BundleError('MISSING_FILE', `${file} is missing.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new BundleError('BAD_JSON', `${file} is not valid JSON: ${(error as Error).message}.`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new BundleError('BAD_JSON', `${file} must hold a JSON object.`);
  return value as Record<string, unknown>;
}

// float16 inputs and outputs are cast from and to float32 inside the tapped graph
// (src/bundles/tapped-model.ts), so JavaScript always feeds and reads float32.
const FLOATS = ['float32', 'float16'];

interface ExpectedInput {
  name: string;
  types: string[];
  ranks: number[];
}

const SIGNATURES: Record<ComponentName, { inputs: ExpectedInput[]; outputs: ExpectedInput[] }> = {
  text_encoder: {
    inputs: [{ name: 'input_ids', types: ['int32', 'int64'], ranks: [2] }],
    outputs: [{ name: 'last_hidden_state', types: FLOATS, ranks: [3] }],
  },
  unet: {
    inputs: [
      { name: 'sample', types: FLOATS, ranks: [4] },
      { name: 'timestep', types: ['int64', 'int32', 'float32', 'float16'], ranks: [0, 1] },
      { name: 'encoder_hidden_states', types: FLOATS, ranks: [3] },
    ],
    outputs: [{ name: 'out_sample', types: FLOATS, ranks: [4] }],
  },
  vae_decoder: {
    inputs: [{ name: 'latent_sample', types: FLOATS, ranks: [4] }],
    outputs: [{ name: 'sample', types: FLOATS, ranks: [4] }],
  },
};

function checkSignature(component: ComponentName, file: string, inputs: TensorSignature[], outs: TensorSignature[]): void {
  const expected = SIGNATURES[component];
  const check = (kind: 'input' | 'output', actual: TensorSignature[], want: ExpectedInput) => {
    const found = actual.find((t) => t.name === want.name);
    if (!found) {
      throw new BundleError('BAD_SIGNATURE', `${file}: graph ${kind} "${want.name}" is missing (has ${actual.map((t) => `"${t.name}"`).join(', ') || 'none'}).`);
    }
    if (!want.types.includes(found.elemType)) {
      throw new BundleError('BAD_SIGNATURE', `${file}: graph ${kind} "${want.name}" is ${found.elemType}; expected ${want.types.join(' or ')}.`);
    }
    if (found.dims && !want.ranks.includes(found.dims.length)) {
      throw new BundleError('BAD_SIGNATURE', `${file}: graph ${kind} "${want.name}" has rank ${found.dims.length}; expected ${want.ranks.join(' or ')}.`);
    }
  };
  for (const want of expected.inputs) check('input', inputs, want);
  for (const want of expected.outputs) check('output', outs, want);
  const extra = inputs.filter((t) => !expected.inputs.some((w) => w.name === t.name));
  if (extra.length) {
    const names = extra.map((t) => `"${t.name}"`).join(', ');
    const hint = extra.some((t) => t.name === 'text_embeds' || t.name === 'time_ids') ? ' (SDXL UNet conditioning is not supported yet: see docs/bundles.md)' : '';
    throw new BundleError('BAD_SIGNATURE', `${file}: unexpected graph input(s) ${names}${hint}.`);
  }
}

/** The config.json fields the extraction reads, type-checked so a wrong type is refused here, naming file and field. */
function checkConfig(name: ComponentName, file: string, config: Record<string, unknown>): void {
  const positiveInteger = (key: string) => {
    const value = config[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0)) {
      throw new BundleError('BAD_JSON', `${file}: "${key}" must be a positive integer, got ${JSON.stringify(value)}.`);
    }
  };
  if (name === 'unet') {
    positiveInteger('sample_size');
    positiveInteger('in_channels');
  }
  if (name === 'vae_decoder') {
    const value = config.scaling_factor;
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new BundleError('BAD_JSON', `${file}: "scaling_factor" must be a positive number, got ${JSON.stringify(value)}.`);
    }
  }
}

function loadComponent(dir: string, name: ComponentName, hash: ReturnType<typeof createHash>, digests: DigestCache): BundleComponent {
  const file = path.join(dir, name, 'model.onnx');
  if (!existsSync(file)) throw new BundleError('MISSING_FILE', `${file} is missing.`);
  const bytes = readFileSync(file);
  let model: ModelProto;
  try {
    model = decodeModel(bytes, file);
  } catch (error) {
    if (error instanceof OnnxDecodeError) throw new BundleError('BAD_ONNX', error.message);
    throw error;
  }
  const inputs = feedInputs(model.graph!);
  const outs = outputs(model.graph!);
  checkSignature(name, file, inputs, outs);
  hash.update(`${name}\0`).update(bytes);
  // Every weight byte shapes the result: each external file's content hash is part of the identity.
  const weights = checkExternalData(model.graph!, file, digests);
  for (const weight of weights) hash.update(`${weight.location}\0${weight.size}\0${weight.sha256}\0`);
  const configFile = path.join(dir, name, 'config.json');
  const config = readJsonFile(configFile, false);
  checkConfig(name, configFile, config);
  return { name, file, bytes, model, inputs, outputs: outs, config, weights };
}

function readMarker(file: string, modelIndex: Record<string, unknown>): { kind?: string; name?: string } {
  const marker = modelIndex._probe_atlas;
  if (marker === undefined) return {};
  if (!marker || typeof marker !== 'object' || Array.isArray(marker)) throw new BundleError('BAD_JSON', `${file}: "_probe_atlas" must be an object, got ${JSON.stringify(marker)}.`);
  const { kind, name } = marker as Record<string, unknown>;
  if (kind !== undefined && kind !== 'TINY_TEST_NETWORK' && kind !== 'STABLE_DIFFUSION') {
    throw new BundleError('BAD_JSON', `${file}: "_probe_atlas.kind" must be "TINY_TEST_NETWORK" or "STABLE_DIFFUSION", got ${JSON.stringify(kind)}.`);
  }
  if (name !== undefined && !(typeof name === 'string' && name.trim() !== '')) throw new BundleError('BAD_JSON', `${file}: "_probe_atlas.name" must be a non-empty string, got ${JSON.stringify(name)}.`);
  return { kind, name };
}

export interface LoadBundleOptions {
  /** Where weight-file hashes are remembered between runs (DigestCache.inFolder(cacheDir)); default: this process only. */
  digests?: DigestCache;
}

export function loadBundle(dirArgument: string, options: LoadBundleOptions = {}): Bundle {
  const digests = options.digests ?? new DigestCache();
  const dir = path.resolve(dirArgument);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError('MISSING_FILE', `Bundle folder ${dir} does not exist.`);
  const hash = createHash('sha256');
  const modelIndexFile = path.join(dir, 'model_index.json');
  const modelIndex = readJsonFile(modelIndexFile);
  const schedulerFile = path.join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerConfig = readJsonFile(schedulerFile);
  hash.update(readFileSync(modelIndexFile)).update(readFileSync(schedulerFile));
  // vocab.json + merges.txt or tokenizer.json, with tokenizer_config.json (tokenizer.ts); the files read
  // are hashed in a fixed order, so a bundle with all four slow files keeps the identity it always had.
  const tokenizer = loadTokenizer(path.join(dir, 'tokenizer'));
  for (const file of tokenizer.files) hash.update(readFileSync(file));
  const components = {
    text_encoder: loadComponent(dir, 'text_encoder', hash, digests),
    unet: loadComponent(dir, 'unet', hash, digests),
    vae_decoder: loadComponent(dir, 'vae_decoder', hash, digests),
  };
  digests.save();
  const textHidden = components.text_encoder.outputs.find((o) => o.name === 'last_hidden_state')?.dims?.[2];
  const unetHidden = components.unet.inputs.find((i) => i.name === 'encoder_hidden_states')?.dims?.[2];
  if (typeof textHidden === 'number' && typeof unetHidden === 'number' && textHidden !== unetHidden) {
    throw new BundleError('BAD_SIGNATURE', `${components.unet.file}: encoder_hidden_states width ${unetHidden} differs from the text encoder's last_hidden_state width ${textHidden}.`);
  }
  const marker = readMarker(modelIndexFile, modelIndex);
  return {
    dir,
    kind: marker.kind === 'TINY_TEST_NETWORK' ? 'TINY_TEST_NETWORK' : 'STABLE_DIFFUSION',
    name: marker.name ?? path.basename(dir),
    modelIndex,
    schedulerConfig,
    schedulerFile,
    tokenizer,
    components,
    identity: hash.digest('hex'),
  };
}
