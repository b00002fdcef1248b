// Progress and timings of a run, recorded the same way for every kind: `done_count` is a count the
// caller takes from the stored rows (inside the transaction that wrote them, so it never overstates
// what is stored), and `timings` is the kind's own JSON object, replaced whole or merged key by key.
// The shapes of the timings objects are each kind's (docs/api.md types them per run kind).
import type { Queryable, RunTable } from './store.ts';

/** `replace`: the object becomes the run's timings; `merge`: its keys are set over the stored ones. */
export type TimingsUpdate = { replace: object } | { merge: object };

/** The SET clause for a timings update, its value appended to `params`. */
export function timingsAssignment(update: TimingsUpdate, params: unknown[]): string {
  if ('replace' in update) return `timings = $${params.push(JSON.stringify(update.replace))}::jsonb`;
  return `timings = timings || $${params.push(JSON.stringify(update.merge))}::jsonb`;
}

/** Seconds rounded to the millisecond, key by key, as the timings are stored. */
export function roundedSeconds<T extends object>(timings: T): Record<keyof T, number> {
  return Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round((v as number) * 1000) / 1000])) as Record<keyof T, number>;
}

/** Records a run's progress (and optionally its timings) on `db`, usually the client of the unit's own transaction. */
export async function recordProgress(db: Queryable, table: RunTable, id: number, doneCount: number, timings?: TimingsUpdate): Promise<void> {
  const params: unknown[] = [id, doneCount];
  const sets = ['done_count = $2'];
  if (timings) sets.push(timingsAssignment(timings, params));
  await db.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $1`, params);
}
