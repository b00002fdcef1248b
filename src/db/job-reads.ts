// The API's reads of the job queue's tables (`job`, `worker`; prisma/migrations/20261201160000_jobs):
// batch statements keyed by many runs or workers at once, so the DataLoaders of src/graphql/loaders.ts
// turn every parent → jobs hop of a query into one statement. Read-only; the queue core (src/jobs/)
// writes these rows. Timestamps are stored without time zone, in UTC: read `AT TIME ZONE 'UTC'`, and
// "now" is the database's clock in UTC, so a worker's heartbeat age never depends on this host's clock.
import type pg from 'pg';
import type { ChildPage, PageWindow } from './catalogue.ts';

export type JobKindValue = 'EXTRACT' | 'PROBE';
export type JobStatusValue = 'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED';

/** A run of either kind: its jobs are `job.extraction_run_id` or `job.probe_run_id` rows. */
export interface RunRef {
  kind: JobKindValue;
  runId: number;
}

export const runKey = (run: RunRef): string => `${run.kind}:${run.runId}`;

/** A `job` row as the API shows it. */
export interface JobRecord {
  id: number;
  kind: JobKindValue;
  runId: number;
  position: number;
  status: JobStatusValue;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  unitCount: number;
  unitsDone: number;
  rowsWritten: number;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  workerId: string | null;
}

/** A `worker` row, with `alive` decided by the database's clock. */
export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  device: string;
  executionProvider: string | null;
  kinds: JobKindValue[];
  concurrency: number;
  startedAt: Date;
  lastSeenAt: Date;
  stoppedAt: Date | null;
  stopReason: string | null;
  alive: boolean;
}

/** Counts of one run's jobs and what its rate is computed from. */
export interface RunJobCounts {
  jobCount: number;
  queuedCount: number;
  runningCount: number;
  doneCount: number;
  failedCount: number;
  cancelledCount: number;
  unitCount: number;
  unitsDone: number;
  /** Units of the jobs that became DONE within the rate window. */
  recentUnits: number;
  /** Seconds from max(now − window, earliest start of those jobs) to now; null without such jobs. */
  recentSeconds: number | null;
}

/** How far back the rate and "workers seen recently" look. */
export const RATE_WINDOW_SECONDS = 300;
/**
 * A worker whose last heartbeat is older than this is not alive: the queue's default visibility
 * timeout (src/jobs/worker.ts DEFAULT_VISIBILITY_TIMEOUT_MS, after which another worker marks it lost;
 * test/graphql/jobs.test.ts keeps the two equal). A constant here so the data layer imports no worker.
 */
export const WORKER_VISIBILITY_TIMEOUT_SECONDS = 60;

const NOW = `(now() AT TIME ZONE 'UTC')`;
const utc = (column: string) => `(${column} AT TIME ZONE 'UTC')`;

const JOB_COLUMNS = `
  j.id, j.kind::text AS kind, coalesce(j.extraction_run_id, j.probe_run_id) AS "runId", j.position,
  j.status::text AS status, j.attempts, j.max_attempts AS "maxAttempts", j.error,
  j.unit_count AS "unitCount", j.units_done AS "unitsDone", j.rows_written AS "rowsWritten",
  ${utc('j.queued_at')} AS "queuedAt", ${utc('j.started_at')} AS "startedAt", ${utc('j.finished_at')} AS "finishedAt",
  j.worker_id AS "workerId"`;

const WORKER_COLUMNS = `
  w.id, w.host, w.pid, w.device, w.execution_provider AS "executionProvider", w.kinds::text[] AS kinds,
  w.concurrency, ${utc('w.started_at')} AS "startedAt", ${utc('w.last_seen_at')} AS "lastSeenAt",
  ${utc('w.stopped_at')} AS "stoppedAt", w.stop_reason AS "stopReason",
  (w.stopped_at IS NULL AND w.last_seen_at > ${NOW} - make_interval(secs => ${WORKER_VISIBILITY_TIMEOUT_SECONDS})) AS alive`;

/** The runs asked for, as rows (kind, run_id): $1 extraction run ids, $2 probe run ids. */
const RUNS = `(
  SELECT 'EXTRACT'::text AS kind, id AS run_id FROM unnest($1::int[]) AS e(id)
  UNION ALL SELECT 'PROBE'::text, id FROM unnest($2::int[]) AS p(id)
) r`;

/** The jobs of run `r`, each kind through its own unique index (run id, position). */
const JOBS_OF_RUN = `(
  SELECT * FROM job WHERE r.kind = 'EXTRACT' AND extraction_run_id = r.run_id
  UNION ALL SELECT * FROM job WHERE r.kind = 'PROBE' AND probe_run_id = r.run_id
) j`;

function runParams(runs: readonly RunRef[]): [number[], number[]] {
  return [runs.filter((run) => run.kind === 'EXTRACT').map((run) => run.runId), runs.filter((run) => run.kind === 'PROBE').map((run) => run.runId)];
}

