// The API process's job (scripts/serve.ts, which `npm start`'s supervisor runs and restarts): a
// database (the configured one, or an embedded PostgreSQL when run unsupervised), migrations, the
// first-start seed, then the GraphQL API. Scripts and workers write; the server reads.
// The demo pipeline (docs/demo.md) runs in the background once the API serves: it writes through
// the same run modules as the scripts, never through the API. With API_PROCESSES > 1 the supervisor
// starts the other API processes `serveOnly`: the first one has migrated, seeded and runs the demo.
import { loadConfig, type Config } from './config.ts';
import { connectDatabase, type Database } from './db/client.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';
import { applyMigrations } from './db/migrate.ts';
import { seedDatabase, type DemoPipelineSettings } from './demo/seed.ts';
import { startDemoPipeline, type DemoPipelineHandle } from './demo/pipeline/background.ts';
import { createApiServer } from './graphql/server.ts';
import { createLogger, type Logger } from './log.ts';

export interface RunningProbeAtlas {
  url: string;
  db: Database;
  /** The background demo pipeline; null when DEMO_PIPELINE or SEED_ON_START is off, or serving only. */
  demo: DemoPipelineHandle | null;
  /** Stops the demo pipeline (after its current concept or cell), then the API and the database. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Overrides of the demo pipeline's settings (tests shrink it). */
  demoSettings?: Partial<DemoPipelineSettings>;
  /** Only serve: no migrations, no seed, no demo pipeline (another process of the same database does them). */
  serveOnly?: boolean;
}

export async function startProbeAtlas(config: Config = loadConfig(), log: Logger = createLogger('probe-atlas'), options: StartOptions = {}): Promise<RunningProbeAtlas> {
  const stops: (() => Promise<void>)[] = [];
  // Last started, first stopped; each once, and a failing stop never skips the ones after it (above
  // all the embedded PostgreSQL, which would otherwise keep running with its data folder locked).
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const stop of [...stops].reverse()) {
        try {
          await stop();
        } catch (error) {
          failures.push(error);
          log.error(`stopping: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      if (failures.length) throw new AggregateError(failures, `${failures.length} part(s) failed to stop`);
    })();
    return stopping;
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
    if (options.serveOnly) {
      log.info('serving only: migrations, seed and demo pipeline are the first API process\'s');
    } else {
      await applyMigrations(databaseUrl);
      log.info('migrations applied');
    }
    // The API's own limits (DATABASE_*_TIMEOUT_MS); the demo pipeline's worker opens its own, unbounded pool.
    // A connection the server dropped (a restart, a terminated backend) is replaced; say so, never crash.
    const db = connectDatabase(databaseUrl, {
      timeouts: config.database,
      onConnectionError: (error) => log.warn(`database connection lost: ${error.message} (the pool replaces it)`),
    });
    stops.push(() => db.close());
    if (config.seedOnStart && !options.serveOnly) await seedDatabase(db, { log });
    const api = await createApiServer({ db, config, log });
    stops.push(() => api.stop());
    log.info(`GraphQL API and playground at ${api.url}`);
    let demo: DemoPipelineHandle | null = null;
    if (config.demoPipeline && config.seedOnStart && !options.serveOnly) {
      demo = startDemoPipeline({ databaseUrl, log, settings: options.demoSettings });
      const running = demo;
      stops.push(() => running.stop());
    } else if (!options.serveOnly) {
      log.info(`demo pipeline: skipped (${config.demoPipeline ? 'SEED_ON_START=false' : 'DEMO_PIPELINE=false'})`);
    }
    return { url: api.url, db, demo, stop: stopAll };
  } catch (error) {
    await stopAll().catch(() => {}); // logged; the start-up error is the one to report
    throw error;
  }
}
