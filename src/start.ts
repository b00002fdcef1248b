// The main job behind `npm start`: a database (the configured one, or an embedded PostgreSQL),
// migrations, the first-start seed, then the GraphQL API. Scripts and workers write; the server reads.
import { loadConfig, type Config } from './config.ts';
import { connectDatabase, type Database } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { applyMigrations } from './db/migrate.ts';
import { seedDatabase } from './demo/seed.ts';
import { createApiServer } from './graphql/server.ts';
import { createLogger, type Logger } from './log.ts';

export interface RunningProbeAtlas {
  url: string;
  db: Database;
  stop(): Promise<void>;
}

export async function startProbeAtlas(config: Config = loadConfig(), log: Logger = createLogger('probe-atlas')): Promise<RunningProbeAtlas> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log.info('DATABASE_URL is not set: starting the embedded PostgreSQL', { dataDir: config.embeddedPostgres.dataDir });
      const embedded = await startEmbeddedPostgres({
        dataDir: config.embeddedPostgres.dataDir,
        port: config.embeddedPostgres.port,
        database: 'probe_atlas',
        log: () => {},
      });
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }
    await applyMigrations(databaseUrl);
    log.info('migrations applied');
    const db = connectDatabase(databaseUrl);
    stops.push(() => db.close());
    if (config.seedOnStart) await seedDatabase(db, { log });
    const api = await createApiServer({ db, config });
    stops.push(() => api.stop());
    log.info(`GraphQL API and playground at ${api.url}`);
    return { url: api.url, db, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
