// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py, as used by Hugging Face
// CLIPTokenizer), read from a bundle's tokenizer/ folder in either layout exporters write: the
// "slow" files vocab.json + merges.txt (transformers 4) or the Hugging Face tokenizers file
// tokenizer.json (transformers 5 saves only that and tokenizer_config.json). ftfy's mojibake repair
// is not reproduced: prompts here are plain ASCII concept words, for which it is the identity.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BundleError } from './errors.ts';

/** GPT-2/CLIP byte → printable unicode character table. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i]!)));
  return table;
}

/** The order CLIP's vocabulary starts with: the 256 byte characters, then the same with `</w>`. */
export function byteVocabulary(): string[] {
  const table = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  const chars = order.map((b) => table[b]!);
  return [...chars, ...chars.map((c) => `${c}</w>`)];
}

// CLIP's pre-tokenisation pattern (case-insensitive; the text is lower-cased first anyway).
const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

interface CleanText {
  text: string;
  /** For each character of `text`, the index of the source character it came from. */
  source: number[];
}

/** html-unescape, collapse whitespace, trim, lower-case — keeping a map back to source offsets. */
export function cleanText(raw: string): CleanText {
  const chars: { ch: string; at: number }[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === '&') {
      const m = /^&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/i.exec(raw.slice(i, i + 12));
      if (m) {
        const body = m[1]!;
        const decoded = body.startsWith('#x') || body.startsWith('#X') ? String.fromCodePoint(parseInt(body.slice(2), 16))
          : body.startsWith('#') ? String.fromCodePoint(parseInt(body.slice(1), 10)) : ENTITIES[body.toLowerCase()];
        if (decoded !== undefined) {
          chars.push({ ch: decoded, at: i });
          i += m[0].length;
          continue;
        }
      }
    }
    const cp = raw.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    chars.push({ ch, at: i });
    i += ch.length;
  }
  let text = '';
  const source: number[] = [];
  let pendingSpace = -1;
  for (const { ch, at } of chars) {
    if (/\s/u.test(ch)) {
      if (text.length > 0 && pendingSpace < 0) pendingSpace = at;
      continue;
    }
    if (pendingSpace >= 0) {
      text += ' ';
      source.push(pendingSpace);
      pendingSpace = -1;
    }
    const lower = ch.toLowerCase();
    for (let k = 0; k < lower.length; k++) source.push(at);
    text += lower;
  }
  return { text, source };
}

export interface TokenizerConfig {
  vocab: Map<string, number>;
  merges: [string, string][];
  bosToken: string;
  eosToken: string;
  padToken: string;
  maxLength: number;
  /** Where the vocabulary came from, for messages (default "vocab.json"). */
  vocabSource?: string;
  /** The files the tokenizer was read from, in the order the bundle identity hashes them. */
  files?: string[];
}

export interface Encoding {
  /** Exactly maxLength ids: start, prompt tokens (truncated), end, padding. */
  ids: Int32Array;
  /** Position of the end-of-text token. */
  eotIndex: number;
  /** Positions (into ids) of the tokens that came from the marked span; empty if none survived. */
  spanPositions: number[];
  /** Number of prompt tokens before truncation (without start/end). */
  rawTokenCount: number;
  truncated: boolean;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** The files read (empty for a tokenizer built in code). */
  readonly files: readonly string[];
  private readonly ranks = new Map<string, number>();
  private readonly byteTable = bytesToUnicode();
  private readonly cache = new Map<string, string[]>();

