// npm run bench:sizing — how much activation_summary costs per concept, MEASURED, so docs/scaling.md
// can size a database for many runs and many workers from numbers rather than guesses. For each
// model we can run here (the tiny bundle, the SD-1.5-sized benchmark bundle, the real-architecture
// fixtures under $PROBE_ATLAS_FIXTURES / $SHARED_BUNDLES_DIR / ../shared/data/bundles) it runs a
// real extraction of a few concepts into a scratch database (migrated schema, dropped at the end),
// VACUUMs, and reads the rows per concept, the vector bytes and the on-disk bytes (heap, TOAST,
// each index: pg_table_size, pg_indexes_size, pg_total_relation_size). Then, on the SD-1.5-sized
// rows (SD 1.5's exact tap widths), what a row of each width costs in the heap, what the two
// indexes cost per row at thousands of concepts (a key-only copy filled in the writer's order), and
// pglz against lz4 on the vectors, and one concept's write under synchronous_commit on and off. It ends with an EXTRAPOLATION to real SD 1.5 at 50 steps (labelled
// as such, formula printed) and the probe-cell figures of `npm run bench:storage` (cited, not re-run).
// Prints markdown tables.
// Env: SIZING_CONCEPTS (4), SIZING_STEPS (50), SIZING_INDEX_CONCEPTS (1000: concepts in the key-only
// index copy), SIZING_MAX_CONCEPTS (2: concepts of the widest-settings run), SIZING_COMMIT_ROUNDS (5)
// and SIZING_COMMIT_REPEATS (10 concepts per synchronous_commit mode and round), SIZING_FIXTURES=0
// skips the fixtures, SIZING_THREADS (ORT intra-op threads).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { buildSd15SizedBundle } from '../../src/demo/sd15-sized/build.ts';
import { binderWords, buildTinyBundle } from '../../src/demo/tiny-bundle/build.ts';
import { ArgumentError, isCodedError } from '../../src/errors.ts';
import type { ExtractionSettings } from '../../src/extraction/pipeline.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { bytesToVector, writeSummaries, type SummaryRow } from '../../src/db/summaries.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { benchDataset } from './sd15-extraction.ts';

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ArgumentError(`${name} must be a positive integer, got ${JSON.stringify(raw)}.`);
  return value;
};
const CONCEPTS = positiveInt('SIZING_CONCEPTS', 4);
const STEPS = positiveInt('SIZING_STEPS', 50);
const INDEX_CONCEPTS = positiveInt('SIZING_INDEX_CONCEPTS', 1000);
const COMMIT_REPEATS = positiveInt('SIZING_COMMIT_REPEATS', 10);
const COMMIT_ROUNDS = positiveInt('SIZING_COMMIT_ROUNDS', 5);
const MAX_CONCEPTS = positiveInt('SIZING_MAX_CONCEPTS', 2);
const THREADS = process.env.SIZING_THREADS ? positiveInt('SIZING_THREADS', 1) : undefined;
const FIXTURES = process.env.PROBE_ATLAS_FIXTURES ?? process.env.SHARED_BUNDLES_DIR ?? path.resolve(PROJECT_ROOT, '../shared/data/bundles');

const log = (line = '') => console.log(line);
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const bytes = (n: number) => (Math.abs(n) >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : Math.abs(n) >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : Math.abs(n) >= 2 ** 10 ? `${(n / 2 ** 10).toFixed(1)} KiB` : `${Math.round(n)} B`);
const table = (header: string[], rows: (string | number)[][]) => {
  log(`| ${header.join(' | ')} |`);
  log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) log(`| ${row.join(' | ')} |`);
};

interface RelationSizes {
  /** pg_total_relation_size: heap + TOAST + indexes (all forks). */
  total: number;
  /** pg_table_size − TOAST: the heap with its free-space and visibility maps. */
  heap: number;
  /** The TOAST table and its index. */
  toast: number;
  /** Each index by name (pg_relation_size). */
  indexes: Record<string, number>;
}

