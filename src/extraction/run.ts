// An extraction run: the bundle + settings → one extraction_run row (identity = settingsHash) and
// one activation_summary row per (concept, layer, timestep, pooling). Concepts go through the networks
// k at a time (--batch); each concept's summaries are still written in ONE transaction together with
// the progress counter, so a concept is all or nothing and a killed run resumes by skipping the
// concepts that have rows. Memory holds two batches' pooled vectors at most.
// The lock, find-or-create, status, interrupt and timings rules are the shared run lifecycle (src/runs/).
import type pg from 'pg';
import type { Database } from '../db/client.ts';
import { writeSummaries, type SummaryRow } from '../db/summaries.ts';
import { loadBundle, type Bundle } from '../bundles/bundle.ts';
import { DigestCache } from '../bundles/file-digest.ts';
import type { Device } from '../bundles/sessions.ts';
import { parseTapConfig } from '../bundles/tap-config.ts';
import { nearMatches, type ComponentName, type TapConfig } from '../bundles/taps.ts';
import { DatasetNotFoundError, findNormsDataset } from '../norms/query.ts';
import { inTransaction } from '../db/transaction.ts';
import { openRun, type ActiveRun } from '../runs/lifecycle.ts';
import { plan, planFor, type PlanUnits, type RunPlan } from '../runs/plan.ts';
import { roundedSeconds } from '../runs/progress.ts';
import { interruptedError } from '../runs/errors.ts';
import type { RunOutcome } from '../runs/status.ts';
import { findOrCreateRun, type Queryable, type RunStatus } from '../runs/store.ts';
import { extractionIdentity, resolvedTapSummary, type ExtractionIdentity } from './identity.ts';
import { identityHash } from '../identity.ts';
import { batchFor, defaultSettings, ExtractionError, flatComponentStats, normalizeSettings, layerKey, Pipeline, type ConceptResult, type ExtractionSettings, type StageTimings } from './pipeline.ts';

export interface RunEvent {
  /** batch: after each batch through the networks, with its size and per-component counters (flatComponentStats). */
  event: 'start' | 'warning' | 'skip' | 'batch' | 'concept' | 'done' | 'failed';
  [key: string]: unknown;
}

export interface RunOptions {
  db: Database;
  bundleDir: string;
  /** Norms dataset: numeric id, name (latest version) or name@version. */
  norms: string;
  settings?: Partial<ExtractionSettings>;
  concepts?: string[];
  device?: Device;
  cacheDir: string;
  taps?: TapConfig;
  threads?: number;
  /** Concepts per UNet call (not part of the run's identity, like threads); default DEFAULT_BATCH or what a fixed batch axis allows. */
  batch?: number | null;
  /** Also return every tap's full map from session.run (sizes reported in the batch events; nothing stores them). */
  fullMaps?: boolean;
  onEvent?: (event: RunEvent) => void;
  /** Aborting stops after the batch in flight (its concepts are committed); the run is then marked FAILED "interrupted; re-run to resume" (INTERRUPTED). */
  signal?: AbortSignal;
}

export interface RunReport {
  runId: number;
  settingsHash: string;
  /** NOTHING_TO_DO: the run was COMPLETED with every concept stored; nothing was written. */
  status: RunOutcome;
  device: Device;
  conceptsTotal: number;
  conceptsSkipped: number;
  conceptsWritten: number;
  rowsWritten: number;
  /** Concepts per UNet call the run used. */
  batch: number;
  timings: RunTimings;
}

/**
 * Seconds and counters of a run, summed over concepts. textEncoder/unet/vae: seconds inside each
 * component's session.run; pooling: host seconds outside it. The per-component counters are flat
 * keys with stable names (the benchmark reads them): `<c>Calls`, `<c>OutputBytes` (bytes of the
 * output tensors leaving session.run), `<c>RunSeconds`, `<c>HostSeconds`, for c = textEncoder, unet, vae.
 */
export interface RunTimings extends Record<string, number> {
  textEncoder: number;
  unet: number;
  vae: number;
  pooling: number;
  /** Wall time inside the denoising pipeline (networks + pooling), summed over concepts. */
  pipeline: number;
  writes: number;
  wall: number;
  concepts: number;
}

const COMPONENTS: { name: ComponentName; kind: 'TEXT_ENCODER' | 'UNET' | 'VAE_DECODER'; hasTimesteps: boolean }[] = [
  { name: 'text_encoder', kind: 'TEXT_ENCODER', hasTimesteps: false },
  { name: 'unet', kind: 'UNET', hasTimesteps: true },
  { name: 'vae_decoder', kind: 'VAE_DECODER', hasTimesteps: true },
];

