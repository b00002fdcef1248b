/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Issue 12's exactness guarantee for PROBE jobs, with three real worker processes taking both kinds:
// an extraction run of the tiny bundle (built with the first Binder concepts as its words, whose real
// ratings are the norms) is enqueued and completed by the workers, then its probe run is enqueued with
// `npm run probe -- --run … --enqueue --job-size 2` and completed by the same workers: one probe_cell
// per cell, q-values over the whole grid, run COMPLETED — and every probe_score bit for bit what the
// in-process path (runExtraction, then runProbe, in a second database) stores. Then a poison PROBE
// job: one concept's stored vector in one cell is cut to 7 bytes, which reading the cell refuses
// (not a whole float32); with --max-attempts 2 that job is tried twice and FAILED with the error, the
// other jobs complete, and the probe run is FAILED with the summary.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jest } from '@jest/globals';
import { parse } from 'csv-parse/sync';
import { PROJECT_ROOT } from '../../src/config.ts';
import type { PrismaClient } from '../../src/db/client.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { runProbe } from '../../src/probe-runs/run.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { tempTinyBundle, type TempBundle } from '../extraction/fixtures.ts';
import { anyExited, enqueueWith, extractionRun, jobsOf, probeRun, probeScoreBits, spawnWorker, until, type WorkerProcess } from './worker-harness.ts';

jest.setTimeout(180_000);

const CONCEPTS = 24;
const STEPS = 2;
const PROBE = { folds: 3, permutations: 5, bootstrap: 10, seed: 0 };

let db: TestDatabase;
let reference: TestDatabase;
let bundle: TempBundle;
let words: string[];
let workers: WorkerProcess[] = [];
/** The extraction run the workers completed in the first test. */
let extractionRunId: number;

function readCsv(file: string): Record<string, string>[] {
  return parse(readFileSync(path.join(PROJECT_ROOT, 'data/norms/binder2016', file), 'utf8'), { columns: true, skip_empty_lines: true });
}

/** The first CONCEPTS Binder concepts with their real ratings, as dataset binder-subset@1. */
async function insertNorms(prisma: PrismaClient): Promise<void> {
  const attributes = readCsv('attributes.csv');
  const ratings = readCsv('ratings.csv').slice(0, CONCEPTS);
  const dataset = await prisma.normsDataset.create({ data: { name: 'binder-subset', version: 1, contentHash: 'test-binder-subset', citation: 'Binder et al. 2016', source: 'data/norms/binder2016 (first concepts)' } });
  const groups = new Map<string, number>();
  for (const [position, name] of [...new Set(attributes.map((a) => a.group!))].entries()) {
    groups.set(name, (await prisma.attributeGroup.create({ data: { normsDatasetId: dataset.id, name, position } })).id);
  }
  const attributeIds = new Map<string, number>();
  for (const [position, a] of attributes.entries()) {
    const created = await prisma.attribute.create({ data: { normsDatasetId: dataset.id, attributeGroupId: groups.get(a.group!)!, name: a.attribute!, description: a.description!, position } });
    attributeIds.set(a.attribute!, created.id);
  }
  for (const [position, row] of ratings.entries()) {
    const concept = await prisma.concept.create({ data: { word: row.concept! } });
    await prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, category: row.category!, position } });
    await prisma.rating.createMany({ data: attributes.map((a) => ({ attributeId: attributeIds.get(a.attribute!)!, conceptId: concept.id, value: Number(row[a.attribute!]) })) });
  }
}

beforeAll(async () => {
  [db, reference] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  words = readCsv('ratings.csv').slice(0, CONCEPTS).map((row) => row.concept!);
  bundle = tempTinyBundle({ embeddings: 'random', words });
  await insertNorms(db.prisma);
  await insertNorms(reference.prisma);
});

afterAll(async () => {
  await Promise.allSettled([db?.drop(), reference?.drop()]);
  bundle?.remove();
});

const settled = (r: { status: string }) => r.status === 'COMPLETED' || r.status === 'FAILED';

