// npm start: serve the GraphQL API (and the embedded PostgreSQL when no DATABASE_URL is set).
import { startProbeAtlas } from '../src/start.ts';
import { createLogger } from '../src/log.ts';

const log = createLogger('probe-atlas');
try {
  const app = await startProbeAtlas(undefined, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    try {
      await app.stop();
      process.exit(0);
    } catch {
      process.exit(1); // each failure was logged by stop()
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
} catch (error) {
  log.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
