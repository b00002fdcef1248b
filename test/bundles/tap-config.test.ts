// Taps JSON is type-checked field by field: a string where a list belongs, an unknown component or
// rule field, or a non-string entry is refused naming the file and the field path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BundleError } from '../../src/bundles/errors.ts';
import { parseTapConfig, readTapConfig } from '../../src/bundles/tap-config.ts';

function refusal(value: unknown): string {
  try {
    parseTapConfig(value, 'taps.json');
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).code).toBe('BAD_TAP_CONFIG');
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

test('a valid config is kept as given', () => {
  const config = { text_encoder: { scopes: ['/text_model/encoder/layers.*/'] }, unet: { tensors: ['/mid_block/resnets.1/Add_1_output_0'], patterns: ['^/up_blocks\\.[0-3]/'] }, vae_decoder: { scopes: [] } };
  expect(parseTapConfig(config, 'taps.json')).toEqual(config);
});

test('alternative rules (a list of rule objects) are kept in order', () => {
  const config = { text_encoder: [{ scopes: ['/text_model/embeddings/'] }, { scopes: ['/embeddings/'], tensors: ['last_hidden_state'] }] };
  expect(parseTapConfig(config, 'taps.json')).toEqual(config);
});

test('a string where a list belongs is refused, not read letter by letter', () => {
  expect(refusal({ unet: { scopes: '/mid_block/' } })).toBe('taps.json: "unet.scopes" must be an array of strings, got "/mid_block/" (write ["/mid_block/"]).');
});

test('an unknown component is refused, listing the known ones', () => {
  expect(refusal({ unte: { scopes: ['/mid_block/'] } })).toBe('taps.json: "unte" is not a component (known: text_encoder, unet, vae_decoder); did you mean "unet"?');
  expect(refusal({ text_encoder_2: { scopes: ['/x/'] } })).toMatch(/"text_encoder_2" is not a component \(known: text_encoder, unet, vae_decoder\)/);
});

test('every other field is type-checked with its path', () => {
  expect(refusal([])).toBe('taps.json: must hold a JSON object of component → rule, got [].');
  expect(refusal({ unet: 3 })).toMatch(/"unet" must be an object with "scopes", "tensors" and\/or "patterns", or a list of such objects \(alternatives\), got 3/);
  expect(refusal({ unet: ['/mid_block/'] })).toBe('taps.json: "unet[0]" must be an object with "scopes", "tensors" and/or "patterns", got "/mid_block/" (a list under a component holds alternative rules: write {"scopes": ["/mid_block/"]}).');
  expect(refusal({ unet: [] })).toBe('taps.json: "unet" is an empty list of alternative rules; give at least one rule object.');
  expect(refusal({ text_encoder: [{ scopes: ['/embeddings/'] }, { scope: ['/x/'] }] })).toBe('taps.json: "text_encoder[1].scope" is not a rule field (known: scopes, tensors, patterns).');
  expect(refusal({ unet: { scope: ['/mid_block/'] } })).toBe('taps.json: "unet.scope" is not a rule field (known: scopes, tensors, patterns).');
  expect(refusal({ unet: { tensors: ['a', 3] } })).toBe('taps.json: "unet.tensors[1]" must be a non-empty string, got 3.');
  expect(refusal({ vae_decoder: { patterns: ['('] } })).toMatch(/"vae_decoder.patterns\[0\]" is not a valid regular expression/);
});

test('files: unreadable, folder or broken JSON are named', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-tapcfg-'));
  try {
    const file = path.join(dir, 'taps.json');
    writeFileSync(file, '{"unet": {"scopes": "/mid_block/"}}');
    expect(() => readTapConfig(file)).toThrow(`${file}: "unet.scopes" must be an array of strings`);
    writeFileSync(file, '{"unet":');
    expect(() => readTapConfig(file)).toThrow(`${file} is not valid JSON`);
    expect(() => readTapConfig(dir)).toThrow(`${dir} is a folder, not a taps JSON file.`);
    expect(() => readTapConfig(path.join(dir, 'none.json'))).toThrow(/none\.json cannot be read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