async function resolveDataset(db: Database, norms: string): Promise<{ id: number; name: string; version: number }> {
  try {
    return await findNormsDataset(db.prisma, norms);
  } catch (error) {
    if (!(error instanceof DatasetNotFoundError)) throw error;
    const known = await db.prisma.normsDataset.findMany({ select: { name: true, version: true }, orderBy: [{ name: 'asc' }, { version: 'asc' }] });
    const names = known.map((d) => `${d.name}@${d.version}`);
    throw new ExtractionError('BAD_SETTINGS', `--norms ${JSON.stringify(norms)}: no such dataset; give an id, a name (latest version) or name@version (known: ${names.join(', ') || 'none — import norms first'}).`);
  }
}

async function datasetConcepts(db: Database, datasetId: number, only?: string[]): Promise<{ id: number; word: string }[]> {
  const rows = await db.prisma.datasetConcept.findMany({ where: { normsDatasetId: datasetId }, orderBy: { position: 'asc' }, include: { concept: true } });
  const all = rows.map((r) => ({ id: r.concept.id, word: r.concept.word }));
  if (!only) return all;
  const byWord = new Map(all.map((c) => [c.word, c]));
  return only.map((word) => {
    const concept = byWord.get(word);
    if (!concept) throw new ExtractionError('BAD_SETTINGS', `--concepts: "${word}" is not in the dataset. Near matches: ${nearMatches(word, byWord.keys()).join(', ')}.`);
    return concept;
  });
}

/** The model and its three component rows, created when new; race-safe (INSERT … ON CONFLICT DO NOTHING, then read), as several workers of one run start at once. */
export async function ensureModel(db: Queryable, bundle: Bundle): Promise<{ modelId: number; componentIds: Record<ComponentName, number> }> {
  const name = `${bundle.name}@${bundle.identity.slice(0, 12)}`;
  const description = bundle.kind === 'TINY_TEST_NETWORK' ? 'Tiny test network with SD-shaped inputs/outputs (not Stable Diffusion).' : `ONNX Stable Diffusion bundle ${bundle.name}.`;
  await db.query(
    'INSERT INTO model (name, kind, revision, source, description) VALUES ($1, $2::"ModelKind", $3, $4, $5) ON CONFLICT (name) DO NOTHING',
    [name, bundle.kind, bundle.identity, bundle.dir, description],
  );
  const model = await db.query<{ id: number }>('SELECT id FROM model WHERE name = $1', [name]);
  const modelId = model.rows[0]!.id;
  await db.query(
    `INSERT INTO component (model_id, kind, name, position, has_timesteps)
     SELECT $1, c.kind::"ComponentKind", c.name, c.position, c.has_timesteps FROM unnest($2::text[], $3::text[], $4::int[], $5::bool[]) AS c(kind, name, position, has_timesteps)
     ON CONFLICT (model_id, name) DO NOTHING`,
    [modelId, COMPONENTS.map((c) => c.kind), COMPONENTS.map((c) => c.name), COMPONENTS.map((_, i) => i), COMPONENTS.map((c) => c.hasTimesteps)],
  );
  const components = await db.query<{ id: number; name: ComponentName }>('SELECT id, name FROM component WHERE model_id = $1', [modelId]);
  const byName = new Map(components.rows.map((c) => [c.name, c.id]));
  const componentIds = Object.fromEntries(COMPONENTS.map((c) => [c.name, byName.get(c.name)!])) as Record<ComponentName, number>;
  return { modelId, componentIds };
}

/**
 * Creates the tapped layers (ordered, with per-prompt shapes) that are not stored yet; returns layer ids by
 * `component/label`. Race-safe: an insert that loses to another process is read back by name, and one whose
 * index another layer took meanwhile takes the next free index.
 */
