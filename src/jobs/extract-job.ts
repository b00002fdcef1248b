// The EXTRACT kind of the job queue: a job is a slice of one extraction run's concepts, run by a worker
// through the same loop as the in-process run (src/extraction/run.ts, extractConcepts), so the summaries
// a set of workers stores are the ones `npm run extract` would have stored. A worker keeps its ONNX
// sessions between jobs (opening them is the expensive part), one job at a time per pipeline, and checks
// before writing anything that its bundle and device give the identity the run was planned with (a run
// keyed by cuda must not get cpu vectors). Delivery is at least once: concepts already stored are
// skipped, a concept two deliveries race for is written once (the summaries' unique key), and done_count
// is recounted from the stored concepts under the run row's lock in each concept's transaction, so it
// stays exact with any number of concurrent writers. The handler never moves the run's status (the
// queue core does); `complete` marks it COMPLETED when the last job is done.
import type pg from 'pg';
import { loadBundle } from '../bundles/bundle.ts';
import { DigestCache } from '../bundles/file-digest.ts';
import type { Device } from '../bundles/sessions.ts';
import type { TapConfig } from '../bundles/taps.ts';
import { extractionIdentity } from '../extraction/identity.ts';
import { Pipeline, type ExtractionSettings } from '../extraction/pipeline.ts';
import {
  emptyRunTimings, ensureModel, extractConcepts, storedConcepts, storedTimings, type ExtractionConcept, type PlannedExtractionRun,
} from '../extraction/run.ts';
import { identityHash } from '../identity.ts';
import { recordProgress } from '../runs/progress.ts';
import { moveRun } from '../runs/status.ts';
import type { RunStatus } from '../runs/store.ts';
import { JobError } from './errors.ts';
import type { JobContext, JobHandler, JobOutcome, JobRow } from './types.ts';

/** An EXTRACT job's spec, as `npm run extract -- --enqueue` plans it (extractJobSpec). JSON only. */
export interface ExtractJobSpec {
  [key: string]: unknown;
  /** The bundle folder, absolute: every worker must see the same bundle there. */
  bundleDir: string;
  /** The planned bundle's identity (named when a worker's differs). */
  bundleIdentity: string;
  /** The norms dataset the concepts come from. */
  datasetId: number;
  /** The run's full normalized settings. */
  settings: ExtractionSettings;
  taps?: TapConfig;
  /** Concepts per UNet call. */
  batch: number;
  /** The device the run was planned for; only workers of that device take the job (taskFor). */
  device: Device;
  /** The run's identity: what the worker's pipeline must hash to. */
  settingsHash: string;
  /** The job's concepts, in the run's order. */
  units: ExtractionConcept[];
}

/** The spec of a job of `plan` covering `units` (the `spec` callback of enqueue). */
export function extractJobSpec(plan: PlannedExtractionRun, units: ExtractionConcept[]): ExtractJobSpec {
  return {
    bundleDir: plan.bundleDir,
    bundleIdentity: plan.bundleIdentity,
    datasetId: plan.dataset.id,
    settings: plan.settings,
    ...(plan.taps === undefined ? {} : { taps: plan.taps }),
    batch: plan.batch,
    device: plan.device,
    settingsHash: plan.settingsHash,
    units: units.map(({ id, word }) => ({ id, word })),
  };
}

/** A spec read back from the job row: the fields the handler relies on are there, else BAD_JOB naming the field. */
function checkSpec(job: JobRow<ExtractJobSpec>): ExtractJobSpec {
  const spec = job.spec as Partial<ExtractJobSpec> | null;
  const where = `EXTRACT job ${job.id} (extraction run ${job.runId})`;
  if (spec === null || typeof spec !== 'object') throw new JobError('BAD_JOB', `${where}: its spec is not an object.`);
  const bad = (field: string) => new JobError('BAD_JOB', `${where}: its spec has no valid "${field}"; plan the run again with npm run extract -- --enqueue.`);
  for (const field of ['bundleDir', 'bundleIdentity', 'settingsHash', 'device'] as const) if (typeof spec[field] !== 'string') throw bad(field);
  if (typeof spec.batch !== 'number') throw bad('batch');
  if (spec.settings === null || typeof spec.settings !== 'object') throw bad('settings');
  if (!Array.isArray(spec.units) || !spec.units.every((u) => Number.isInteger(u?.id) && typeof u?.word === 'string')) throw bad('units');
  return spec as ExtractJobSpec;
}

