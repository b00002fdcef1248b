// A probe run: for every cell (layer × timestep × pooling) of an extraction run, fit the cross-
// validated ridge probes against a norms dataset and store the results. The run's identity is the
// hash of (extraction run, dataset, settings): running the same command again finds the run and
// skips the cells already written, so a killed sweep resumes where it stopped. The extraction run's
// finished_at is part of that identity, and only COMPLETED extraction runs are probed. Cells are read,
// fitted and written one at a time, so memory does not grow with the size of the grid.
// The in-process run (runProbe) and the job queue's PROBE jobs (src/jobs/probe-job.ts, planned by
// planProbeRun) share one preparation (prepareProbe) and one cell loop (probeCells), so a cell fitted
// by a worker is the cell runProbe would have stored, bit for bit.
import type pg from 'pg';
import { readSummaryMatrix } from '../db/summaries.ts';
import { probeCell, type CellResult } from '../probes/cell.ts';
import { assignFolds } from '../probes/folds.ts';
import { createOnnxBackend, type MatmulBackend } from '../probes/matmul-backend.ts';
import { inTransaction } from '../db/transaction.ts';
import { throwIfInterrupted } from '../runs/interrupt.ts';
import { openRun, type ActiveRun } from '../runs/lifecycle.ts';
import { withRunLock } from '../runs/lock.ts';
import { plan, planFor, type PlanUnits, type RunPlan } from '../runs/plan.ts';
import type { RunOutcome } from '../runs/status.ts';
import { findOrCreateRun, type StoredRun } from '../runs/store.ts';
import { ProbeRunError } from './errors.ts';
import { cellKeyString, listCells, listFinishedCells, loadNorms, resolveDataset, type CellKey, type NormsData } from './load.ts';
import { PROBE_METHOD, describeCvScheme, normaliseSettings, probeSettingsHash, type ProbeSettings } from './settings.ts';
import { finishRun, recordSkippedCell, writeCell, type ProbeRunTarget } from './write.ts';
import { recordExcludedAttributes } from './selection.ts';

export interface ProbeRunOptions {
  extractionRunId: number;
  /** Dataset `name`, `name@version` or id. */
  norms: string;
  settings?: Partial<ProbeSettings>;
  /** Matrix-product backend; ONNX Runtime by default. */
  backend?: MatmulBackend;
  /** Aborting stops the run after the current cell (INTERRUPTED); the run is marked FAILED "interrupted; re-run to resume". */
  signal?: AbortSignal;
}

export interface CellEvent {
  probeRunId: number;
  cell: CellKey;
  cellId: number | null;
  /** Cells done (written now or before) out of the total. */
  done: number;
  total: number;
  seconds: number;
  etaSeconds: number | null;
  result: CellResult | null;
  /** Why the cell was skipped, when it was. */
  skipped?: string;
}

export interface ProbeRunHooks {
  /** Called after each cell; throwing stops the run (it stays resumable). */
  onCell?: (event: CellEvent) => void | Promise<void>;
  /** `attributeCount`: attributes probed (after the run's selection); `excludedAttributeCount`: those it left out. */
  onStart?: (info: { probeRunId: number; created: boolean; total: number; alreadyDone: number; attributeCount: number; excludedAttributeCount: number }) => void;
}

export interface ProbeRunSummary {
  probeRunId: number;
  created: boolean;
  total: number;
  written: number;
  alreadyDone: number;
  skipped: number;
  status: RunOutcome;
}

/** The completed extraction run's finish time (part of the probe identity), or why it cannot be probed. */
async function completedExtraction(pool: pg.Pool, extractionRunId: number): Promise<{ finishedAt: Date } | { refusal: ProbeRunError }> {
  const extraction = await pool.query<{ id: number; status: string; finished_at: Date | null }>(
    'SELECT id, status, finished_at FROM extraction_run WHERE id = $1', [extractionRunId],
  );
  const extractionRun = extraction.rows[0];
  if (!extractionRun) return { refusal: new ProbeRunError('EXTRACTION_RUN_NOT_FOUND', `--run ${extractionRunId}: no extraction run with that id.`) };
  // Probing a run still being written (or failed half-way) would store results for a partial grid
  // under an identity that later looks up to date.
  if (extractionRun.status !== 'COMPLETED' || extractionRun.finished_at === null) {
    return { refusal: new ProbeRunError('EXTRACTION_RUN_NOT_COMPLETED',
      `--run ${extractionRunId}: extraction run ${extractionRunId} is ${extractionRun.status}, not COMPLETED; finish (re-run) the extraction before probing it.`) };
  }
  return { finishedAt: extractionRun.finished_at };
}

