// CLIP BPE tokenizer. The real CLIP vocabulary is not available offline, so expected ids come only
// from (1) CLIP's public construction of its vocabulary — 256 byte characters in bytes_to_unicode
// order, the same 256 with `</w>`, then one token per merge, then <|startoftext|>, <|endoftext|> —
// which fixes the ids of single-character tokens and the special tokens (49408 = 512 + 48894 merges
// + 2) without any merge table; and (2) tiny hand-made merge tables, with results derived by hand.
// Both tokenizer layouts are read: vocab.json + merges.txt and Hugging Face's tokenizer.json (the
// fixture bundles' real files are compared with torch-side ids in test/bundles/layouts.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BundleError } from '../../src/bundles/errors.ts';
import { byteVocabulary, bytesToUnicode, cleanText, ClipTokenizer, loadTokenizer, tokenizerFiles } from '../../src/bundles/tokenizer.ts';

function clipBaseVocabulary(): Map<string, number> {
  const vocab = new Map<string, number>();
  byteVocabulary().forEach((token, id) => vocab.set(token, id));
  vocab.set('<|startoftext|>', 49406);
  vocab.set('<|endoftext|>', 49407);
  return vocab;
}

function tokenizer(merges: [string, string][], vocab = clipBaseVocabulary(), padToken = '<|endoftext|>'): ClipTokenizer {
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, 1000 + vocab.size);
  return new ClipTokenizer({ vocab, merges, bosToken: '<|startoftext|>', eosToken: '<|endoftext|>', padToken, maxLength: 77 });
}

describe('byte-level vocabulary', () => {
  test('bytes_to_unicode maps printable bytes to themselves and the rest above U+0100', () => {
    const table = bytesToUnicode();
    expect(table[0x61]).toBe('a');
    expect(table[0x21]).toBe('!');
    expect(table[0x20]).toBe('\u0120'); // space: the 33rd unprintable byte → 256 + 32
    expect(table[0x00]).toBe('\u0100');
  });

  test('single characters get CLIP ids derived from the vocabulary order', () => {
    const t = tokenizer([]);
    // "!" is the first printable byte → id 0 (SD 2.x pads with it); "a" = 0x61 − 0x21 = 64, as a
    // word end "a</w>" = 256 + 64 = 320.
    const a = t.encode('a');
    expect(Array.from(a.ids.slice(0, 4))).toEqual([49406, 320, 49407, 49407]);
    expect(t.encode('!').ids[1]).toBe(256 + 0);
    // Without merges a word is its characters: p h o t o</w> = 0x70−0x21, 0x68−0x21, 0x6f−0x21, 0x74−0x21, 256+0x6f−0x21.
    expect(Array.from(t.encode('photo').ids.slice(1, 6))).toEqual([79, 71, 78, 83, 334]);
  });
});

describe('BPE with a hand-made merge table', () => {
  const merges: [string, string][] = [['l', 'o'], ['e', 'r</w>'], ['lo', 'w'], ['low', 'er</w>']];

  test('merges apply lowest rank first, per word, with </w> on the last character', () => {
    const t = tokenizer(merges);
    // lower: (l,o)#0 → lo w e r</w>; (e,r</w>)#1 → lo w er</w>; (lo,w)#2 → low er</w>; #3 → lower</w>.
    expect(t.tokenize('lower')).toEqual(['lower</w>']);
    // low: lo w</w>; no merge (lo, w</w>) exists.
    expect(t.tokenize('low')).toEqual(['lo', 'w</w>']);
    // slower: s l o w e r</w> → s lo w er</w> → s low er</w> → s lower</w>.
    expect(t.tokenize('slower')).toEqual(['s', 'lower</w>']);
  });

  test('cleaning: lower-case, collapsed whitespace, html entities; CLIP pre-tokenisation', () => {
    const t = tokenizer(merges);
    expect(t.tokenize('  LOWER \n\t Low ')).toEqual(['lower</w>', 'lo', 'w</w>']);
    expect(cleanText('  A &amp;  B ').text).toBe('a & b');
    expect(t.tokenize("don't 42!?")).toEqual(['d', 'o', 'n</w>', "'", 't</w>', '4</w>', '2</w>', '!', '?</w>']);
  });
});

