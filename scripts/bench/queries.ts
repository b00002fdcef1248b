// The GraphQL documents the benchmarks send, in one module so a test (test/docs/graphql-examples.test.ts)
// keeps them valid against the schema: a bench whose query a rename broke would measure error responses.

/** The README's heatmap, cell by cell (bench:api). */
export const HEATMAP_QUERY = `query Heatmap($input: GridInput!) {
  grid(input: $input) {
    axes { dimension values { key label } }
    cells { scoreCount mean sd ciLow ciHigh }
  }
}`;

/** The same data as columns (one list per statistic): what a chart client should ask for (bench:api). */
export const HEATMAP_COLUMNS_QUERY = `query Heatmap($input: GridInput!) {
  grid(input: $input) {
    axes { dimension values { key label } }
    columns { scoreCount mean sd ciLow ciHigh }
  }
}`;

/** The cheap catalogue query timed during the burst (bench:burst). */
export const CHEAP_QUERY = '{ models { name components { name } } normsDatasets { name } }';

/** One large grid of the burst (bench:burst). */
export const BURST_GRID_QUERY = `query Burst($input: GridInput!) { grid(input: $input) { cellCount axes { dimension values { key } } cells { index coordinates scoreCount mean sd ciLow ciHigh } } }`;

/** The burst grid's size alone (bench:burst). */
export const BURST_SIZE_QUERY = 'query BurstSize($input: GridInput!) { grid(input: $input) { cellCount } }';

/** The limits the burst runs under (bench:burst). */
export const LIMITS_QUERY = '{ apiLimits { maxGridCells maxOperationCells maxResponseBytes } }';
