// After every test file: drop the template database, then stop the embedded PostgreSQL if one was started.
import pg from 'pg';
import { guardClient } from '../../src/db/connection-errors.ts';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.PROBE_ATLAS_TEST_SERVER_URL;
  const template = process.env.PROBE_ATLAS_TEST_TEMPLATE;
  if (serverUrl && template) {
    const admin = guardClient(new pg.Client({ connectionString: serverUrl }));
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  await (globalThis as { __embeddedPostgres?: { stop(): Promise<void> } }).__embeddedPostgres?.stop();
}