describe('encode', () => {
  const t = tokenizer([['c', 'a'], ['ca', 't</w>']]);

  test('77 ids: start, tokens, end, padding with the end token (SD 1.x); concept span positions', () => {
    const text = 'a cat';
    const encoding = t.encode(text, { start: 2, end: 5 });
    expect(encoding.ids).toHaveLength(77);
    const catId = t.config.vocab.get('cat</w>');
    expect(Array.from(encoding.ids.slice(0, 5))).toEqual([49406, 320, catId, 49407, 49407]);
    expect(encoding.eotIndex).toBe(3);
    expect(encoding.spanPositions).toEqual([2]);
    expect(encoding.ids[76]).toBe(49407);
  });

  test('padding with the pad token from the config (SD 2.x: "!" = 0)', () => {
    const sd2 = tokenizer([], clipBaseVocabulary(), '!');
    const encoding = sd2.encode('a');
    expect(Array.from(encoding.ids.slice(0, 4))).toEqual([49406, 320, 49407, 0]);
    expect(encoding.ids[76]).toBe(0);
  });

  test('truncation keeps 75 tokens and ends with the end token', () => {
    const encoding = t.encode(Array.from({ length: 100 }, () => 'cat').join(' '));
    expect(encoding.truncated).toBe(true);
    expect(encoding.rawTokenCount).toBe(100);
    expect(encoding.eotIndex).toBe(76);
    expect(encoding.ids[76]).toBe(49407);
    expect(encoding.ids[75]).toBe(t.config.vocab.get('cat</w>'));
  });

  test('a concept made of several tokens reports all of their positions', () => {
    const text = 'a photo of zebra';
    const encoding = t.encode(text, { start: 11, end: 16 });
    // 0 start, 1 a</w>, 2–6 p h o t o</w>, 7–8 o f</w>, 9–13 z e b r a</w>.
    expect(encoding.spanPositions).toEqual([9, 10, 11, 12, 13]);
    expect(t.encode('   ', { start: 0, end: 3 }).spanPositions).toEqual([]);
  });
});

describe('loadTokenizer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-tok-'));
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(clipBaseVocabulary())));
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nl o\n');
    writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ bos_token: { content: '<|startoftext|>' }, eos_token: '<|endoftext|>', pad_token: '!' }));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77 }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reads the pad token from special_tokens_map.json', () => {
    expect(loadTokenizer(dir).padId).toBe(0);
  });

  test('bad files are named in the error', () => {
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nl o x\n');
    expect(() => loadTokenizer(dir)).toThrow(/merges\.txt, line 2: expected two symbols/);
    writeFileSync(path.join(dir, 'vocab.json'), '{"a": ');
    expect(() => loadTokenizer(dir)).toThrow(/vocab\.json is not valid JSON/);
    rmSync(path.join(dir, 'vocab.json'));
    expect(() => loadTokenizer(dir)).toThrow(/vocab\.json is missing/);
  });

  test('a merge whose result is missing from the vocabulary is reported', () => {
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nl o\n');
    expect(() => loadTokenizer(dir).tokenize('lo')).not.toThrow();
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nl o</w>\n');
    expect(() => loadTokenizer(dir).tokenize('lo')).toThrow(/BPE produced "lo<\/w>", which vocab\.json lacks/);
  });
});