async function ensureLayers(db: Queryable, componentIds: Record<ComponentName, number>, pipeline: Pipeline, shapes: Map<string, number[]>): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const { name } of COMPONENTS) {
    const componentId = componentIds[name];
    const readLayers = async () => (await db.query<{ id: number; name: string; index: number }>('SELECT id, name, index FROM layer WHERE component_id = $1', [componentId])).rows;
    const existing = await readLayers();
    const byName = new Map(existing.map((l) => [l.name, l.id]));
    const usedIndexes = new Set(existing.map((l) => l.index));
    let nextFree = existing.reduce((max, l) => Math.max(max, l.index + 1), 0);
    const takeNextFree = () => {
      while (usedIndexes.has(nextFree)) nextFree++;
      return nextFree;
    };
    for (const [position, tap] of (pipeline.components[name]?.taps ?? []).entries()) {
      const key = layerKey(name, tap.label);
      let id = byName.get(tap.label);
      if (id === undefined) {
        const shape = shapes.get(key);
        if (!shape) continue; // e.g. the VAE when it is switched off
        // A layer keeps its position as index when free, else the next free one after the stored layers, so tap sets
        // that differ between runs never collide on unique (component_id, index).
        let index = usedIndexes.has(position) ? takeNextFree() : position;
        while (id === undefined) {
          usedIndexes.add(index);
          const inserted = await db.query<{ id: number }>(
            'INSERT INTO layer (component_id, index, name, shape) VALUES ($1, $2, $3, $4::int[]) ON CONFLICT DO NOTHING RETURNING id',
            [componentId, index, tap.label, shape],
          );
          id = inserted.rows[0]?.id;
          if (id !== undefined) break;
          // Another process stored this layer meanwhile (read it back), or another layer on this index (take the next free one).
          const stored = await readLayers();
          id = stored.find((l) => l.name === tap.label)?.id;
          for (const l of stored) usedIndexes.add(l.index);
          index = takeNextFree();
        }
        byName.set(tap.label, id);
      }
      ids.set(key, id);
    }
  }
  return ids;
}

export function emptyRunTimings(): RunTimings {
  return { textEncoder: 0, unet: 0, vae: 0, pooling: 0, pipeline: 0, writes: 0, wall: 0, concepts: 0 };
}

function addTimings(total: RunTimings, result: ConceptResult, writes: number): void {
  total.textEncoder += result.timings.textEncoder;
  total.unet += result.timings.unet;
  total.vae += result.timings.vae;
  total.pooling += result.timings.pooling;
  total.pipeline += result.timings.total;
  total.writes += writes;
  total.concepts += 1;
  for (const [key, value] of Object.entries(flatComponentStats(result.timings))) total[key] = (total[key] ?? 0) + value;
}

/** Seconds rounded to the millisecond; the counters (calls, bytes) are rounded to integers (a concept's share of a batch is a fraction). */
export function storedTimings(timings: Record<string, number>): Record<string, number> {
  const rounded: Record<string, number> = roundedSeconds(timings);
  for (const key of Object.keys(rounded)) if (key.endsWith('Calls') || key.endsWith('Bytes')) rounded[key] = Math.round(timings[key]!);
  return rounded;
}

/** Distinct concepts (of `conceptIds`) that have summaries in run `runId`: progress is what is stored. */
export async function storedConcepts(db: Queryable, runId: number, conceptIds: readonly number[]): Promise<Set<string>> {
  const { rows } = await db.query<{ concept_id: number }>(
    'SELECT DISTINCT concept_id FROM activation_summary WHERE run_id = $1 AND concept_id = ANY($2::int[])',
    [runId, conceptIds],
  );
  return new Set(rows.map((r) => String(r.concept_id)));
}

const conceptUnits = (concepts: readonly ExtractionConcept[]): PlanUnits<ExtractionConcept> => ({
  units: concepts,
  key: (c) => String(c.id),
  stored: (db, runId) => storedConcepts(db, runId, concepts.map((c) => c.id)),
});

/** What is left of the extraction run `settingsHash` (extractionSettingsHash) for these concepts, without running it. */
export async function planExtraction(db: Queryable, settingsHash: string, concepts: readonly ExtractionConcept[]): Promise<RunPlan<ExtractionConcept>> {
  return plan(db, 'extraction_run', { settingsHash }, conceptUnits(concepts));
}

/** A concept of a run: its id and its key (`bat_(animal)`). */
export interface ExtractionConcept {
  id: number;
  word: string;
}

/** What extractConcepts works with: an open pipeline on a run that exists, and how the caller records progress. */
export interface ExtractionContext {
  pool: pg.Pool;
  runId: number;
  pipeline: Pipeline;
  componentIds: Record<ComponentName, number>;
  /** This call's timings, summed into by the loop (concept by concept, after each commit); `wall` is the caller's. */
  timings: RunTimings;
  /** Whether a stop was asked for: checked between batches; the batch in flight is committed, then INTERRUPTED is thrown. */
  interrupted: () => boolean;
  /**
   * In the concept's own transaction, after its summaries are written: record the run's progress on `client`
   * (`timings` is this call's totals with the concept included) and return the run's done count.
   */
  recordProgress: (client: pg.PoolClient, done: { concept: ExtractionConcept; rows: number; timings: RunTimings }) => Promise<number>;
  /** After each batch through the networks, with its size and its timings. */
  onBatch?: (size: number, timings: StageTimings) => void;
  /** After each concept's transaction committed; awaited before the next concept is written. */
  onConcept?: (commit: ConceptCommit) => void | Promise<void>;
}

