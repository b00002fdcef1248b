// The API process: migrations, seed, the GraphQL API and the demo pipeline (src/start.ts). `npm
// start`'s supervisor (src/supervisor/supervise.ts) runs it as a node:cluster worker, restarts it
// when it crashes and tells it the database and its part (API_ROLE_VARIABLE: a `replica` only
// serves); run by hand (`npx tsx scripts/serve.ts`) it is the same job without supervision (it then
// starts the embedded PostgreSQL itself when DATABASE_URL is unset), and several run by hand on one
// database serve alike.
// Supervised, it shares the supervisor's process group (cluster workers cannot be detached), so the
// terminal's SIGINT and SIGHUP reach it too: it leaves them to the supervisor, which stops the API
// processes with SIGTERM before PostgreSQL; unsupervised, SIGINT and SIGTERM both stop it.
import cluster from 'node:cluster';
import { startProbeAtlas } from '../src/start.ts';
import { exitCodeOf } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { API_ROLE_VARIABLE, type ChildMessage } from '../src/supervisor/supervise.ts';

const log = createLogger('probe-atlas');
const supervised = typeof process.send === 'function';
const serveOnly = process.env[API_ROLE_VARIABLE] === 'replica';
// Handled before the start (which may take a while: migrations, seed) so an early Ctrl-C does not
// kill a supervised child behind its supervisor's back.
if (supervised) for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => {});
// A cluster worker whose IPC channel closes unexpectedly (the supervisor was killed) exits at once:
// node:cluster's own 'disconnect' listener calls process.exit(0). This process stops gracefully
// instead (the demo pipeline after its unit in flight, then the API), so that listener goes.
if (cluster.isWorker) for (const listener of process.listeners('disconnect')) process.off('disconnect', listener);
let shutdown: ((reason: string) => void) | undefined;
let orphaned = false;
// The IPC channel closes when the supervisor is gone (killed): stop rather than linger, after the start if it is under way.
if (supervised) process.on('disconnect', () => (shutdown ? shutdown('the supervisor is gone') : (orphaned = true)));
try {
  const app = await startProbeAtlas(undefined, log, { serveOnly });
  if (process.connected) process.send?.({ type: 'ready', url: app.url } satisfies ChildMessage);
  let stopping = false;
  shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: stopping`);
    app.stop().then(() => process.exit(0), () => process.exit(1)); // each failure was logged by stop()
  };
  if (!supervised) process.on('SIGINT', () => shutdown?.('SIGINT'));
  process.on('SIGTERM', () => shutdown?.('SIGTERM'));
  if (orphaned) shutdown('the supervisor is gone');
} catch (error) {
  // A bad environment variable is bad input (2); anything else that stops the start is a failed run (1).
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(exitCodeOf(error, ['bad-input']));
}