describe('loadTokenizer from tokenizer.json (transformers 5 saves only it and tokenizer_config.json)', () => {
  let dir: string;
  const merges: [string, string][] = [['l', 'o'], ['lo', 'w</w>']];
  const fastJson = (overrides: { model?: Record<string, unknown>; top?: Record<string, unknown> } = {}) => {
    const vocab = Object.fromEntries(clipBaseVocabulary());
    delete vocab['<|startoftext|>']; // added_tokens supplies it
    vocab['lo'] = 600;
    vocab['low</w>'] = 601;
    return JSON.stringify({
      version: '1.0',
      added_tokens: [{ id: 49406, content: '<|startoftext|>', special: true }, { id: 49407, content: '<|endoftext|>', special: true }],
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split' }, { type: 'ByteLevel', add_prefix_space: false }] },
      padding: { strategy: { Fixed: 77 }, pad_token: '<|endoftext|>' },
      post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', 49407], cls: ['<|startoftext|>', 49406] },
      ...overrides.top,
      model: { type: 'BPE', dropout: null, continuing_subword_prefix: '', end_of_word_suffix: '</w>', vocab, merges: ['l o', ['lo', 'w</w>']], ...overrides.model },
    });
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-tokjson-'));
    writeFileSync(path.join(dir, 'tokenizer.json'), fastJson());
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('merges as "a b" strings or [a, b] pairs and added tokens give the same ids as the slow files', () => {
    const fast = loadTokenizer(dir);
    const slow = tokenizer(merges, (() => { const v = clipBaseVocabulary(); v.set('lo', 600); v.set('low</w>', 601); return v; })());
    for (const text of ['low', 'a lo low!', 'slow']) expect(Array.from(fast.encode(text).ids)).toEqual(Array.from(slow.encode(text).ids));
    expect(Array.from(fast.encode('low').ids.slice(0, 3))).toEqual([49406, 601, 49407]);
    expect(fast.files).toEqual([path.join(dir, 'tokenizer.json'), path.join(dir, 'tokenizer_config.json')]);
  });

  test('the pad token comes from tokenizer_config.json (SD 2.x pads with "!" = 0), else from the file\'s padding', () => {
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77, pad_token: '!' }));
    expect(loadTokenizer(dir).padId).toBe(0);
    expect(loadTokenizer(dir).encode('a').ids[76]).toBe(0);
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30 }));
    writeFileSync(path.join(dir, 'tokenizer.json'), fastJson({ top: { padding: { strategy: { Fixed: 40 }, pad_token: '!' } } }));
    const fromFile = loadTokenizer(dir);
    expect([fromFile.padId, fromFile.config.maxLength, fromFile.bosId, fromFile.eosId]).toEqual([0, 40, 49406, 49407]);
  });

  test('a tokenizer.json that is not CLIP\'s byte-level BPE is refused, naming the file and field', () => {
    const refused = (overrides: Parameters<typeof fastJson>[0]) => {
      writeFileSync(path.join(dir, 'tokenizer.json'), fastJson(overrides));
      try {
        loadTokenizer(dir);
      } catch (error) {
        expect((error as BundleError).code).toBe('BAD_TOKENIZER');
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    const file = path.join(dir, 'tokenizer.json');
    expect(refused({ model: { type: 'WordPiece' } })).toBe(`${file}: "model.type" is "WordPiece"; only CLIP's byte-level BPE ("BPE") is supported.`);
    expect(refused({ model: { end_of_word_suffix: null } })).toMatch(/"model\.end_of_word_suffix" is null; CLIP's BPE marks word ends with "<\/w>"/);
    expect(refused({ model: { dropout: 0.1 } })).toMatch(/"model\.dropout" is 0\.1; BPE dropout makes tokenization random/);
    expect(refused({ top: { pre_tokenizer: { type: 'Whitespace' } } })).toMatch(/"pre_tokenizer" has no ByteLevel step/);
    expect(refused({ model: { merges: ['l o', 'l o w'] } })).toBe(`${file}: "model.merges[1]" must be "a b" (two symbols, one space) or a pair ["a", "b"], got "l o w".`);
    expect(refused({ top: { added_tokens: [{ id: 5, content: '<|endoftext|>' }] } })).toMatch(/"added_tokens\[0\]" gives "<\|endoftext\|>" id 5, but model\.vocab has 49407/);
  });

  test('neither set complete is MISSING_FILE naming what is missing; the slow pair wins when both are there', () => {
    const code = () => {
      try {
        tokenizerFiles(dir);
      } catch (error) {
        return `${(error as BundleError).code}: ${(error as Error).message}`;
      }
      return 'accepted';
    };
    rmSync(path.join(dir, 'tokenizer_config.json'));
    expect(code()).toBe(`MISSING_FILE: ${path.join(dir, 'tokenizer_config.json')} is missing (the tokenizer needs vocab.json + merges.txt, or tokenizer.json, with tokenizer_config.json).`);
    writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
    rmSync(path.join(dir, 'tokenizer.json'));
    expect(code()).toBe(`MISSING_FILE: ${path.join(dir, 'vocab.json')} and merges.txt, or ${path.join(dir, 'tokenizer.json')}, are missing (the tokenizer needs vocab.json + merges.txt, or tokenizer.json, with tokenizer_config.json).`);
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(clipBaseVocabulary())));
    expect(code()).toMatch(/merges\.txt is missing \(.*; there is no tokenizer\.json either\)\.$/);
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\n');
    writeFileSync(path.join(dir, 'tokenizer.json'), fastJson());
    expect(tokenizerFiles(dir)).toEqual({ layout: 'vocab.json+merges.txt', files: ['vocab.json', 'merges.txt', 'tokenizer_config.json'].map((f) => path.join(dir, f)) });
  });
});
