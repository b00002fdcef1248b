import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.PROBE_ATLAS_TEST_SERVER_URL;
  const template = process.env.PROBE_ATLAS_TEST_TEMPLATE;
  if (serverUrl && template) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  await (globalThis as { __embeddedPostgres?: { stop(): Promise<void> } }).__embeddedPostgres?.stop();
}
