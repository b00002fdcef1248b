// A throw-away, migrated database for the benchmark: on DATABASE_URL's server, else PostgreSQL at
// 127.0.0.1:5432 (user postgres), else (or with BENCH_EMBEDDED=1) an embedded PostgreSQL; dropped
// (and stopped) at the end.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { guardClient } from '../../../src/db/connection-errors.ts';
import { startEmbeddedPostgres, type RunningDatabase } from '../../../src/db/embedded.ts';
import { applyMigrations } from '../../../src/db/migrate.ts';
import { canConnect, withDatabase } from '../../../src/db/servers.ts';

export interface ScratchDatabase {
  url: string;
  serverDescription: string;
  drop(): Promise<void>;
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = guardClient(new pg.Client({ connectionString: serverUrl }));
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(log: (line: string) => void): Promise<ScratchDatabase> {
  let serverUrl: string | undefined;
  let embedded: RunningDatabase | undefined;
  let embeddedDir: string | undefined;
  const candidates = [process.env.DATABASE_URL ? withDatabase(process.env.DATABASE_URL, 'postgres') : undefined, 'postgresql://postgres@127.0.0.1:5432/postgres'];
  // BENCH_EMBEDDED=1 skips the servers, to exercise (or prefer) the embedded path.
  for (const candidate of process.env.BENCH_EMBEDDED === '1' ? [] : candidates) {
    if (candidate && (await canConnect(candidate))) {
      serverUrl = candidate;
      break;
    }
  }
  if (!serverUrl) {
    embeddedDir = path.join(os.tmpdir(), `probe-atlas-bench-pg-${process.pid}`);
    log(`no PostgreSQL reachable: starting an embedded one in ${embeddedDir}`);
    embedded = await startEmbeddedPostgres({ dataDir: embeddedDir, port: 54_339, database: 'postgres', persistent: false });
    serverUrl = embedded.url;
  }
  const name = `probe_atlas_bench_${randomBytes(5).toString('hex')}`;
  await admin(serverUrl, `CREATE DATABASE "${name}"`);
  const url = withDatabase(serverUrl, name);
  await applyMigrations(url);
  const server = new URL(serverUrl);
  return {
    url,
    serverDescription: `${embedded ? 'embedded PostgreSQL' : 'PostgreSQL'} at ${server.hostname}:${server.port || 5432}, database ${name}`,
    async drop() {
      await admin(serverUrl!, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      if (embedded) {
        await embedded.stop();
        if (embeddedDir) rmSync(embeddedDir, { recursive: true, force: true });
      }
    },
  };
}
