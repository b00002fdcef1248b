// An extraction run: the bundle + settings → one extraction_run row (identity = settingsHash) and
// one activation_summary row per (concept, layer, timestep, pooling). Concepts go through the networks
// k at a time (--batch); each concept's summaries are still written in ONE transaction together with
// the progress counter, so a concept is all or nothing and a killed run resumes by skipping the
// concepts that have rows. Memory holds two batches' pooled vectors at most.
// The lock, find-or-create, status, interrupt and timings rules are the shared run lifecycle (src/runs/).
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
import type { RunOutcome } from '../runs/status.ts';
import type { Queryable } from '../runs/store.ts';
import { extractionIdentity } from './identity.ts';
import { identityHash } from '../identity.ts';
import { defaultSettings, ExtractionError, flatComponentStats, normalizeSettings, layerKey, Pipeline, type ConceptResult, type ExtractionSettings } from './pipeline.ts';

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

async function ensureModel(db: Database, bundle: Bundle): Promise<{ modelId: number; componentIds: Record<ComponentName, number> }> {
  const name = `${bundle.name}@${bundle.identity.slice(0, 12)}`;
  const model = await db.prisma.model.upsert({
    where: { name },
    update: {},
    create: {
      name,
      kind: bundle.kind,
      revision: bundle.identity,
      source: bundle.dir,
      description: bundle.kind === 'TINY_TEST_NETWORK' ? 'Tiny test network with SD-shaped inputs/outputs (not Stable Diffusion).' : `ONNX Stable Diffusion bundle ${bundle.name}.`,
    },
  });
  const componentIds = {} as Record<ComponentName, number>;
  for (const [position, component] of COMPONENTS.entries()) {
    const row = await db.prisma.component.upsert({
      where: { modelId_name: { modelId: model.id, name: component.name } },
      update: {},
      create: { modelId: model.id, kind: component.kind, name: component.name, position, hasTimesteps: component.hasTimesteps },
    });
    componentIds[component.name] = row.id;
  }
  return { modelId: model.id, componentIds };
}

/** Upserts the tapped layers (ordered, with per-prompt shapes); returns layer ids by `component/label`. */
async function ensureLayers(db: Database, componentIds: Record<ComponentName, number>, pipeline: Pipeline, shapes: Map<string, number[]>): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const { name } of COMPONENTS) {
    const componentId = componentIds[name];
    const existing = await db.prisma.layer.findMany({ where: { componentId } });
    const byName = new Map(existing.map((l) => [l.name, l]));
    const usedIndexes = new Set(existing.map((l) => l.index));
    let nextFree = existing.reduce((max, l) => Math.max(max, l.index + 1), 0);
    for (const [position, tap] of (pipeline.components[name]?.taps ?? []).entries()) {
      const key = layerKey(name, tap.label);
      let layer = byName.get(tap.label);
      if (!layer) {
        const shape = shapes.get(key);
        if (!shape) continue; // e.g. the VAE when it is switched off
        // A layer keeps its position as index when free, else the next free one after the stored layers, so tap sets
        // that differ between runs never collide on unique (component_id, index).
        let index = position;
        if (usedIndexes.has(index)) {
          while (usedIndexes.has(nextFree)) nextFree++;
          index = nextFree;
        }
        usedIndexes.add(index);
        layer = await db.prisma.layer.upsert({
          where: { componentId_name: { componentId, name: tap.label } },
          update: {},
          create: { componentId, index, name: tap.label, shape },
        });
      }
      ids.set(key, layer.id);
    }
  }
  return ids;
}

