// The contract between the job queue (src/jobs/) and the kinds of work it runs. A run is planned into
// jobs (`job` rows, one per batch of concepts or set of cells); a worker takes one from the queue and
// calls its kind's handler, which runs the job's units with the same code as the in-process path and
// commits each unit in its own transaction. Delivery is at least once (a worker lost mid-job is
// retried elsewhere), so a handler is idempotent: it skips units already stored and never writes one
// twice (the unique keys of the result tables decide a race).
import type pg from 'pg';
import type { Device } from '../bundles/sessions.ts';
import type { Logger } from '../log.ts';

/** prisma/schema.prisma's JobKind. */
export type JobKind = 'EXTRACT' | 'PROBE';

/** prisma/schema.prisma's JobStatus. */
export type JobStatus = 'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED';

export const JOB_KINDS: readonly JobKind[] = ['EXTRACT', 'PROBE'];

/** A job row as a handler sees it; `spec` is what the kind's planner stored. */
export interface JobRow<Spec = unknown> {
  id: number;
  kind: JobKind;
  /** The extraction run's id (EXTRACT) or the probe run's (PROBE). */
  runId: number;
  position: number;
  spec: Spec;
  unitCount: number;
  /** This attempt's number, from 1. */
  attempt: number;
  maxAttempts: number;
}

export interface JobContext {
  /** The worker's pool (at least 3 connections). */
  pool: pg.Pool;
  /** Aborted when the worker is stopping (SIGTERM) or the run was cancelled: stop after the unit in flight and throw INTERRUPTED (src/runs/errors.ts). */
  signal: AbortSignal;
  /** The worker's --device (extraction jobs of another device are never routed to it). */
  device: Device;
  /** Tap cache folder of this worker (extraction). */
  cacheDir: string;
  /** Intra-op threads per ONNX session; undefined = ONNX Runtime's default. */
  threads?: number;
  log: Logger;
  /** Called by the handler after each unit it committed (not for units found already stored). */
  onUnit(rowsWritten: number): Promise<void>;
  /** The execution provider the job's sessions ran on, once known (shown with the worker in the API). */
  onExecutionProvider?(provider: string): void;
}

export interface JobOutcome {
  /** Units of the job stored now or before. */
  unitsDone: number;
  /** Rows this attempt wrote. */
  rowsWritten: number;
  /** Seconds by stage, stored with the job. */
  timings: Record<string, number>;
}

export interface JobHandler<Spec = unknown> {
  kind: JobKind;
  /** Runs the job's units that are not stored yet; throws to fail the attempt (it is retried while attempts remain). */
  run(job: JobRow<Spec>, context: JobContext): Promise<JobOutcome>;
  /**
   * Every job of run `runId` is DONE: complete the run (status COMPLETED, done_count, timings; a probe
   * run's q-values over the whole grid) on `client`, inside the transaction that holds the run's row lock.
   */
  complete(client: pg.PoolClient, runId: number): Promise<void>;
  /** The worker is stopping: release what the handler keeps between jobs (ONNX sessions, loaded norms). */
  release?(): Promise<void>;
}
