// The `timings` JSON each run writer stores, read into the SDL's typed shapes: one per run kind
// (network extraction, word-embedding extraction, probe run) and one per probe cell. The stored
// JSON keeps its writers' keys (src/extraction/run.ts, src/baselines/glove-run.ts,
// src/probe-runs/run.ts and write.ts); a key that is absent or not a number reads as null.

type Stored = Record<string, unknown>;

function object(value: unknown): Stored {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Stored) : {};
}

function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function integer(value: unknown): number | null {
  const n = number(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

function string(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export type ExtractionTimingsKind = 'PipelineExtractionTimings' | 'WordEmbeddingExtractionTimings';

/** src/extraction/run.ts RunTimings: seconds per stage summed over concepts, and the concept count. */
export function pipelineExtractionTimings(stored: unknown) {
  const t = object(stored);
  return {
    kind: 'PipelineExtractionTimings' as const,
    textEncoderSeconds: number(t.textEncoder),
    unetSeconds: number(t.unet),
    vaeSeconds: number(t.vae),
    poolingSeconds: number(t.pooling),
    pipelineSeconds: number(t.pipeline),
    writeSeconds: number(t.writes),
    wallSeconds: number(t.wall),
    conceptCount: integer(t.concepts),
  };
}

/** src/baselines/glove-run.ts: load, lookup, write and total seconds, and the load's RSS growth. */
export function wordEmbeddingExtractionTimings(stored: unknown) {
  const t = object(stored);
  return {
    kind: 'WordEmbeddingExtractionTimings' as const,
    loadSeconds: number(t.loadSeconds),
    loadRssDeltaMegabytes: number(t.loadRssDeltaMB),
    lookupSeconds: number(t.lookupSeconds),
    writeSeconds: number(t.writeSeconds),
    totalSeconds: number(t.totalSeconds),
  };
}

/**
 * src/probe-runs: `lastSession` and `concepts` written on completion, `skipped` (cell key
 * `layerId|timestep|pooling` → reason) as cells are skipped.
 */
export function probeRunTimings(stored: unknown) {
  const t = object(stored);
  const session = t.lastSession === undefined ? null : object(t.lastSession);
  const concepts = object(t.concepts);
  return {
    lastSession: session && {
      durationSeconds: number(session.seconds),
      writtenCellCount: integer(session.cellsWritten),
      skippedCellCount: integer(session.cellsSkipped),
      backend: string(session.backend),
    },
    completeConceptCount: integer(concepts.withCompleteRatings),
    droppedConceptCount: integer(concepts.droppedIncompleteRatings),
    skippedCells: Object.entries(object(t.skipped)).map(([key, reason]) => {
      const [layerId, timestep, ...pooling] = key.split('|');
      return { layerId: Number(layerId), timestep: timestep ? Number(timestep) : null, pooling: pooling.join('|'), reason: String(reason) };
    }),
  };
}

/** src/probe-runs/run.ts: read, the fit's stages (src/probes/cell.ts) and the time before the write. */
export function probeCellTimings(stored: unknown) {
  const t = object(stored);
  return {
    readSeconds: number(t.read),
    fitSeconds: number(t.fit),
    productsSeconds: number(t.products),
    decompositionSeconds: number(t.decomposition),
    scoreSeconds: number(t.score),
    bootstrapSeconds: number(t.bootstrap),
    disentanglementSeconds: number(t.disentanglement),
    beforeWriteSeconds: number(t.beforeWrite),
  };
}
