// Bulk reads and writes of activation summaries: float32 vectors stored as bytea (docs/database.md).
// Writes are idempotent: a summary that already exists for (run, concept, layer, timestep, pooling)
// is left as it is, so a resumed run never writes a row twice.
import type pg from 'pg';
import { CodedError } from '../errors.ts';

/** Stored summaries that cannot be read as what they claim to be (a vector of the wrong size). */
export class CorruptSummaryError extends CodedError<'CORRUPT_SUMMARY'> {
  constructor(message: string) {
    super('CORRUPT_SUMMARY', 'failed', message);
  }
}

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
 *
 * Speed: every vector travels inside ONE bytea parameter (node-postgres sends Buffer parameters in
 * binary), and the server cuts it into rows with substring(); only the small scalar columns go as
 * text arrays. A bytea[] parameter would instead be hex-encoded as text (2× the bytes, plus array
 * parsing) and is ~7× slower for 768-float vectors (npm run bench:extract).
 */
export async function writeSummaries(client: pg.Pool | pg.PoolClient, rows: readonly SummaryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  // One bytea parameter must stay well under PostgreSQL's 1 GB value limit.
  const bytes = rows.reduce((sum, row) => sum + row.vector.byteLength, 0);
  if (bytes > 256 * 2 ** 20 && rows.length > 1) {
    const half = rows.length >> 1;
    return (await writeSummaries(client, rows.slice(0, half))) + (await writeSummaries(client, rows.slice(half)));
  }
  const n = rows.length;
  const run = new Array<number>(n);
  const concept = new Array<number>(n);
  const layer = new Array<number>(n);
  const timestep = new Array<number | null>(n);
  const pooling = new Array<string>(n);
  const dim = new Array<number>(n);
  const offset = new Array<number>(n);
  const norm = new Array<number>(n);
  const mean = new Array<number>(n);
  const std = new Array<number>(n);
  let totalBytes = 0;
  rows.forEach((row, r) => {
    for (let i = 0; i < row.vector.length; i++) {
      if (!Number.isFinite(row.vector[i]!)) {
        throw new RangeError(`Summary for concept ${row.conceptId}, layer ${row.layerId}, timestep ${row.timestep}, pooling ${row.pooling} has a non-finite value at index ${i}.`);
      }
    }
    const stats = vectorStats(row.vector);
    run[r] = row.runId;
    concept[r] = row.conceptId;
    layer[r] = row.layerId;
    timestep[r] = row.timestep;
    pooling[r] = row.pooling;
    dim[r] = row.vector.length;
    offset[r] = totalBytes;
    norm[r] = stats.norm;
    mean[r] = stats.mean;
    std[r] = stats.std;
    totalBytes += row.vector.byteLength;
  });
  const vectors = Buffer.allocUnsafe(totalBytes);
  rows.forEach((row, r) => vectorToBytes(row.vector).copy(vectors, offset[r]!));
  const result = await client.query(
    `INSERT INTO activation_summary (run_id, concept_id, layer_id, timestep, pooling, dim, vector, norm, mean, std)
     SELECT u.run, u.concept, u.layer, u.timestep, u.pooling, u.dim, substring($7::bytea FROM u.byte_offset + 1 FOR u.dim * 4), u.norm, u.mean, u.std
     FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::text[], $6::int[], $8::int[], $9::float8[], $10::float8[], $11::float8[])
       AS u(run, concept, layer, timestep, pooling, dim, byte_offset, norm, mean, std)
     ON CONFLICT DO NOTHING`,
    [run, concept, layer, timestep, pooling, dim, vectors, offset, norm, mean, std],
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
  // `IS NOT DISTINCT FROM` cannot use the (run, layer, timestep, pooling, concept) index, and a real
  // run has ~50 timesteps per layer: spell out the NULL case instead.
  const timestepMatch = cell.timestep === null ? 'timestep IS NULL' : 'timestep = $5';
  const result = await client.query<{ concept_id: number; dim: number; vector: Buffer }>(
    `SELECT concept_id, dim, vector FROM activation_summary
     WHERE run_id = $1 AND layer_id = $2 AND ${timestepMatch} AND pooling = $3
       AND ($4::int[] IS NULL OR concept_id = ANY($4::int[]))
     ORDER BY concept_id`,
    [cell.runId, cell.layerId, cell.pooling, cell.conceptIds ?? null, ...(cell.timestep === null ? [] : [cell.timestep])],
  );
  const dim = result.rows[0]?.dim ?? 0;
  const data = new Float32Array(result.rows.length * dim);
  const where = (conceptId: number) => `run ${cell.runId}, concept ${conceptId}, layer ${cell.layerId}, timestep ${cell.timestep ?? 'none'}, pooling ${cell.pooling}`;
  result.rows.forEach((row, i) => {
    if (row.dim !== dim) throw new CorruptSummaryError(`The summary of ${where(row.concept_id)} has dimension ${row.dim}, the cell's others ${dim}.`);
    // A vector whose bytes are not `dim` float32 values is refused, never read short or padded with zeros.
    if (row.vector.byteLength !== dim * 4) throw new CorruptSummaryError(`The summary of ${where(row.concept_id)} holds ${row.vector.byteLength} bytes, not ${dim} float32 values (${dim * 4} bytes).`);
    data.set(bytesToVector(row.vector), i * dim);
  });
  return { conceptIds: result.rows.map((row) => row.concept_id), dim, data };
}