export interface ConceptCommit {
  concept: ExtractionConcept;
  /** Summary rows this transaction inserted (0 when another writer had stored the concept first). */
  rows: number;
  /** The run's done count recordProgress returned. */
  done: number;
  /** The concept's share of its batch plus its write, seconds. */
  seconds: number;
}

export interface ExtractionProgress {
  /** Concepts this call committed. */
  written: number;
  rowsWritten: number;
  /** The done count of the last commit; null when nothing was committed. */
  done: number | null;
}

/**
 * The one extraction loop, for the in-process run and the job handler alike: `concepts` (those left) go
 * through the networks `pipeline.batch` at a time; each concept's summaries and the run's progress commit in
 * ONE transaction. Batch b's concepts are written (in order) while batch b+1 runs through the networks
 * (PostgreSQL and ONNX Runtime work in parallel); at most one batch's writes are in flight. A stop asked for
 * (context.interrupted) ends the loop after the batch in flight is committed and throws INTERRUPTED; any
 * failure is thrown after the writes in flight have settled, and is always the first one.
 */
export async function extractConcepts(context: ExtractionContext, concepts: readonly ExtractionConcept[]): Promise<ExtractionProgress> {
  const { pool, runId, pipeline, componentIds, timings } = context;
  let layerIds: Map<string, number> | null = null;
  const progress: ExtractionProgress = { written: 0, rowsWritten: 0, done: null };
  const commitConcept = async (concept: ExtractionConcept, result: ConceptResult): Promise<void> => {
    const rows: SummaryRow[] = result.summaries.map((s) => ({
      runId,
      conceptId: concept.id,
      layerId: layerIds!.get(layerKey(s.component, s.layer))!,
      timestep: s.timestep,
      pooling: s.pooling,
      vector: s.vector,
    }));
    const writeStart = performance.now();
    const { count, done } = await inTransaction(pool, async (client) => {
      const count = await writeSummaries(client, rows);
      const totals = { ...timings };
      addTimings(totals, result, 0);
      const done = await context.recordProgress(client, { concept, rows: count, timings: totals });
      return { count, done };
    });
    addTimings(timings, result, 0);
    const writeSeconds = (performance.now() - writeStart) / 1000;
    timings.writes += writeSeconds;
    progress.done = done;
    progress.rowsWritten += count;
    progress.written += 1;
    await context.onConcept?.({ concept, rows: count, done, seconds: Math.round((result.timings.total + writeSeconds) * 1000) / 1000 });
  };
  let pending: Promise<void> | null = null;
  let firstError: unknown = null;
  // Waits for the write in flight; a rejected write never replaces an earlier error.
  const settle = async (): Promise<void> => {
    const write = pending;
    pending = null;
    if (!write) return;
    try {
      await write;
    } catch (error) {
      firstError ??= error;
    }
  };
  for (let start = 0; start < concepts.length; start += pipeline.batch) {
    if (context.interrupted()) break;
    const batch = concepts.slice(start, start + pipeline.batch);
    let results: ConceptResult[];
    try {
      const done = await pipeline.extractBatch(batch.map((c) => c.word));
      results = done.concepts;
      context.onBatch?.(batch.length, done.timings);
      layerIds ??= await ensureLayers(pool, componentIds, pipeline, results[0]!.shapes);
    } catch (error) {
      firstError = error;
      await settle(); // the previous batch is committed (or has failed) before the caller sees the failure
      throw firstError;
    }
    await settle();
    if (firstError) throw firstError;
    const write = (async () => {
      for (const [i, concept] of batch.entries()) await commitConcept(concept, results[i]!);
    })();
    write.catch(() => {}); // handled when settled; this only keeps Node from flagging it early
    pending = write;
  }
  await settle();
  if (firstError) throw firstError;
  if (context.interrupted()) throw interruptedError(); // the batch in flight is committed
  return progress;
}

/** What a run is before any session opens: the bundle, its settings, the dataset and the concepts asked for. */
export interface PreparedExtraction {
  bundle: Bundle;
  digests: DigestCache;
  taps: TapConfig | undefined;
  settings: ExtractionSettings;
  dataset: { id: number; name: string; version: number };
  concepts: ExtractionConcept[];
}

