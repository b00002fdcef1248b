// Finds a PostgreSQL for the whole test run and migrates one template database; each test file then
// clones the template (CREATE DATABASE … TEMPLATE), which takes milliseconds and isolates suites.
//   1. TEST_DATABASE_URL, if set: a server URL whose user may create databases (`embedded` forces 3).
//   2. PostgreSQL at 127.0.0.1:5432 as user postgres (the development machines and CI).
//   3. Otherwise an embedded PostgreSQL from npm, so `npm test` passes on any machine.
import pg from 'pg';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { applyMigrations } from '../../src/db/migrate.ts';
import { guardClient } from '../../src/db/connection-errors.ts';
import { canConnect, withDatabase } from '../../src/db/servers.ts';

export default async function globalSetup(): Promise<void> {
  const requested = process.env.TEST_DATABASE_URL;
  let serverUrl = requested === 'embedded' ? undefined : requested;
  if (!serverUrl) {
    const local = 'postgresql://postgres@127.0.0.1:5432/postgres';
    if (requested !== 'embedded' && (await canConnect(local))) {
      serverUrl = local;
    } else {
      console.log('\nStarting an embedded PostgreSQL for the tests (none configured or reachable at 127.0.0.1:5432).');
      const embedded = await startEmbeddedPostgres({
        dataDir: path.join(PROJECT_ROOT, '.data', `test-postgres-${process.pid}`),
        port: 54331,
        database: 'postgres',
        persistent: false,
      });
      (globalThis as { __embeddedPostgres?: typeof embedded }).__embeddedPostgres = embedded;
      serverUrl = embedded.url;
    }
  }
  const template = `probe_atlas_test_tpl_${process.pid}`;
  const admin = guardClient(new pg.Client({ connectionString: serverUrl }));
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  await applyMigrations(withDatabase(serverUrl, template));
  // Workers are spawned after this and inherit the environment.
  process.env.PROBE_ATLAS_TEST_SERVER_URL = serverUrl;
  process.env.PROBE_ATLAS_TEST_TEMPLATE = template;
}
