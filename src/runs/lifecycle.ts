// One run's life, the same for every kind (extraction, probe, the GloVe baseline; a later job queue
// sits on it): take the lock on its identity, find or create its row, move it through the status
// machine, record progress and timings, stop on the AbortSignal, and on any failure after the row
// exists mark it FAILED (finished_at set) with the FIRST error, which is always the one rethrown — a
// failing bookkeeping write (the database went away) never replaces it. The lock is released at the end.
import type pg from 'pg';
import { throwIfInterrupted, storedError } from './interrupt.ts';
import { withRunLock } from './lock.ts';
import { recordProgress, type TimingsUpdate } from './progress.ts';
import { moveRun, type StatusChange } from './status.ts';
import { findOrCreateRun, type Queryable, type RunStatus, type RunTable, type StoredRun } from './store.ts';

export interface RunSpec {
  table: RunTable;
  settingsHash: string;
  /** Names the run in the RUN_LOCKED message, e.g. "Extraction run". */
  subject: string;
  /** Inserts the row when the run is new (status PENDING, this settings hash). */
  create: () => Promise<unknown>;
  signal?: AbortSignal;
}

/** Runs `work` on the run `spec` identifies, holding its lock; needs a pool of at least 2 connections. */
export async function openRun<T>(pool: pg.Pool, spec: RunSpec, work: (run: ActiveRun) => Promise<T>): Promise<T> {
  return withRunLock(pool, spec.settingsHash, spec.subject, async () => {
    const stored = await findOrCreateRun(pool, spec.table, spec.settingsHash, spec.create);
    return work(new ActiveRun(pool, spec.table, stored, spec.signal));
  });
}

export interface FailureOptions {
  /** Timings to store with FAILED (evaluated at the failure). */
  timings?: () => TimingsUpdate;
  /** Called after the run is marked FAILED, with the stored error. */
  onFailed?: (message: string) => void;
}

export class ActiveRun {
  private status: RunStatus;

  constructor(readonly pool: pg.Pool, readonly table: RunTable, readonly stored: StoredRun, private readonly signal?: AbortSignal) {
    this.status = stored.status;
  }

  get id(): number {
    return this.stored.id;
  }

  /** Whether a stop was asked for; the run should stop at the next unit boundary. */
  get interrupted(): boolean {
    return this.signal?.aborted ?? false;
  }

  throwIfInterrupted(): void {
    throwIfInterrupted(this.signal);
  }

  async start(progress: { done?: number; total?: number }): Promise<void> {
    await moveRun(this.pool, this.table, this.id, this.status, 'RUNNING', { doneCount: progress.done, plannedCount: progress.total });
    this.status = 'RUNNING';
  }

  /** Progress (and timings) on `db`, the client of the unit's own transaction. */
  async progress(db: Queryable, done: number, timings?: TimingsUpdate): Promise<void> {
    await recordProgress(db, this.table, this.id, done, timings);
  }

  /** COMPLETED (finished_at set), on `db` when it must commit with the last writes. */
  async complete(change: Omit<StatusChange, 'error'> = {}, db: Queryable = this.pool): Promise<void> {
    await moveRun(db, this.table, this.id, this.status, 'COMPLETED', change);
    this.status = 'COMPLETED';
  }

  /** FAILED with the error's message (finished_at set); never throws: the caller's error matters more. */
  async fail(error: unknown, timings?: TimingsUpdate): Promise<string> {
    const message = storedError(error);
    try {
      await moveRun(this.pool, this.table, this.id, this.status, 'FAILED', { error: message, timings });
      this.status = 'FAILED';
    } catch {
      // The original error matters more than a failed bookkeeping write (e.g. the database went away).
    }
    return message;
  }

  /** Runs `work`; any failure in it marks the run FAILED and is rethrown. */
  async guard<T>(work: () => Promise<T>, options: FailureOptions = {}): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const message = await this.fail(error, options.timings?.());
      options.onFailed?.(message);
      throw error;
    }
  }
}