function emptyRunTimings(): RunTimings {
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
function storedTimings(timings: RunTimings): Record<string, number> {
  const rounded: Record<string, number> = roundedSeconds(timings);
  for (const key of Object.keys(rounded)) if (key.endsWith('Calls') || key.endsWith('Bytes')) rounded[key] = Math.round(timings[key]!);
  return rounded;
}

/** Distinct concepts (of `conceptIds`) that have summaries in run `runId`: progress is what is stored. */
async function storedConcepts(db: Queryable, runId: number, conceptIds: readonly number[]): Promise<Set<string>> {
  const { rows } = await db.query<{ concept_id: number }>(
    'SELECT DISTINCT concept_id FROM activation_summary WHERE run_id = $1 AND concept_id = ANY($2::int[])',
    [runId, conceptIds],
  );
  return new Set(rows.map((r) => String(r.concept_id)));
}

const conceptUnits = (concepts: readonly { id: number; word: string }[]): PlanUnits<{ id: number; word: string }> => ({
  units: concepts,
  key: (c) => String(c.id),
  stored: (db, runId) => storedConcepts(db, runId, concepts.map((c) => c.id)),
});

/** What is left of the extraction run `settingsHash` (extractionSettingsHash) for these concepts, without running it. */
export async function planExtraction(db: Queryable, settingsHash: string, concepts: readonly { id: number; word: string }[]): Promise<RunPlan<{ id: number; word: string }>> {
  return plan(db, 'extraction_run', { settingsHash }, conceptUnits(concepts));
}

interface LockedRun {
  db: Database;
  run: ActiveRun;
  emit: (event: RunEvent) => void;
  wallStart: number;
  componentIds: Record<ComponentName, number>;
  concepts: { id: number; word: string }[];
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
  let layerIds: Map<string, number> | null = null;
  let rowsWritten = 0;
  let written = 0;
  let progress = skipped;
  const commitConcept = async (concept: { id: number; word: string }, result: ConceptResult): Promise<void> => {
    const rows: SummaryRow[] = result.summaries.map((s) => ({
      runId: run.id,
      conceptId: concept.id,
      layerId: layerIds!.get(layerKey(s.component, s.layer))!,
      timestep: s.timestep,
      pooling: s.pooling,
      vector: s.vector,
    }));
    const writeStart = performance.now();
    const { count, doneNow } = await inTransaction(db.pool, async (client) => {
      const count = await writeSummaries(client, rows);
      const totals = { ...timings };
      addTimings(totals, result, 0);
      totals.wall = (performance.now() - wallStart) / 1000;
      // Progress is what is stored (every concept's rows commit together), not a local counter.
      const doneNow = (await storedConcepts(client, run.id, conceptIds)).size;
      await run.progress(client, doneNow, { replace: storedTimings(totals) });
      return { count, doneNow };
    });
    addTimings(timings, result, 0);
    progress = doneNow;
    const writeSeconds = (performance.now() - writeStart) / 1000;
    timings.writes += writeSeconds;
    rowsWritten += count;
    written += 1;
    emit({ event: 'concept', word: concept.word, conceptId: concept.id, done: progress, total: concepts.length, rows: count, seconds: Math.round((result.timings.total + writeSeconds) * 1000) / 1000 });
  };
  // Batch b's concepts are written (one transaction each, in order) while batch b+1 runs through the
  // networks (PostgreSQL and ONNX Runtime work in parallel); at most one batch's writes are in flight.
  let pending: Promise<void> | null = null;
  // Everything after status RUNNING is guarded, so a failure anywhere marks the run FAILED.
  await run.guard(async () => {
    emit({ event: 'start', runId: run.id, settingsHash: hash, device: pipeline.device, concepts: concepts.length, skipped, todo: todo.length, batch: pipeline.batch });
    if (skipped) emit({ event: 'skip', concepts: skipped });
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
    for (let start = 0; start < todo.length; start += pipeline.batch) {
      if (run.interrupted) break;
      const batch = todo.slice(start, start + pipeline.batch);
      let results: ConceptResult[];
      try {
        const done = await pipeline.extractBatch(batch.map((c) => c.word));
        results = done.concepts;
        emit({ event: 'batch', size: batch.length, seconds: Math.round(done.timings.total * 1000) / 1000, ...flatComponentStats(done.timings) });
        layerIds ??= await ensureLayers(db, componentIds, pipeline, results[0]!.shapes);
      } catch (error) {
        firstError = error;
        await settle(); // the previous batch is committed (or has failed) before the run is marked FAILED
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
    run.throwIfInterrupted(); // the batch in flight is committed; the run is marked FAILED "interrupted"
  }, {
    timings: () => {
      timings.wall = (performance.now() - wallStart) / 1000;
      return { replace: storedTimings(timings) };
    },
    onFailed: (message) => emit({ event: 'failed', runId: run.id, error: message }),
  });
  timings.wall = (performance.now() - wallStart) / 1000;
  await run.complete({ doneCount: progress, timings: { replace: storedTimings(timings) } });
  emit({ event: 'done', runId: run.id, rows: rowsWritten, seconds: Math.round(timings.wall * 1000) / 1000 });
  return report('COMPLETED', written, rowsWritten);
}

export async function runExtraction(options: RunOptions): Promise<RunReport> {
  const emit = options.onEvent ?? (() => {});
  const wallStart = performance.now();
  const { db } = options;
  // Weight hashes are remembered beside the tap cache, so multi-GB files are read once per version.
  const digests = DigestCache.inFolder(options.cacheDir);
  const bundle = loadBundle(options.bundleDir, { digests });
  const taps = options.taps === undefined ? undefined : parseTapConfig(options.taps, 'taps');
  const settings: ExtractionSettings = normalizeSettings({ ...defaultSettings(bundle), ...options.settings });
  Pipeline.schedulerFor(bundle, settings); // a schedule the config cannot give is refused before the database is read
  const dataset = await resolveDataset(db, options.norms);
  const concepts = await datasetConcepts(db, dataset.id, options.concepts);
  const pipeline = await Pipeline.open({ bundle, settings, device: options.device ?? 'cpu', cacheDir: options.cacheDir, taps, threads: options.threads, digests, batch: options.batch, fullMaps: options.fullMaps });
  try {
    for (const warning of pipeline.warnings) emit({ event: 'warning', message: warning });
    const identity = extractionIdentity({ bundle, settings, taps: pipeline.tapSummary(), device: pipeline.device });
    const hash = identityHash(identity);
    const { modelId, componentIds } = await ensureModel(db, bundle);
    const create = () => db.prisma.extractionRun.create({
      data: {
        modelId,
        settingsHash: hash,
        promptTemplate: settings.template,
        seed: settings.seed,
        scheduler: 'DDIM',
        stepCount: settings.steps,
        guidanceScale: settings.guidanceScale,
        device: pipeline.device,
        settings: JSON.parse(JSON.stringify({ ...identity, dataset: { id: dataset.id, name: dataset.name, version: dataset.version } })),
        status: 'PENDING',
      },
    });
    return await openRun(db.pool, { table: 'extraction_run', settingsHash: hash, subject: 'Extraction run', create, signal: options.signal }, (run) =>
      runLocked({ db, run, emit, wallStart, componentIds, concepts, pipeline, hash }));
  } finally {
    await pipeline.release();
  }
}
