// Every environment variable probe-atlas reads, parsed and typed in one place.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_REQUEST_LIMITS } from './graphql/limits/defaults.ts';
import { CodedError } from './errors.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Config {
  /** PostgreSQL URL; when absent the server starts an embedded PostgreSQL. */
  databaseUrl: string | undefined;
  host: string;
  port: number;
  /** Origins allowed by CORS; `*` allows any. */
  corsOrigins: string[] | '*';
  /** Development mode (NODE_ENV unset or `development`); it no longer exposes error details by itself. */
  development: boolean;
  /**
   * EXPOSE_ERROR_DETAILS: stack traces, source paths and database messages in error responses
   * (off by default, in development too: they help an attacker more than a user). Optional so
   * partial test configs keep compiling; absent means off.
   */
  exposeErrorDetails?: boolean;
  /** Timeouts of the API's connections to PostgreSQL (scripts choose their own); optional as above. */
  database?: DatabaseTimeouts;
  embeddedPostgres: { dataDir: string; port: number };
  /** API_MAX_HEAP_MB: V8 heap limit of the API process npm start's supervisor runs (0 = Node's default); optional for partial test configs. */
  apiMaxHeapMb?: number;
  /**
   * API_PROCESSES: how many API processes npm start's supervisor runs on the one port (node:cluster;
   * `auto` = the CPU cores available); optional for partial test configs, absent means 1.
   */
  apiProcesses?: number;
  limits: {
    maxDepth: number;
    maxCost: number;
    maxPageSize: number;
    /** Largest dense grid (product of axis lengths) a grid or comparison may describe; optional so partial test configs keep compiling. */
    maxGridCells?: number;
    // Request budgets (src/graphql/limits/): optional for partial test configs; defaults in limits/defaults.ts.
    /** Most lexical tokens in one document (the parser stops counting there). */
    maxTokens?: number;
    /** Most aliases in one operation, fragments expanded. */
    maxAliases?: number;
    /** Most directives in one operation, fragments expanded. */
    maxDirectives?: number;
    /** Deepest nesting of fields, inline fragments and fragment spreads together. */
    maxNesting?: number;
    /** Most dense grid cells one operation may build, over all its grid, compareGrid and bestCells fields. */
    maxOperationCells?: number;
    /** Largest estimated response of one operation's grid fields, in bytes. */
    maxResponseBytes?: number;
    /** Heavy operations (grid, compareGrid, bestCells) running at once; more wait in a queue. */
    maxHeavyOperations?: number;
    /** Heavy operations waiting for a slot; beyond that they are refused with SERVER_BUSY. */
    maxQueuedHeavyOperations?: number;
    /** Longest wait in that queue before SERVER_BUSY, in milliseconds. */
    heavyQueueTimeoutMs?: number;
  };
  /** Whether the first start seeds an empty database with the bundled Binder norms. */
  seedOnStart: boolean;
  /**
   * Whether npm start runs the demo pipeline (tiny test bundle → extraction → probes, GloVe baseline)
   * in the background after seeding; see docs/demo.md.
   */
  demoPipeline: boolean;
  /**
   * API_CONTROL_TOKEN: the bearer token the control mutations (cancelRun, retryRun) require
   * (`Authorization: Bearer <token>`); undefined = control through the API is off, every mutation refused.
   * Optional so partial test configs keep compiling.
   */
  controlToken?: string | undefined;
}

/**
 * How long the API waits on PostgreSQL. `connectMs` bounds both opening a connection and waiting for a
 * free one in the pool; `statementMs` is PostgreSQL's statement_timeout; `queryMs` is the client-side
 * backstop for a server that answers nothing at all (frozen, or a network that drops packets), which
 * statement_timeout cannot catch. `null` means no limit (bulk-writing scripts).
 */
export interface DatabaseTimeouts {
  connectMs: number | null;
  statementMs: number | null;
  queryMs: number | null;
}

/** An environment variable that does not parse: bad input (exit 2, src/errors.ts). */
export class ConfigError extends CodedError<'INVALID_ENVIRONMENT'> {
  constructor(readonly variable: string, value: string, expected: string) {
    super('INVALID_ENVIRONMENT', 'bad-input', `Environment variable ${variable}=${JSON.stringify(value)} is invalid: expected ${expected}.`);
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(name, raw, 'true or false');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cors = env.CORS_ORIGINS?.trim();
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    host: env.HOST || 'localhost',
    port: integer(env, 'PORT', 4000, 0, 65535),
    corsOrigins: !cors || cors === '*' ? '*' : cors.split(',').map((origin) => origin.trim()).filter(Boolean),
    development: (env.NODE_ENV ?? 'development') === 'development',
    exposeErrorDetails: boolean(env, 'EXPOSE_ERROR_DETAILS', false),
    database: {
      connectMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, 1),
      statementMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 15_000, 1),
      queryMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 20_000, 1),
    },
    apiMaxHeapMb: integer(env, 'API_MAX_HEAP_MB', 2048, 0),
    apiProcesses: env.API_PROCESSES?.trim().toLowerCase() === 'auto' ? os.availableParallelism() : integer(env, 'API_PROCESSES', 1, 1, 1024),
    embeddedPostgres: {
      dataDir: path.resolve(PROJECT_ROOT, env.EMBEDDED_PG_DIR || '.data/postgres'),
      port: integer(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
    },
    limits: {
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 12, 1, 100),
      maxCost: integer(env, 'GRAPHQL_MAX_COST', 50_000, 1),
      maxPageSize: integer(env, 'GRAPHQL_MAX_PAGE_SIZE', 500, 1, 100_000),
      maxGridCells: integer(env, 'GRAPHQL_MAX_GRID_CELLS', 100_000, 1),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', DEFAULT_REQUEST_LIMITS.maxTokens, 1),
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', DEFAULT_REQUEST_LIMITS.maxAliases, 0),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', DEFAULT_REQUEST_LIMITS.maxDirectives, 0),
      maxNesting: integer(env, 'GRAPHQL_MAX_NESTING', DEFAULT_REQUEST_LIMITS.maxNesting, 1),
      maxOperationCells: integer(env, 'GRAPHQL_MAX_OPERATION_CELLS', DEFAULT_REQUEST_LIMITS.maxOperationCells, 1),
      maxResponseBytes: integer(env, 'GRAPHQL_MAX_RESPONSE_BYTES', DEFAULT_REQUEST_LIMITS.maxResponseBytes, 1),
      maxHeavyOperations: integer(env, 'GRAPHQL_MAX_HEAVY_OPERATIONS', DEFAULT_REQUEST_LIMITS.maxHeavyOperations, 1),
      maxQueuedHeavyOperations: integer(env, 'GRAPHQL_MAX_QUEUED_HEAVY_OPERATIONS', DEFAULT_REQUEST_LIMITS.maxQueuedHeavyOperations, 0),
      heavyQueueTimeoutMs: integer(env, 'GRAPHQL_HEAVY_QUEUE_TIMEOUT_MS', DEFAULT_REQUEST_LIMITS.heavyQueueTimeoutMs, 1),
    },
    seedOnStart: boolean(env, 'SEED_ON_START', true),
    demoPipeline: boolean(env, 'DEMO_PIPELINE', true),
    controlToken: env.API_CONTROL_TOKEN || undefined,
  };
}