export type PrepareOptions = Pick<RunOptions, 'db' | 'bundleDir' | 'norms' | 'settings' | 'concepts' | 'cacheDir' | 'taps'>;

/** Loads the bundle, normalizes the settings and resolves the dataset and its concepts; bad input is refused before any session opens or row is written. */
export async function prepareExtraction(options: PrepareOptions): Promise<PreparedExtraction> {
  const { db } = options;
  // Weight hashes are remembered beside the tap cache, so multi-GB files are read once per version.
  const digests = DigestCache.inFolder(options.cacheDir);
  const bundle = loadBundle(options.bundleDir, { digests });
  const taps = options.taps === undefined ? undefined : parseTapConfig(options.taps, 'taps');
  const settings: ExtractionSettings = normalizeSettings({ ...defaultSettings(bundle), ...options.settings });
  Pipeline.schedulerFor(bundle, settings); // a schedule the config cannot give is refused before the database is read
  const dataset = await resolveDataset(db, options.norms);
  const concepts = await datasetConcepts(db, dataset.id, options.concepts);
  return { bundle, digests, taps, settings, dataset, concepts };
}

/** Inserts the run's row (PENDING), the same for the in-process run and a planned one. */
function createRun(db: Database, input: { modelId: number; hash: string; identity: ExtractionIdentity; settings: ExtractionSettings; dataset: PreparedExtraction['dataset']; device: Device }): () => Promise<unknown> {
  const { modelId, hash, identity, settings, dataset, device } = input;
  return () => db.prisma.extractionRun.create({
    data: {
      modelId,
      settingsHash: hash,
      promptTemplate: settings.template,
      seed: settings.seed,
      scheduler: 'DDIM',
      stepCount: settings.steps,
      guidanceScale: settings.guidanceScale,
      device,
      settings: JSON.parse(JSON.stringify({ ...identity, dataset: { id: dataset.id, name: dataset.name, version: dataset.version } })),
      status: 'PENDING',
    },
  });
}

export type PlanRunOptions = Omit<RunOptions, 'threads' | 'fullMaps' | 'onEvent' | 'signal'>;

/** An extraction run planned for workers: its row exists, and this is what their jobs need. */
export interface PlannedExtractionRun {
  runId: number;
  settingsHash: string;
  /** The run's status when planned (PENDING when new). */
  status: RunStatus;
  /** Whether this call created the run's row. */
  created: boolean;
  /** The bundle folder, absolute, and its identity (the workers must load the same bundle). */
  bundleDir: string;
  bundleIdentity: string;
  dataset: PreparedExtraction['dataset'];
  /** The full normalized settings. */
  settings: ExtractionSettings;
  taps?: TapConfig;
  /** The device the workers must run on (part of the identity). */
  device: Device;
  /** Concepts per UNet call (batchFor: the requested one, the default, or what a fixed batch axis allows). */
  batch: number;
  /** The concepts asked for, in dataset order (or as given). */
  concepts: ExtractionConcept[];
  /** How many of them the run has stored. */
  stored: number;
}

/**
 * What enqueueing a run needs, WITHOUT opening a session: the bundle, settings, dataset and concepts as
 * runExtraction resolves them, the identity from the taps the pipeline would resolve and the REQUESTED
 * device, the model rows, and the run's row found or created (PENDING) as runExtraction would find or
 * create it: the same arguments give the same settings hash whether run in process or by workers.
 */
export async function planExtractionRun(options: PlanRunOptions): Promise<PlannedExtractionRun> {
  const { db } = options;
  const prepared = await prepareExtraction(options);
  const { bundle, settings, taps, dataset, concepts } = prepared;
  const device = options.device ?? 'cpu';
  const batch = batchFor(bundle, settings, options.batch);
  const identity = extractionIdentity({ bundle, settings, taps: resolvedTapSummary(bundle, taps, settings.components), device });
  const hash = identityHash(identity);
  const { modelId } = await ensureModel(db.pool, bundle);
  const run = await findOrCreateRun(db.pool, 'extraction_run', hash, createRun(db, { modelId, hash, identity, settings, dataset, device }));
  const stored = await storedConcepts(db.pool, run.id, concepts.map((c) => c.id));
  return {
    runId: run.id, settingsHash: hash, status: run.status, created: run.created, bundleDir: bundle.dir, bundleIdentity: bundle.identity, dataset,
    settings, ...(taps === undefined ? {} : { taps }), device, batch, concepts, stored: stored.size,
  };
}

