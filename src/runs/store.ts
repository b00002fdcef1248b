// Where runs live and how one is found by its identity: the run tables, the row fields the lifecycle
// reads, and find-or-create by settings hash. Every run kind is keyed by the hash of what shapes its
// output, so the same hash finds the same row again (idempotence, resumption); the unique settings_hash
// decides which row is ours when two processes race to create it.
import type pg from 'pg';

/** prisma/schema.prisma's RunStatus. */
export type RunStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';

/** Extraction runs (and the GloVe baseline, an extraction run) and probe runs. */
export type RunTable = 'extraction_run' | 'probe_run';

export type Queryable = pg.Pool | pg.PoolClient;

export interface StoredRun {
  id: number;
  settingsHash: string;
  status: RunStatus;
  /** Whether this call created the row. */
  created: boolean;
  settings: unknown;
  timings: unknown;
  doneCount: number;
  plannedCount: number;
  finishedAt: Date | null;
}

/** How a run is found: by its settings hash, or (GloVe, before its hash can be computed) by what its stored settings contain. */
export type RunLocator =
  | { settingsHash: string }
  | { model: string; settingsContain: Record<string, unknown> };

const FIELDS = 'id, settings_hash, status, settings, timings, done_count, planned_count, finished_at';

interface Row {
  id: number;
  settings_hash: string;
  status: RunStatus;
  settings: unknown;
  timings: unknown;
  done_count: number;
  planned_count: number;
  finished_at: Date | null;
}

const stored = (row: Row, created: boolean): StoredRun => ({
  id: row.id, settingsHash: row.settings_hash, status: row.status, created, settings: row.settings, timings: row.timings,
  doneCount: row.done_count, plannedCount: row.planned_count, finishedAt: row.finished_at,
});

export async function findRun(db: Queryable, table: RunTable, locator: RunLocator): Promise<StoredRun | null> {
  if ('settingsHash' in locator) {
    const { rows } = await db.query<Row>(`SELECT ${FIELDS} FROM ${table} WHERE settings_hash = $1`, [locator.settingsHash]);
    return rows[0] ? stored(rows[0], false) : null;
  }
  if (table !== 'extraction_run') throw new TypeError(`findRun: runs of ${table} are found by settings hash only.`);
  // A completed run first; several matches only arise when settings outside the containment differ.
  const { rows } = await db.query<Row>(
    `SELECT ${FIELDS.split(', ').map((f) => `r.${f}`).join(', ')} FROM extraction_run r JOIN model m ON m.id = r.model_id
     WHERE m.name = $1 AND r.settings @> $2::jsonb ORDER BY (r.status = 'COMPLETED') DESC, r.id ASC LIMIT 1`,
    [locator.model, JSON.stringify(locator.settingsContain)],
  );
  return rows[0] ? stored(rows[0], false) : null;
}

/**
 * The run with this settings hash, created (PENDING) by `create` when there is none. `create` inserts the
 * kind's row with its own columns; when it fails because another process created the row meanwhile
 * (unique settings_hash), that row is ours.
 */
export async function findOrCreateRun(db: Queryable, table: RunTable, settingsHash: string, create: () => Promise<unknown>): Promise<StoredRun> {
  const existing = await findRun(db, table, { settingsHash });
  if (existing) return existing;
  try {
    await create();
  } catch (error) {
    const raced = await findRun(db, table, { settingsHash });
    if (!raced) throw error;
    return raced;
  }
  const created = await findRun(db, table, { settingsHash });
  if (!created) throw new Error(`findOrCreateRun: ${table} ${settingsHash.slice(0, 12)}… was created but cannot be read back.`);
  return { ...created, created: true };
}
