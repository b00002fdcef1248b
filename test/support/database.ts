// A fresh, migrated database per test file, cloned from the template made in global-setup.ts.
// drop() is the end of everything that used it, in order: what registered itself with `using()`
// (the test API servers of test/support/api.ts, anything else a test starts over the database) is
// stopped first, then this pool is closed and its sockets are seen closed, and only then is the
// database dropped WITH (FORCE) — so the drop never terminates a connection somebody still holds.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { guardClient } from '../../src/db/connection-errors.ts';
import { withDatabase } from '../../src/db/servers.ts';

export interface TestDatabase extends Database {
  url: string;
  name: string;
  /** Registers something that uses this database, to be stopped (last registered, first) before drop() closes the pool. */
  using(stop: () => Promise<void>): void;
  /** Stops what registered with using(), closes connections and drops the database; once (later calls wait for the same drop). */
  drop(): Promise<void>;
}

/** A connected client on the test server's maintenance database (to watch or terminate backends); end() it. */
export async function connectAdmin(): Promise<pg.Client> {
  const serverUrl = process.env.PROBE_ATLAS_TEST_SERVER_URL;
  if (!serverUrl) throw new Error('PROBE_ATLAS_TEST_SERVER_URL is not set: run the tests through jest (global-setup.ts).');
  const client = guardClient(new pg.Client({ connectionString: serverUrl }));
  await client.connect();
  return client;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectAdmin();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.PROBE_ATLAS_TEST_TEMPLATE!;
  const name = `probe_atlas_test_${randomBytes(6).toString('hex')}`;
  await admin(async (client) => {
    // Two workers cloning at once can see each other on the template ("being accessed by other
    // users", SQLSTATE 55006) for a moment: retry briefly rather than fail a suite.
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  const url = withDatabase(process.env.PROBE_ATLAS_TEST_SERVER_URL!, name);
  const db = connectDatabase(url, { maxConnections: 4 });
  const users: (() => Promise<void>)[] = [];
  let dropping: Promise<void> | undefined;
  return {
    ...db,
    url,
    name,
    using(stop) {
      users.push(stop);
    },
    drop() {
      dropping ??= (async () => {
        const failures: unknown[] = [];
        for (const stop of users.splice(0).reverse()) {
          try {
            await stop();
          } catch (error) {
            failures.push(error);
          }
        }
        await db.close();
        await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
        if (failures.length) throw new AggregateError(failures, `${failures.length} user(s) of test database ${name} failed to stop`);
      })();
      return dropping;
    },
  };
}
