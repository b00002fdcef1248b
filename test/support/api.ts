// Starts the real API on an ephemeral port over a test database; requests go over real HTTP. The
// server registers with a test database's using(), so drop() stops it first even when a test
// forgot to (or failed before it could).
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/client.ts';
import { createApiServer } from '../../src/graphql/server.ts';
import type { Logger } from '../../src/log.ts';

export interface GraphqlResponse<Data = any> {
  status: number;
  headers: Headers;
  body: { data?: Data; errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, any> }> };
}

export interface TestApi {
  url: string;
  /** Origin of the server, e.g. `http://127.0.0.1:40123`. */
  origin: string;
  config: Config;
  stop(): Promise<void>;
  graphql<Data = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphqlResponse<Data>>;
}

/** Defaults: production-like (no stack traces), any origin, the configured limits; override per test. */
export async function startTestApi(db: Database & { url?: string; using?: (stop: () => Promise<void>) => void }, overrides: Partial<Config> = {}, log?: Logger): Promise<TestApi> {
  const config: Config = {
    ...loadConfig({}),
    databaseUrl: db.url,
    host: '127.0.0.1',
    port: 0,
    development: false,
    corsOrigins: '*',
    seedOnStart: false,
    ...overrides,
  };
  const server = await createApiServer({ db, config, log });
  db.using?.(server.stop); // server.stop is idempotent: a test's own stop() and drop() share it
  return {
    url: server.url,
    origin: new URL(server.url).origin,
    config,
    stop: server.stop,
    async graphql(query, variables, headers = {}) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      let body: GraphqlResponse['body'];
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`Non-JSON response (${response.status}): ${text.slice(0, 500)}`);
      }
      return { status: response.status, headers: response.headers, body };
    },
  };
}
