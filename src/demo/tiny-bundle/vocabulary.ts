// A small CLIP-format vocabulary: CLIP's 512 byte tokens (same order and ids as the real vocab),
// then merges that assemble each chosen word into one token, then the two special tokens last.
// Any other text still tokenises, through byte fallbacks.
import { byteVocabulary, ClipTokenizer } from '../../bundles/tokenizer.ts';

export interface TinyVocabulary {
  vocab: Map<string, number>;
  merges: [string, string][];
  /** Token id of each word that became a single token. */
  wordIds: Map<string, number>;
}

export function buildVocabulary(words: readonly string[]): TinyVocabulary {
  const vocab = new Map<string, number>();
  for (const token of byteVocabulary()) vocab.set(token, vocab.size);
  const merges: [string, string][] = [];
  const seen = new Set<string>();
  const addMerge = (a: string, b: string) => {
    const key = `${a} ${b}`;
    if (seen.has(key)) return;
    seen.add(key);
    merges.push([a, b]);
    if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  };
  const unique = [...new Set(words)];
  // Left-to-right chains: c0+c1, (c0c1)+c2, …, (…)+`cN</w>`.
  for (const word of unique) {
    const chars = [...word];
    let left = chars[0]!;
    for (let i = 1; i < chars.length; i++) {
      const right = i === chars.length - 1 ? `${chars[i]}</w>` : chars[i]!;
      addMerge(left, right);
      left += right;
    }
  }
  // Another word's merge can win a pair first and split a word; patch until every word is one token.
  const special = { bos: '<|startoftext|>', eos: '<|endoftext|>' };
  for (let round = 0; round < 20; round++) {
    const tokenizer = new ClipTokenizer({ vocab: withSpecials(vocab, special), merges, bosToken: special.bos, eosToken: special.eos, padToken: special.eos, maxLength: 77 });
    let changed = false;
    for (const word of unique) {
      let pieces = tokenizer.bpe(word);
      while (pieces.length > 1) {
        addMerge(pieces[0]!, pieces[1]!);
        pieces = [pieces[0]! + pieces[1]!, ...pieces.slice(2)];
        changed = true;
      }
    }
    if (!changed) break;
  }
  const full = withSpecials(vocab, special);
  const wordIds = new Map<string, number>();
  for (const word of unique) {
    const id = full.get(`${word}</w>`);
    if (id !== undefined) wordIds.set(word, id);
  }
  return { vocab: full, merges, wordIds };
}

function withSpecials(vocab: Map<string, number>, special: { bos: string; eos: string }): Map<string, number> {
  const out = new Map(vocab);
  out.set(special.bos, out.size);
  out.set(special.eos, out.size);
  return out;
}
