// npm start: the supervisor (src/supervisor/supervise.ts). It owns the embedded PostgreSQL when no
// DATABASE_URL is set and runs the API (scripts/serve.ts) as a child process that it restarts
// when it crashes; Ctrl-C or SIGTERM stops the API, then PostgreSQL.
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { supervise } from '../src/supervisor/supervise.ts';

const log = createLogger('supervisor');
let config;
try {
  config = loadConfig();
} catch (error) {
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
process.exit(await supervise({ config, log }));