/**
 * done_count of run `runId` = the concepts it has stored, on `client` in the concept's transaction. The run
 * row is locked first (FOR NO KEY UPDATE: the summaries' foreign-key locks do not conflict with it), so
 * concurrent writers take turns and each count, a new statement after the previous writer's commit, sees
 * every committed concept: no lost update.
 */
export async function recordStoredConcepts(client: pg.PoolClient, runId: number): Promise<number> {
  await client.query('SELECT 1 FROM extraction_run WHERE id = $1 FOR NO KEY UPDATE', [runId]);
  const done = await countStoredConcepts(client, runId);
  await recordProgress(client, 'extraction_run', runId, done);
  return done;
}

async function countStoredConcepts(db: pg.PoolClient | pg.Pool, runId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(DISTINCT concept_id)::int AS n FROM activation_summary WHERE run_id = $1', [runId]);
  return rows[0]!.n;
}

interface CachedPipeline {
  key: string;
  pipeline: Pipeline;
  /** The identity hash of this pipeline (its bundle, the spec's settings and taps, the device it opened on). */
  hash: string;
  busy: boolean;
  /** The cache's generation when it was opened; release() starts a new one. */
  generation: number;
  /** Released when its job gives it back (release() was called while it was busy or opening). */
  doomed: boolean;
}

