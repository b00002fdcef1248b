// The API as its own process for bench:burst, configured like `npm start` (environment variables,
// DATABASE_*_TIMEOUT_MS) but over the bench's scratch database and on a free loopback port; it
// prints its URL as one JSON line and stops on SIGTERM.
import { loadConfig } from '../../../src/config.ts';
import { connectDatabase } from '../../../src/db/client.ts';
import { createApiServer } from '../../../src/graphql/server.ts';

const config = loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0', SEED_ON_START: 'false', DEMO_PIPELINE: 'false' });
const db = connectDatabase(config.databaseUrl!, { timeouts: config.database });
const api = await createApiServer({ db, config });
process.stdout.write(`${JSON.stringify({ url: api.url, pid: process.pid })}\n`);
process.once('SIGTERM', () => {
  void api.stop().finally(() => db.close()).finally(() => process.exit(0));
});
