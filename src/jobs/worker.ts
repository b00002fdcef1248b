// A worker process (`npm run worker`): registers itself in `worker`, takes jobs of its kinds (and, for
// extraction, of its device) from graphile-worker, runs each through its kind's handler and records
// the outcome (store.ts). Its heartbeat keeps `worker.last_seen_at` fresh; a worker whose heartbeat is
// older than the visibility timeout is lost (SIGKILL, a dead machine, a cut network): any live worker
// then force-unlocks its queue entries (graphile-worker's forceUnlockWorkers) and puts its jobs back to
// QUEUED, so another worker runs them — graphile-worker alone would wait 4 hours. The same heartbeat
// notices jobs cancelled through the API and aborts them.
//
// Stopping (SIGTERM, stop()): no new job is taken; the jobs in flight are aborted, stop after the unit
// in flight (committed units are kept) and go back to the queue with the attempt they used given
// back, so a graceful stop never counts towards a job's bounded retries. PostgreSQL going away is
// survived: graphile-worker reconnects, the heartbeat logs and retries, a job that failed on the
// outage is retried (it is idempotent).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { run, type Runner, type Task, type TaskList, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import type { Device } from '../bundles/sessions.ts';
import { connectDatabase, type Database } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { isInterrupted, RunError } from '../runs/errors.ts';
import { storedError } from '../runs/interrupt.ts';
import { withRunLock } from '../runs/lock.ts';
import { addQueueEntries, QUEUE_SCHEMA, queueLogger, queueUtils, taskFor } from './queue.ts';
import { claimJob, failJob, finishJob, jobStatus, recordUnit, requeueWorkerJobs } from './store.ts';
import type { JobHandler, JobKind, JobRow } from './types.ts';

export interface WorkerOptions {
  databaseUrl: string;
  device: Device;
  concurrency: number;
  kinds: readonly JobKind[];
  handlers: readonly JobHandler[];
  cacheDir: string;
  threads?: number;
  log: Logger;
  /** A worker not seen for this long is lost and its jobs are given to others (default 60 s). */
  visibilityTimeoutMs?: number;
  /** How often the heartbeat runs (default a sixth of the visibility timeout). */
  heartbeatMs?: number;
  /** graphile-worker's poll interval for retries scheduled in the future (new jobs arrive by LISTEN). */
  pollIntervalMs?: number;
  /** Called with each job's start and end (the CLI logs them). */
  onJob?: (event: WorkerJobEvent) => void;
}

export interface WorkerJobEvent {
  event: 'job-start' | 'job-done' | 'job-failed' | 'job-released' | 'job-cancelled' | 'job-skipped' | 'workers-lost';
  jobId?: number;
  kind?: JobKind;
  runId?: number;
  position?: number;
  attempt?: number;
  units?: number;
  rows?: number;
  seconds?: number;
  error?: string;
  final?: boolean;
  workers?: string[];
}

export interface RunningWorker {
  id: string;
  /** Resolves when the worker has stopped (after stop(), or when its runner ended by itself). */
  done: Promise<void>;
  /** Stops gracefully: jobs in flight stop after their unit and go back to the queue. Idempotent. */
  stop(reason?: string): Promise<void>;
}

export const DEFAULT_VISIBILITY_TIMEOUT_MS = 60_000;
/** How long a job's outcome is retried through a database outage before it is given up (logged). */
const OUTCOME_RETRY_MS = 5 * 60_000;
/** When a job whose run an in-process run holds (RUN_LOCKED) is due again. */
const LOCKED_RETRY_SECONDS = 30;

interface InFlight {
  job: JobRow;
  controller: AbortController;
  queueJobId: string;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { log, device, concurrency } = options;
  const visibilityMs = options.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS;
  const heartbeatMs = options.heartbeatMs ?? Math.max(250, Math.floor(visibilityMs / 6));
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const emit = options.onJob ?? (() => {});
  const handlers = new Map(options.handlers.map((h) => [h.kind, h]));
  for (const kind of options.kinds) if (!handlers.has(kind)) throw new TypeError(`startWorker: no handler for job kind ${kind}.`);

