// Default request budgets, in one place for src/config.ts (environment variables) and for configs
// built in code (tests, benchmarks) that leave them out. No imports from config.ts: no cycle.
import os from 'node:os';

const cores = Math.max(1, os.availableParallelism());

export const DEFAULT_REQUEST_LIMITS = {
  /** GraphiQL's full introspection query is under 200 tokens, the documented examples under 100. */
  maxTokens: 5_000,
  maxAliases: 50,
  maxDirectives: 50,
  /** Fields, inline fragments and fragment spreads together; introspection fields are not counted. */
  maxNesting: 30,
  /** Twice GRAPHQL_MAX_GRID_CELLS' default: two full grids, or many small ones, per operation. */
  maxOperationCells: 200_000,
  maxResponseBytes: 64 * 1024 * 1024,
  /**
   * PostgreSQL does a grid's work: about one heavy operation per core keeps it busy. Capped at 4: a
   * full operation (maxOperationCells) peaks at roughly 150 MB of heap while its response is built,
   * so 4 of them stay well inside the API's 2 GB heap (API_MAX_HEAP_MB) with the caches beside them.
   */
  maxHeavyOperations: Math.min(4, Math.max(2, cores)),
  maxQueuedHeavyOperations: 4 * Math.min(4, Math.max(2, cores)),
  heavyQueueTimeoutMs: 10_000,
} as const;
