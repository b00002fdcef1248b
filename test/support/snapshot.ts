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