interface LockedRun {
  db: Database;
  run: ActiveRun;
  emit: (event: RunEvent) => void;
  wallStart: number;
  componentIds: Record<ComponentName, number>;
  concepts: ExtractionConcept[];
  pipeline: Pipeline;
  hash: string;
}

async function runLocked(context: LockedRun): Promise<RunReport> {
  const { db, run, emit, wallStart, componentIds, concepts, pipeline, hash } = context;
  const left = await planFor(db.pool, run.stored, conceptUnits(concepts));
  const todo = left.left;
  const skipped = left.done.length;
  const timings = emptyRunTimings();
  const report = (status: RunOutcome, written: number, rowsWritten: number): RunReport => ({
    runId: run.id, settingsHash: hash, status, device: pipeline.device, conceptsTotal: concepts.length, conceptsSkipped: skipped, conceptsWritten: written, rowsWritten, batch: pipeline.batch, timings,
  });
  if (left.complete) {
    // Nothing to do: leave the completed run exactly as it is.
    emit({ event: 'done', runId: run.id, rows: 0, seconds: 0, alreadyComplete: true });
    return report('NOTHING_TO_DO', 0, 0);
  }
  await run.start({ done: skipped, total: concepts.length });

  const conceptIds = concepts.map((c) => c.id);
  // Everything after status RUNNING is guarded, so a failure anywhere marks the run FAILED.
  const progress = await run.guard(async () => {
    emit({ event: 'start', runId: run.id, settingsHash: hash, device: pipeline.device, concepts: concepts.length, skipped, todo: todo.length, batch: pipeline.batch });
    if (skipped) emit({ event: 'skip', concepts: skipped });
    return extractConcepts({
      pool: db.pool, runId: run.id, pipeline, componentIds, timings,
      interrupted: () => run.interrupted,
      recordProgress: async (client, done) => {
        done.timings.wall = (performance.now() - wallStart) / 1000;
        // Progress is what is stored (every concept's rows commit together), not a local counter.
        const doneNow = (await storedConcepts(client, run.id, conceptIds)).size;
        await run.progress(client, doneNow, { replace: storedTimings(done.timings) });
        return doneNow;
      },
      onBatch: (size, batchTimings) => emit({ event: 'batch', size, seconds: Math.round(batchTimings.total * 1000) / 1000, ...flatComponentStats(batchTimings) }),
      onConcept: ({ concept, rows, done, seconds }) => emit({ event: 'concept', word: concept.word, conceptId: concept.id, done, total: concepts.length, rows, seconds }),
    }, todo);
  }, {
    timings: () => {
      timings.wall = (performance.now() - wallStart) / 1000;
      return { replace: storedTimings(timings) };
    },
    onFailed: (message) => emit({ event: 'failed', runId: run.id, error: message }),
  });
  timings.wall = (performance.now() - wallStart) / 1000;
  await run.complete({ doneCount: progress.done ?? skipped, timings: { replace: storedTimings(timings) } });
  emit({ event: 'done', runId: run.id, rows: progress.rowsWritten, seconds: Math.round(timings.wall * 1000) / 1000 });
  return report('COMPLETED', progress.written, progress.rowsWritten);
}

export async function runExtraction(options: RunOptions): Promise<RunReport> {
  const emit = options.onEvent ?? (() => {});
  const wallStart = performance.now();
  const { db } = options;
  const { bundle, digests, taps, settings, dataset, concepts } = await prepareExtraction(options);
  const pipeline = await Pipeline.open({ bundle, settings, device: options.device ?? 'cpu', cacheDir: options.cacheDir, taps, threads: options.threads, digests, batch: options.batch, fullMaps: options.fullMaps });
  try {
    for (const warning of pipeline.warnings) emit({ event: 'warning', message: warning });
    const identity = extractionIdentity({ bundle, settings, taps: pipeline.tapSummary(), device: pipeline.device });
    const hash = identityHash(identity);
    const { modelId, componentIds } = await ensureModel(db.pool, bundle);
    const create = createRun(db, { modelId, hash, identity, settings, dataset, device: pipeline.device });
    return await openRun(db.pool, { table: 'extraction_run', settingsHash: hash, subject: 'Extraction run', create, signal: options.signal }, (run) =>
      runLocked({ db, run, emit, wallStart, componentIds, concepts, pipeline, hash }));
  } finally {
    await pipeline.release();
  }
}
