// npm start: the supervisor (src/supervisor/supervise.ts). It owns the embedded PostgreSQL when no
// DATABASE_URL is set and runs the API (scripts/serve.ts) as API_PROCESSES child processes on one
// port, each restarted when it crashes; Ctrl-C or SIGTERM stops the API processes, then PostgreSQL.
// A bad environment variable is bad input (exit 2, src/errors.ts); the exit codes after that are
// the supervisor's.
import { loadConfig } from '../src/config.ts';
import { exitCodeOf } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { supervise } from '../src/supervisor/supervise.ts';

const log = createLogger('supervisor');
let config;
try {
  config = loadConfig();
} catch (error) {
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(exitCodeOf(error));
}
process.exit(await supervise({ config, log }));