  constructor(readonly config: TokenizerConfig) {
    const id = (token: string, role: string) => {
      const value = config.vocab.get(token);
      if (value === undefined) throw new BundleError('BAD_TOKENIZER', `tokenizer: the ${role} token ${JSON.stringify(token)} is not in ${config.vocabSource ?? 'vocab.json'}.`);
      return value;
    };
    this.bosId = id(config.bosToken, 'start');
    this.eosId = id(config.eosToken, 'end');
    this.padId = id(config.padToken, 'pad');
    this.files = config.files ?? [];
    config.merges.forEach(([a, b], rank) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
  }

  /** BPE of one pre-token (already mapped to byte characters); returns the sub-word strings. */
  bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (word.length > 1) {
      let bestRank = Infinity;
      let best = -1;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  /** Tokens (strings) and, per token, the [start, end) offsets of its pre-token in the raw text. */
  tokenizeWithOffsets(raw: string): { token: string; id: number; start: number; end: number }[] {
    const { text, source } = cleanText(raw);
    const out: { token: string; id: number; start: number; end: number }[] = [];
    for (const match of text.matchAll(PATTERN)) {
      const start = source[match.index!] ?? 0;
      const lastChar = match.index! + match[0].length - 1;
      const end = (source[lastChar] ?? start) + 1;
      const encoded = [...new TextEncoder().encode(match[0])].map((b) => this.byteTable[b]!).join('');
      for (const piece of this.bpe(encoded)) {
        const id = this.config.vocab.get(piece);
        if (id === undefined) throw new BundleError('BAD_TOKENIZER', `tokenizer: BPE produced ${JSON.stringify(piece)}, which ${this.config.vocabSource ?? 'vocab.json'} lacks (merges and vocab disagree).`);
        out.push({ token: piece, id, start, end });
      }
    }
    return out;
  }

  tokenize(raw: string): string[] {
    return this.tokenizeWithOffsets(raw).map((t) => t.token);
  }

  /** Encodes a prompt to maxLength ids; `span` marks raw-text offsets whose tokens are reported. */
  encode(raw: string, span?: { start: number; end: number }): Encoding {
    const tokens = this.tokenizeWithOffsets(raw);
    const room = this.config.maxLength - 2;
    const kept = tokens.slice(0, room);
    const ids = new Int32Array(this.config.maxLength).fill(this.padId);
    ids[0] = this.bosId;
    const spanPositions: number[] = [];
    kept.forEach((token, i) => {
      ids[i + 1] = token.id;
      if (span && token.start < span.end && token.end > span.start) spanPositions.push(i + 1);
    });
    const eotIndex = kept.length + 1;
    ids[eotIndex] = this.eosId;
    return { ids, eotIndex, spanPositions, rawTokenCount: tokens.length, truncated: tokens.length > room };
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new BundleError('MISSING_FILE', `${file} is missing.`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BundleError('BAD_JSON', `${file} is not valid JSON: ${(error as Error).message}.`);
  }
}

function readObject(file: string): Record<string, unknown> {
  const json = readJson(file);
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BundleError('BAD_TOKENIZER', `${file} must hold a JSON object.`);
  return json as Record<string, unknown>;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

const show = (value: unknown) => JSON.stringify(value)?.slice(0, 80);

export type TokenizerLayout = 'vocab.json+merges.txt' | 'tokenizer.json';

/**
 * Which tokenizer files a folder holds: vocab.json + merges.txt, else tokenizer.json, each with
 * tokenizer_config.json (special_tokens_map.json is read when present). The slow pair wins when both
 * are complete (it is what older bundles were always read from, so their identity stays). Neither set
 * complete is MISSING_FILE naming the missing file(s).
 */
export function tokenizerFiles(dir: string): { layout: TokenizerLayout; files: string[] } {
  const at = (name: string) => path.join(dir, name);
  const has = (name: string) => existsSync(at(name));
  const config = at('tokenizer_config.json');
  const special = has('special_tokens_map.json') ? [at('special_tokens_map.json')] : [];
  const needs = 'the tokenizer needs vocab.json + merges.txt, or tokenizer.json, with tokenizer_config.json';
  const slow = has('vocab.json') && has('merges.txt');
  const fast = has('tokenizer.json');
  if (slow || fast) {
    if (!has('tokenizer_config.json')) throw new BundleError('MISSING_FILE', `${config} is missing (${needs}).`);
    return slow
      ? { layout: 'vocab.json+merges.txt', files: [at('vocab.json'), at('merges.txt'), ...special, config] }
      : { layout: 'tokenizer.json', files: [at('tokenizer.json'), ...special, config] };
  }
  if (has('vocab.json') || has('merges.txt')) {
    throw new BundleError('MISSING_FILE', `${at(has('vocab.json') ? 'merges.txt' : 'vocab.json')} is missing (${needs}; there is no tokenizer.json either).`);
  }
  if (!existsSync(dir)) throw new BundleError('MISSING_FILE', `${dir} is missing (${needs}).`);
  throw new BundleError('MISSING_FILE', `${at('vocab.json')} and merges.txt, or ${at('tokenizer.json')}, are missing (${needs}).`);
}

function readVocab(file: string): Map<string, number> {
  const vocabJson = readJson(file);
  if (!vocabJson || typeof vocabJson !== 'object' || Array.isArray(vocabJson)) throw new BundleError('BAD_TOKENIZER', `${file} must be an object of token → id.`);
  return vocabFrom(vocabJson as Record<string, unknown>, file);
}

function vocabFrom(entries: Record<string, unknown>, where: string): Map<string, number> {
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(entries)) {
    if (!Number.isInteger(id)) throw new BundleError('BAD_TOKENIZER', `${where}: token ${JSON.stringify(token)} has a non-integer id.`);
    vocab.set(token, id as number);
  }
  return vocab;
}

function readMerges(file: string): [string, string][] {
  let mergesText: string;
  try {
    mergesText = readFileSync(file, 'utf8');
  } catch {
    throw new BundleError('MISSING_FILE', `${file} is missing.`);
  }
  const merges: [string, string][] = [];
  mergesText.split('\n').forEach((line, i) => {
    if (i === 0 && line.startsWith('#version')) return;
    const trimmed = line.trim();
    if (!trimmed) return;
    const parts = trimmed.split(' ');
    if (parts.length !== 2) throw new BundleError('BAD_TOKENIZER', `${file}, line ${i + 1}: expected two symbols separated by one space, got ${JSON.stringify(line)}.`);
    merges.push([parts[0]!, parts[1]!]);
  });
  return merges;
}

/** What a tokenizer.json says about special tokens and length, where it says it. */
interface FastDefaults {
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  maxLength?: number;
}

/**
 * Reads a Hugging Face tokenizers file as CLIP's BPE: model.type "BPE" with end_of_word_suffix
 * "</w>" and no continuing-subword prefix, a ByteLevel pre-tokenizer, model.vocab, model.merges as
 * "a b" strings or [a, b] pairs, and added_tokens. Anything else (WordPiece, Unigram, GPT-2's BPE
 * without "</w>", BPE dropout) would be tokenized differently here, and is refused.
 */
function readTokenizerJson(file: string): { vocab: Map<string, number>; merges: [string, string][]; defaults: FastDefaults } {
  const json = readObject(file);
  const bad = (field: string, message: string): never => {
    throw new BundleError('BAD_TOKENIZER', `${file}: "${field}" ${message}`);
  };
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || Array.isArray(model)) bad('model', `must be an object, got ${show(model)}.`);
  const m = model as Record<string, unknown>;
  if (m.type !== 'BPE') bad('model.type', `is ${show(m.type)}; only CLIP's byte-level BPE ("BPE") is supported.`);
  if (m.end_of_word_suffix !== '</w>') bad('model.end_of_word_suffix', `is ${show(m.end_of_word_suffix)}; CLIP's BPE marks word ends with "</w>" (another BPE would be tokenized wrongly).`);
  if (m.continuing_subword_prefix !== undefined && m.continuing_subword_prefix !== null && m.continuing_subword_prefix !== '') {
    bad('model.continuing_subword_prefix', `is ${show(m.continuing_subword_prefix)}; CLIP's BPE has none.`);
  }
  if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0) bad('model.dropout', `is ${show(m.dropout)}; BPE dropout makes tokenization random and is not supported.`);
  if (!JSON.stringify(json.pre_tokenizer ?? null).includes('"ByteLevel"')) bad('pre_tokenizer', `has no ByteLevel step; CLIP's BPE works on bytes mapped to characters (got ${show(json.pre_tokenizer)}).`);
  if (!m.vocab || typeof m.vocab !== 'object' || Array.isArray(m.vocab)) bad('model.vocab', `must be an object of token → id, got ${show(m.vocab)}.`);
  const vocab = vocabFrom(m.vocab as Record<string, unknown>, `${file}: "model.vocab"`);
  if (!Array.isArray(m.merges)) bad('model.merges', `must be an array, got ${show(m.merges)}.`);
  const merges = (m.merges as unknown[]).map((merge, i): [string, string] => {
    if (typeof merge === 'string') {
      const parts = merge.split(' ');
      if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string' && merge[0] && merge[1]) {
      return [merge[0], merge[1]];
    }
    return bad(`model.merges[${i}]`, `must be "a b" (two symbols, one space) or a pair ["a", "b"], got ${show(merge)}.`);
  });
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) bad('added_tokens', `must be an array, got ${show(added)}.`);
  (added as unknown[]).forEach((token, i) => {
    const t = token as { id?: unknown; content?: unknown };
    if (!t || typeof t !== 'object' || !Number.isInteger(t.id) || typeof t.content !== 'string') bad(`added_tokens[${i}]`, `must have an integer "id" and a string "content", got ${show(token)}.`);
    const known = vocab.get(t.content as string);
    if (known !== undefined && known !== t.id) bad(`added_tokens[${i}]`, `gives ${show(t.content)} id ${t.id as number}, but model.vocab has ${known}.`);
    vocab.set(t.content as string, t.id as number);
  });
  const defaults: FastDefaults = {};
  const padding = json.padding as { pad_token?: unknown; strategy?: unknown } | null | undefined;
  if (padding && typeof padding === 'object') {
    if (typeof padding.pad_token === 'string') defaults.padToken = padding.pad_token;
    const fixed = (padding.strategy as { Fixed?: unknown } | undefined)?.Fixed;
    if (typeof fixed === 'number') defaults.maxLength = fixed;
  }
  const truncation = json.truncation as { max_length?: unknown } | null | undefined;
  if (defaults.maxLength === undefined && truncation && typeof truncation.max_length === 'number') defaults.maxLength = truncation.max_length;
  const post = json.post_processor as { cls?: unknown; sep?: unknown } | null | undefined;
  if (post && Array.isArray(post.cls) && typeof post.cls[0] === 'string') defaults.bosToken = post.cls[0];
  if (post && Array.isArray(post.sep) && typeof post.sep[0] === 'string') defaults.eosToken = post.sep[0];
  return { vocab, merges, defaults };
}