const cellUnits = (cells: readonly CellKey[]): PlanUnits<CellKey> => ({ units: cells, key: cellKeyString, stored: listFinishedCells });

/**
 * What is left of the probe run these options identify, without running it; null when the extraction
 * run is missing or not COMPLETED (no probe run can exist for it yet).
 */
export async function planProbe(pool: pg.Pool, options: Pick<ProbeRunOptions, 'extractionRunId' | 'norms' | 'settings'>): Promise<RunPlan<CellKey> | null> {
  const settings = normaliseSettings(options.settings ?? {});
  const extraction = await completedExtraction(pool, options.extractionRunId);
  if ('refusal' in extraction) return null;
  const datasetId = await resolveDataset(pool, options.norms);
  const cells = await listCells(pool, options.extractionRunId, settings);
  const settingsHash = probeSettingsHash(options.extractionRunId, extraction.finishedAt, datasetId, settings);
  return plan(pool, 'probe_run', { settingsHash }, cellUnits(cells));
}

/** Everything a probe run is, read and checked before any write: its inputs, its cells and its identity. */
export interface PreparedProbe {
  extractionRunId: number;
  datasetId: number;
  settings: ProbeSettings;
  norms: NormsData;
  cells: CellKey[];
  settingsHash: string;
  /** Names the run in the RUN_LOCKED message. */
  subject: string;
  /** Inserts the run's row (PENDING, planned_count = the cells), for findOrCreateRun. */
  create: () => Promise<unknown>;
}

/**
 * The completed-extraction check, the dataset, the norms (NO_CONCEPTS when too few for the folds), the
 * cells (NO_CELLS when none) and the settings hash; writes nothing.
 */
