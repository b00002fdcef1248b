// A cell's attribute × attribute matrices and its out-of-fold predictions, stored compactly as
// float32 little-endian bytea (probe_cell_matrix, probe_cell_prediction; migration
// 20261201140000_compact_cell_results) instead of one row per attribute pair. One place packs and
// unpacks them, for the probe writer, the API and the tests, so the layout is defined once:
// - a matrix is the upper triangle (i < j) of a symmetric m × m matrix, row-major over its
//   attribute_ids, NaN where undefined: (i, j) sits at triangleIndex(i, j, m);
// - predictions are n × m row-major (concept_ids × attribute_ids).
// Bytes whose length does not match their ids are refused (CellDataError), never read half-way.
import { endianness } from 'node:os';
import type pg from 'pg';
import { CodedError } from '../errors.ts';

/** The measures a cell stores as matrices (probe_cell_matrix.measure; docs/metrics.md §6). */
export const CELL_MATRIX_MEASURES = ['pair_accuracy', 'model_similarity', 'human_similarity'] as const;
export type CellMatrixMeasure = (typeof CELL_MATRIX_MEASURES)[number];

export class CellDataError extends CodedError<'BAD_CELL_DATA'> {
  constructor(message: string, options?: ErrorOptions) {
    super('BAD_CELL_DATA', 'failed', message, options);
  }
}

// Float32Array views use the platform's byte order; the stored order is little-endian.
if (endianness() !== 'LE') throw new CellDataError('probe_cell_matrix/probe_cell_prediction data are float32 little-endian; this platform is big-endian.');

/** Entries of the upper triangle (diagonal excluded) of an m × m matrix. */
export const triangleLength = (m: number): number => (m * (m - 1)) / 2;

/** Position of (i, j), i < j, in the row-major upper triangle of an m × m matrix. */
export function triangleIndex(i: number, j: number, m: number): number {
  return i * m - (i * (i + 1)) / 2 + (j - i - 1);
}

