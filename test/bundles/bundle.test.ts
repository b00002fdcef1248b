// Bundle validation: every broken file or signature is reported with the file and tensor named.
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { BundleError } from '../../src/bundles/errors.ts';
import { DataType, encodeModel, readModel } from '../../src/bundles/onnx-model.ts';
import { tempTinyBundle, type TempBundle } from '../extraction/fixtures.ts';

let tiny: TempBundle;
let work: string;
let copy: string;

beforeAll(() => {
  tiny = tempTinyBundle({ embeddings: 'random' });
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-bundle-'));
});
afterAll(() => {
  tiny?.remove();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  copy = path.join(work, `b${Math.random().toString(36).slice(2)}`);
  cpSync(tiny.dir, copy, { recursive: true });
});

function expectBundleError(code: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    loadBundle(copy);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BundleError);
  expect((caught as BundleError).code).toBe(code);
  expect((caught as BundleError).message).toMatch(pattern);
}

function editModel(component: string, edit: (model: ReturnType<typeof readModel>) => void): void {
  const file = path.join(copy, component, 'model.onnx');
  const model = readModel(file);
  edit(model);
  writeFileSync(file, encodeModel(model));
}

test('the tiny bundle loads and says what it is', () => {
  const bundle = loadBundle(copy);
  expect(bundle.kind).toBe('TINY_TEST_NETWORK');
  expect(bundle.identity).toMatch(/^[0-9a-f]{64}$/);
  expect(loadBundle(tiny.dir).identity).toBe(bundle.identity); // identity is content, not location
  expect(bundle.components.unet.inputs.map((i) => [i.name, i.elemType, i.dims])).toEqual([
    ['sample', 'float32', ['batch_size', 4, 'height', 'width']],
    ['timestep', 'int64', ['steps']],
    ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', 100]],
  ]);
  expect(bundle.components.text_encoder.inputs).toEqual([{ name: 'input_ids', elemType: 'int32', dims: ['batch_size', 'sequence_length'] }]);
  expect(bundle.components.text_encoder.outputs.map((o) => o.name)).toEqual(['last_hidden_state', 'pooler_output']);
});

test('missing files are named', () => {
  unlinkSync(path.join(copy, 'model_index.json'));
  expectBundleError('MISSING_FILE', /model_index\.json is missing/);
  cpSync(tiny.dir, copy, { recursive: true });
  unlinkSync(path.join(copy, 'unet', 'model.onnx_data'));
  expectBundleError('MISSING_FILE', /unet\/model\.onnx_data \(external weights referenced by .*unet\/model\.onnx\) is missing/);
  cpSync(tiny.dir, copy, { recursive: true });
  unlinkSync(path.join(copy, 'tokenizer', 'merges.txt'));
  expectBundleError('MISSING_FILE', /tokenizer\/merges\.txt is missing/);
  expect(() => loadBundle(path.join(work, 'nope'))).toThrow(/Bundle folder .*nope does not exist/);
});

test('bad JSON and corrupt protobuf are named', () => {
  writeFileSync(path.join(copy, 'scheduler', 'scheduler_config.json'), '{"beta_start": 0.00085,');
  expectBundleError('BAD_JSON', /scheduler\/scheduler_config\.json is not valid JSON/);
  cpSync(tiny.dir, copy, { recursive: true });
  writeFileSync(path.join(copy, 'vae_decoder', 'model.onnx'), Buffer.from('this is not a protobuf at all, just text'));
  expectBundleError('BAD_ONNX', /vae_decoder\/model\.onnx is not a valid ONNX model/);
});

