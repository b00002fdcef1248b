// createApiServer: Apollo on a plain node:http server listening on config.host:config.port (0 = any free port),
// with the process's one live channel (live.ts) for the subscriptions at /graphql/stream; stop() ends
// those streams first, so closing the server does not wait on them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { createExecutableSchema, startApollo } from './apollo.ts';
import { createHttpHandler, GRAPHQL_PATH } from './http-handler.ts';
import { createLogger, type Logger } from '../log.ts';
import { RunEvents } from './live.ts';

export interface ApiServer {
  /** The GraphQL endpoint (also the playground, opened in a browser). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** How long stop() lets requests in flight finish before it closes their connections (a client that never reads its answer must not hold a stop forever). */
const STOP_GRACE_MS = 5_000;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function createApiServer(options: { db: Database; config: Config; log?: Logger }): Promise<ApiServer> {
  const { db, config } = options;
  const log = options.log ?? createLogger('api');
  const schema = createExecutableSchema();
  const apollo = await startApollo(config, log, schema);
  const live = new RunEvents(db.pool.options, log);
  const server = createServer(createHttpHandler({ apollo, db, config, log, schema, live }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await live.stop();
    await apollo.stop();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${urlHost(config.host)}:${port}${GRAPHQL_PATH}`,
    port,
    stop() {
      stopping ??= (async () => {
        await live.stop(); // subscriptions complete and their responses end
        const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
        try {
          await closed;
        } finally {
          clearTimeout(force);
        }
        await apollo.stop();
      })();
      return stopping;
    },
  };
}
