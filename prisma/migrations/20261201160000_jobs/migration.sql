-- Scale-out (issue 12): runs planned into jobs that worker processes take from a PostgreSQL job queue.
-- graphile-worker delivers the jobs (its own schema, graphile_worker, migrated by src/jobs/queue.ts);
-- `job` is the plan and its state as probe-atlas reads it (progress, the API, retries), `worker` the
-- processes with their heartbeats. Every change of a job, a worker or a run's status or progress is
-- announced on the channel `probe_atlas_runs` (on commit), so each API process can push live progress
-- to its subscribers without polling, whichever process wrote it (src/jobs/notify.ts).

-- CreateEnum
CREATE TYPE "JobKind" AS ENUM ('EXTRACT', 'PROBE');

-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "job" (
    "id" SERIAL NOT NULL,
    "kind" "JobKind" NOT NULL,
    "extraction_run_id" INTEGER,
    "probe_run_id" INTEGER,
    "position" INTEGER NOT NULL,
    "task" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "unit_count" INTEGER NOT NULL,
    "units_done" INTEGER NOT NULL DEFAULT 0,
    "rows_written" INTEGER NOT NULL DEFAULT 0,
    "status" "JobStatus" NOT NULL DEFAULT 'QUEUED',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL,
    "error" TEXT,
    "worker_id" TEXT,
    "queued_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),
    "timings" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "worker" (
    "id" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "device" TEXT NOT NULL,
    "execution_provider" TEXT,
    "kinds" "JobKind"[],
    "concurrency" INTEGER NOT NULL,
    "queue_worker_ids" TEXT[],
    "started_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stopped_at" TIMESTAMP(3),
    "stop_reason" TEXT,

    CONSTRAINT "worker_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "job_status_idx" ON "job"("status");

-- CreateIndex
CREATE INDEX "job_worker_id_idx" ON "job"("worker_id");

-- CreateIndex
CREATE UNIQUE INDEX "job_extraction_run_id_position_key" ON "job"("extraction_run_id", "position");

-- CreateIndex
CREATE UNIQUE INDEX "job_probe_run_id_position_key" ON "job"("probe_run_id", "position");

-- CreateIndex
CREATE INDEX "worker_last_seen_at_idx" ON "worker"("last_seen_at");

-- AddForeignKey
ALTER TABLE "job" ADD CONSTRAINT "job_extraction_run_id_fkey" FOREIGN KEY ("extraction_run_id") REFERENCES "extraction_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job" ADD CONSTRAINT "job_probe_run_id_fkey" FOREIGN KEY ("probe_run_id") REFERENCES "probe_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job" ADD CONSTRAINT "job_worker_id_fkey" FOREIGN KEY ("worker_id") REFERENCES "worker"("id") ON DELETE SET NULL ON UPDATE CASCADE;



-- A job belongs to exactly one run, of its kind. (A trigger, not a CHECK: the WASM schema engine's
-- describer cannot read CHECK constraints, and `prisma migrate diff` must keep working.)
CREATE FUNCTION "probe_atlas_job_one_run"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ((NEW.kind = 'EXTRACT' AND NEW.extraction_run_id IS NOT NULL AND NEW.probe_run_id IS NULL)
       OR (NEW.kind = 'PROBE' AND NEW.probe_run_id IS NOT NULL AND NEW.extraction_run_id IS NULL)) THEN
    RAISE EXCEPTION 'job %: a % job needs exactly its run id (extraction_run_id %, probe_run_id %)', NEW.id, NEW.kind, NEW.extraction_run_id, NEW.probe_run_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "job_one_run" BEFORE INSERT OR UPDATE OF "kind", "extraction_run_id", "probe_run_id" ON "job" FOR EACH ROW EXECUTE FUNCTION "probe_atlas_job_one_run"();

-- Live progress: one notification per changed row, delivered when the writing transaction commits
-- (PostgreSQL folds identical payloads of one transaction into one).
CREATE FUNCTION "probe_atlas_notify_run"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'job' THEN
    PERFORM pg_notify('probe_atlas_runs', json_build_object(
      'table', 'job', 'kind', NEW.kind, 'runId', coalesce(NEW.extraction_run_id, NEW.probe_run_id), 'jobId', NEW.id, 'status', NEW.status)::text);
  ELSIF TG_TABLE_NAME = 'worker' THEN
    PERFORM pg_notify('probe_atlas_runs', json_build_object('table', 'worker', 'workerId', NEW.id)::text);
  ELSE
    PERFORM pg_notify('probe_atlas_runs', json_build_object(
      'table', TG_TABLE_NAME, 'kind', CASE TG_TABLE_NAME WHEN 'extraction_run' THEN 'EXTRACT' ELSE 'PROBE' END, 'runId', NEW.id, 'status', NEW.status)::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "job_notify" AFTER INSERT OR UPDATE ON "job" FOR EACH ROW EXECUTE FUNCTION "probe_atlas_notify_run"();
-- Heartbeats alone are not news: a worker is announced when it starts, stops or is found lost.
CREATE TRIGGER "worker_notify" AFTER INSERT OR UPDATE OF "stopped_at", "execution_provider" ON "worker" FOR EACH ROW EXECUTE FUNCTION "probe_atlas_notify_run"();
CREATE TRIGGER "extraction_run_notify" AFTER UPDATE OF "status", "done_count" ON "extraction_run" FOR EACH ROW EXECUTE FUNCTION "probe_atlas_notify_run"();
CREATE TRIGGER "probe_run_notify" AFTER UPDATE OF "status", "done_count" ON "probe_run" FOR EACH ROW EXECUTE FUNCTION "probe_atlas_notify_run"();