test('graph inputs that do not match the expected signature name the file and tensor', () => {
  editModel('unet', (model) => {
    model.graph!.input![0]!.name = 'latents';
  });
  expectBundleError('BAD_SIGNATURE', /unet\/model\.onnx: graph input "sample" is missing \(has "latents", "timestep", "encoder_hidden_states"\)/);
  cpSync(tiny.dir, copy, { recursive: true });
  editModel('text_encoder', (model) => {
    model.graph!.input![0]!.type!.tensorType!.elemType = DataType.FLOAT;
  });
  expectBundleError('BAD_SIGNATURE', /text_encoder\/model\.onnx: graph input "input_ids" is float32; expected int32 or int64/);
  cpSync(tiny.dir, copy, { recursive: true });
  editModel('vae_decoder', (model) => {
    model.graph!.output![0]!.name = 'image';
  });
  expectBundleError('BAD_SIGNATURE', /vae_decoder\/model\.onnx: graph output "sample" is missing/);
  cpSync(tiny.dir, copy, { recursive: true });
  editModel('unet', (model) => {
    model.graph!.input!.push({ name: 'text_embeds', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'b' }, { dimValue: 1280 }] } } } });
  });
  expectBundleError('BAD_SIGNATURE', /unexpected graph input\(s\) "text_embeds" \(SDXL UNet conditioning is not supported yet/);
  cpSync(tiny.dir, copy, { recursive: true });
  editModel('unet', (model) => {
    model.graph!.input![2]!.type!.tensorType!.shape!.dim![2] = { dimValue: 768 };
  });
  expectBundleError('BAD_SIGNATURE', /encoder_hidden_states width 768 differs from the text encoder's last_hidden_state width 100/);
});

test('float16 sample/latent inputs and outputs are accepted (cast at the tapped graph\'s boundary); an integer latent is refused naming both types', () => {
  editModel('unet', (model) => {
    model.graph!.input!.find((i) => i.name === 'sample')!.type!.tensorType!.elemType = DataType.FLOAT16;
    model.graph!.output!.find((o) => o.name === 'out_sample')!.type!.tensorType!.elemType = DataType.FLOAT16;
  });
  const bundle = loadBundle(copy);
  expect(bundle.components.unet.inputs.find((i) => i.name === 'sample')!.elemType).toBe('float16');
  expect(bundle.components.unet.outputs.find((o) => o.name === 'out_sample')!.elemType).toBe('float16');
  editModel('vae_decoder', (model) => {
    model.graph!.input!.find((i) => i.name === 'latent_sample')!.type!.tensorType!.elemType = DataType.INT32;
  });
  expectBundleError('BAD_SIGNATURE', /vae_decoder\/model\.onnx: graph input "latent_sample" is int32; expected float32 or float16/);
});

test('the tiny bundle is deterministic from its seed', () => {
  const again = tempTinyBundle({ embeddings: 'random' });
  const other = tempTinyBundle({ embeddings: 'random', seed: 1 });
  try {
    expect(loadBundle(again.dir).identity).toBe(loadBundle(tiny.dir).identity);
    expect(loadBundle(other.dir).identity).not.toBe(loadBundle(tiny.dir).identity);
  } finally {
    again.remove();
    other.remove();
  }
});

function editJson(relative: string, edit: (value: Record<string, unknown>) => void): void {
  const file = path.join(copy, relative);
  const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  writeFileSync(file, JSON.stringify(value));
}

test('the JSON fields the extraction reads are type-checked, naming file and field', () => {
  editJson('model_index.json', (v) => ((v._probe_atlas as Record<string, unknown>).name = 7));
  expectBundleError('BAD_JSON', /model_index\.json: "_probe_atlas\.name" must be a non-empty string, got 7/);
  cpSync(tiny.dir, copy, { recursive: true });
  editJson('model_index.json', (v) => ((v._probe_atlas as Record<string, unknown>).kind = 'TINY'));
  expectBundleError('BAD_JSON', /model_index\.json: "_probe_atlas\.kind" must be "TINY_TEST_NETWORK" or "STABLE_DIFFUSION", got "TINY"/);
  cpSync(tiny.dir, copy, { recursive: true });
  editJson('unet/config.json', (v) => (v.sample_size = '8'));
  expectBundleError('BAD_JSON', /unet\/config\.json: "sample_size" must be a positive integer, got "8"/);
  cpSync(tiny.dir, copy, { recursive: true });
  editJson('vae_decoder/config.json', (v) => (v.scaling_factor = 'x'));
  expectBundleError('BAD_JSON', /vae_decoder\/config\.json: "scaling_factor" must be a positive number, got "x"/);
  cpSync(tiny.dir, copy, { recursive: true });
  editJson('tokenizer/special_tokens_map.json', (v) => (v.pad_token = 49407));
  expectBundleError('BAD_TOKENIZER', /tokenizer\/special_tokens_map\.json: "pad_token" must be a string or an object with a string "content", got 49407/);
  cpSync(tiny.dir, copy, { recursive: true });
  editJson('tokenizer/tokenizer_config.json', (v) => (v.model_max_length = '77'));
  expectBundleError('BAD_TOKENIZER', /tokenizer\/tokenizer_config\.json: "model_max_length" must be a number, got "77"/);
});
