// The API process: migrations, seed, the GraphQL API and the demo pipeline (src/start.ts). `npm
// start`'s supervisor (src/supervisor/supervise.ts) runs it as a child, restarts it when it crashes
// and tells it the database; run by hand (`npx tsx scripts/serve.ts`) it is the same job without
// supervision (it then starts the embedded PostgreSQL itself when DATABASE_URL is unset).
import { startProbeAtlas } from '../src/start.ts';
import { exitCodeOf } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import type { ChildMessage } from '../src/supervisor/supervise.ts';

const log = createLogger('probe-atlas');
try {
  const app = await startProbeAtlas(undefined, log);
  process.send?.({ type: 'ready', url: app.url } satisfies ChildMessage);
  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: stopping`);
    try {
      await app.stop();
      process.exit(0);
    } catch {
      process.exit(1); // each failure was logged by stop()
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Supervised: the IPC channel closes when the supervisor is gone (killed): stop rather than linger.
  process.on('disconnect', () => void shutdown('the supervisor is gone'));
} catch (error) {
  // A bad environment variable is bad input (2); anything else that stops the start is a failed run (1).
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(exitCodeOf(error, ['bad-input']));
}
