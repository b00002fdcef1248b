// Default request budgets, in one place for src/config.ts (environment variables) and for configs
// built in code (tests, benchmarks) that leave them out. No imports from config.ts: no cycle.
import os from 'node:os';

const heavy = Math.min(4, Math.max(1, os.availableParallelism() - 1));

export const DEFAULT_REQUEST_LIMITS = {
  /** GraphiQL's full introspection query is under 200 tokens, the documented examples under 100. */
  maxTokens: 5_000,
  maxAliases: 50,
  maxDirectives: 50,
  /** Fields, inline fragments and fragment spreads together, introspection included (GraphiQL's nests 18). */
  maxNesting: 30,
  /** Twice GRAPHQL_MAX_GRID_CELLS' default: two full grids, or many small ones, per operation. */
  maxOperationCells: 200_000,
  maxResponseBytes: 64 * 1024 * 1024,
  /**
   * One heavy operation per core but one: PostgreSQL does a grid's aggregation on a core of its own,
   * and one is left to the event loop and to cheap queries (bench:burst on 2 cores: a cheap query's
   * p50 during a burst was ~3× lower with 1 than with 2). At most 4: building a response was measured
   * at ~1.7 KB of RSS per cell, so a full operation (maxOperationCells) peaks near 350 MB, and 4 of
   * them stay inside the API's 2 GB heap (API_MAX_HEAP_MB) with the grid caches (2 × 64 MiB) beside them.
   */
  maxHeavyOperations: heavy,
  maxQueuedHeavyOperations: 4 * heavy,
  heavyQueueTimeoutMs: 10_000,
} as const;
