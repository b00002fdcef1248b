// npm run bench:storage — what one probe cell's attribute × attribute results cost on disk, the old
// way (one attribute_pair_score row per pair, the old writer's statement, its table and indexes
// rebuilt in a scratch schema) against the compact storage (probe_cell_matrix: one float32 triangle
// per measure, and probe_cell_prediction: the n × m out-of-fold predictions), written by the
// writer's own functions (src/db/cell-matrices.ts). Two cell shapes, each from a real probeCell
// result on SYNTHETIC data: Binder-sized (the GloVe → Binder cell: 223 concepts × 65 attributes) and
// sparse-norms-sized (541 concepts × 2,526 mostly-zero feature counts). Sizes are whole relations
// (heap, indexes, TOAST) after VACUUM, divided by the cells written.
// Env: BENCH_SMALL_CELLS (20 Binder-sized cells), BENCH_SPARSE (1: also the sparse-sized cell; its
// probeCell and its 3.2 M pair rows take minutes on two cores, BENCH_SPARSE=0 leaves it out).
import pg from 'pg';
import { writeCellMatrices, writeCellPredictions } from '../../src/db/cell-matrices.ts';
import { probeCell, type CellResult } from '../../src/probes/cell.ts';
import { assignFolds } from '../../src/probes/folds.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { createScratchDatabase } from './api/scratch-database.ts';

const SMALL_CELLS = Number(process.env.BENCH_SMALL_CELLS ?? 20);
const SPARSE = process.env.BENCH_SPARSE !== '0';
const log = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const size = (bytes: number) => (bytes >= 2 ** 20 ? mb(bytes) : kb(bytes));

/** A real cell result: n concepts × m attributes; `sparse`: feature-production-like counts, mostly zero. */
async function cellResult(n: number, m: number, sparse: boolean): Promise<CellResult> {
  const random = seededRandom(7);
  const d = 100;
  const ratings = new Float64Array(n * m);
  for (let a = 0; a < m; a++) {
    const support = sparse ? 2 + Math.floor(random() ** 3 * 120) : n;
    for (let i = 0; i < n; i++) if (!sparse || random() < support / n) ratings[i * m + a] = sparse ? 1 + Math.floor(random() * 30) : 1 + 5 * random();
  }
  const projection = Float64Array.from({ length: m * d }, () => random() - 0.5);
  const features = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) {
    const r = ratings[i * m + a]!;
    if (r !== 0) for (let j = 0; j < d; j++) features[i * d + j] = features[i * d + j]! + r * projection[a * d + j]!;
  }
  for (let k = 0; k < features.length; k++) features[k] = features[k]! + 3 * (random() - 0.5);
  const groups = Array.from({ length: 10 }, (_, g) => Array.from({ length: m }, (_, a) => a).filter((a) => a % 10 === g));
  return probeCell({ features, n, d, ratings, attributes: m, groups, foldOf: assignFolds(n, 10, 0), alphas: [0.1, 1, 10, 100, 1000], permutations: 0, bootstrap: 10, seed: 0 });
}

async function relationBytes(client: pg.PoolClient, table: string): Promise<number> {
  await client.query(`VACUUM ANALYZE ${table}`);
  return Number((await client.query<{ bytes: string }>(`SELECT pg_total_relation_size('${table}') AS bytes`)).rows[0]!.bytes);
}

