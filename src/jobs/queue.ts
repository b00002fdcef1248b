// The glue to the job queue, graphile-worker (schema graphile_worker, migrated with Prisma's migrations
// in src/db/migrate.ts): the task a job is routed by, and adding or removing queue entries inside the
// caller's transaction (its SQL functions), so a run's `job` rows and their entries commit or roll back
// together. A queue entry carries only the job's id; everything else is read from the `job` row, which
// stays the source of truth when graphile-worker deletes an entry after success.
//
// Why graphile-worker: jobs are picked up through LISTEN/NOTIFY (no polling delay per job), job keys
// make enqueueing idempotent, failures are retried with exponential backoff up to max_attempts, and
// forceUnlockWorkers is the supported way to hand a lost worker's jobs to others (src/jobs/worker.ts).
// pg-boss 11+ and graphile-worker 0.18 need Node 22; this project runs on Node 20. The version is pinned
// exactly (package.json): the retry codes below patch one of its internal tables.
import { makeWorkerUtils, type WorkerUtils, type Logger as QueueLogger, Logger } from 'graphile-worker';
import { RETRYABLE_ERROR_CODES } from 'graphile-worker/dist/lib.js';
import type { Device } from '../bundles/sessions.ts';
import type { Queryable } from '../runs/store.ts';
import type { JobKind } from './types.ts';

export const QUEUE_SCHEMA = 'graphile_worker';

// graphile-worker 0.17.3 completes and fails a queue entry without awaiting it (worker.js), through
// withRetries, which retries only 40001, 40P01, 57P03, EHOSTUNREACH and ETIMEDOUT: a refused or
// terminated connection (PostgreSQL restarting) then rejects unhandled and kills the worker process
// (test/jobs/workers-restart.test.ts). Those are retried too, with backoff, until the server is back.
for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01']) RETRYABLE_ERROR_CODES[code] ??= { minDelay: 1_000, maxDelay: 30_000 };

/** The graphile-worker task a job is routed by: extraction jobs need a worker on their run's device. */
export function taskFor(kind: JobKind, device?: Device): string {
  if (kind === 'PROBE') return 'probe';
  if (!device) throw new TypeError('taskFor: an EXTRACT job needs the device its run is planned for.');
  return `extract:${device}`;
}

/** The queue entry's key of job `jobId`: one live entry per job. */
export const queueKey = (jobId: number) => `probe-atlas:job:${jobId}`;

/** graphile-worker's own logs, quiet unless they warn (its info lines are per job). */
export function queueLogger(onWarn: (message: string) => void): QueueLogger {
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') onWarn(message);
  });
}

/** A WorkerUtils on `connectionString` (force-unlocking, rescheduling); release() it. */
export function queueUtils(connectionString: string): Promise<WorkerUtils> {
  return makeWorkerUtils({ connectionString, logger: queueLogger(() => {}) });
}

/**
 * Adds (or resets, attempts 0) the queue entry of each job, on `db` (the caller's transaction), due now
 * or `delaySeconds` from now. An entry a worker holds loses its key and a new one is added.
 */
export async function addQueueEntries(db: Queryable, entries: readonly { jobId: number; task: string; maxAttempts: number }[], delaySeconds = 0): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `SELECT ${QUEUE_SCHEMA}.add_job(identifier => e.task, payload => json_build_object('jobId', e.job_id), max_attempts => e.max_attempts::smallint, job_key => e.key,
       run_at => now() + make_interval(secs => $5))
     FROM unnest($1::int[], $2::text[], $3::int[], $4::text[]) AS e(job_id, task, max_attempts, key)`,
    [entries.map((e) => e.jobId), entries.map((e) => e.task), entries.map((e) => e.maxAttempts), entries.map((e) => queueKey(e.jobId)), delaySeconds],
  );
}

/**
 * Removes the queue entries of these jobs, on `db`: an entry no worker holds is deleted; one a worker is
 * running loses its key and its retries (graphile-worker's remove_job), so it is never run again.
 */
export async function removeQueueEntries(db: Queryable, jobIds: readonly number[]): Promise<void> {
  if (jobIds.length === 0) return;
  await db.query(`SELECT ${QUEUE_SCHEMA}.remove_job(k) FROM unnest($1::text[]) AS k`, [jobIds.map(queueKey)]);
}
