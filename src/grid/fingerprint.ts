// What a grid answer was computed from: the identity and state of the probe runs a request selects
// (read by the axes and the aggregation statements, each in its own snapshot) and the answer token a
// response cache keys on. A cached result is valid only while this is unchanged (cache.ts).
import { sql, where, type SqlFragment } from './sql.ts';
import { runConditions } from './filters.ts';
import type { GridFilter } from './input.ts';
import type { Axis } from './dense.ts';
import type { RunFingerprint } from './cache.ts';

/**
 * Identity and state of the probe runs a request selects, as one text ending in `|true` when all
 * are COMPLETED: the result cache's validity check (cache.ts). The axes statement and the
 * aggregation statement both compute it, each in its own snapshot, so cached rows are always
 * stored with the fingerprint of the very snapshot they were read from.
 */
export function runFingerprint(filters: readonly GridFilter[]): SqlFragment {
  return sql`(SELECT coalesce(string_agg(pr.id || ':' || pr.settings_hash || ':' || pr.status || ':' || coalesce(pr.finished_at::text, ''), ',' ORDER BY pr.id), '')
      || '|' || coalesce(bool_and(pr.status = 'COMPLETED'), FALSE)::text
    FROM probe_run pr ${where(runConditions(filters))})`;
}

export function fingerprintOf(text: string | null | undefined): RunFingerprint {
  return { key: text ?? '', cacheable: text?.endsWith('|true') ?? false };
}

/**
 * The identity of a grid answer for a response cache: the run fingerprint and the axes as read
 * (catalogue ids, labels, timesteps); null unless every selected run is COMPLETED. Two requests
 * with the same input and the same token get the same answer: the scores of completed runs are
 * final and everything else in the answer comes from the axes.
 */
export function answerToken(axes: readonly Axis[], runs: RunFingerprint): string | null {
  return runs.cacheable ? `${runs.key}\n${JSON.stringify(axes)}` : null;
}