async function measure(pool: pg.Pool, label: string, n: number, m: number, cells: number, sparse: boolean): Promise<void> {
  let started = performance.now();
  const result = await cellResult(n, m, sparse);
  log(`\n${label}: ${n} concepts × ${m} attributes (${(m * (m - 1)) / 2} pairs), ${cells} cell(s); probeCell ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const client = await pool.connect();
  try {
    await client.query('DROP SCHEMA IF EXISTS old_layout CASCADE; CREATE SCHEMA old_layout');
    // The old table as migration 20261126052313_init created it (its foreign keys left out: they cost no space).
    await client.query(`
      CREATE TABLE old_layout.attribute_pair_score (id SERIAL NOT NULL, cell_id INTEGER NOT NULL, attribute_a_id INTEGER NOT NULL,
        attribute_b_id INTEGER NOT NULL, accuracy DOUBLE PRECISION NOT NULL, CONSTRAINT attribute_pair_score_pkey PRIMARY KEY (id));
      CREATE UNIQUE INDEX attribute_pair_score_cell_id_attribute_a_id_attribute_b_id_key ON old_layout.attribute_pair_score(cell_id, attribute_a_id, attribute_b_id);
      TRUNCATE probe_cell_matrix, probe_cell_prediction;
    `);
    const attributeIds = Array.from({ length: m }, (_, a) => 1 + a);
    const conceptIds = Array.from({ length: n }, (_, i) => 1 + i);
    let oldSeconds = 0, newSeconds = 0, oldRows = 0;
    for (let cellId = 1; cellId <= cells; cellId++) {
      // The old writer: finite pairs only, one row each.
      const pairA: number[] = [], pairB: number[] = [], accuracy: number[] = [];
      let pair = 0;
      for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++, pair++) {
        const value = result.pairAccuracies[pair]!;
        if (!Number.isFinite(value)) continue;
        pairA.push(attributeIds[a]!);
        pairB.push(attributeIds[b]!);
        accuracy.push(value);
      }
      oldRows += pairA.length;
      started = performance.now();
      await client.query(
        `INSERT INTO old_layout.attribute_pair_score (cell_id, attribute_a_id, attribute_b_id, accuracy)
         SELECT $1, * FROM unnest($2::int[], $3::int[], $4::float8[])`,
        [cellId, pairA, pairB, accuracy],
      );
      oldSeconds += (performance.now() - started) / 1000;
      started = performance.now();
      await client.query('BEGIN');
      await writeCellMatrices(client, cellId, attributeIds, {
        pair_accuracy: result.pairAccuracies, model_similarity: result.modelSimilarity, human_similarity: result.humanSimilarity,
      });
      await writeCellPredictions(client, cellId, conceptIds, attributeIds, result.predictions);
      await client.query('COMMIT');
      newSeconds += (performance.now() - started) / 1000;
    }
    const old = await relationBytes(client, 'old_layout.attribute_pair_score');
    const matrices = await relationBytes(client, 'probe_cell_matrix');
    const predictions = await relationBytes(client, 'probe_cell_prediction');
    const stored = (await client.query<{ measure: string; raw: number; stored: number }>(
      `SELECT measure, octet_length(data) AS raw, pg_column_size(data) AS stored FROM probe_cell_matrix WHERE cell_id = 1
       UNION ALL SELECT 'predictions', octet_length(data), pg_column_size(data) FROM probe_cell_prediction WHERE cell_id = 1 ORDER BY 1`,
    )).rows;
    log(`  old: attribute_pair_score ${oldRows / cells} rows/cell, ${size(old / cells)}/cell, write ${(oldSeconds / cells).toFixed(3)} s/cell`);
    for (const row of stored) log(`  new: ${row.measure.padEnd(17)} ${size(row.raw).padStart(10)} float32, ${size(row.stored).padStart(10)} stored (TOAST compression)`);
    log(`  new: probe_cell_matrix ${size(matrices / cells)}/cell (3 measures), probe_cell_prediction ${size(predictions / cells)}/cell, write ${(newSeconds / cells).toFixed(3)} s/cell (all four)`);
    log(`  pair accuracy alone: ${(old / cells / stored.find((r) => r.measure === 'pair_accuracy')!.stored).toFixed(0)}× smaller; everything new: ${((matrices + predictions) / cells / 2 ** 20).toFixed(2)} MiB/cell against ${mb(old / cells)} of pair rows`);
    await client.query('DROP SCHEMA old_layout CASCADE');
  } finally {
    client.release();
  }
}

const scratch = await createScratchDatabase(log);
log(`storage per probe cell on ${scratch.serverDescription}`);
const pool = new pg.Pool({ connectionString: scratch.url, max: 2 });
try {
  // Cells need no parents here: the scratch tables' foreign keys are dropped for the measurement.
  await pool.query('ALTER TABLE probe_cell_matrix DROP CONSTRAINT probe_cell_matrix_cell_id_fkey; ALTER TABLE probe_cell_prediction DROP CONSTRAINT probe_cell_prediction_cell_id_fkey');
  await measure(pool, 'Binder-sized (GloVe → Binder, human and group excluded)', 223, 65, SMALL_CELLS, false);
  if (SPARSE) await measure(pool, 'sparse-norms-sized (feature counts, mostly zero)', 541, 2526, 1, true);
} finally {
  await pool.end();
  await scratch.drop();
}