function toFloat32Bytes(values: ArrayLike<number>): Buffer {
  const out = values instanceof Float32Array ? values : Float32Array.from(values);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function fromFloat32Bytes(bytes: Uint8Array, expected: number, what: string): Float32Array {
  if (bytes.byteLength !== expected * 4) {
    throw new CellDataError(`${what}: ${bytes.byteLength} bytes, expected ${expected} float32 values (${expected * 4} bytes).`);
  }
  // Copy: pg's Buffers may share a pool-backed ArrayBuffer at an offset not aligned to 4.
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** float32 LE bytes of an upper triangle of m attributes (`values` in triangleIndex order). */
export function packTriangle(values: ArrayLike<number>, m: number): Buffer {
  if (values.length !== triangleLength(m)) throw new RangeError(`packTriangle: ${values.length} values, expected ${triangleLength(m)} for ${m} attributes.`);
  return toFloat32Bytes(values);
}

/** The upper triangle stored for `m` attributes; `what` names the row in the error. */
export function unpackTriangle(bytes: Uint8Array, m: number, what: string): Float32Array {
  return fromFloat32Bytes(bytes, triangleLength(m), what);
}

/** float32 LE bytes of an n × m row-major matrix. */
export function packMatrix(values: ArrayLike<number>, rows: number, columns: number): Buffer {
  if (values.length !== rows * columns) throw new RangeError(`packMatrix: ${values.length} values, expected ${rows}×${columns}.`);
  return toFloat32Bytes(values);
}

export function unpackMatrix(bytes: Uint8Array, rows: number, columns: number, what: string): Float32Array {
  return fromFloat32Bytes(bytes, rows * columns, what);
}

/**
 * The dense k × k matrix of the attributes at `rows` (indices into the stored attribute order), from a
 * stored triangle of m attributes: symmetric, `diagonal(i)` on the diagonal, null where a value is
 * undefined (NaN).
 */
export function denseFromTriangle(
  triangle: Float32Array, m: number, rows: readonly number[], diagonal: (i: number) => number | null,
): (number | null)[][] {
  return rows.map((i) => rows.map((j) => {
    if (i === j) return diagonal(i);
    const v = triangle[i < j ? triangleIndex(i, j, m) : triangleIndex(j, i, m)]!;
    return Number.isNaN(v) ? null : v;
  }));
}

type Queryable = pg.Pool | pg.PoolClient;

/** Writes a cell's matrices (one row per measure given) in the caller's transaction; re-writing a measure replaces it. */
export async function writeCellMatrices(
  client: Queryable, cellId: number, attributeIds: readonly number[], matrices: Partial<Record<CellMatrixMeasure, ArrayLike<number>>>,
): Promise<void> {
  const m = attributeIds.length;
  for (const measure of CELL_MATRIX_MEASURES) {
    const values = matrices[measure];
    if (values === undefined) continue;
    await client.query(
      `INSERT INTO probe_cell_matrix (cell_id, measure, attribute_ids, data) VALUES ($1, $2, $3, $4)
       ON CONFLICT (cell_id, measure) DO UPDATE SET attribute_ids = EXCLUDED.attribute_ids, data = EXCLUDED.data`,
      [cellId, measure, attributeIds, packTriangle(values, m)],
    );
  }
}

/** Writes a cell's out-of-fold predictions (n concepts × m attributes, row-major) in the caller's transaction. */
export async function writeCellPredictions(
  client: Queryable, cellId: number, conceptIds: readonly number[], attributeIds: readonly number[], predictions: ArrayLike<number>,
): Promise<void> {
  await client.query(
    `INSERT INTO probe_cell_prediction (cell_id, concept_ids, attribute_ids, data) VALUES ($1, $2, $3, $4)
     ON CONFLICT (cell_id) DO UPDATE SET concept_ids = EXCLUDED.concept_ids, attribute_ids = EXCLUDED.attribute_ids, data = EXCLUDED.data`,
    [cellId, conceptIds, attributeIds, packMatrix(predictions, conceptIds.length, attributeIds.length)],
  );
}

export interface CellMatrix {
  cellId: number;
  measure: CellMatrixMeasure;
  attributeIds: number[];
  /** Upper triangle, triangleIndex order over attributeIds. */
  values: Float32Array;
}

/** The stored matrices of `measure` for these cells (absent cells have none). One statement. */
export async function readCellMatrices(client: Queryable, cellIds: readonly number[], measure: CellMatrixMeasure): Promise<Map<number, CellMatrix>> {
  const { rows } = await client.query<{ cell_id: number; attribute_ids: number[]; data: Buffer }>(
    'SELECT cell_id, attribute_ids, data FROM probe_cell_matrix WHERE cell_id = ANY($1::int[]) AND measure = $2',
    [cellIds, measure],
  );
  return new Map(rows.map((row) => [row.cell_id, {
    cellId: row.cell_id, measure, attributeIds: row.attribute_ids,
    values: unpackTriangle(row.data, row.attribute_ids.length, `probe_cell_matrix (cell ${row.cell_id}, ${measure})`),
  }]));
}

export interface CellPredictions {
  cellId: number;
  conceptIds: number[];
  attributeIds: number[];
  /** conceptIds × attributeIds, row-major. */
  values: Float32Array;
}

/** The stored out-of-fold predictions of these cells. One statement. */
export async function readCellPredictions(client: Queryable, cellIds: readonly number[]): Promise<Map<number, CellPredictions>> {
  const { rows } = await client.query<{ cell_id: number; concept_ids: number[]; attribute_ids: number[]; data: Buffer }>(
    'SELECT cell_id, concept_ids, attribute_ids, data FROM probe_cell_prediction WHERE cell_id = ANY($1::int[])',
    [cellIds],
  );
  return new Map(rows.map((row) => [row.cell_id, {
    cellId: row.cell_id, conceptIds: row.concept_ids, attributeIds: row.attribute_ids,
    values: unpackMatrix(row.data, row.concept_ids.length, row.attribute_ids.length, `probe_cell_prediction (cell ${row.cell_id})`),
  }]));
}