  // Per slot: the run's shared lock, the handler's unit transaction and its overlapping write, the core's
  // progress; plus the heartbeat.
  const db: Database = connectDatabase(options.databaseUrl, {
    maxConnections: 2 + 4 * concurrency,
    onConnectionError: (error) => log.warn(`worker ${id}: database connection lost: ${error.message} (the pool replaces it)`),
  });
  const pool = db.pool;
  // One WorkerUtils, made on first use (the promise is kept, so two callers at once share it).
  let utilsPromise: Promise<WorkerUtils> | undefined;
  const utils = () => (utilsPromise ??= queueUtils(options.databaseUrl));
  await pool.query(
    `INSERT INTO worker (id, host, pid, device, kinds, concurrency, queue_worker_ids) VALUES ($1, $2, $3, $4, $5::"JobKind"[], $6, '{}')`,
    [id, hostname(), process.pid, device, options.kinds, concurrency],
  );

  const inFlight = new Map<number, InFlight>();
  /** Queue entries of jobs released by this stop, with the attempt each used (given back after the runner stops). */
  const released: { queueJobId: string; attempts: number }[] = [];
  let stopping = false;
  let executionProvider: string | null = null;

  /**
   * A job's outcome must reach its row, or the job stays RUNNING under a live worker and its run never
   * settles (the queue may already count the attempt): retried through an outage, every 1–5 s, for as
   * long as OUTCOME_RETRY_MS; then logged, and the sweep of a later worker or a retry mends it.
   */
  const untilCommitted = async (what: string, write: () => Promise<unknown>): Promise<void> => {
    const deadline = Date.now() + OUTCOME_RETRY_MS;
    for (let delay = 1_000; ; delay = Math.min(5_000, delay * 2)) {
      try {
        await write();
        return;
      } catch (error) {
        if (Date.now() + delay > deadline) {
          log.error(`${what} failed for good: ${storedError(error)}`, { workerId: id });
          return;
        }
        log.warn(`${what} failed: ${storedError(error)} (retrying in ${delay / 1000} s)`, { workerId: id });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  const taskOf = (handler: JobHandler): Task => async (payload, helpers) => {
    const jobId = Number((payload as { jobId?: unknown } | null)?.jobId);
    if (!Number.isInteger(jobId)) throw new Error(`queue entry ${helpers.job.id}: payload ${JSON.stringify(payload)} names no job id.`);
    if (stopping) {
      // Picked up in the instant before the stop: back to the queue, its attempt given back.
      released.push({ queueJobId: helpers.job.id, attempts: helpers.job.attempts - 1 });
      throw new Error('the worker is stopping');
    }
    const job = await claimJob(pool, jobId, id, helpers.job.attempts);
    if (!job) {
      emit({ event: 'job-skipped', jobId });
      return; // DONE, FAILED or CANCELLED meanwhile: the entry is simply completed
    }
    const controller = new AbortController();
    const abort = () => controller.abort();
    helpers.abortSignal.addEventListener('abort', abort);
    inFlight.set(jobId, { job, controller, queueJobId: helpers.job.id });
    const started = performance.now();
    const base = { jobId, kind: job.kind, runId: job.runId, position: job.position, attempt: job.attempt };
    emit({ event: 'job-start', ...base, units: job.unitCount });
    try {
      // Shared with the run's other workers, exclusive of an in-process run of it (src/runs/lock.ts): that
      // one gets RUN_LOCKED, and this job, started while one runs, fails with it and is retried later.
      const outcome = await withRunLock(pool, job.settingsHash, `${job.kind === 'EXTRACT' ? 'Extraction' : 'Probe'} run ${job.runId}`, () => handler.run(job, {
        pool, signal: controller.signal, device, cacheDir: options.cacheDir, threads: options.threads, log,
        onUnit: (rows) => recordUnit(pool, jobId, rows),
        onExecutionProvider: (provider) => {
          executionProvider = provider;
        },
      }), 'shared');
      await untilCommitted(`job ${jobId}: recording it DONE`, () => finishJob(pool, job, outcome, handler));
      emit({ event: 'job-done', ...base, units: outcome.unitsDone, rows: outcome.rowsWritten, seconds: (performance.now() - started) / 1000 });
    } catch (error) {
      const message = storedError(error);
      if ((await jobStatus(pool, jobId).catch(() => null)) === 'CANCELLED') {
        emit({ event: 'job-cancelled', ...base });
        return; // cancelled through the API: nothing to retry
      }
      if (error instanceof RunError && error.code === 'RUN_LOCKED') {
        // An in-process run of the same identity holds the run: not a failure of the job. It goes back to
        // the queue, due in LOCKED_RETRY_SECONDS, with its attempts untouched (a new entry; this one completes).
        await untilCommitted(`job ${jobId}: queueing it again`, async () => {
          await failJob(pool, job, `waiting: ${message}`, false, handler);
          await addQueueEntries(pool, [{ jobId, task: taskFor(job.kind, device), maxAttempts: job.maxAttempts }], LOCKED_RETRY_SECONDS);
        });
        emit({ event: 'job-released', ...base, error: message });
        return;
      }
      if (stopping && isInterrupted(error)) {
        released.push({ queueJobId: helpers.job.id, attempts: helpers.job.attempts - 1 });
        await untilCommitted(`job ${jobId}: releasing it`, () => failJob(pool, job, `released: worker ${id} stopped after ${message}`, false, handler));
        emit({ event: 'job-released', ...base });
        throw error;
      }
      const final = helpers.job.attempts >= helpers.job.max_attempts;
      await untilCommitted(`job ${jobId}: recording its failure`, () => failJob(pool, job, message, final, handler));
      emit({ event: 'job-failed', ...base, error: message, final, seconds: (performance.now() - started) / 1000 });
      throw error;
    } finally {
      helpers.abortSignal.removeEventListener('abort', abort);
      inFlight.delete(jobId);
    }
  };

  const taskList: TaskList = {};
  for (const kind of options.kinds) taskList[taskFor(kind, device)] = taskOf(handlers.get(kind)!);

  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  const queueWorkerIds: string[] = [];
  // graphile-worker 0.17 locks a job with its worker POOL's id (and records the worker ids besides):
  // both are kept, so forceUnlockWorkers on them frees every lock this process held.
  const remember = (queueId: string) => {
    queueWorkerIds.push(queueId);
    // Recorded before a job is taken (the pool is created first): the sweep must know which locks are this process's.
    // Appended in SQL: the un-awaited updates may commit in any order.
    pool.query('UPDATE worker SET queue_worker_ids = array_append(queue_worker_ids, $2) WHERE id = $1', [id, queueId]).catch((error) => log.warn(`worker ${id}: ${storedError(error)}`));
  };
  events.on('pool:create', ({ workerPool }) => remember(workerPool.id));
  events.on('worker:create', ({ worker }) => remember(worker.workerId));

  // --- heartbeat: I am alive; who is lost; what was cancelled ----------------------------------
  let beating: Promise<void> | null = null;
  const beat = async () => {
    const { rows } = await pool.query<{ stopped_at: Date | null }>(
      'UPDATE worker SET last_seen_at = now(), execution_provider = coalesce($2, execution_provider) WHERE id = $1 RETURNING stopped_at', [id, executionProvider],
    );
    if (rows[0]?.stopped_at && !stopping) {
      // Declared lost (a long pause): its jobs went to others; carry on (they are idempotent) and say so.
      log.warn(`worker ${id} was declared lost by another worker; registering again`);
      await pool.query('UPDATE worker SET stopped_at = NULL, stop_reason = NULL WHERE id = $1', [id]);
    }
    if (inFlight.size > 0) {
      const cancelled = await pool.query<{ id: number }>(`SELECT id FROM job WHERE id = ANY($1::int[]) AND status = 'CANCELLED'`, [[...inFlight.keys()]]);
      for (const row of cancelled.rows) inFlight.get(row.id)?.controller.abort();
    }
    await sweepLostWorkers();
  };
  const sweepLostWorkers = async () => {
    const seconds = visibilityMs / 1000;
    const reason = `lost: no heartbeat for ${seconds} s`;
    // Marked first, in one statement: a worker whose heartbeat lands meanwhile is not marked, and only
    // the marked ones' locks are cleared and their jobs queued again.
    const { rows } = await pool.query<{ id: string; queue_worker_ids: string[] }>(
      `UPDATE worker SET stopped_at = now(), stop_reason = $2
       WHERE stopped_at IS NULL AND id <> $1 AND last_seen_at < now() - make_interval(secs => $3) RETURNING id, queue_worker_ids`,
      [id, reason, seconds],
    );
    if (rows.length === 0) return;
    const lost = rows.map((row) => row.id);
    const queueIds = rows.flatMap((row) => row.queue_worker_ids);
    if (queueIds.length) await (await utils()).forceUnlockWorkers(queueIds);
    const requeued = await requeueWorkerJobs(pool, lost, `worker ${lost.join(', ')} ${reason}; queued again`);
    log.warn(`workers lost (${reason}): ${lost.join(', ')}; ${requeued} job(s) queued again`);
    emit({ event: 'workers-lost', workers: lost });
  };
  const heartbeat = setInterval(() => {
    if (beating) return;
    beating = beat().catch((error) => log.warn(`worker ${id}: heartbeat failed: ${storedError(error)} (retrying)`)).finally(() => {
      beating = null;
    });
  }, heartbeatMs);
  heartbeat.unref();
  await sweepLostWorkers().catch((error) => log.warn(`worker ${id}: sweep failed: ${storedError(error)}`));

  let runner: Runner;
  try {
    runner = await run({
      connectionString: options.databaseUrl,
      concurrency,
      maxPoolSize: concurrency + 2,
      noHandleSignals: true,
      pollInterval: options.pollIntervalMs ?? 2_000,
      taskList,
      events,
      logger: queueLogger((message) => log.warn(`queue: ${message}`)),
    });
  } catch (error) {
    clearInterval(heartbeat);
    await pool.query(`UPDATE worker SET stopped_at = now(), stop_reason = $2 WHERE id = $1`, [id, `failed to start: ${storedError(error)}`]).catch(() => {});
    await db.close();
    throw error;
  }
  log.info(`worker ${id} takes ${Object.keys(taskList).join(', ')} (concurrency ${concurrency}, visibility timeout ${visibilityMs / 1000} s)`, { workerId: id });

  let stopped: Promise<void> | undefined;
  const stop = (reason = 'stopped') => {
    stopped ??= (async () => {
      stopping = true;
      for (const flight of inFlight.values()) flight.controller.abort();
      try {
        await runner.stop();
        // The pool's last writes (the released jobs' failJob) settle with its promise, not with stop().
        await runner.promise;
      } catch (error) {
        log.warn(`worker ${id}: stopping the queue runner: ${storedError(error)}`);
      }
      clearInterval(heartbeat);
      await beating;
      if (released.length) {
        // graphile-worker fails a job released during its shutdown without waiting for the write, which
        // can be lost as its pool closes, leaving the entry locked by this (now stopped) process for 4 h.
        // The process no longer runs anything, so its locks are safe to clear.
        await (await utils()).forceUnlockWorkers(queueWorkerIds).catch((error) => log.warn(`worker ${id}: ${storedError(error)}`));
        // Give the attempt back: a graceful stop is not a failure of the job (its bounded retries are for
        // those). graphile-worker's SQL function directly: WorkerUtils.rescheduleJobs drops attempts = 0.
        for (const entry of released) {
          await pool.query(`SELECT ${QUEUE_SCHEMA}.reschedule_jobs(ARRAY[$1::bigint], run_at := now(), attempts := $2::int)`, [entry.queueJobId, Math.max(0, entry.attempts)])
            .catch((error) => log.warn(`worker ${id}: giving job ${entry.queueJobId}'s attempt back: ${storedError(error)}`));
        }
      }
      await pool.query(`UPDATE worker SET stopped_at = now(), stop_reason = $2, last_seen_at = now() WHERE id = $1`, [id, reason]).catch((error) => log.warn(`worker ${id}: ${storedError(error)}`));
      for (const handler of handlers.values()) await handler.release?.().catch((error) => log.warn(`worker ${id}: releasing ${handler.kind}: ${storedError(error)}`));
      if (utilsPromise) await (await utilsPromise).release();
      await db.close();
      log.info(`worker ${id} stopped (${reason})`, { workerId: id });
    })();
    return stopped;
  };
  const done = runner.promise.then(() => stop('the queue runner ended'), async (error) => {
    log.error(`worker ${id}: the queue runner failed: ${storedError(error)}`);
    await stop(`the queue runner failed: ${storedError(error)}`);
  });
  return { id, done, stop };
}
