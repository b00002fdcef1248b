// A probe run: for every cell (layer × timestep × pooling) of an extraction run, fit the cross-
// validated ridge probes against a norms dataset and store the results. The run's identity is the
// hash of (extraction run, dataset, settings): running the same command again finds the run and
// skips the cells already written, so a killed sweep resumes where it stopped. The extraction run's
// finished_at is part of that identity, and only COMPLETED extraction runs are probed. Cells are read,
// fitted and written one at a time, so memory does not grow with the size of the grid.
import type pg from 'pg';
import { readSummaryMatrix } from '../db/summaries.ts';
import { probeCell, type CellResult } from '../probes/cell.ts';
import { assignFolds } from '../probes/folds.ts';
import { createOnnxBackend, type MatmulBackend } from '../probes/matmul-backend.ts';
import { openRun, type ActiveRun } from '../runs/lifecycle.ts';
import { plan, planFor, type PlanUnits, type RunPlan } from '../runs/plan.ts';
import type { RunOutcome } from '../runs/status.ts';
import { ProbeRunError } from './errors.ts';
import { cellKeyString, listCells, listFinishedCells, loadNorms, resolveDataset, type CellKey, type NormsData } from './load.ts';
import { PROBE_METHOD, describeCvScheme, normaliseSettings, probeSettingsHash, type ProbeSettings } from './settings.ts';
import { finishRun, recordSkippedCell, writeCell } from './write.ts';
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

/** Needs a pool of at least 2 connections: one holds the run's advisory lock for the whole run. */
export async function runProbe(pool: pg.Pool, options: ProbeRunOptions, hooks: ProbeRunHooks = {}): Promise<ProbeRunSummary> {
  const settings = normaliseSettings(options.settings ?? {});
  if ((pool.options.max ?? 10) < 2) throw new ProbeRunError('BAD_ARGUMENT', `runProbe needs a pool of at least 2 connections (one holds the run's lock); got max ${pool.options.max}.`);
  const extraction = await completedExtraction(pool, options.extractionRunId);
  if ('refusal' in extraction) throw extraction.refusal;
  const datasetId = await resolveDataset(pool, options.norms);
  const norms = await loadNorms(pool, datasetId, settings);
  if (norms.conceptIds.length < 2 * settings.folds) {
    throw new ProbeRunError('NO_CONCEPTS', `Only ${norms.conceptIds.length} concepts of dataset ${datasetId} have complete ratings after the category filters; ${settings.folds}-fold CV needs at least ${2 * settings.folds}.`);
  }
  const cells = await listCells(pool, options.extractionRunId, settings);
  if (cells.length === 0) throw new ProbeRunError('NO_CELLS', `Extraction run ${options.extractionRunId} has no summaries matching the layer/timestep/pooling filters.`);
  const hash = probeSettingsHash(options.extractionRunId, extraction.finishedAt, datasetId, settings);
  const spec = {
    table: 'probe_run' as const,
    settingsHash: hash,
    subject: `The probe run for extraction run ${options.extractionRunId} with these settings`,
    create: () => pool.query(
      `INSERT INTO probe_run (extraction_run_id, norms_dataset_id, settings_hash, method, settings, cv_scheme, planned_count) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [options.extractionRunId, datasetId, hash, PROBE_METHOD, JSON.stringify(settings), describeCvScheme(settings), cells.length],
    ),
    signal: options.signal,
  };
  return openRun(pool, spec, (run) => runLocked(pool, options, hooks, { settings, norms, cells, run }));
}

interface Prepared {
  settings: ProbeSettings;
  norms: NormsData;
  cells: CellKey[];
  run: ActiveRun;
}

async function runLocked(pool: pg.Pool, options: ProbeRunOptions, hooks: ProbeRunHooks, prepared: Prepared): Promise<ProbeRunSummary> {
  const { settings, norms, cells, run } = prepared;
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
    // Folds over the run's whole concept list: every cell sees the same split (paired cells).
    const runFoldOf = assignFolds(norms.conceptIds.length, settings.folds, settings.seed);
    const conceptRow = new Map(norms.conceptIds.map((id, row) => [id, row]));
    const m = norms.attributeIds.length;
    const groups = norms.groups.map((g) => g.attributes);
    for (const cell of todo) {
      run.throwIfInterrupted();
      const cellStarted = performance.now();
      handled++;
      const summaries = await readSummaryMatrix(pool, { runId: options.extractionRunId, ...cell, conceptIds: norms.conceptIds });
      const read = (performance.now() - cellStarted) / 1000;
      const n = summaries.conceptIds.length;
      let event: CellEvent;
      if (n < 2 * settings.folds) {
        skipped++;
        const reason = `only ${n} concepts have both summaries and ratings (need ≥ ${2 * settings.folds})`;
        await recordSkippedCell(run, cellKeyString(cell), reason);
        event = {
          probeRunId: run.id, cell, cellId: null, done: alreadyDone + written + skipped, total: cells.length, seconds: read, etaSeconds: null, result: null,
          skipped: reason,
        };
      } else {
        const ratings = new Float64Array(n * m);
        const foldOf = new Int32Array(n);
        summaries.conceptIds.forEach((conceptId, i) => {
          const row = conceptRow.get(conceptId)!;
          ratings.set(norms.ratings.subarray(row * m, (row + 1) * m), i * m);
          foldOf[i] = runFoldOf[row]!;
        });
        const result = await probeCell({
          features: summaries.data, n, d: summaries.dim, ratings, attributes: m, groups, foldOf,
          alphas: settings.alphas, permutations: settings.permutations, bootstrap: settings.bootstrap, seed: settings.seed,
        }, backend);
        // Seconds per stage; the write itself is in the same transaction as this record, so it is not in it.
        const timings = { read, ...result.timings, beforeWrite: (performance.now() - cellStarted) / 1000 };
        const cellId = await writeCell(run, cell, norms, summaries.conceptIds, result, timings);
        if (cellId !== null) written++;
        const seconds = (performance.now() - cellStarted) / 1000;
        const elapsed = (performance.now() - started) / 1000;
        event = {
          probeRunId: run.id, cell, cellId, done: alreadyDone + written + skipped, total: cells.length, seconds,
          etaSeconds: (elapsed / handled) * (todo.length - handled), result,
        };
      }
      await hooks.onCell?.(event);
    }
    run.throwIfInterrupted();
    await finishRun(run, {
      lastSession: { seconds: (performance.now() - started) / 1000, cellsWritten: written, cellsSkipped: skipped, backend: backend.name },
      concepts: { withCompleteRatings: norms.conceptIds.length, droppedIncompleteRatings: norms.droppedIncomplete },
    });
  });
  return { probeRunId: run.id, created, total: cells.length, written, alreadyDone, skipped, status: 'COMPLETED' };
}
