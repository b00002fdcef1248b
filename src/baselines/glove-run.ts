// The GloVe word-vector baseline as an extraction run: model "glove-100d", one component, one layer
// ("embedding", shape [100]); one summary per in-vocabulary concept, pooling "word", timestep NULL.
// Identity = identityHash of the settings (package version, concept set, lookup rule, OOV list): a re-run
// finds the completed run and writes nothing; an interrupted run resumes (writes skip existing rows).
import { createHash } from 'node:crypto';
import type { Database } from '../db/client.ts';
import { inTransaction } from '../db/transaction.ts';
import { identityHash } from '../identity.ts';
import { writeSummaries, type SummaryRow } from '../db/summaries.ts';
import { conceptVectors, type ConceptVector, type OutOfVocabulary } from './concept-vectors.ts';
import { GLOVE_PACKAGE, glovePackageInfo, sharedGloveVectors, type GlovePackageInfo, type LoadedGlove } from './glove-loader.ts';

export const GLOVE_MODEL_NAME = 'glove-100d';
export const GLOVE_COMPONENT_NAME = 'word-embedding';
export const GLOVE_LAYER_NAME = 'embedding';
export const GLOVE_POOLING = 'word';
export const GLOVE_LOOKUP_RULE =
  'lower-cased concept as one vocabulary token; else the mean of its space/hyphen-separated words; out of vocabulary (skipped) if any word is missing';

const WRITE_BATCH = 500;

export type GloveDatabase = Pick<Database, 'prisma' | 'pool'>;

export interface GloveRunSettings {
  baseline: typeof GLOVE_MODEL_NAME;
  package: string;
  packageVersion: string;
  dimensions: number;
  vocabularySize: number;
  lookupRule: string;
  pooling: string;
  /** The concept set the run covers (sorted unique words), not a dataset: any dataset with these words reuses it. */
  concepts: { count: number; sha256: string };
  oov: OutOfVocabulary[];
  /** Concepts that are not one vocabulary token and were averaged over their words. */
  multiWord: { concept: string; words: string[] }[];
}

export interface GloveRunResult {
  runId: number;
  /** `already-complete`: a completed run with these settings existed; nothing was written. */
  status: 'completed' | 'already-complete';
  conceptCount: number;
  vectorsStored: number;
  written: number;
  oov: OutOfVocabulary[];
  multiWord: { concept: string; words: string[] }[];
  timings: Record<string, number>;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function conceptSetHash(words: readonly string[]): { count: number; sha256: string } {
  const unique = [...new Set(words)].sort();
  return { count: unique.length, sha256: sha256(unique.join('\n')) };
}

/** Model, component and layer rows for the baseline (created once, refreshed if the package changed). */
export async function ensureGloveModel(db: GloveDatabase, info: GlovePackageInfo, dimensions: number): Promise<{ modelId: number; layerId: number }> {
  return db.prisma.$transaction(async (tx) => {
    const fields = {
      kind: 'WORD_EMBEDDING' as const,
      revision: info.version,
      source: `npm package ${info.name}@${info.version} (GloVe-derived vectors, PDDL)`,
      description: `GloVe-derived ${dimensions}-dimensional English word vectors (uncased, ~341k words) from the npm package ${info.name}: a static word-embedding baseline with no image model, for comparison with Stable Diffusion's representations.`,
    };
    const model = await tx.model.upsert({ where: { name: GLOVE_MODEL_NAME }, create: { name: GLOVE_MODEL_NAME, ...fields }, update: fields });
    const component = await tx.component.upsert({
      where: { modelId_name: { modelId: model.id, name: GLOVE_COMPONENT_NAME } },
      create: { modelId: model.id, kind: 'WORD_EMBEDDING', name: GLOVE_COMPONENT_NAME, position: 0, hasTimesteps: false },
      update: {},
    });
    const layer = await tx.layer.upsert({
      where: { componentId_index: { componentId: component.id, index: 0 } },
      create: { componentId: component.id, index: 0, name: GLOVE_LAYER_NAME, shape: [dimensions] },
      update: {},
    });
    return { modelId: model.id, layerId: layer.id };
  });
}

async function findCompletedRun(db: GloveDatabase, info: GlovePackageInfo, concepts: { sha256: string }) {
  return db.prisma.extractionRun.findFirst({
    where: {
      status: 'COMPLETED',
      model: { name: GLOVE_MODEL_NAME },
      AND: [
        { settings: { path: ['packageVersion'], equals: info.version } },
        { settings: { path: ['concepts', 'sha256'], equals: concepts.sha256 } },
        { settings: { path: ['lookupRule'], equals: GLOVE_LOOKUP_RULE } },
      ],
    },
    orderBy: { id: 'asc' },
  });
}

async function writeBatches(
  db: GloveDatabase, runId: number, layerId: number, vectors: readonly ConceptVector[], idByWord: ReadonlyMap<string, number>, log: (message: string) => void,
): Promise<number> {
  let written = 0;
  for (let start = 0; start < vectors.length; start += WRITE_BATCH) {
    const batch: SummaryRow[] = vectors.slice(start, start + WRITE_BATCH).map((v) => ({
      runId, conceptId: idByWord.get(v.concept)!, layerId, timestep: null, pooling: GLOVE_POOLING, vector: v.vector,
    }));
    // Each batch and its progress count commit together, so progress never overstates what is stored.
    written += await inTransaction(db.pool, async (client) => {
      const count = await writeSummaries(client, batch);
      await client.query(
        `UPDATE extraction_run SET progress_done = (SELECT count(*) FROM activation_summary WHERE run_id = $1), status = 'RUNNING', error = NULL WHERE id = $1`,
        [runId]);
      return count;
    });
    log(`stored ${Math.min(start + WRITE_BATCH, vectors.length)}/${vectors.length} vectors`);
  }
  return written;
}

export interface GloveRunOptions {
  /** Concept words with their database ids (e.g. from selectConcepts). */
  concepts: readonly { id: number; word: string }[];
  /** Defaults to the process-wide lazily loaded package vectors. */
  load?: () => Promise<LoadedGlove>;
  log?: (message: string) => void;
}

export async function runGloveBaseline(db: GloveDatabase, options: GloveRunOptions): Promise<GloveRunResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const info = glovePackageInfo();
  const conceptSet = conceptSetHash(options.concepts.map((c) => c.word));

