// The PROBE kind of the job queue: a job is a set of one probe run's cells, fitted by a worker with
// the same preparation and cell loop as the in-process run (src/probe-runs/run.ts, probeCells), so
// the cells a set of workers store are the ones `npm run probe` would have stored, bit for bit: the
// folds are assigned over the run's whole concept list in every process (paired cells need the same
// split). Each cell commits in its own transaction; cells already stored are skipped, and a cell two
// deliveries of a job race for is written once (its unique key). The handler never moves the run's
// status (the queue core does); it writes cells and done_count, and `complete` does the run-wide work
// (BH q-values, COMPLETED) when the last job is done.
import type pg from 'pg';
import { CodedError } from '../errors.ts';
import { cellKeyString, listFinishedCells, loadNorms, type CellKey, type NormsData } from '../probe-runs/load.ts';
import { foldLayout, probeCells, type FoldLayout } from '../probe-runs/run.ts';
import { normaliseSettings, probeSettingsHash, type ProbeSettings } from '../probe-runs/settings.ts';
import { finishRun } from '../probe-runs/write.ts';
import { createOnnxBackend, type MatmulBackend } from '../probes/matmul-backend.ts';
import { throwIfInterrupted } from '../runs/interrupt.ts';
import type { JobContext, JobHandler, JobOutcome, JobRow } from './types.ts';

/** A PROBE job's spec, as planned by `npm run probe -- --enqueue` (scripts/probe.ts). JSON only. */
export interface ProbeJobSpec {
  [key: string]: unknown;
  probeRunId: number;
  extractionRunId: number;
  datasetId: number;
  /** The run's normalised settings (normaliseSettings), as hashed into its identity. */
  settings: ProbeSettings;
  /** The job's cells, in the run's order. */
  units: CellKey[];
}

export type ProbeJobErrorCode = 'PROBE_JOB_MISMATCH';

/** A job whose spec no longer describes its run (the run was deleted, or its extraction re-run since it was planned). */
export class ProbeJobError extends CodedError<ProbeJobErrorCode> {
  constructor(code: ProbeJobErrorCode, message: string, options?: ErrorOptions) {
    super(code, 'failed', message, options);
  }
}

interface LoadedRun {
  norms: NormsData;
  layout: FoldLayout;
}

/**
 * Norms and folds per probe run, kept between the jobs of a run; a few runs at most (a worker moves
 * on). Keyed by the whole spec but its units, so a job whose spec differs is checked, never served
 * another's norms.
 */
const RUNS_KEPT = 4;
const loadedRuns = new Map<string, { probeRunId: number; loading: Promise<LoadedRun> }>();
let backendPromise: Promise<MatmulBackend> | undefined;

/**
 * The run's norms, loaded once per process, after checking that the spec still is the run's identity:
 * the run's row has the settings hash of (extraction run and its finished_at, dataset, settings).
 */
function loadRun(pool: pg.Pool, spec: ProbeJobSpec, settings: ProbeSettings): Promise<LoadedRun> {
  const key = JSON.stringify([spec.probeRunId, spec.extractionRunId, spec.datasetId, settings]);
  const cached = loadedRuns.get(key);
  if (cached) {
    // Most recently used last.
    loadedRuns.delete(key);
    loadedRuns.set(key, cached);
    return cached.loading;
  }
  const loading = (async () => {
    const { rows } = await pool.query<{ settings_hash: string; finished_at: Date | null }>(
      `SELECT p.settings_hash, e.finished_at FROM probe_run p JOIN extraction_run e ON e.id = p.extraction_run_id
       WHERE p.id = $1 AND p.extraction_run_id = $2 AND p.norms_dataset_id = $3`,
      [spec.probeRunId, spec.extractionRunId, spec.datasetId],
    );
    const row = rows[0];
    if (!row || row.finished_at === null || row.settings_hash !== probeSettingsHash(spec.extractionRunId, row.finished_at, spec.datasetId, settings)) {
      throw new ProbeJobError('PROBE_JOB_MISMATCH',
        `PROBE job of probe run ${spec.probeRunId}: the run ${row ? 'no longer has the identity of' : 'does not exist for'} extraction run ${spec.extractionRunId} and dataset ${spec.datasetId} with the job's settings (deleted, or the extraction was re-run since the job was planned); plan it again with npm run probe -- --enqueue.`);
    }
    const norms = await loadNorms(pool, spec.datasetId, settings);
    return { norms, layout: foldLayout(norms, settings) };
  })();
  loadedRuns.set(key, { probeRunId: spec.probeRunId, loading });
  // A failed load is not kept: the next attempt reads again.
  loading.catch(() => {
    if (loadedRuns.get(key)?.loading === loading) loadedRuns.delete(key);
  });
  while (loadedRuns.size > RUNS_KEPT) loadedRuns.delete(loadedRuns.keys().next().value!);
  return loading;
}

