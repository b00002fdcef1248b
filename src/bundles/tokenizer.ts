// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py, as used by Hugging Face
// CLIPTokenizer), read from a bundle's tokenizer/ folder. ftfy's mojibake repair is not reproduced:
// prompts here are plain ASCII concept words, for which it is the identity.
import { readFileSync } from 'node:fs';
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
  private readonly ranks = new Map<string, number>();
  private readonly byteTable = bytesToUnicode();
  private readonly cache = new Map<string, string[]>();

  constructor(readonly config: TokenizerConfig) {
    const id = (token: string, role: string) => {
      const value = config.vocab.get(token);
      if (value === undefined) throw new BundleError('BAD_TOKENIZER', `tokenizer: the ${role} token ${JSON.stringify(token)} is not in vocab.json.`);
      return value;
    };
    this.bosId = id(config.bosToken, 'start');
    this.eosId = id(config.eosToken, 'end');
    this.padId = id(config.padToken, 'pad');
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
        if (id === undefined) throw new BundleError('BAD_TOKENIZER', `tokenizer: BPE produced ${JSON.stringify(piece)}, which vocab.json lacks (merges and vocab disagree).`);
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

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/** Loads `<dir>/{vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json}`. */
export function loadTokenizer(dir: string): ClipTokenizer {
  const vocabFile = path.join(dir, 'vocab.json');
  const vocabJson = readJson(vocabFile);
  if (!vocabJson || typeof vocabJson !== 'object' || Array.isArray(vocabJson)) throw new BundleError('BAD_TOKENIZER', `${vocabFile} must be an object of token → id.`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(vocabJson)) {
    if (!Number.isInteger(id)) throw new BundleError('BAD_TOKENIZER', `${vocabFile}: token ${JSON.stringify(token)} has a non-integer id.`);
    vocab.set(token, id as number);
  }
  const mergesFile = path.join(dir, 'merges.txt');
  let mergesText: string;
  try {
    mergesText = readFileSync(mergesFile, 'utf8');
  } catch {
    throw new BundleError('MISSING_FILE', `${mergesFile} is missing.`);
  }
  const merges: [string, string][] = [];
  mergesText.split('\n').forEach((line, i) => {
    if (i === 0 && line.startsWith('#version')) return;
    const trimmed = line.trim();
    if (!trimmed) return;
    const parts = trimmed.split(' ');
    if (parts.length !== 2) throw new BundleError('BAD_TOKENIZER', `${mergesFile}, line ${i + 1}: expected two symbols separated by one space, got ${JSON.stringify(line)}.`);
    merges.push([parts[0]!, parts[1]!]);
  });
  const specialFile = path.join(dir, 'special_tokens_map.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const special = readJson(specialFile) as Record<string, unknown>;
  const config = readJson(configFile) as Record<string, unknown>;
  // Wrong types are refused (naming file and field), not silently replaced by a default.
  for (const [file, json] of [[specialFile, special], [configFile, config]] as const) {
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BundleError('BAD_TOKENIZER', `${file} must hold a JSON object.`);
    for (const key of ['bos_token', 'eos_token', 'pad_token']) {
      const value = json[key];
      if (value !== undefined && value !== null && tokenContent(value) === undefined) {
        throw new BundleError('BAD_TOKENIZER', `${file}: "${key}" must be a string or an object with a string "content", got ${JSON.stringify(value)?.slice(0, 80)}.`);
      }
    }
  }
  if (config.model_max_length !== undefined && config.model_max_length !== null && typeof config.model_max_length !== 'number') {
    throw new BundleError('BAD_TOKENIZER', `${configFile}: "model_max_length" must be a number, got ${JSON.stringify(config.model_max_length)?.slice(0, 80)}.`);
  }
  const pick = (key: string, fallback: string) => tokenContent(special?.[key]) ?? tokenContent(config?.[key]) ?? fallback;
  const eosToken = pick('eos_token', '<|endoftext|>');
  const maxLength = typeof config?.model_max_length === 'number' && config.model_max_length > 2 && config.model_max_length < 100_000 ? config.model_max_length : 77;
  return new ClipTokenizer({ vocab, merges, bosToken: pick('bos_token', '<|startoftext|>'), eosToken, padToken: pick('pad_token', eosToken), maxLength });
}