  // Skip the 5 s / 1 GB load when this exact run is already complete.
  const existing = await findCompletedRun(db, info, conceptSet);
  if (existing) {
    const settings = existing.settings as unknown as GloveRunSettings;
    return {
      runId: existing.id, status: 'already-complete', conceptCount: conceptSet.count,
      vectorsStored: await db.prisma.activationSummary.count({ where: { runId: existing.id } }),
      written: 0, oov: settings.oov, multiWord: settings.multiWord, timings: existing.timings as Record<string, number>,
    };
  }

  log(`loading ${info.name}@${info.version} …`);
  const loaded = await (options.load ?? sharedGloveVectors)();
  log(`loaded ${loaded.stats.vocabularySize} words × ${loaded.stats.dimensions} in ${loaded.stats.seconds.toFixed(1)} s`);
  const lookupStarted = performance.now();
  const idByWord = new Map(options.concepts.map((c) => [c.word, c.id]));
  const words = [...idByWord.keys()];
  const { vectors, oov } = conceptVectors(words, loaded.vectors);
  const lookupSeconds = (performance.now() - lookupStarted) / 1000;
  const multiWord = vectors.filter((v) => v.method === 'mean_of_words').map((v) => ({ concept: v.concept, words: v.words }));
  const settings: GloveRunSettings = {
    baseline: GLOVE_MODEL_NAME, package: GLOVE_PACKAGE, packageVersion: info.version, dimensions: loaded.vectors.dimensions,
    vocabularySize: loaded.vectors.size, lookupRule: GLOVE_LOOKUP_RULE, pooling: GLOVE_POOLING, concepts: conceptSet, oov, multiWord,
  };
  const settingsHash = identityHash(settings);

  const { modelId, layerId } = await ensureGloveModel(db, info, loaded.vectors.dimensions);
  const run = await db.prisma.extractionRun.upsert({
    where: { settingsHash },
    create: {
      modelId, settingsHash, promptTemplate: '{concept}', seed: 0, scheduler: null, stepCount: 0, guidanceScale: null, device: 'cpu',
      settings: settings as unknown as object, status: 'RUNNING', progressTotal: vectors.length, startedAt: new Date(),
    },
    update: {},
  });
  if (run.status === 'COMPLETED') {
    return { runId: run.id, status: 'already-complete', conceptCount: conceptSet.count, vectorsStored: run.progressDone, written: 0, oov, multiWord, timings: run.timings as Record<string, number> };
  }

  const writeStarted = performance.now();
  let written = 0;
  try {
    written = await writeBatches(db, run.id, layerId, vectors, idByWord, log);
  } catch (error) {
    // Rows already committed stay: a re-run resumes from them.
    await db.prisma.extractionRun.update({ where: { id: run.id }, data: { status: 'FAILED', error: (error as Error).message } }).catch(() => {});
    throw error;
  }
  const timings = {
    loadSeconds: loaded.stats.seconds, loadRssDeltaMB: loaded.stats.rssDeltaMB, lookupSeconds,
    writeSeconds: (performance.now() - writeStarted) / 1000, totalSeconds: (performance.now() - started) / 1000,
  };
  const stored = await db.prisma.activationSummary.count({ where: { runId: run.id } });
  await db.prisma.extractionRun.update({
    where: { id: run.id },
    data: { status: 'COMPLETED', progressDone: stored, progressTotal: vectors.length, finishedAt: new Date(), timings },
  });
  return { runId: run.id, status: 'completed', conceptCount: conceptSet.count, vectorsStored: stored, written, oov, multiWord, timings };
}