export async function prepareProbe(pool: pg.Pool, options: Pick<ProbeRunOptions, 'extractionRunId' | 'norms' | 'settings'>): Promise<PreparedProbe> {
  const settings = normaliseSettings(options.settings ?? {});
  const extraction = await completedExtraction(pool, options.extractionRunId);
  if ('refusal' in extraction) throw extraction.refusal;
  const datasetId = await resolveDataset(pool, options.norms);
  const norms = await loadNorms(pool, datasetId, settings);
  if (norms.conceptIds.length < 2 * settings.folds) {
    throw new ProbeRunError('NO_CONCEPTS', `Only ${norms.conceptIds.length} concepts of dataset ${datasetId} have complete ratings after the category filters; ${settings.folds}-fold CV needs at least ${2 * settings.folds}.`);
  }
  const cells = await listCells(pool, options.extractionRunId, settings);
  if (cells.length === 0) throw new ProbeRunError('NO_CELLS', `Extraction run ${options.extractionRunId} has no summaries matching the layer/timestep/pooling filters.`);
  const settingsHash = probeSettingsHash(options.extractionRunId, extraction.finishedAt, datasetId, settings);
  return {
    extractionRunId: options.extractionRunId, datasetId, settings, norms, cells, settingsHash,
    subject: `The probe run for extraction run ${options.extractionRunId} with these settings`,
    create: () => pool.query(
      `INSERT INTO probe_run (extraction_run_id, norms_dataset_id, settings_hash, method, settings, cv_scheme, planned_count) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [options.extractionRunId, datasetId, settingsHash, PROBE_METHOD, JSON.stringify(settings), describeCvScheme(settings), cells.length],
    ),
  };
}

/** What the run's norms give every cell: the folds over the run's whole concept list, and where each concept's ratings are. */
export interface FoldLayout {
  /** runFoldOf[row]: the outer fold of norms.conceptIds[row]. */
  runFoldOf: Int32Array;
  /** Concept id → its row of norms.ratings. */
  conceptRow: Map<number, number>;
  /** groups[g]: the attribute indices of norms.groups[g]. */
  groups: number[][];
}

/** Folds over the run's whole concept list: every cell sees the same split (paired cells), whichever process fits it. */
export function foldLayout(norms: NormsData, settings: ProbeSettings): FoldLayout {
  return {
    runFoldOf: assignFolds(norms.conceptIds.length, settings.folds, settings.seed),
    conceptRow: new Map(norms.conceptIds.map((id, row) => [id, row])),
    groups: norms.groups.map((g) => g.attributes),
  };
}

/** What probeCells fits with and where it writes. */
export interface ProbeCellsContext {
  run: ProbeRunTarget;
  extractionRunId: number;
  settings: ProbeSettings;
  norms: NormsData;
  layout: FoldLayout;
  backend: MatmulBackend;
  /** Checked before each cell: aborted, the loop throws INTERRUPTED (the cells before it are committed). */
  signal?: AbortSignal;
}

/** One cell's outcome, committed (or found written by another process: cellId null, result set). */
export interface CellOutcome {
  cell: CellKey;
  /** The new cell's id; null when skipped or when another process had written it. */
  cellId: number | null;
  result: CellResult | null;
  /** Why the cell was skipped (too few concepts), when it was. */
  skipped?: string;
  /** The read's seconds for a skipped cell, the whole cell's for a fitted one. */
  seconds: number;
  /** Seconds by stage (read, the fit's stages, beforeWrite) of a fitted cell. */
  timings?: Record<string, number>;
}

/**
 * The one cell loop: for each cell, read its summaries, fit (or record it skipped when too few concepts
 * have both summaries and ratings) and write it in its own transaction, then `onCell` (awaited;
 * throwing stops the loop). The signal is checked before each cell.
 */
export async function probeCells(
  context: ProbeCellsContext, cells: readonly CellKey[], onCell?: (outcome: CellOutcome) => void | Promise<void>,
): Promise<{ written: number; skipped: number }> {
  const { run, settings, norms, layout, backend } = context;
  const m = norms.attributeIds.length;
  let written = 0, skipped = 0;
  for (const cell of cells) {
    throwIfInterrupted(context.signal);
    const cellStarted = performance.now();
    const summaries = await readSummaryMatrix(run.pool, { runId: context.extractionRunId, ...cell, conceptIds: norms.conceptIds });
    const read = (performance.now() - cellStarted) / 1000;
    const n = summaries.conceptIds.length;
    let outcome: CellOutcome;
    if (n < 2 * settings.folds) {
      skipped++;
      const reason = `only ${n} concepts have both summaries and ratings (need ≥ ${2 * settings.folds})`;
      await recordSkippedCell(run, cellKeyString(cell), reason);
      outcome = { cell, cellId: null, result: null, skipped: reason, seconds: read };
    } else {
      const ratings = new Float64Array(n * m);
      const foldOf = new Int32Array(n);
      summaries.conceptIds.forEach((conceptId, i) => {
        const row = layout.conceptRow.get(conceptId)!;
        ratings.set(norms.ratings.subarray(row * m, (row + 1) * m), i * m);
        foldOf[i] = layout.runFoldOf[row]!;
      });
      const result = await probeCell({
        features: summaries.data, n, d: summaries.dim, ratings, attributes: m, groups: layout.groups, foldOf,
        alphas: settings.alphas, permutations: settings.permutations, bootstrap: settings.bootstrap, seed: settings.seed,
      }, backend);
      // Seconds per stage; the write itself is in the same transaction as this record, so it is not in it.
      const timings = { read, ...result.timings, beforeWrite: (performance.now() - cellStarted) / 1000 };
      const cellId = await writeCell(run, cell, norms, summaries.conceptIds, result, timings);
      if (cellId !== null) written++;
      outcome = { cell, cellId, result, seconds: (performance.now() - cellStarted) / 1000, timings };
    }
    await onCell?.(outcome);
  }
  return { written, skipped };
}

/** Needs a pool of at least 2 connections: one holds the run's advisory lock for the whole run. */
export async function runProbe(pool: pg.Pool, options: ProbeRunOptions, hooks: ProbeRunHooks = {}): Promise<ProbeRunSummary> {
  normaliseSettings(options.settings ?? {}); // bad settings are refused before the pool is
  if ((pool.options.max ?? 10) < 2) throw new ProbeRunError('BAD_ARGUMENT', `runProbe needs a pool of at least 2 connections (one holds the run's lock); got max ${pool.options.max}.`);
  const prepared = await prepareProbe(pool, options);
  const spec = { table: 'probe_run' as const, settingsHash: prepared.settingsHash, subject: prepared.subject, create: prepared.create, signal: options.signal };
  return openRun(pool, spec, (run) => runLocked(pool, options, hooks, prepared, run));
}

async function runLocked(pool: pg.Pool, options: ProbeRunOptions, hooks: ProbeRunHooks, prepared: PreparedProbe, run: ActiveRun): Promise<ProbeRunSummary> {
  const { settings, norms, cells } = prepared;
  const attributeCounts = { attributeCount: norms.attributeIds.length, excludedAttributeCount: norms.excludedAttributes.length };
  const { created } = run.stored;
  const left = await planFor(pool, run.stored, cellUnits(cells));
  const todo = left.left;
  const alreadyDone = left.done.length;
  if (left.complete) {
    hooks.onStart?.({ probeRunId: run.id, created, total: cells.length, alreadyDone, ...attributeCounts });
    return { probeRunId: run.id, created: false, total: cells.length, written: 0, alreadyDone, skipped: 0, status: 'NOTHING_TO_DO' };
  }

  let written = 0, skipped = 0, handled = 0;
  const started = performance.now();
  // From here on every failure marks the run FAILED, so it is never left RUNNING by a dead process path.
  await run.guard(async () => {
    await run.start({ total: cells.length });
    // What the selection left out is part of what the run is; recorded before any cell (idempotent).
    await recordExcludedAttributes(pool, run.id, norms.excludedAttributes);
    hooks.onStart?.({ probeRunId: run.id, created, total: cells.length, alreadyDone, ...attributeCounts });
    const backend = options.backend ?? (await createOnnxBackend());
    const context: ProbeCellsContext = {
      run, extractionRunId: options.extractionRunId, settings, norms, layout: foldLayout(norms, settings), backend, signal: options.signal,
    };
    await probeCells(context, todo, async (outcome) => {
      handled++;
      if (outcome.skipped !== undefined) skipped++;
      else if (outcome.cellId !== null) written++;
      const elapsed = (performance.now() - started) / 1000;
      const event: CellEvent = {
        probeRunId: run.id, cell: outcome.cell, cellId: outcome.cellId, done: alreadyDone + written + skipped, total: cells.length,
        seconds: outcome.seconds, etaSeconds: outcome.skipped !== undefined ? null : (elapsed / handled) * (todo.length - handled),
        result: outcome.result, ...(outcome.skipped !== undefined ? { skipped: outcome.skipped } : {}),
      };
      await hooks.onCell?.(event);
    });
    run.throwIfInterrupted();
    const runTimings = {
      lastSession: { seconds: (performance.now() - started) / 1000, cellsWritten: written, cellsSkipped: skipped, backend: backend.name },
      concepts: { withCompleteRatings: norms.conceptIds.length, droppedIncompleteRatings: norms.droppedIncomplete },
    };
    await inTransaction(pool, (client) => finishRun(client, run.id, runTimings));
  });
  return { probeRunId: run.id, created, total: cells.length, written, alreadyDone, skipped, status: 'COMPLETED' };
}

/** What `npm run probe -- --enqueue` plans: the run's row and the cells its jobs cover. */
export interface PlannedProbeRun {
  /** The run's row as found or created (PENDING when new). */
  run: StoredRun;
  settingsHash: string;
  extractionRunId: number;
  datasetId: number;
  settings: ProbeSettings;
  /** Every cell of the run, in runProbe's order. */
  cells: CellKey[];
  /** Cells already stored (written or recorded skipped). */
  alreadyDone: number;
  /** The run is COMPLETED with every cell stored: nothing to queue. */
  complete: boolean;
  attributeCount: number;
  excludedAttributeCount: number;
}

/**
 * Plans the probe run these options identify for the job queue, without fitting anything: the same
 * checks and settings hash as runProbe, the run's row found or created (PENDING, planned_count = the
 * cells), its excluded attributes and concept counts recorded (what runProbe records at its start and
 * end; the queue's completion records no session). Holds the run's advisory lock SHARED while it plans,
 * as workers running its jobs do, so it refuses (RUN_LOCKED) only while an in-process runProbe holds the
 * run. Needs a pool of at least 2 connections.
 */
export async function planProbeRun(pool: pg.Pool, options: Pick<ProbeRunOptions, 'extractionRunId' | 'norms' | 'settings'>): Promise<PlannedProbeRun> {
  if ((pool.options.max ?? 10) < 2) throw new ProbeRunError('BAD_ARGUMENT', `planProbeRun needs a pool of at least 2 connections (one holds the run's lock); got max ${pool.options.max}.`);
  const prepared = await prepareProbe(pool, options);
  const { norms, cells } = prepared;
  return withRunLock(pool, prepared.settingsHash, prepared.subject, async () => {
    const run = await findOrCreateRun(pool, 'probe_run', prepared.settingsHash, prepared.create);
    await recordExcludedAttributes(pool, run.id, norms.excludedAttributes);
    await pool.query(`UPDATE probe_run SET timings = timings || $2::jsonb WHERE id = $1`, [
      run.id, JSON.stringify({ concepts: { withCompleteRatings: norms.conceptIds.length, droppedIncompleteRatings: norms.droppedIncomplete } }),
    ]);
    const left = await planFor(pool, run, cellUnits(cells));
    return {
      run, settingsHash: prepared.settingsHash, extractionRunId: prepared.extractionRunId, datasetId: prepared.datasetId,
      settings: prepared.settings, cells, alreadyDone: left.done.length, complete: left.complete,
      attributeCount: norms.attributeIds.length, excludedAttributeCount: norms.excludedAttributes.length,
    };
  }, 'shared');
}
