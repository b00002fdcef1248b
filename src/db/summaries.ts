// Bulk reads and writes of activation summaries: float32 vectors stored as bytea (docs/database.md).
// Writes are idempotent: a summary that already exists for (run, concept, layer, timestep, pooling)
// is left as it is, so a resumed run never writes a row twice.
import type pg from 'pg';

export interface SummaryRow {
  runId: number;
  conceptId: number;
  layerId: number;
  /** Denoising timestep, or null for components without one (text encoder, word embeddings). */
  timestep: number | null;
  pooling: string;
  vector: Float32Array;
}

export interface VectorStats {
  norm: number;
  mean: number;
  std: number;
}

export function vectorStats(vector: Float32Array): VectorStats {
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < vector.length; i++) {
    const v = vector[i]!;
    sum += v;
    sumSquares += v * v;
  }
  const n = vector.length || 1;
  const mean = sum / n;
  return { norm: Math.sqrt(sumSquares), mean, std: Math.sqrt(Math.max(0, sumSquares / n - mean * mean)) };
}

/** Little-endian float32 bytes of a vector, without copying when it already owns its buffer. */
export function vectorToBytes(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function bytesToVector(bytes: Uint8Array): Float32Array {
  // Copy: pg's Buffers may share a pool-backed ArrayBuffer at an offset not aligned to 4.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * Inserts summaries in one statement (call it inside the caller's transaction for atomicity).
 * Returns how many rows were new.
 */
export async function writeSummaries(client: pg.Pool | pg.PoolClient, rows: readonly SummaryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const columns = {
    run: [] as number[], concept: [] as number[], layer: [] as number[], timestep: [] as (number | null)[],
    pooling: [] as string[], dim: [] as number[], vector: [] as Buffer[], norm: [] as number[], mean: [] as number[], std: [] as number[],
  };
  for (const row of rows) {
    for (let i = 0; i < row.vector.length; i++) {
      if (!Number.isFinite(row.vector[i]!)) {
        throw new RangeError(`Summary for concept ${row.conceptId}, layer ${row.layerId}, timestep ${row.timestep}, pooling ${row.pooling} has a non-finite value at index ${i}.`);
      }
    }
    const stats = vectorStats(row.vector);
    columns.run.push(row.runId);
    columns.concept.push(row.conceptId);
    columns.layer.push(row.layerId);
    columns.timestep.push(row.timestep);
    columns.pooling.push(row.pooling);
    columns.dim.push(row.vector.length);
    columns.vector.push(vectorToBytes(row.vector));
    columns.norm.push(stats.norm);
    columns.mean.push(stats.mean);
    columns.std.push(stats.std);
  }
  const result = await client.query(
    `INSERT INTO activation_summary (run_id, concept_id, layer_id, timestep, pooling, dim, vector, norm, mean, std)
     SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::text[], $6::int[], $7::bytea[], $8::float8[], $9::float8[], $10::float8[])
     ON CONFLICT DO NOTHING`,
    [columns.run, columns.concept, columns.layer, columns.timestep, columns.pooling, columns.dim, columns.vector, columns.norm, columns.mean, columns.std],
  );
  return result.rowCount ?? 0;
}

export interface SummaryMatrix {
  /** Concept ids, one per row of `data`, ascending. */
  conceptIds: number[];
  dim: number;
  /** Row-major n × dim. */
  data: Float32Array;
}

/** All summaries of one cell (run, layer, timestep, pooling) as a concept × feature matrix. */
export async function readSummaryMatrix(
  client: pg.Pool | pg.PoolClient,
  cell: { runId: number; layerId: number; timestep: number | null; pooling: string; conceptIds?: readonly number[] },
): Promise<SummaryMatrix> {
  const result = await client.query<{ concept_id: number; dim: number; vector: Buffer }>(
    `SELECT concept_id, dim, vector FROM activation_summary
     WHERE run_id = $1 AND layer_id = $2 AND timestep IS NOT DISTINCT FROM $3 AND pooling = $4
       AND ($5::int[] IS NULL OR concept_id = ANY($5::int[]))
     ORDER BY concept_id`,
    [cell.runId, cell.layerId, cell.timestep, cell.pooling, cell.conceptIds ?? null],
  );
  const dim = result.rows[0]?.dim ?? 0;
  const data = new Float32Array(result.rows.length * dim);
  result.rows.forEach((row, i) => {
    if (row.dim !== dim) throw new RangeError(`Summaries of layer ${cell.layerId} disagree on dimension (${row.dim} vs ${dim}).`);
    data.set(bytesToVector(row.vector), i * dim);
  });
  return { conceptIds: result.rows.map((row) => row.concept_id), dim, data };
}