/**
 * Loads a tokenizer/ folder: `vocab.json` + `merges.txt`, or `tokenizer.json`; special tokens and
 * the length from `special_tokens_map.json` (when present), then `tokenizer_config.json`, then what
 * tokenizer.json itself says (padding, post-processor), then CLIP's defaults.
 */
export function loadTokenizer(dir: string): ClipTokenizer {
  const { layout, files } = tokenizerFiles(dir);
  let vocab: Map<string, number>;
  let merges: [string, string][];
  let defaults: FastDefaults = {};
  let vocabSource: string;
  if (layout === 'vocab.json+merges.txt') {
    vocab = readVocab(path.join(dir, 'vocab.json'));
    merges = readMerges(path.join(dir, 'merges.txt'));
    vocabSource = 'vocab.json';
  } else {
    ({ vocab, merges, defaults } = readTokenizerJson(path.join(dir, 'tokenizer.json')));
    vocabSource = 'tokenizer.json';
  }
  const specialFile = path.join(dir, 'special_tokens_map.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const special = files.includes(specialFile) ? readObject(specialFile) : {};
  const config = readObject(configFile);
  // Wrong types are refused (naming file and field), not silently replaced by a default.
  for (const [file, json] of [[specialFile, special], [configFile, config]] as const) {
    for (const key of ['bos_token', 'eos_token', 'pad_token']) {
      const value = json[key];
      if (value !== undefined && value !== null && tokenContent(value) === undefined) {
        throw new BundleError('BAD_TOKENIZER', `${file}: "${key}" must be a string or an object with a string "content", got ${show(value)}.`);
      }
    }
  }
  if (config.model_max_length !== undefined && config.model_max_length !== null && typeof config.model_max_length !== 'number') {
    throw new BundleError('BAD_TOKENIZER', `${configFile}: "model_max_length" must be a number, got ${show(config.model_max_length)}.`);
  }
  const pick = (key: string, fast: string | undefined, fallback: string) => tokenContent(special[key]) ?? tokenContent(config[key]) ?? fast ?? fallback;
  const eosToken = pick('eos_token', defaults.eosToken, '<|endoftext|>');
  const usable = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 2 && n < 100_000;
  // transformers writes a huge model_max_length (1e30) when it knows none: then the file's own padding length, else CLIP's 77.
  const maxLength = usable(config.model_max_length) ? config.model_max_length : usable(defaults.maxLength) ? defaults.maxLength : 77;
  return new ClipTokenizer({
    vocab, merges, vocabSource, files,
    bosToken: pick('bos_token', defaults.bosToken, '<|startoftext|>'),
    eosToken,
    padToken: pick('pad_token', defaults.padToken, eosToken),
    maxLength,
  });
}
