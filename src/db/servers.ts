// Small facts about PostgreSQL servers, shared by the tests' and the benchmarks' scratch databases.
import pg from 'pg';
import { guardClient } from './connection-errors.ts';

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Whether a connection to `url` can be opened within two seconds. */
export async function canConnect(url: string): Promise<boolean> {
  const client = guardClient(new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 }));
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}
