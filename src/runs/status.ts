// The status machine every run kind follows, with its one rule for the timestamps:
//   PENDING → RUNNING → COMPLETED | FAILED;  FAILED or COMPLETED → RUNNING (resume, extend);
//   RUNNING → RUNNING (a run a SIGKILL left RUNNING is resumed).
// Entering RUNNING sets started_at (this invocation's start), clears finished_at and error; leaving
// RUNNING for a terminal state (COMPLETED, FAILED, an interrupt included) sets finished_at, for every
// run kind. An interrupt is FAILED with INTERRUPTED_MESSAGE (the schema has no separate status).
import type { Queryable, RunStatus, RunTable } from './store.ts';
import { timingsAssignment, type TimingsUpdate } from './progress.ts';

export type { RunStatus };

/** What a run call reports: it did the work that was left, or everything was already stored. */
export type RunOutcome = 'COMPLETED' | 'NOTHING_TO_DO';

const MOVES: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  PENDING: ['RUNNING', 'FAILED'],
  RUNNING: ['RUNNING', 'COMPLETED', 'FAILED'],
  COMPLETED: ['RUNNING'],
  FAILED: ['RUNNING', 'FAILED'],
};

export const isTerminal = (status: RunStatus) => status === 'COMPLETED' || status === 'FAILED';

export function canMove(from: RunStatus, to: RunStatus): boolean {
  return MOVES[from].includes(to);
}

export interface StatusChange {
  /** FAILED: the error stored (COMPLETED and RUNNING clear it). */
  error?: string;
  doneCount?: number;
  plannedCount?: number;
  timings?: TimingsUpdate;
}

/** Moves run `id` from `from` to `to` with the timestamp rule above; throws on a move the machine does not have. */
export async function moveRun(db: Queryable, table: RunTable, id: number, from: RunStatus, to: RunStatus, change: StatusChange = {}): Promise<void> {
  if (!canMove(from, to)) throw new Error(`${table} ${id}: no move from ${from} to ${to}.`);
  const params: unknown[] = [id, to, to === 'FAILED' ? change.error ?? 'failed' : null];
  const sets = ['status = $2', 'error = $3'];
  if (to === 'RUNNING') sets.push('started_at = now()', 'finished_at = NULL');
  else if (isTerminal(to)) sets.push('finished_at = now()');
  if (change.doneCount !== undefined) sets.push(`done_count = $${params.push(change.doneCount)}`);
  if (change.plannedCount !== undefined) sets.push(`planned_count = $${params.push(change.plannedCount)}`);
  if (change.timings) sets.push(timingsAssignment(change.timings, params));
  await db.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1`, params);
}