/** One ONNX Runtime backend per process (its sessions are reused by every job). */
function backend(threads: number | undefined): Promise<MatmulBackend> {
  if (backendPromise === undefined) {
    const creating = createOnnxBackend(threads === undefined ? {} : { intraOpThreads: threads });
    // A failed creation is not kept: the next job tries again.
    creating.catch(() => {
      if (backendPromise === creating) backendPromise = undefined;
    });
    backendPromise = creating;
  }
  return backendPromise;
}

async function run(job: JobRow<ProbeJobSpec>, context: JobContext): Promise<JobOutcome> {
  const started = performance.now();
  const spec = job.spec;
  if (spec.probeRunId !== job.runId) {
    throw new ProbeJobError('PROBE_JOB_MISMATCH', `PROBE job ${job.id}: its spec names probe run ${spec.probeRunId}, its row run ${job.runId}.`);
  }
  throwIfInterrupted(context.signal);
  const settings = normaliseSettings(spec.settings);
  const loaded = await loadRun(context.pool, spec, settings);
  const load = (performance.now() - started) / 1000;
  const finished = await listFinishedCells(context.pool, spec.probeRunId);
  const todo = spec.units.filter((cell) => !finished.has(cellKeyString(cell)));
  const stages: Record<string, number> = { load };
  let rowsWritten = 0, raced = 0;
  const { written, skipped } = await probeCells({
    run: { pool: context.pool, id: spec.probeRunId }, extractionRunId: spec.extractionRunId, settings,
    norms: loaded.norms, layout: loaded.layout, backend: await backend(context.threads), signal: context.signal,
  }, todo, async (outcome) => {
    for (const [stage, seconds] of Object.entries(outcome.timings ?? { read: outcome.seconds })) stages[stage] = (stages[stage] ?? 0) + seconds;
    if (outcome.skipped !== undefined) await context.onUnit(0);
    else if (outcome.cellId !== null) {
      rowsWritten++;
      await context.onUnit(1);
    } else raced++; // another delivery of this job wrote it first: stored, not by us
  });
  stages.total = (performance.now() - started) / 1000;
  return {
    unitsDone: spec.units.length - todo.length + written + skipped + raced,
    rowsWritten,
    timings: Object.fromEntries(Object.entries(stages).map(([stage, seconds]) => [stage, Math.round(seconds * 1000) / 1000])),
  };
}

/** The PROBE kind's handler (src/jobs/types.ts). */
export const probeJobHandler: JobHandler<ProbeJobSpec> = {
  kind: 'PROBE',
  run,
  /** The run-wide Benjamini–Hochberg q-values, done_count and COMPLETED, on the core's transaction. */
  async complete(client, runId) {
    await finishRun(client, runId);
    for (const [key, entry] of loadedRuns) if (entry.probeRunId === runId) loadedRuns.delete(key);
  },
  /**
   * Forgets the loaded norms and the backend. ONNX Runtime's product sessions are cached by
   * src/probes/matmul-backend.ts for the process (no close); the outer-fold worker threads are
   * closeFoldPool()'s, which the worker calls at exit.
   */
  async release() {
    loadedRuns.clear();
    backendPromise = undefined;
  },
};