/** A handler with its own pipeline cache (the worker uses `extractJobHandler`; tests make their own). */
export function createExtractJobHandler(): JobHandler<ExtractJobSpec> {
  // Pipelines by bundle folder + settings hash + device; a job takes an idle one or opens another (and
  // releases the idle ones of other runs first).
  const cache = new Map<string, CachedPipeline[]>();
  let generation = 0;

  const open = async (key: string, spec: ExtractJobSpec, context: JobContext): Promise<CachedPipeline> => {
    const openedIn = generation;
    // Weight hashes are remembered beside the tap cache, so multi-GB files are read once per version.
    const digests = DigestCache.inFolder(context.cacheDir);
    const bundle = loadBundle(spec.bundleDir, { digests });
    const pipeline = await Pipeline.open({ bundle, settings: spec.settings, device: context.device, cacheDir: context.cacheDir, taps: spec.taps, threads: context.threads, digests, batch: spec.batch });
    for (const warning of pipeline.warnings) context.log.warn(warning, { bundleDir: spec.bundleDir });
    const hash = identityHash(extractionIdentity({ bundle, settings: spec.settings, taps: pipeline.tapSummary(), device: pipeline.device }));
    return { key, pipeline, hash, busy: true, generation: openedIn, doomed: false };
  };

  /** An idle cached pipeline for the job, else a new one, checked against the run's identity before anything is written. */
  const acquire = async (job: JobRow<ExtractJobSpec>, spec: ExtractJobSpec, context: JobContext): Promise<CachedPipeline> => {
    const key = JSON.stringify([spec.bundleDir, spec.settingsHash, context.device]);
    const idle = cache.get(key)?.find((entry) => !entry.busy);
    if (idle) {
      idle.busy = true;
      return idle;
    }
    // Sessions of another run that nothing uses now are released first: a worker that serves many runs
    // keeps the sessions of the runs in flight, not of every run it has served (GPU memory).
    for (const [otherKey, entries] of cache) {
      if (otherKey === key) continue;
      const idleOthers = entries.filter((other) => !other.busy);
      if (idleOthers.length === 0) continue;
      const left = entries.filter((other) => other.busy);
      if (left.length) cache.set(otherKey, left);
      else cache.delete(otherKey);
      for (const other of idleOthers) await other.pipeline.release().catch((error: unknown) => context.log.warn(`releasing an idle pipeline: ${error instanceof Error ? error.message : String(error)}`));
    }
    const entry = await open(key, spec, context);
    if (entry.hash !== spec.settingsHash) {
      await entry.pipeline.release().catch(() => {});
      const bundle = entry.pipeline.bundle;
      throw new JobError('WORKER_MISMATCH',
        `EXTRACT job ${job.id} (extraction run ${job.runId}) was planned for the bundle at ${spec.bundleDir} with identity ${spec.bundleIdentity.slice(0, 12)}… on device ${spec.device} ` +
        `(settings hash ${spec.settingsHash.slice(0, 12)}…), but this worker's bundle there has identity ${bundle.identity.slice(0, 12)}… and its sessions run on ${entry.pipeline.device} ` +
        `(settings hash ${entry.hash.slice(0, 12)}…)${entry.pipeline.warnings.length ? ` — ${entry.pipeline.warnings.join(' ')}` : ''}. ` +
        `Run it on a worker with --device ${spec.device} and the planned bundle, or plan the run again.`);
    }
    // Opened across a release(): it serves this job and is released after it.
    if (entry.generation !== generation) entry.doomed = true;
    else cache.set(key, [...(cache.get(key) ?? []), entry]);
    return entry;
  };

  const giveBack = async (entry: CachedPipeline): Promise<void> => {
    entry.busy = false;
    if (entry.doomed) await entry.pipeline.release();
  };

  return {
    kind: 'EXTRACT',

    async run(job: JobRow<ExtractJobSpec>, context: JobContext): Promise<JobOutcome> {
      const wallStart = performance.now();
      const spec = checkSpec(job);
      const ids = spec.units.map((u) => u.id);
      const stored = await storedConcepts(context.pool, job.runId, ids);
      const todo = spec.units.filter((u) => !stored.has(String(u.id)));
      if (todo.length === 0) return { unitsDone: spec.units.length, rowsWritten: 0, timings: {} };
      const entry = await acquire(job, spec, context);
      try {
        const { pipeline } = entry;
        context.onExecutionProvider?.(pipeline.device);
        const { componentIds } = await ensureModel(context.pool, pipeline.bundle);
        const timings = emptyRunTimings();
        const progress = await extractConcepts({
          pool: context.pool, runId: job.runId, pipeline, componentIds, timings,
          interrupted: () => context.signal.aborted,
          recordProgress: (client) => recordStoredConcepts(client, job.runId),
          // A concept another delivery of this job stored first (0 rows) is not this job's unit.
          onConcept: async ({ rows }) => {
            if (rows > 0) await context.onUnit(rows);
          },
        }, todo);
        timings.wall = (performance.now() - wallStart) / 1000;
        const unitsDone = (await storedConcepts(context.pool, job.runId, ids)).size;
        return { unitsDone, rowsWritten: progress.rowsWritten, timings: storedTimings(timings) };
      } finally {
        await giveBack(entry);
      }
    },

    async complete(client: pg.PoolClient, runId: number): Promise<void> {
      const { rows } = await client.query<{ status: RunStatus }>('SELECT status FROM extraction_run WHERE id = $1', [runId]);
      if (!rows[0]) throw new JobError('RUN_NOT_FOUND', `Extraction run ${runId} does not exist.`);
      // The run's timings: the DONE jobs' timings summed key by key (seconds of work over all workers).
      const jobs = await client.query<{ timings: Record<string, unknown> }>(`SELECT timings FROM job WHERE extraction_run_id = $1 AND status = 'DONE'`, [runId]);
      const summed: Record<string, number> = {};
      for (const { timings } of jobs.rows) {
        for (const [key, value] of Object.entries(timings ?? {})) if (typeof value === 'number' && Number.isFinite(value)) summed[key] = (summed[key] ?? 0) + value;
      }
      const doneCount = await countStoredConcepts(client, runId);
      await moveRun(client, 'extraction_run', runId, rows[0].status, 'COMPLETED', { doneCount, timings: { merge: storedTimings(summed) } });
    },

    async release(): Promise<void> {
      // Idle pipelines now; busy ones when their job gives them back. The handler stays usable (a new worker in this process opens new ones).
      generation += 1;
      const entries = [...cache.values()].flat();
      cache.clear();
      const failures: unknown[] = [];
      for (const entry of entries) {
        if (entry.busy) entry.doomed = true;
        else await entry.pipeline.release().catch((error: unknown) => failures.push(error));
      }
      if (failures.length) throw new AggregateError(failures, `${failures.length} extraction pipeline(s) failed to release`);
    },
  };
}

/** The EXTRACT handler of the worker process (src/jobs/handlers.ts). */
export const extractJobHandler: JobHandler<ExtractJobSpec> = createExtractJobHandler();