async function relationSizes(db: Database, relation: string): Promise<RelationSizes> {
  await db.pool.query(`VACUUM ANALYZE ${relation}`);
  const sizes = (await db.pool.query<{ total: string; table: string; toast: string }>(
    `SELECT pg_total_relation_size(c.oid) AS total, pg_table_size(c.oid) AS table,
            COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast
     FROM pg_class c WHERE c.oid = $1::regclass`, [relation])).rows[0]!;
  const indexes = (await db.pool.query<{ name: string; size: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid) AS size FROM pg_index i WHERE i.indrelid = $1::regclass ORDER BY 1`, [relation])).rows;
  return {
    total: Number(sizes.total), heap: Number(sizes.table) - Number(sizes.toast), toast: Number(sizes.toast),
    indexes: Object.fromEntries(indexes.map((row) => [row.name, Number(row.size)])),
  };
}

const minus = (a: RelationSizes, b: RelationSizes): RelationSizes => ({
  total: a.total - b.total, heap: a.heap - b.heap, toast: a.toast - b.toast,
  indexes: Object.fromEntries(Object.entries(a.indexes).map(([name, size]) => [name, size - (b.indexes[name] ?? 0)])),
});
const indexTotal = (s: RelationSizes) => Object.values(s.indexes).reduce((sum, n) => sum + n, 0);

interface ComponentFigures {
  component: string;
  rowsPerConcept: number;
  layers: number;
  /** Recorded timesteps (0 for the text encoder: NULL timestep). */
  timesteps: number;
  poolings: number;
  /** Tap widths in graph order, e.g. [320, 640, …]. */
  dims: number[];
  valuesPerConcept: number;
}

interface ModelMeasurement {
  label: string;
  runId: number;
  concepts: number;
  rows: number;
  /** Rows per concept: every concept has the same count, or the bench says so. */
  rowsPerConcept: number;
  vectorBytes: number;
  /** Σ pg_column_size(vector): what the vectors take as stored (no compression with STORAGE EXTERNAL). */
  storedVectorBytes: number;
  disk: RelationSizes;
  seconds: number;
  components: ComponentFigures[];
}

async function measureModel(
  db: Database, label: string, bundleDir: string, cacheDir: string, seed: number, settings: Partial<ExtractionSettings> = {}, concepts?: string[],
): Promise<ModelMeasurement> {
  await db.pool.query('TRUNCATE activation_summary');
  const empty = await relationSizes(db, 'activation_summary');
  const started = performance.now();
  const report = await runExtraction({ db, bundleDir, norms: 'sizing', cacheDir, threads: THREADS, concepts, settings: { steps: STEPS, seed, ...settings } });
  const seconds = (performance.now() - started) / 1000;
  const disk = minus(await relationSizes(db, 'activation_summary'), empty);
  const perConcept = (await db.pool.query<{ concept_id: number; rows: string; vector_bytes: string; stored: string }>(
    `SELECT concept_id, count(*) AS rows, sum(octet_length(vector)) AS vector_bytes, sum(pg_column_size(vector)) AS stored
     FROM activation_summary WHERE run_id = $1 GROUP BY concept_id ORDER BY concept_id`, [report.runId])).rows;
  const counts = new Set(perConcept.map((row) => Number(row.rows)));
  if (counts.size !== 1) log(`NOTE (${label}): concepts differ in row count: ${[...counts].join(', ')}`);
  const components = (await db.pool.query<{ component: string; rows: string; layers: string; timesteps: string; poolings: string; dims: number[]; values: string }>(
    `SELECT co.name AS component, count(*) AS rows, count(DISTINCT a.layer_id) AS layers, count(DISTINCT a.timestep) AS timesteps,
            count(DISTINCT a.pooling) AS poolings, sum(a.dim) AS values,
            (SELECT array_agg(d ORDER BY idx) FROM (SELECT DISTINCT l2.index AS idx, a2.dim AS d FROM activation_summary a2 JOIN layer l2 ON l2.id = a2.layer_id
               WHERE a2.run_id = $1 AND l2.component_id = co.id) dims) AS dims
     FROM activation_summary a JOIN layer l ON l.id = a.layer_id JOIN component co ON co.id = l.component_id
     WHERE a.run_id = $1 GROUP BY co.id, co.name ORDER BY min(l.id)`, [report.runId])).rows;
  const n = perConcept.length;
  const sum = (key: 'rows' | 'vector_bytes' | 'stored') => perConcept.reduce((s, row) => s + Number(row[key]), 0);
  return {
    label, runId: report.runId, concepts: n, rows: sum('rows'), rowsPerConcept: sum('rows') / n, vectorBytes: sum('vector_bytes'), storedVectorBytes: sum('stored'),
    disk, seconds,
    components: components.map((c) => ({
      component: c.component, rowsPerConcept: Number(c.rows) / n, layers: Number(c.layers), timesteps: Number(c.timesteps), poolings: Number(c.poolings),
      dims: c.dims, valuesPerConcept: Number(c.values) / n,
    })),
  };
}

/**
 * Heap bytes per row of each vector width: the rows of one width copied alone (repeated to at least
 * 2,000 rows, so page granularity does not distort a width with few taps) into a table stored like
 * activation_summary; main forks of heap and TOAST only (the free-space and visibility maps are a
 * few pages per table, whatever its size).
 */
async function heapPerRowByDim(db: Database, runId: number): Promise<Map<number, number>> {
  const dims = (await db.pool.query<{ dim: number; n: string }>('SELECT dim, count(*) AS n FROM activation_summary WHERE run_id = $1 GROUP BY dim ORDER BY dim', [runId])).rows;
  const out = new Map<number, number>();
  for (const { dim, n } of dims) {
    await db.pool.query('DROP TABLE IF EXISTS sizing_dim');
    await db.pool.query('CREATE TABLE sizing_dim (LIKE activation_summary INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION) WITH (toast_tuple_target = 8160)');
    const copies = Math.ceil(2000 / Number(n));
    const inserted = await db.pool.query('INSERT INTO sizing_dim SELECT a.* FROM activation_summary a CROSS JOIN generate_series(1, $3::int) WHERE a.run_id = $1 AND a.dim = $2', [runId, dim, copies]);
    await db.pool.query('VACUUM sizing_dim');
    const size = (await db.pool.query<{ b: string }>(
      `SELECT pg_relation_size(c.oid, 'main') + COALESCE(pg_relation_size(NULLIF(c.reltoastrelid, 0), 'main'), 0) AS b FROM pg_class c WHERE c.oid = 'sizing_dim'::regclass`)).rows[0]!.b;
    out.set(dim, Number(size) / (inserted.rowCount ?? 1));
  }
  await db.pool.query('DROP TABLE IF EXISTS sizing_dim');
  return out;
}

/**
 * The two indexes at scale: a key-only copy of activation_summary (same key columns, same primary
 * key and NULLS NOT DISTINCT unique index) filled with `concepts` concepts × the run's keys, concept
 * after concept as the writer commits them, so the unique index splits pages as it does in a real run.
 */
async function indexPerRowAtScale(db: Database, runId: number, concepts: number): Promise<{ rows: number; indexes: Record<string, number> }> {
  await db.pool.query('DROP TABLE IF EXISTS sizing_keys');
  await db.pool.query(`CREATE TABLE sizing_keys (id BIGSERIAL PRIMARY KEY, run_id INTEGER NOT NULL, concept_id INTEGER NOT NULL, layer_id INTEGER NOT NULL, timestep INTEGER, pooling TEXT NOT NULL)`);
  await db.pool.query('CREATE UNIQUE INDEX sizing_keys_unique ON sizing_keys (run_id, layer_id, timestep, pooling, concept_id) NULLS NOT DISTINCT');
  // One statement per 100 concepts (each ordered concept by concept, as the per-concept transactions are).
  for (let from = 1; from <= concepts; from += 100) {
    await db.pool.query(
      `INSERT INTO sizing_keys (run_id, concept_id, layer_id, timestep, pooling)
       SELECT $1, c, k.layer_id, k.timestep, k.pooling
       FROM generate_series($2::int, $3::int) c CROSS JOIN (SELECT DISTINCT layer_id, timestep, pooling FROM activation_summary WHERE run_id = $1) k
       ORDER BY c, k.layer_id, k.timestep DESC NULLS FIRST, k.pooling`,
      [runId, from, Math.min(concepts, from + 99)]);
  }
  const rows = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM sizing_keys')).rows[0]!.n);
  const sizes = await relationSizes(db, 'sizing_keys');
  await db.pool.query('DROP TABLE sizing_keys');
  return { rows, indexes: sizes.indexes };
}

interface CompressionFigures {
  label: string;
  tableBytes: number;
  storedVectorBytes: number;
  compressedShare: number;
  seconds: number;
}

/** The run's rows copied into tables that differ only in how the vector is stored. */
async function compression(db: Database, runId: number): Promise<CompressionFigures[] | string> {
  const variants: { label: string; setup: string }[] = [
    { label: 'as migrated: STORAGE EXTERNAL, toast_tuple_target 8160 (no compression tried, rows inline)', setup: 'WITH (toast_tuple_target = 8160)' },
    { label: 'STORAGE EXTERNAL, default toast_tuple_target (out of line over ~2 KB, no compression tried)', setup: '' },
    { label: 'STORAGE EXTENDED, COMPRESSION pglz, default toast_tuple_target (PostgreSQL\'s default)', setup: '' },
    { label: 'STORAGE EXTENDED, COMPRESSION lz4, default toast_tuple_target', setup: '' },
  ];
  const out: CompressionFigures[] = [];
  for (const [i, variant] of variants.entries()) {
    await db.pool.query('DROP TABLE IF EXISTS sizing_compression');
    await db.pool.query(`CREATE TABLE sizing_compression (LIKE activation_summary INCLUDING DEFAULTS INCLUDING STORAGE) ${variant.setup}`);
    if (i > 1) {
      try {
        await db.pool.query(`ALTER TABLE sizing_compression ALTER COLUMN vector SET STORAGE EXTENDED, ALTER COLUMN vector SET COMPRESSION ${i === 2 ? 'pglz' : 'lz4'}`);
      } catch (error) {
        await db.pool.query('DROP TABLE IF EXISTS sizing_compression');
        return `compression comparison skipped: ${(error as Error).message}`;
      }
    }
    const started = performance.now();
    await db.pool.query('INSERT INTO sizing_compression SELECT * FROM activation_summary WHERE run_id = $1', [runId]);
    const seconds = (performance.now() - started) / 1000;
    const sizes = await relationSizes(db, 'sizing_compression');
    const stored = (await db.pool.query<{ stored: string; compressed: string; n: string }>(
      'SELECT sum(pg_column_size(vector)) AS stored, count(pg_column_compression(vector)) AS compressed, count(*) AS n FROM sizing_compression')).rows[0]!;
    out.push({ label: variant.label, tableBytes: sizes.heap + sizes.toast, storedVectorBytes: Number(stored.stored), compressedShare: Number(stored.compressed) / Number(stored.n), seconds });
  }
  await db.pool.query('DROP TABLE IF EXISTS sizing_compression');
  return out;
}

interface CommitFigures { mode: string; medianMs: number; minMs: number; medianWal: number; minWal: number }

/**
 * One concept's write as the extraction does it (writeSummaries: one transaction, one bytea
 * parameter, the unique index, the foreign keys), under synchronous_commit on and off (set per
 * session), alternating in rounds, into activation_summary itself for fresh concepts (deleted
 * afterwards), so every row is new. WAL per write is the server's LSN advance across the
 * transaction: cluster-wide, so another writer on the server inflates it; the smallest of the
 * writes is the least disturbed.
 */
async function commitTimes(db: Database, runId: number, conceptId: number, repeats: number, rounds: number): Promise<CommitFigures[]> {
  const rows = (await db.pool.query<{ layer_id: number; timestep: number | null; pooling: string; vector: Buffer }>(
    'SELECT layer_id, timestep, pooling, vector FROM activation_summary WHERE run_id = $1 AND concept_id = $2', [runId, conceptId])).rows;
  const modes = ['on', 'off'];
  const concepts = (await db.pool.query<{ id: number }>(
    "INSERT INTO concept (word) SELECT 'sizing-commit-' || i FROM generate_series(1, $1::int) i RETURNING id", [modes.length * rounds * repeats])).rows.map((r) => r.id);
  const client = await db.pool.connect();
  const times = new Map(modes.map((m) => [m, [] as number[]]));
  const wal = new Map(modes.map((m) => [m, [] as number[]]));
  let next = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of modes) {
        await client.query(`SET synchronous_commit = ${mode}`);
        for (let r = 0; r < repeats; r++) {
          const concept = concepts[next++]!;
          const summaries: SummaryRow[] = rows.map((row) => ({ runId, conceptId: concept, layerId: row.layer_id, timestep: row.timestep, pooling: row.pooling, vector: bytesToVector(row.vector) }));
          const before = (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
          const started = performance.now();
          await client.query('BEGIN');
          await writeSummaries(client, summaries);
          await client.query('COMMIT');
          const ms = performance.now() - started;
          const advance = Number((await client.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn) AS d', [before])).rows[0]!.d);
          if (round > 0) { // the first round warms the table and its indexes
            times.get(mode)!.push(ms);
            wal.get(mode)!.push(advance);
          }
        }
      }
    }
    await client.query('RESET synchronous_commit');
  } finally {
    client.release();
  }
  await db.pool.query('DELETE FROM activation_summary WHERE concept_id = ANY($1::int[])', [concepts]);
  await db.pool.query('DELETE FROM concept WHERE id = ANY($1::int[])', [concepts]);
  const middle = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  return modes.map((mode) => ({
    mode, medianMs: middle(times.get(mode)!), minMs: Math.min(...times.get(mode)!), medianWal: middle(wal.get(mode)!), minWal: Math.min(...wal.get(mode)!),
  }));
}

function printModels(models: ModelMeasurement[]): void {
  log(`\n## activation_summary per concept, MEASURED (${CONCEPTS} concepts × ${STEPS} DDIM steps, default settings: text poolings eot,mean,concept; UNet spatial_mean; VAE at the final step)\n`);
  table(
    ['model', 'rows/concept', 'vector bytes/concept', 'on disk/concept (heap + TOAST + indexes)', 'heap', 'TOAST', 'indexes', 'extraction wall'],
    models.map((m) => [
      m.label, int(m.rowsPerConcept), bytes(m.vectorBytes / m.concepts), `**${bytes(m.disk.total / m.concepts)}**`, bytes(m.disk.heap / m.concepts),
      bytes(m.disk.toast / m.concepts), bytes(indexTotal(m.disk) / m.concepts), `${m.seconds.toFixed(1)} s`,
    ]),
  );
  log('\nPer component (per concept):\n');
  table(['model', 'component', 'taps', 'timesteps', 'poolings', 'rows', 'tap widths', 'float32 values'], models.flatMap((m) => m.components.map((c) => [
    m.label, c.component, c.layers, c.timesteps || '— (NULL)', c.poolings, int(c.rowsPerConcept), c.dims.join(', '), int(c.valuesPerConcept),
  ])));
  for (const m of models) {
    const perIndex = Object.entries(m.disk.indexes).map(([name, size]) => `${name} ${(size / m.rows).toFixed(1)} B/row`).join(', ');
    log(`\n${m.label}: ${int(m.rows)} rows; stored vector bytes ${(m.storedVectorBytes / m.vectorBytes * 100).toFixed(1)}% of raw; on disk ${(m.disk.total / m.rows).toFixed(0)} B/row (vector ${(m.vectorBytes / m.rows).toFixed(0)} B/row); ${perIndex}`);
  }
}

/** Rows per concept of a measured run's components, at T diffusion steps (every step recorded). */
function rowsAt(m: ModelMeasurement, T: number): { component: string; rows: number; formula: string }[] {
  return m.components.map((c) => {
    const timesteps = c.timesteps === 0 ? 1 : c.timesteps === 1 ? 1 : T; // text: none (NULL); VAE final: one; every step: T
    const rows = c.layers * c.poolings * timesteps;
    return { component: c.component, rows, formula: c.timesteps === 0 ? `${c.layers} taps × ${c.poolings} poolings` : `${c.layers} taps × ${timesteps} timesteps × ${c.poolings} pooling${c.poolings > 1 ? 's' : ''}` };
  });
}

function extrapolate(runs: { label: string; m: ModelMeasurement }[], indexPerRow: number, indexNote: string): number {
  const T = 50;
  log(`\n## EXTRAPOLATION to real Stable Diffusion 1.5 at ${T} steps (NOT measured on SD 1.5: computed from the measured SD-1.5-sized runs above, which have SD 1.5's taps and widths)\n`);
  log('rows/concept = L_text × P_text + L_unet × T × P_unet + L_vae × T_vae   (T_vae = 1 with --vae final, T with --vae all)');
  log(`on disk/concept = rows/concept × (heap+TOAST bytes per row, measured on that settings' SD-1.5-sized run + ${indexPerRow.toFixed(1)} B/row of indexes ${indexNote})\n`);
  const rows: (string | number)[][] = [];
  for (const { label, m } of runs) {
    const parts = rowsAt(m, T);
    const perConcept = parts.reduce((sum, p) => sum + p.rows, 0);
    const heapPerRow = (m.disk.heap + m.disk.toast) / m.rows;
    const disk = perConcept * (heapPerRow + indexPerRow);
    const values = m.components.reduce((sum, c) => sum + (c.valuesPerConcept / Math.max(1, c.layers * c.poolings * Math.max(1, c.timesteps))) * parts.find((p) => p.component === c.component)!.rows, 0);
    log(`${label}: ${parts.map((p) => `${p.component} ${p.formula} = ${int(p.rows)}`).join('; ')}; total ${int(perConcept)} rows/concept; ${heapPerRow.toFixed(0)} B/row heap+TOAST (measured).`);
    rows.push([label, int(perConcept), bytes(values * 4), bytes(disk), `${int(perConcept * 275)} rows, ${bytes(disk * 275)}`, `${int(perConcept * 541)} rows, ${bytes(disk * 541)}`, `${int(perConcept * 10_000)} rows, ${bytes(disk * 10_000)}`]);
  }
  log('');
  table(['settings', 'rows/concept', 'float32 bytes/concept', 'on disk/concept', '275 concepts (bundled Binder)', '541 concepts (sparse-norms-sized)', '10,000 concepts'], rows);
  const cells = rowsAt(runs[0]!.m, T).reduce((sum, p) => sum + p.rows, 0);
  log(`\nA probe run over such an extraction run has one cell per (layer, timestep, pooling) = rows per concept: ${int(cells)} cells with the defaults.`);
  return cells;
}

function printProbeCitation(cellsPerRun: number): void {
  log('\n## Probe side, CITED from `npm run bench:storage` (docs/database.md, "Cell results"; not re-run here)\n');
  const binder = 97 * 1024;
  const sparse = 36.8 * 2 ** 20;
  table(['cell', 'bytes per cell (all matrices + predictions, with indexes and TOAST)', `× ${int(cellsPerRun)} cells (one SD 1.5 probe run, defaults): EXTRAPOLATION`], [
    ['Binder-sized (223 concepts × 65 attributes)', '97 KiB', bytes(binder * cellsPerRun)],
    ['sparse-norms-sized (541 concepts × 2,526 features)', '36.8 MiB', bytes(sparse * cellsPerRun)],
  ]);
  log('(probe_score rows per cell = attributes, probe_group_score rows = groups × metrics: not in these figures.)');
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), 'probe-atlas-bench-sizing-'));
  const scratch = await createScratchDatabase(log);
  const db = connectDatabase(scratch.url, { maxConnections: 4 });
  try {
    const server = (await db.pool.query<{ v: string }>('SELECT current_setting(\'server_version\') AS v')).rows[0]!.v;
    log(`# bench:sizing — scratch database: ${scratch.serverDescription} (server ${server})`);
    await benchDataset(db, 'sizing', CONCEPTS);
    const cacheDir = path.join(work, 'cache');
    const models: ModelMeasurement[] = [];
    let seed = 0;

    const tinyDir = path.join(work, 'tiny');
    // Random word embeddings: the sizes do not depend on the values, and the GloVe scan reads a 310 MB file.
    buildTinyBundle({ outDir: tinyDir, embeddings: 'random' });
    models.push(await measureModel(db, 'tiny bundle (NOT SD)', tinyDir, cacheDir, seed++));

    const sd15 = buildSd15SizedBundle();
    log(`SD-1.5-sized benchmark bundle (NOT Stable Diffusion: SD 1.5's activation shapes, cheap ops): ${sd15.reused ? 'reused' : 'built'} ${sd15.dir}`);
    const sd15Measured = await measureModel(db, 'SD-1.5-sized (NOT SD; SD 1.5 shapes)', sd15.dir, cacheDir, seed++);
    models.push(sd15Measured);
    const heapByDim = await heapPerRowByDim(db, sd15Measured.runId);
    const compressionFigures = await compression(db, sd15Measured.runId);
    const atScale = await indexPerRowAtScale(db, sd15Measured.runId, INDEX_CONCEPTS);
    const firstConcept = (await db.pool.query<{ id: number }>('SELECT min(concept_id) AS id FROM activation_summary WHERE run_id = $1', [sd15Measured.runId])).rows[0]!.id;
    const commits = await commitTimes(db, sd15Measured.runId, firstConcept, COMMIT_REPEATS, COMMIT_ROUNDS);
    // The widest settings: every text pooling, the guided UNet pooling too, the VAE after every step.
    const sd15Max = await measureModel(db, 'SD-1.5-sized, all five text poolings, --guided-pooling, --vae all', sd15.dir, cacheDir, seed++, {
      textPoolings: ['eot', 'mean', 'concept', 'concept_last', 'sequence_mean'], spatialPoolings: ['spatial_mean', 'guided_spatial_mean'], vae: 'all',
    }, binderWords().slice(0, MAX_CONCEPTS));
    models.push(sd15Max);

    if (process.env.SIZING_FIXTURES === '0') log('fixture bundles: skipped (SIZING_FIXTURES=0)');
    else if (!existsSync(FIXTURES)) log(`fixture bundles: skipped, ${FIXTURES} does not exist (set PROBE_ATLAS_FIXTURES or SHARED_BUNDLES_DIR)`);
    else {
      for (const name of readdirSync(FIXTURES).sort()) {
        const dir = path.join(FIXTURES, name);
        if (!existsSync(path.join(dir, 'model_index.json'))) {
          if (existsSync(path.join(dir, 'unet')) || existsSync(path.join(dir, 'text_encoder'))) log(`fixture ${name}: skipped, no model_index.json (not a whole bundle; SOURCE.md)`);
          continue;
        }
        try {
          models.push(await measureModel(db, `fixture ${name} (random weights)`, dir, cacheDir, seed++));
        } catch (error) {
          if (!isCodedError(error)) throw error;
          log(`fixture ${name}: skipped, ${error.code}: ${error.message}`);
        }
      }
    }

    printModels(models);

    log(`\n## Heap cost per row by vector width, MEASURED (SD-1.5-sized rows of one width copied alone, repeated to ≥ 2,000 rows, into a table stored as activation_summary is)\n`);
    table(['width', 'vector bytes', 'heap + TOAST bytes per row (main forks)', 'rows per 8 KiB page'], [...heapByDim].map(([dim, b]) => [dim, int(dim * 4), int(b), (8192 / b).toFixed(2)]));

    const indexPerRow = Object.values(atScale.indexes).reduce((s, n) => s + n, 0) / atScale.rows;
    log(`\n## Indexes at scale, MEASURED (key-only copy: ${int(INDEX_CONCEPTS)} concepts × the SD-1.5-sized run's ${int(sd15Measured.rowsPerConcept)} keys = ${int(atScale.rows)} rows, filled concept after concept)\n`);
    table(['index', 'size', 'bytes per row'], Object.entries(atScale.indexes).map(([name, size]) => [name.replace('sizing_keys_pkey', 'primary key (id bigint)').replace('sizing_keys_unique', 'unique (run, layer, timestep, pooling, concept)'), bytes(size), (size / atScale.rows).toFixed(1)]));

    log(`\n## Vector compression, MEASURED on the SD-1.5-sized run's ${int(sd15Measured.rows)} rows (random-weight activations, float32)\n`);
    if (typeof compressionFigures === 'string') log(compressionFigures);
    else table(['storage', 'heap + TOAST', 'stored vector bytes / raw', 'vectors compressed', 'INSERT … SELECT'], compressionFigures.map((c) => [
      c.label, bytes(c.tableBytes), `${(c.storedVectorBytes / sd15Measured.vectorBytes * 100).toFixed(1)}%`, `${(c.compressedShare * 100).toFixed(1)}%`, `${c.seconds.toFixed(2)} s`,
    ]));

    log(`\n## One concept's write, MEASURED (SD-1.5-sized defaults: ${int(sd15Measured.rowsPerConcept)} rows, ${bytes(sd15Measured.vectorBytes / sd15Measured.concepts)} of vectors; writeSummaries in one transaction; ${COMMIT_ROUNDS} alternating rounds of ${COMMIT_REPEATS} concepts per mode, the first round left out)\n`);
    table(['synchronous_commit (SET per session)', 'median ms per concept', 'fastest ms', 'WAL per concept: median (cluster-wide)', 'WAL per concept: smallest'], commits.map((c) => [c.mode, c.medianMs.toFixed(1), c.minMs.toFixed(1), bytes(c.medianWal), bytes(c.minWal)]));

    const cells = extrapolate([
      { label: 'defaults', m: sd15Measured },
      { label: 'all five text poolings, --guided-pooling, --vae all', m: sd15Max },
    ], indexPerRow, `at ${int(INDEX_CONCEPTS)} concepts`);
    printProbeCitation(cells);
  } finally {
    await db.close();
    await scratch.drop();
    rmSync(work, { recursive: true, force: true });
    log('\nscratch database dropped');
  }
}

runCli('bench:sizing', main);