/** Job counts, units and the rate's inputs of each run, in one statement; runs without jobs have zeros. */
export async function jobCountsByRun(pool: pg.Pool, runs: readonly RunRef[]): Promise<Map<string, RunJobCounts>> {
  const recent = `j.status = 'DONE' AND j.finished_at > ${NOW} - make_interval(secs => ${RATE_WINDOW_SECONDS})`;
  const { rows } = await pool.query(
    `SELECT r.kind, r.run_id AS "runId",
       count(j.id)::int AS "jobCount",
       count(*) FILTER (WHERE j.status = 'QUEUED')::int AS "queuedCount",
       count(*) FILTER (WHERE j.status = 'RUNNING')::int AS "runningCount",
       count(*) FILTER (WHERE j.status = 'DONE')::int AS "doneCount",
       count(*) FILTER (WHERE j.status = 'FAILED')::int AS "failedCount",
       count(*) FILTER (WHERE j.status = 'CANCELLED')::int AS "cancelledCount",
       coalesce(sum(j.unit_count), 0)::int AS "unitCount",
       coalesce(sum(j.units_done), 0)::int AS "unitsDone",
       coalesce(sum(j.unit_count) FILTER (WHERE ${recent}), 0)::int AS "recentUnits",
       extract(epoch FROM ${NOW} - greatest(${NOW} - make_interval(secs => ${RATE_WINDOW_SECONDS}), min(coalesce(j.started_at, j.queued_at)) FILTER (WHERE ${recent})))::float8 AS "recentSeconds"
     FROM ${RUNS} LEFT JOIN LATERAL ${JOBS_OF_RUN} ON true
     GROUP BY r.kind, r.run_id`,
    runParams(runs),
  );
  return new Map(rows.map(({ kind, runId, ...counts }) => [runKey({ kind, runId }), counts as RunJobCounts]));
}

/** One page of each run's jobs in plan order, optionally of one status, in one statement. */
export async function jobPagesByRun(pool: pg.Pool, runs: readonly RunRef[], window: PageWindow, status: JobStatusValue | null): Promise<Map<string, ChildPage<JobRecord>>> {
  const filter = `($3::text IS NULL OR j.status::text = $3)`;
  const { rows } = await pool.query(
    `SELECT r.kind AS "runKind", r.run_id AS "parentRunId", t.total, c.*
     FROM ${RUNS}
     CROSS JOIN LATERAL (SELECT count(*)::int AS total FROM ${JOBS_OF_RUN} WHERE ${filter}) t
     LEFT JOIN LATERAL (SELECT ${JOB_COLUMNS} FROM ${JOBS_OF_RUN} WHERE ${filter} ORDER BY j.position OFFSET $4 LIMIT $5) c ON true`,
    [...runParams(runs), status, window.offset, window.limit],
  );
  const pages = new Map<string, ChildPage<JobRecord>>(runs.map((run) => [runKey(run), { rows: [], total: 0 }]));
  for (const { runKind, parentRunId, total, ...job } of rows) {
    const page = pages.get(runKey({ kind: runKind, runId: parentRunId }))!;
    page.total = total;
    if (job.id !== null) page.rows.push(job as JobRecord);
  }
  return pages;
}

/** One page of each worker's jobs by id, optionally of one status, in one statement. */
export async function jobPagesByWorker(pool: pg.Pool, workerIds: readonly string[], window: PageWindow, status: JobStatusValue | null): Promise<Map<string, ChildPage<JobRecord>>> {
  const where = `j.worker_id = p.worker_id AND ($2::text IS NULL OR j.status::text = $2)`;
  const { rows } = await pool.query(
    `SELECT p.worker_id AS "parentWorkerId", t.total, c.*
     FROM unnest($1::text[]) AS p(worker_id)
     CROSS JOIN LATERAL (SELECT count(*)::int AS total FROM job j WHERE ${where}) t
     LEFT JOIN LATERAL (SELECT ${JOB_COLUMNS} FROM job j WHERE ${where} ORDER BY j.id OFFSET $3 LIMIT $4) c ON true`,
    [workerIds, status, window.offset, window.limit],
  );
  const pages = new Map<string, ChildPage<JobRecord>>(workerIds.map((id) => [id, { rows: [], total: 0 }]));
  for (const { parentWorkerId, total, ...job } of rows) {
    const page = pages.get(parentWorkerId)!;
    page.total = total;
    if (job.id !== null) page.rows.push(job as JobRecord);
  }
  return pages;
}

/** Workers by id. */
export async function workersById(pool: pg.Pool, ids: readonly string[]): Promise<WorkerRecord[]> {
  const { rows } = await pool.query(`SELECT ${WORKER_COLUMNS} FROM worker w WHERE w.id = ANY($1::text[])`, [ids]);
  return rows;
}

/** Every worker (or the alive ones), most recently seen first. */
export async function listWorkers(pool: pg.Pool, aliveOnly: boolean): Promise<WorkerRecord[]> {
  const { rows } = await pool.query(`SELECT * FROM (SELECT ${WORKER_COLUMNS} FROM worker w) w ${aliveOnly ? 'WHERE w.alive' : ''} ORDER BY w."lastSeenAt" DESC, w.id`);
  return rows;
}

/** Per run, the workers that hold or last held one of its jobs and were seen within the rate window, most recently seen first. */
export async function recentWorkersByRun(pool: pg.Pool, runs: readonly RunRef[]): Promise<Map<string, WorkerRecord[]>> {
  const { rows } = await pool.query(
    `SELECT DISTINCT r.kind AS "runKind", r.run_id AS "parentRunId", ${WORKER_COLUMNS}
     FROM ${RUNS} CROSS JOIN LATERAL ${JOBS_OF_RUN} JOIN worker w ON w.id = j.worker_id
     WHERE w.last_seen_at > ${NOW} - make_interval(secs => ${RATE_WINDOW_SECONDS})
     ORDER BY "lastSeenAt" DESC, id`,
    runParams(runs),
  );
  const workers = new Map<string, WorkerRecord[]>(runs.map((run) => [runKey(run), []]));
  for (const { runKind, parentRunId, ...worker } of rows) workers.get(runKey({ kind: runKind, runId: parentRunId }))!.push(worker as WorkerRecord);
  return workers;
}
