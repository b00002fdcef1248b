// CLIP BPE tokenizer. The real CLIP vocabulary is not available offline, so expected ids come only
// from (1) CLIP's public construction of its vocabulary — 256 byte characters in bytes_to_unicode
// order, the same 256 with `</w>`, then one token per merge, then <|startoftext|>, <|endoftext|> —
// which fixes the ids of single-character tokens and the special tokens (49408 = 512 + 48894 merges
// + 2) without any merge table; and (2) tiny hand-made merge tables, with results derived by hand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { byteVocabulary, bytesToUnicode, cleanText, ClipTokenizer, loadTokenizer } from '../../src/bundles/tokenizer.ts';

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
