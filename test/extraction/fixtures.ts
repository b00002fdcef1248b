// Shared fixtures for extraction tests: a tiny bundle built into a temp folder, and a norms dataset
// inserted directly through Prisma (the norms importer is tested on its own).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildTinyBundle, type TinyBundleOptions } from '../../src/demo/tiny-bundle/build.ts';
import type { PrismaClient } from '../../src/db/client.ts';

export interface TempBundle {
  dir: string;
  root: string;
  cacheDir: string;
  remove(): void;
}

export function tempTinyBundle(options: Omit<TinyBundleOptions, 'outDir'> = {}): TempBundle {
  const root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-tiny-'));
  const dir = path.join(root, 'bundle');
  buildTinyBundle({ outDir: dir, words: TEST_WORDS, ...options });
  return { dir, root, cacheDir: path.join(root, 'cache'), remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Binder concepts plus template words: whole-word tokens, so the tiny vocabulary stays small. */
export const TEST_WORDS = ['hammer', 'dog', 'banana', 'apricot', 'elephant', 'umbrella', 'guitar', 'car', 'tea', 'cloud', 'oak', 'bee', 'fish', 'pen', 'zoo', 'ant', 'axe', 'bus', 'cab', 'egg', 'ham', 'ice', 'jam', 'key', 'leg', 'lip', 'man', 'pan', 'pie', 'pig'];

export async function insertDataset(prisma: PrismaClient, name: string, words: readonly string[]): Promise<{ datasetId: number; conceptIds: Map<string, number> }> {
  const dataset = await prisma.normsDataset.create({ data: { name, version: 1, contentHash: `test-${name}`, citation: 'test', source: 'test' } });
  const conceptIds = new Map<string, number>();
  for (const [position, word] of words.entries()) {
    const concept = await prisma.concept.upsert({ where: { word }, update: {}, create: { word } });
    await prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, position } });
    conceptIds.set(word, concept.id);
  }
  return { datasetId: dataset.id, conceptIds };
}
