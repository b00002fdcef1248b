// The grid module's public face. Its four entry points, each one request validated by input.ts:
// - queryGrid: one metric summarised over the dense cross product of the requested dimensions (grid.ts);
// - queryComparison: two such grids on merged axes, their difference and its interval (compare.ts);
// - queryBestCells: per attribute group or attribute, the best (layer, timestep, pooling) (best-cells.ts);
// - currentAnswerToken: what a grid answer would be computed from now, one catalogue statement, for
//   the server's response cache (fingerprint.ts, axes.ts).
// Everything else in src/grid/ is how they do it; callers outside the module import from here.
export { queryGrid, currentAnswerToken, gridStatement, type GridOptions, type GridResult, type ChanceLevel } from './grid.ts';
export { queryComparison, type ComparisonResult } from './compare.ts';
export { queryBestCells, type BestCell } from './best-cells.ts';
export type { SummaryRow } from './aggregate.ts';
export type { Queryable } from './statement.ts';
export { GridResultCache, DEFAULT_CACHE_BYTES } from './cache.ts';
export type { Axis, AxisValue, GridCell, ComparisonCell } from './dense.ts';
export * from './input.ts';