test('three workers complete an extraction run and then its probe run (--job-size 2): one cell each, q-values filled, every score bit for bit the in-process runProbe\'s', async () => {
  workers = [0, 1, 2].map(() => spawnWorker(db, db.url, { kinds: 'extract,probe', cacheDir: bundle.cacheDir }));
  const ids = await Promise.all(workers.map((w) => w.id));
  const extraction = await enqueueWith('extract.ts', [
    '--bundle', bundle.dir, '--norms', 'binder-subset', '--steps', String(STEPS), '--vae', 'none', '--cache-dir', bundle.cacheDir, '--job-size', '4',
  ], db.url);
  extractionRunId = Number(extraction.runId);
  expect(await until('the extraction to complete', () => extractionRun(db.pool, extractionRunId), settled, 120_000, () => anyExited(workers)))
    .toMatchObject({ status: 'COMPLETED', done_count: CONCEPTS });

  const probeArgs = ['--run', String(extractionRunId), '--norms', 'binder-subset', ...Object.entries(PROBE).flatMap(([flag, value]) => [`--${flag}`, String(value)])];
  const planned = await enqueueWith('probe.ts', [...probeArgs, '--job-size', '2'], db.url);
  const probeRunId = Number(planned.probeRunId);
  const cells = Number(planned.total);
  expect(planned).toMatchObject({ status: 'QUEUED', jobs: Math.ceil(cells / 2), added: Math.ceil(cells / 2), units: cells });
  const run = await until('the probe run to complete', () => probeRun(db.pool, probeRunId), settled, 120_000, () => anyExited(workers));
  expect(run).toMatchObject({ status: 'COMPLETED', done_count: cells, planned_count: cells, error: null });

  // One cell per (layer, timestep, pooling) of the grid; every score has its q-value.
  const stored = await db.pool.query<{ cells: number; keys: number; scores: number; without_q: number }>(
    `SELECT count(DISTINCT c.id)::int AS cells, count(DISTINCT (c.layer_id, coalesce(c.timestep, -1), c.pooling))::int AS keys,
            count(s.id)::int AS scores, count(s.id) FILTER (WHERE s.q_value IS NULL)::int AS without_q
     FROM probe_cell c LEFT JOIN probe_score s ON s.cell_id = c.id WHERE c.probe_run_id = $1`, [probeRunId]);
  expect(stored.rows[0]).toMatchObject({ cells, keys: cells, without_q: 0 });
  expect(stored.rows[0]!.scores).toBeGreaterThan(0);
  const jobs = await jobsOf(db.pool, 'probe_run_id', probeRunId);
  expect(jobs.map((j) => j.status)).toEqual(jobs.map(() => 'DONE'));
  expect(jobs.reduce((sum, j) => sum + j.units_done, 0)).toBe(cells);
  expect(jobs.every((j) => j.attempts === 1 && ids.includes(j.worker_id!))).toBe(true);
  for (const w of workers) w.child.kill('SIGTERM');
  expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0, 0]);

  // The in-process path in the other database: the same extraction, then runProbe with the same settings.
  const inProcess = await runExtraction({
    db: reference, bundleDir: bundle.dir, norms: 'binder-subset', cacheDir: bundle.cacheDir, settings: { steps: STEPS, vae: 'none' }, threads: 1,
  });
  expect(inProcess.settingsHash).toBe(extraction.settingsHash);
  const probed = await runProbe(reference.pool, { extractionRunId: inProcess.runId, norms: 'binder-subset', settings: PROBE });
  expect(probed).toMatchObject({ status: 'COMPLETED', total: cells, written: cells });
  const [viaWorkers, viaProcess] = await Promise.all([probeScoreBits(db.pool, probeRunId), probeScoreBits(reference.pool, probed.probeRunId)]);
  expect(viaWorkers.size).toBe(stored.rows[0]!.scores);
  expect([...viaWorkers.keys()].sort()).toEqual([...viaProcess.keys()].sort());
  const differing = [...viaWorkers].filter(([key, bits]) => viaProcess.get(key) !== bits).map(([key]) => key);
  expect(differing).toEqual([]);
});

