// "Nothing changed": a row count and an md5 over every row (as text, in a stable order) per table.
import type pg from 'pg';

export async function tableSnapshot(pool: pg.Pool, tables: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await pool.query<{ n: string; digest: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${table} t`);
    out[table] = `${rows[0]!.n}:${rows[0]!.digest}`;
  }
  return out;
}

/**
 * Tables plus every sequence of the schema (last_value, is_called): nextval() is not transactional,
 * so a rolled-back INSERT leaves the tables equal but moves a sequence. "Byte-identical after a
 * refused write" needs both.
 */
export async function databaseSnapshot(pool: pg.Pool, tables: readonly string[]): Promise<Record<string, string>> {
  const out = await tableSnapshot(pool, tables);
  const { rows: sequences } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname`);
  for (const { name } of sequences) {
    const { rows } = await pool.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM "${name}"`);
    out[`sequence ${name}`] = `${rows[0]!.last_value}:${rows[0]!.is_called}`;
  }
  return out;
}
