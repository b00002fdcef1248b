// The GloVe word-vector baseline as an extraction run: model "glove-100d", one component, one layer
// ("embedding", shape [100]); one summary per in-vocabulary concept, pooling "word", timestep NULL.
// Identity = identityHash of the settings (package version, concept set, lookup rule, OOV list): a re-run
// finds the completed run and writes nothing; an interrupted run resumes (writes skip existing rows).
// Lock, find-or-create, status and interrupts are the shared run lifecycle (src/runs/).
import { createHash } from 'node:crypto';
import type { Database } from '../db/client.ts';
import { inTransaction } from '../db/transaction.ts';
import { identityHash } from '../identity.ts';
import { writeSummaries, type SummaryRow } from '../db/summaries.ts';
import { openRun, type ActiveRun } from '../runs/lifecycle.ts';
import { plan, type PlanUnits, type RunPlan } from '../runs/plan.ts';
import type { RunOutcome } from '../runs/status.ts';
import type { Queryable } from '../runs/store.ts';
import { conceptVectors, type ConceptVector, type OutOfVocabulary } from './concept-vectors.ts';
import { GLOVE_PACKAGE, glovePackageInfo, sharedGloveVectors, type GlovePackageInfo, type LoadedGlove } from './glove-loader.ts';

export const GLOVE_MODEL_NAME = 'glove-100d';
export const GLOVE_COMPONENT_NAME = 'word-embedding';
export const GLOVE_LAYER_NAME = 'embedding';
export const GLOVE_POOLING = 'word';
/** Part of the run's identity: a concept keyed by sense (`bat_(animal)`) used to be out of vocabulary and is now looked up as its word. */
export const GLOVE_LOOKUP_RULE =
  "the concept's word (conceptWord: a trailing sense in parentheses dropped, underscores as spaces), lower-cased, as one vocabulary token; else the mean of its space/hyphen-separated words; out of vocabulary (skipped) if any word is missing";

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
  /** NOTHING_TO_DO: a completed run with these settings existed; nothing was written. */
  status: RunOutcome;
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

/** Concepts with a stored vector in run `runId` (one row per concept). */
async function storedConcepts(db: Queryable, runId: number): Promise<Set<string>> {
  const { rows } = await db.query<{ concept_id: number }>('SELECT concept_id FROM activation_summary WHERE run_id = $1', [runId]);
  return new Set(rows.map((r) => String(r.concept_id)));
}

/**
 * The concepts a run over this concept set covers: all of them but those its stored settings list as
 * out of vocabulary (known once a run exists; before, every concept is left).
 */
const gloveUnits = (concepts: readonly { id: number; word: string }[]): PlanUnits<{ id: number; word: string }> => ({
  units: (run) => {
    const oov = new Set(((run?.settings as Partial<GloveRunSettings> | undefined)?.oov ?? []).map((o) => o.concept));
    return concepts.filter((c) => !oov.has(c.word));
  },
  key: (c) => String(c.id),
  stored: storedConcepts,
});

/**
 * What is left of the baseline run over these concepts, without loading the vectors: the run is found
 * by what its settings contain (package version, lookup rule, concept set), since its identity hash
 * covers the loaded vocabulary too.
 */
export async function planGloveBaseline(db: Queryable, concepts: readonly { id: number; word: string }[]): Promise<RunPlan<{ id: number; word: string }>> {
  const settingsContain = { packageVersion: glovePackageInfo().version, lookupRule: GLOVE_LOOKUP_RULE, concepts: { sha256: conceptSetHash(concepts.map((c) => c.word)).sha256 } };
  return plan(db, 'extraction_run', { model: GLOVE_MODEL_NAME, settingsContain }, gloveUnits(concepts));
}

async function writeBatches(
  run: ActiveRun, layerId: number, vectors: readonly ConceptVector[], idByWord: ReadonlyMap<string, number>, log: (message: string) => void,
): Promise<number> {
  let written = 0;
  for (let start = 0; start < vectors.length; start += WRITE_BATCH) {
    run.throwIfInterrupted();
    const batch: SummaryRow[] = vectors.slice(start, start + WRITE_BATCH).map((v) => ({
      runId: run.id, conceptId: idByWord.get(v.concept)!, layerId, timestep: null, pooling: GLOVE_POOLING, vector: v.vector,
    }));
    // Each batch and its progress count commit together, so progress never overstates what is stored.
    written += await inTransaction(run.pool, async (client) => {
      const count = await writeSummaries(client, batch);
      await run.progress(client, (await storedConcepts(client, run.id)).size);
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
  /** Aborting stops before the next batch of writes (INTERRUPTED); the run is marked FAILED "interrupted; re-run to resume". */
  signal?: AbortSignal;
}

/** Needs a pool of at least 2 connections: one holds the run's advisory lock while it writes. */
export async function runGloveBaseline(db: GloveDatabase, options: GloveRunOptions): Promise<GloveRunResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const info = glovePackageInfo();
  const conceptSet = conceptSetHash(options.concepts.map((c) => c.word));

  // Skip the 5 s / 1 GB load when this exact run is already complete.
  const before = await planGloveBaseline(db.pool, options.concepts);
  if (before.complete && before.run) {
    const settings = before.run.settings as GloveRunSettings;
    return {
      runId: before.run.id, status: 'NOTHING_TO_DO', conceptCount: conceptSet.count, vectorsStored: before.done.length,
      written: 0, oov: settings.oov, multiWord: settings.multiWord, timings: before.run.timings as Record<string, number>,
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
  const spec = {
    table: 'extraction_run' as const,
    settingsHash,
    subject: `The GloVe baseline run over these ${conceptSet.count} concepts`,
    create: () => db.prisma.extractionRun.create({
      data: {
        modelId, settingsHash, promptTemplate: '{concept}', seed: 0, scheduler: null, stepCount: 0, guidanceScale: null, device: 'cpu',
        settings: settings as unknown as object, status: 'PENDING', plannedCount: vectors.length,
      },
    }),
    signal: options.signal,
  };
  return openRun(db.pool, spec, async (run): Promise<GloveRunResult> => {
    if (run.stored.status === 'COMPLETED') {
      // Completed by another process meanwhile.
      return { runId: run.id, status: 'NOTHING_TO_DO', conceptCount: conceptSet.count, vectorsStored: run.stored.doneCount, written: 0, oov, multiWord, timings: run.stored.timings as Record<string, number> };
    }
    // Rows already committed stay when it fails: a re-run resumes from them.
    return run.guard(async () => {
      await run.start({ total: vectors.length });
      const writeStarted = performance.now();
      const written = await writeBatches(run, layerId, vectors, idByWord, log);
      const timings = {
        loadSeconds: loaded.stats.seconds, loadRssDeltaMB: loaded.stats.rssDeltaMB, lookupSeconds,
        writeSeconds: (performance.now() - writeStarted) / 1000, totalSeconds: (performance.now() - started) / 1000,
      };
      const stored = (await storedConcepts(db.pool, run.id)).size;
      await run.complete({ doneCount: stored, plannedCount: vectors.length, timings: { replace: timings } });
      return { runId: run.id, status: 'COMPLETED', conceptCount: conceptSet.count, vectorsStored: stored, written, oov, multiWord, timings };
    });
  });
}