test('a poison probe cell (a stored vector cut to 7 bytes): its job is tried --max-attempts 2 times, then FAILED with the error; the other jobs complete; the run is FAILED', async () => {
  expect(extractionRunId).toBeDefined();
  const corrupt = (await db.pool.query<{ layer_id: number; timestep: number | null; pooling: string }>(
    `UPDATE activation_summary SET vector = '\\x00010203040506'::bytea
     WHERE id = (SELECT id FROM activation_summary WHERE run_id = $1 ORDER BY layer_id, timestep NULLS FIRST, pooling, concept_id LIMIT 1)
     RETURNING layer_id, timestep, pooling`, [extractionRunId])).rows[0]!;
  workers = [0, 1].map(() => spawnWorker(db, db.url, { kinds: 'probe', cacheDir: bundle.cacheDir }));
  await Promise.all(workers.map((w) => w.id));
  // Another seed: another probe run of the same extraction.
  const planned = await enqueueWith('probe.ts', [
    '--run', String(extractionRunId), '--norms', 'binder-subset', ...Object.entries({ ...PROBE, seed: 1 }).flatMap(([flag, value]) => [`--${flag}`, String(value)]),
    '--job-size', '2', '--max-attempts', '2',
  ], db.url);
  const probeRunId = Number(planned.probeRunId);
  const run = await until('the probe run to settle', () => probeRun(db.pool, probeRunId), settled, 120_000, () => anyExited(workers));
  const jobs = await db.pool.query<{ id: number; position: number; status: string; attempts: number; error: string | null; units: { layerId: number; timestep: number | null; pooling: string }[] }>(
    `SELECT id, position, status, attempts, error, spec->'units' AS units FROM job WHERE probe_run_id = $1 ORDER BY position`, [probeRunId]);
  const isCorrupt = (u: { layerId: number; timestep: number | null; pooling: string }) => u.layerId === corrupt.layer_id && u.timestep === corrupt.timestep && u.pooling === corrupt.pooling;
  const poison = jobs.rows.find((j) => j.units.some(isCorrupt))!;
  expect(poison).toMatchObject({ status: 'FAILED', attempts: 2 });
  // The refusal of src/db/summaries.ts readSummaryMatrix, naming the summary: 7 bytes are not `dim` float32 values.
  expect(poison.error).toMatch(new RegExp(`^The summary of run ${extractionRunId}, concept \\d+, layer ${corrupt.layer_id}, timestep ${corrupt.timestep ?? 'none'}, pooling ${corrupt.pooling} holds 7 bytes, not \\d+ float32 values`));
  const rest = jobs.rows.filter((j) => j !== poison);
  expect(rest.map((j) => [j.status, j.attempts])).toEqual(rest.map(() => ['DONE', 1]));
  expect(run.status).toBe('FAILED');
  expect(run.error).toBe(`1 of ${jobs.rows.length} jobs failed; first, job ${poison.position}: ${poison.error}`);
  // Every cell of the other jobs is stored once; the corrupt cell is not.
  const cells = await db.pool.query<{ layer_id: number; timestep: number | null; pooling: string }>('SELECT layer_id, timestep, pooling FROM probe_cell WHERE probe_run_id = $1', [probeRunId]);
  const stored = new Set(cells.rows.map((c) => `${c.layer_id}/${c.timestep}/${c.pooling}`));
  expect(stored.size).toBe(cells.rows.length);
  expect(stored.has(`${corrupt.layer_id}/${corrupt.timestep}/${corrupt.pooling}`)).toBe(false);
  for (const unit of rest.flatMap((j) => j.units)) expect(stored.has(`${unit.layerId}/${unit.timestep}/${unit.pooling}`)).toBe(true);
  for (const w of workers) w.child.kill('SIGTERM');
  expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0]);
});
