// Concept words → word vectors, pure. A concept key is looked up as its word (`conceptWord`, the one
// rule shared with prompts and the API: `bat_(animal)` → `bat`, `fire_truck` → `fire truck`), lower-cased
// because the GloVe vocabulary is uncased, so vocabulary tokens such as "t-shirt" or "ice-cream" keep
// their own vector; otherwise a multi-word concept ("ice cream", "fire truck", "x-ray machine") becomes
// the mean of its space/hyphen-separated words; a concept with any word missing is out of vocabulary
// (OOV) and is skipped, never approximated by a partial mean. Results name the key, as stored.
import { conceptWord } from '../norms/concept-word.ts';
import type { WordVectorLookup } from './word-vectors.ts';

export interface ConceptVector {
  /** The concept key, as stored (`bat_(animal)`). */
  concept: string;
  vector: Float32Array;
  /** `word`: one vocabulary token; `mean_of_words`: the mean of the listed words' vectors (`words`: the tokens looked up). */
  method: 'word' | 'mean_of_words';
  words: string[];
}

export interface OutOfVocabulary {
  concept: string;
  /** The tokens that were not found. */
  missingWords: string[];
}

export interface ConceptVectorResult {
  vectors: ConceptVector[];
  oov: OutOfVocabulary[];
}

export function lookupToken(concept: string): string {
  return concept.trim().normalize('NFC').toLowerCase();
}

export function splitWords(concept: string): string[] {
  return lookupToken(concept).split(/[\s\-_]+/).filter((w) => w !== '');
}

export function conceptVector(concept: string, lookup: WordVectorLookup): ConceptVector | OutOfVocabulary {
  const word = conceptWord(concept);
  const token = lookupToken(word);
  const exact = lookup.get(token);
  if (exact) return { concept, vector: Float32Array.from(exact), method: 'word', words: [token] };
  const words = splitWords(word);
  if (words.length < 2) return { concept, missingWords: words.length === 1 ? words : [token] };
  const vectors = words.map((w) => lookup.get(w));
  const missingWords = words.filter((_, i) => vectors[i] === undefined);
  if (missingWords.length > 0) return { concept, missingWords };
  // Sum in float64, then round once: the mean does not depend on float32 accumulation order.
  const sum = new Float64Array(lookup.dimensions);
  for (const vector of vectors) for (let d = 0; d < sum.length; d++) sum[d]! += vector![d]!;
  const mean = new Float32Array(lookup.dimensions);
  for (let d = 0; d < sum.length; d++) mean[d] = sum[d]! / vectors.length;
  return { concept, vector: mean, method: 'mean_of_words', words };
}

/** Vectors for every concept that has one, in input order, and the explicit OOV list. */
export function conceptVectors(concepts: readonly string[], lookup: WordVectorLookup): ConceptVectorResult {
  const result: ConceptVectorResult = { vectors: [], oov: [] };
  for (const concept of concepts) {
    const found = conceptVector(concept, lookup);
    if ('vector' in found) result.vectors.push(found);
    else result.oov.push(found);
  }
  return result;
}
