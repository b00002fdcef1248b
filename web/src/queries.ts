// The atlas page's GraphQL documents: the page is the reference client of the public API, so every
// chart's data comes from one of these, and the page shows the document beside its chart. Their
// TypeScript types are generated from schema/*.graphql by `npm run codegen:web` (web/codegen.ts), so
// a schema change that breaks the page fails `tsc -p web` instead of a chart.

/** Everything the pickers need, in one request: models, norms, runs, the limits and the API's shape. */
export const CATALOGUE = /* GraphQL */ `
  query AtlasCatalogue {
    models {
      id
      name
      kind
      kindLabel
      components { id name kind position hasTimesteps layers { id index name } }
    }
    normsDatasets {
      id
      name
      version
      noiseCeiling { available reason }
      attributeGroups { id name position }
    }
    extractionRuns(first: 100) {
      nodes { id status model { id } progress { doneCount plannedCount fraction } }
    }
    probeRuns(first: 100) {
      nodes {
        id
        status
        error
        progress { doneCount plannedCount fraction }
        extractionRun { id }
        normsDataset { id }
      }
    }
    apiLimits { maxPageSize maxGridCells }
    probeCellType: __type(name: "ProbeCell") { fields { name } }
    metricType: __type(name: "Metric") { enumValues { name } }
  }
`;

/** The heatmap: layer × timestep of one component, pooling and attribute group. */
export const HEATMAP = /* GraphQL */ `
  query AtlasHeatmap($input: GridInput!) {
    grid(input: $input) {
      metric
      axes { dimension values { index key label id timestep } }
      cellCount
      columns { scoreCount mean sd ciLow ciHigh }
      chance { theoretical measured measuredScoreCount }
    }
  }
`;

/**
 * The curves: every attribute group over the timesteps of the chosen component (mean over its
 * layers), and over the text encoder's layers, in one request.
 */
export const CURVES = /* GraphQL */ `
  query AtlasCurves($timeline: GridInput!, $textEncoder: GridInput!, $withTextEncoder: Boolean!) {
    timeline: grid(input: $timeline) {
      axes { dimension values { index key label id } }
      columns { scoreCount mean ciLow ciHigh }
      chance { theoretical measured }
    }
    textEncoder: grid(input: $textEncoder) @include(if: $withTextEncoder) {
      axes { dimension values { index key label id } }
      columns { scoreCount mean ciLow ciHigh }
      chance { theoretical measured }
    }
  }
`;

/** One page of a probe run's cells (the cell picker, the bars' cell id, the disentanglement curves). */
export const PROBE_CELLS = /* GraphQL */ `
  query AtlasProbeCells($probeRunId: ID!, $first: Int!, $after: String) {
    probeRun(id: $probeRunId) {
      id
      probeCells(first: $first, after: $after) {
        nodes { id layer { id } timestep pooling conceptCount attributeTwoVsTwo attributeRsa conceptTwoVsTwo }
        pageInfo { hasNextPage endCursor }
        totalCount
      }
    }
  }
`;

/** The bars: every attribute's scores in one probe cell, and the cell's measured chance level. */
export const CELL_SCORES = /* GraphQL */ `
  query AtlasCellScores($probeCellId: ID!, $first: Int!, $chance: GridInput!) {
    probeCell(id: $probeCellId) {
      id
      conceptCount
      probeScores(first: $first) {
        nodes {
          attribute { id name position attributeGroup { id name } }
          pearsonR
          r2
          twoVsTwo
          pValue
          qValue
        }
        totalCount
      }
    }
    grid(input: $chance) {
      chance { theoretical measured measuredScoreCount }
    }
  }
`;

/** The matrices of one cell: attribute × attribute similarity of the human ratings and of the model's predictions. */
export const MATRIX = /* GraphQL */ `
  query AtlasMatrix($probeCellId: ID!) {
    probeCell(id: $probeCellId) {
      id
      timestep
      human: attributeMatrix(measure: HUMAN_SIMILARITY) { attributes { id name } values }
      model: attributeMatrix(measure: MODEL_SIMILARITY) { attributes { id name } values }
    }
  }
`;
