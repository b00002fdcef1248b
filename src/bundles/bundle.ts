// A bundle = a local folder laid out like Hugging Face Optimum's ONNX export of a diffusers Stable
// Diffusion pipeline. Loading reads ONLY that folder and checks every file the extraction needs,
// so a broken bundle fails here with the file or tensor named, not deep inside a run.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BundleError } from './errors.ts';
import { decodeModel, externalDataLocations, feedInputs, outputs, OnnxDecodeError, type ModelProto, type TensorSignature } from './onnx-model.ts';
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
}

export interface Bundle {
  dir: string;
  kind: BundleKind;
  /** Display name: `_probe_atlas.name`, else the folder name. */
  name: string;
  modelIndex: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  tokenizer: ClipTokenizer;
  components: Record<ComponentName, BundleComponent>;
  /** sha256 over the configs, tokenizer files, model protobufs and external data names + sizes. */
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

// fp16 exports would need float16 feeds and casts on every output: not supported yet (docs/bundles.md).
const FLOATS = ['float32'];

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

function loadComponent(dir: string, name: ComponentName, hash: ReturnType<typeof createHash>): BundleComponent {
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
  for (const location of externalDataLocations(model.graph!)) {
    const dataFile = path.resolve(path.dirname(file), location);
    if (!existsSync(dataFile)) throw new BundleError('MISSING_FILE', `${dataFile} (external weights referenced by ${file}) is missing.`);
    hash.update(`${location}\0${statSync(dataFile).size}\0`);
  }
  return { name, file, bytes, model, inputs, outputs: outs, config: readJsonFile(path.join(dir, name, 'config.json'), false) };
}

export function loadBundle(dirArgument: string): Bundle {
  const dir = path.resolve(dirArgument);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError('MISSING_FILE', `Bundle folder ${dir} does not exist.`);
  const hash = createHash('sha256');
  const modelIndexFile = path.join(dir, 'model_index.json');
  const modelIndex = readJsonFile(modelIndexFile);
  const schedulerFile = path.join(dir, 'scheduler', 'scheduler_config.json');
  const schedulerConfig = readJsonFile(schedulerFile);
  hash.update(readFileSync(modelIndexFile)).update(readFileSync(schedulerFile));
  const tokenizerDir = path.join(dir, 'tokenizer');
  for (const file of ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json']) {
    const full = path.join(tokenizerDir, file);
    if (!existsSync(full)) throw new BundleError('MISSING_FILE', `${full} is missing.`);
    hash.update(readFileSync(full));
  }
  const tokenizer = loadTokenizer(tokenizerDir);
  const components = {
    text_encoder: loadComponent(dir, 'text_encoder', hash),
    unet: loadComponent(dir, 'unet', hash),
    vae_decoder: loadComponent(dir, 'vae_decoder', hash),
  };
  const textHidden = components.text_encoder.outputs.find((o) => o.name === 'last_hidden_state')?.dims?.[2];
  const unetHidden = components.unet.inputs.find((i) => i.name === 'encoder_hidden_states')?.dims?.[2];
  if (typeof textHidden === 'number' && typeof unetHidden === 'number' && textHidden !== unetHidden) {
    throw new BundleError('BAD_SIGNATURE', `${components.unet.file}: encoder_hidden_states width ${unetHidden} differs from the text encoder's last_hidden_state width ${textHidden}.`);
  }
  const marker = modelIndex._probe_atlas as { kind?: string; name?: string } | undefined;
  return {
    dir,
    kind: marker?.kind === 'TINY_TEST_NETWORK' ? 'TINY_TEST_NETWORK' : 'STABLE_DIFFUSION',
    name: marker?.name ?? path.basename(dir),
    modelIndex,
    schedulerConfig,
    tokenizer,
    components,
    identity: hash.digest('hex'),
  };
}
