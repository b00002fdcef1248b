/** @jest-environment ./test/bundles/onnx-environment.cjs */
// A probe run end to end on a real PostgreSQL: real Binder (2016) ratings for a subset of concepts,
// and SYNTHETIC activation summaries — no model runs here, so the "activations" are honest stand-ins:
// a fixed random projection of each concept's z-scored ratings plus Gaussian noise (a layer that
// carries the ratings), a noisier copy, and pure noise (a layer that carries nothing); seeded by
// ./synthetic-run.ts, shared with the other probe-run tests.
import { readCellMatrices, readCellPredictions } from '../../src/db/cell-matrices.ts';
import { writeSummaries } from '../../src/db/summaries.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { pearson } from '../../src/probes/metrics.ts';
import type { CellResult } from '../../src/probes/cell.ts';
import { planProbe, runProbe, type ProbeRunOptions } from '../../src/probe-runs/run.ts';
import { ProbeRunError } from '../../src/probe-runs/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedSyntheticRun } from './synthetic-run.ts';

const CONCEPTS = 60;
const SETTINGS = { folds: 5, permutations: 5, bootstrap: 50, seed: 0, excludeCategories: ['group'] };

let db: TestDatabase;
let extractionRunId: number;
let attributeCount: number;
let groupCount: number;
let eligibleConcepts: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const seeded = await seedSyntheticRun(db, { concepts: CONCEPTS, description: 'synthetic summaries for the probe-run test' });
  ({ extractionRunId, attributeCount, eligibleConcepts } = seeded);
  groupCount = seeded.groups.length;
});

afterAll(async () => {
  await db.drop();
});

async function counts(probeRunId: number) {
  const [row] = (await db.pool.query(
    `SELECT (SELECT count(*) FROM probe_cell WHERE probe_run_id = $1)::int AS cells,
            (SELECT count(*) FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1)::int AS scores,
            (SELECT count(*) FROM probe_group_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1)::int AS group_scores,
            (SELECT count(*) FROM probe_cell_matrix s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1)::int AS matrices,
            (SELECT count(*) FROM probe_cell_prediction s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1)::int AS predictions,
            (SELECT count(*) FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1 AND s.q_value IS NOT NULL)::int AS q_values`,
    [probeRunId],
  )).rows;
  return row as { cells: number; scores: number; group_scores: number; matrices: number; predictions: number; q_values: number };
}

const options = (settings: object): ProbeRunOptions => ({ extractionRunId, norms: 'binder2016', settings: { ...SETTINGS, ...settings } });

test('a run stores every cell with its scores, group scores, three attribute matrices and its predictions; a re-run writes nothing', async () => {
  const summary = await runProbe(db.pool, options({}));
  expect(summary).toMatchObject({ created: true, total: 3, written: 3, alreadyDone: 0, status: 'COMPLETED' });
  const expected = { cells: 3, scores: 3 * attributeCount, group_scores: 3 * groupCount * 3, matrices: 3 * 3, predictions: 3, q_values: 3 * attributeCount };
  expect(await counts(summary.probeRunId)).toEqual(expected);

  const run = await db.prisma.probeRun.findUniqueOrThrow({ where: { id: summary.probeRunId } });
  expect(run).toMatchObject({ status: 'COMPLETED', doneCount: 3, plannedCount: 3, method: 'ridge-loo/v2' });
  expect(run.settings).toMatchObject({ folds: 5, permutations: 5, bootstrap: 50, excludeCategories: ['group'] });
  expect(run.cvScheme).toMatch(/^5-fold outer CV over concepts/);

  const cells = await db.prisma.probeCell.findMany({ where: { probeRunId: run.id }, include: { probeScores: true }, orderBy: [{ layerId: 'asc' }, { timestep: 'asc' }] });
  for (const cell of cells) {
    expect(cell.conceptCount).toBe(eligibleConcepts);
    expect(cell.conceptTwoVsTwo).toBeGreaterThanOrEqual(0);
    expect(cell.conceptTwoVsTwo).toBeLessThanOrEqual(1);
    expect(Object.keys(cell.timings as object).length).toBeGreaterThan(0);
  }
  const meanR = (cell: (typeof cells)[number]) => cell.probeScores.reduce((s, x) => s + x.pearsonR, 0) / cell.probeScores.length;
  const [signal, , noise] = [cells.find((c) => c.timestep === null)!, cells.find((c) => c.timestep === 900)!, cells.find((c) => c.timestep === 100)!];
  // the layer built from the ratings decodes them; the pure-noise cell does not
  expect(meanR(signal)).toBeGreaterThan(0.6);
  expect(meanR(noise)).toBeLessThan(0.2);
  expect(meanR(signal)).toBeGreaterThan(meanR(noise) + 0.4);
  expect(signal.attributeRsa!).toBeGreaterThan(noise.attributeRsa ?? -1);
  for (const score of signal.probeScores) {
    expect(score.pValue).toBeGreaterThanOrEqual(1 / 6);
    expect(score.qValue).toBeGreaterThanOrEqual(score.pValue!);
    expect(score.nullPearsonR).not.toBeNull();
  }

  // re-run: same identity, nothing written, nothing changed
  const before = JSON.stringify(await db.pool.query('SELECT * FROM probe_score ORDER BY id').then((r) => r.rows));
  const again = await runProbe(db.pool, options({}));
  expect(again).toMatchObject({ probeRunId: summary.probeRunId, created: false, written: 0, status: 'NOTHING_TO_DO' });
  expect(await db.prisma.probeRun.findUniqueOrThrow({ where: { id: summary.probeRunId } })).toEqual(run);
  expect(await counts(summary.probeRunId)).toEqual(expected);
  expect(JSON.stringify(await db.pool.query('SELECT * FROM probe_score ORDER BY id').then((r) => r.rows))).toBe(before);
});

test('a cell\'s stored matrices are its CellResult\'s as float32, and its stored predictions reproduce probe_score.pearson_r against the ratings', async () => {
  const results = new Map<number, CellResult>();
  const summary = await runProbe(db.pool, options({ seed: 3, permutations: 0, bootstrap: 10 }), {
    onCell: (event) => {
      if (event.cellId !== null && event.result) results.set(event.cellId, event.result);
    },
  });
  expect(results.size).toBe(3);
  const attributeIds = (await db.pool.query<{ id: number }>('SELECT id FROM attribute ORDER BY position, id')).rows.map((row) => row.id);
  const cellIds = [...results.keys()];
  const stored = {
    pair_accuracy: await readCellMatrices(db.pool, cellIds, 'pair_accuracy'),
    model_similarity: await readCellMatrices(db.pool, cellIds, 'model_similarity'),
    human_similarity: await readCellMatrices(db.pool, cellIds, 'human_similarity'),
  };
  const predictions = await readCellPredictions(db.pool, cellIds);
  for (const [cellId, result] of results) {
    const expected = { pair_accuracy: result.pairAccuracies, model_similarity: result.modelSimilarity, human_similarity: result.humanSimilarity };
    for (const measure of ['pair_accuracy', 'model_similarity', 'human_similarity'] as const) {
      const matrix = stored[measure].get(cellId)!;
      expect(matrix.attributeIds).toEqual(attributeIds);
      expect(matrix.values).toEqual(Float32Array.from(expected[measure]));
    }
    expect([...result.humanSimilarity].some((v) => Math.abs(v) > 0.2)).toBe(true); // real correlations, not zeros

    // Recompute Pearson r from the stored float32 predictions and the ratings in the database.
    const stored32 = predictions.get(cellId)!;
    expect(stored32.attributeIds).toEqual(attributeIds);
    const n = stored32.conceptIds.length, m = attributeIds.length;
    expect(n).toBe(eligibleConcepts);
    const ratings = await db.pool.query<{ concept_id: number; attribute_id: number; value: number }>(
      'SELECT concept_id, attribute_id, value FROM rating WHERE concept_id = ANY($1::int[])', [stored32.conceptIds],
    );
    const row = new Map(stored32.conceptIds.map((id, i) => [id, i]));
    const column = new Map(attributeIds.map((id, a) => [id, a]));
    const truth = new Float64Array(n * m);
    for (const r of ratings.rows) truth[row.get(r.concept_id)! * m + column.get(r.attribute_id)!] = r.value;
    const predicted = Float64Array.from(stored32.values);
    const scores = await db.pool.query<{ attribute_id: number; pearson_r: number }>('SELECT attribute_id, pearson_r FROM probe_score WHERE cell_id = $1', [cellId]);
    expect(scores.rows).toHaveLength(m);
    for (const score of scores.rows) {
      const r = pearson(predicted, truth, n, m, column.get(score.attribute_id)!);
      expect(Math.abs(r - score.pearson_r)).toBeLessThan(1e-5);
    }
  }
  expect(summary.status).toBe('COMPLETED');
});

test('a run interrupted after one cell resumes and ends with exactly one row per cell', async () => {
  const settings = { seed: 7 };
  let seen = 0;
  await expect(runProbe(db.pool, options(settings), {
    onCell: () => {
      if (++seen === 1) throw new Error('killed after one cell');
    },
  })).rejects.toThrow('killed after one cell');
  const failed = await db.pool.query<{ id: number; status: string; done_count: number; error: string }>(`SELECT id, status, done_count, error FROM probe_run WHERE settings->>'seed' = '7'`);
  expect(failed.rows).toHaveLength(1);
  expect(failed.rows[0]).toMatchObject({ status: 'FAILED', done_count: 1, error: 'killed after one cell' });
  expect((await counts(failed.rows[0]!.id)).cells).toBe(1);

  const resumed = await runProbe(db.pool, options(settings));
  expect(resumed).toMatchObject({ probeRunId: failed.rows[0]!.id, created: false, alreadyDone: 1, written: 2, status: 'COMPLETED' });
  expect(await counts(resumed.probeRunId)).toEqual({
    cells: 3, scores: 3 * attributeCount, group_scores: 3 * groupCount * 3, matrices: 3 * 3, predictions: 3, q_values: 3 * attributeCount,
  });
});

test('filters and bad references', async () => {
  const textOnly = await runProbe(db.pool, options({ timesteps: [null], permutations: 0, bootstrap: 10 }));
  expect(textOnly.total).toBe(1);
  const score = await db.pool.query('SELECT s.null_pearson_r, s.p_value, s.q_value FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id WHERE c.probe_run_id = $1 LIMIT 1', [textOnly.probeRunId]);
  expect(score.rows[0]).toEqual({ null_pearson_r: null, p_value: null, q_value: null });
  await expect(runProbe(db.pool, { ...options({}), norms: 'binder2016@9' })).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
  await expect(runProbe(db.pool, { ...options({}), extractionRunId: 999999 })).rejects.toBeInstanceOf(ProbeRunError);
  await expect(runProbe(db.pool, options({ categories: ['animal'] }))).rejects.toMatchObject({ code: 'NO_CONCEPTS' });
  await expect(runProbe(db.pool, options({ folds: 1 }))).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
});

test('the command line prints one JSON line per cell when not on a terminal, and maps errors to exit codes', async () => {
  const { execFile } = await import('node:child_process');
  const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/probe.ts', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
  const ok = await cli(['--run', String(extractionRunId), '--norms', 'binder2016@1', '--timesteps', 'none', '--permutations', '2', '--bootstrap', '10', '--folds', '5', '--seed', '3']);
  expect(ok.stderr).not.toMatch(/Error/);
  expect(ok.code).toBe(0);
  const lines = ok.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; done?: number; total?: number });
  expect(lines.map((l) => l.event)).toEqual(['start', 'cell', 'done']);
  expect(lines[1]).toMatchObject({ done: 1, total: 1, timestep: null, pooling: 'mean' });
  const missing = await cli(['--run', String(extractionRunId), '--norms', 'nope']);
  expect(missing.code).toBe(3);
  expect(missing.stderr).toMatch(/DATASET_NOT_FOUND: --norms nope/);
  expect((await cli(['--run', 'x', '--norms', 'nope'])).code).toBe(2);
});

test('an extraction run that is not COMPLETED is refused, naming the run', async () => {
  const model = await db.prisma.model.findFirstOrThrow({ where: { name: 'synthetic' } });
  for (const status of ['RUNNING', 'FAILED', 'PENDING'] as const) {
    const partial = await db.prisma.extractionRun.create({
      data: { modelId: model.id, settingsHash: `partial-${status}`, promptTemplate: '{concept}', seed: 0, stepCount: 2, device: 'cpu', settings: {}, status },
    });
    const error = await runProbe(db.pool, { ...options({}), extractionRunId: partial.id }).then(() => null, (e: unknown) => e as ProbeRunError);
    expect(error).toBeInstanceOf(ProbeRunError);
    expect(error!.code).toBe('EXTRACTION_RUN_NOT_COMPLETED');
    expect(error!.message).toContain(`extraction run ${partial.id} is ${status}`);
  }
  expect(await db.prisma.probeRun.count({ where: { extractionRun: { settingsHash: { startsWith: 'partial-' } } } })).toBe(0);
});

test('an extraction that finished again (it grew) gets a new probe run instead of NOTHING_TO_DO', async () => {
  const settings = { timesteps: [null], permutations: 0, bootstrap: 10, seed: 11 };
  const first = await runProbe(db.pool, options(settings));
  expect(first).toMatchObject({ created: true, status: 'COMPLETED' });
  const original = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: extractionRunId } });
  try {
    await db.prisma.extractionRun.update({ where: { id: extractionRunId }, data: { finishedAt: new Date(original.finishedAt!.getTime() + 60_000) } });
    const second = await runProbe(db.pool, options(settings));
    expect(second).toMatchObject({ created: true, status: 'COMPLETED', written: 1 });
    expect(second.probeRunId).not.toBe(first.probeRunId);
  } finally {
    await db.prisma.extractionRun.update({ where: { id: extractionRunId }, data: { finishedAt: original.finishedAt } });
  }
});

test('cells with too few concepts are recorded as skipped: progress reaches the total and a re-run is idle', async () => {
  // A layer with summaries for only 4 concepts: fewer than 2 × folds.
  const unet = await db.prisma.component.findFirstOrThrow({ where: { name: 'unet' } });
  const sparse = await db.prisma.layer.create({ data: { componentId: unet.id, index: 1, name: 'unet.1', shape: [8] } });
  const concepts = await db.prisma.datasetConcept.findMany({ where: { category: { not: 'group' } }, orderBy: { position: 'asc' }, take: 4 });
  await writeSummaries(db.pool, concepts.map((c, i) => ({
    runId: extractionRunId, conceptId: c.conceptId, layerId: sparse.id, timestep: 900, pooling: 'mean', vector: Float32Array.from({ length: 8 }, (_, j) => i + j),
  })));
  const settings = { timesteps: [900], permutations: 0, bootstrap: 10, seed: 12 };
  try {
    const events: { skipped?: string; done: number; total: number }[] = [];
    const summary = await runProbe(db.pool, options(settings), { onCell: (e) => { events.push(e); } });
    expect(summary).toMatchObject({ total: 2, written: 1, skipped: 1, status: 'COMPLETED' });
    expect(events.at(-1)).toMatchObject({ done: 2, total: 2 });
    expect(events.find((e) => e.skipped)?.skipped).toMatch(/only 4 concepts/);
    const run = await db.prisma.probeRun.findUniqueOrThrow({ where: { id: summary.probeRunId } });
    expect(run).toMatchObject({ status: 'COMPLETED', doneCount: 2, plannedCount: 2 });
    expect(Object.values((run.timings as { skipped: Record<string, string> }).skipped)).toEqual([expect.stringMatching(/only 4 concepts/)]);
    const scores = JSON.stringify((await db.pool.query('SELECT * FROM probe_score ORDER BY id')).rows);

    const again = await runProbe(db.pool, options(settings), { onCell: () => { throw new Error('an idle re-run must not visit cells'); } });
    expect(again).toMatchObject({ probeRunId: summary.probeRunId, status: 'NOTHING_TO_DO', written: 0, alreadyDone: 2 });
    expect(await db.prisma.probeRun.findUniqueOrThrow({ where: { id: summary.probeRunId } })).toEqual(run);
    expect(JSON.stringify((await db.pool.query('SELECT * FROM probe_score ORDER BY id')).rows)).toBe(scores);
  } finally {
    await db.pool.query('DELETE FROM activation_summary WHERE layer_id = $1', [sparse.id]);
  }
});

test('a failure right after the run is marked RUNNING (backend creation, start hook) marks it FAILED', async () => {
  const settings = { timesteps: [null], permutations: 0, bootstrap: 10, seed: 13 };
  await expect(runProbe(db.pool, options(settings), { onStart: () => { throw new Error('start hook failed'); } })).rejects.toThrow('start hook failed');
  const run = await db.pool.query<{ status: string; error: string }>(`SELECT status, error FROM probe_run WHERE settings->>'seed' = '13'`);
  expect(run.rows).toEqual([{ status: 'FAILED', error: 'start hook failed' }]);

  // When marking FAILED fails too (here a trigger refuses it), the original error is still the one thrown.
  await db.pool.query(`CREATE FUNCTION refuse_failed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.status = 'FAILED' THEN RAISE EXCEPTION 'refusing FAILED'; END IF; RETURN NEW; END $$`);
  await db.pool.query(`CREATE TRIGGER refuse_failed BEFORE UPDATE ON probe_run FOR EACH ROW EXECUTE FUNCTION refuse_failed()`);
  try {
    await expect(runProbe(db.pool, options({ ...settings, seed: 17 }), { onStart: () => { throw new Error('start hook failed again'); } }))
      .rejects.toThrow('start hook failed again');
  } finally {
    await db.pool.query('DROP TRIGGER refuse_failed ON probe_run; DROP FUNCTION refuse_failed()');
  }
});

test('a second process on the same run gets RUN_LOCKED while the first holds it; the lock is released at the end', async () => {
  const settings = { timesteps: [null], permutations: 0, bootstrap: 10, seed: 14 };
  const first = await runProbe(db.pool, options(settings));
  const { settings_hash: hash } = (await db.pool.query<{ settings_hash: string }>('SELECT settings_hash FROM probe_run WHERE id = $1', [first.probeRunId])).rows[0]!;
  const other = await db.pool.connect();
  try {
    expect((await other.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [hash])).rows[0].locked).toBe(true);
    const error = await runProbe(db.pool, options(settings)).then(() => null, (e: unknown) => e as ProbeRunError);
    expect(error).toMatchObject({ code: 'RUN_LOCKED' });
    expect(error!.message).toContain(`extraction run ${extractionRunId}`);
    await other.query('SELECT pg_advisory_unlock(hashtext($1))', [hash]);
  } finally {
    other.release();
  }
  // runProbe released its own lock: another session can take it.
  const probe = await db.pool.connect();
  try {
    expect((await probe.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [hash])).rows[0].locked).toBe(true);
    await probe.query('SELECT pg_advisory_unlock(hashtext($1))', [hash]);
  } finally {
    probe.release();
  }
  expect(await runProbe(db.pool, options(settings))).toMatchObject({ status: 'NOTHING_TO_DO' });
});

test('aborting stops after the current cell, marks the run FAILED as interrupted, and a re-run resumes', async () => {
  const settings = { seed: 15, permutations: 0, bootstrap: 10 };
  const interrupt = new AbortController();
  const error = await runProbe(db.pool, { ...options(settings), signal: interrupt.signal }, { onCell: () => interrupt.abort() })
    .then(() => null, (e: unknown) => e as ProbeRunError);
  expect(error).toMatchObject({ code: 'INTERRUPTED' });
  const run = await db.pool.query<{ id: number; status: string; error: string; done_count: number }>(`SELECT id, status, error, done_count FROM probe_run WHERE settings->>'seed' = '15'`);
  expect(run.rows[0]).toMatchObject({ status: 'FAILED', error: 'interrupted; re-run to resume', done_count: 1 });
  expect(await runProbe(db.pool, options(settings))).toMatchObject({ probeRunId: run.rows[0]!.id, alreadyDone: 1, written: 2, status: 'COMPLETED' });
});

test('the command line: --help prints the usage; SIGINT stops the run, marks it interrupted and exits 130', async () => {
  const { execFile, spawn } = await import('node:child_process');
  const help = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/probe.ts', '--help'], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: '' } },
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }));
  });
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^npm run probe -- --run <extraction run id> --norms/);
  expect(help.stdout).toMatch(/130 interrupted/);

  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/probe.ts', '--run', String(extractionRunId), '--norms', 'binder2016', '--folds', '5', '--seed', '16', '--permutations', '20', '--bootstrap', '50', '--exclude-category', 'group'],
    { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const first = stdout === '';
      stdout += chunk.toString();
      if (first && stdout.includes('"event":"start"')) child.kill('SIGINT');
    });
    child.on('exit', (exitCode) => resolve(exitCode));
  });
  expect(stderr).toMatch(/INTERRUPTED/);
  expect(code).toBe(130);
  const run = await db.pool.query<{ status: string; error: string; done_count: number }>(`SELECT status, error, done_count FROM probe_run WHERE settings->>'seed' = '16'`);
  expect(run.rows).toHaveLength(1);
  expect(run.rows[0]).toMatchObject({ status: 'FAILED', error: 'interrupted; re-run to resume' });
  expect(run.rows[0]!.done_count).toBeLessThan(3);
});

test('a failed and an interrupted probe run have finished_at set; plan() reports the cells left without running', async () => {
  const failedSettings = { seed: 18, permutations: 0, bootstrap: 10 };
  let seen = 0;
  await expect(runProbe(db.pool, options(failedSettings), { onCell: () => { if (++seen === 1) throw new Error('failed after one cell'); } }))
    .rejects.toThrow('failed after one cell');
  const failed = await db.prisma.probeRun.findFirstOrThrow({ where: { settings: { path: ['seed'], equals: 18 } } });
  expect(failed).toMatchObject({ status: 'FAILED', error: 'failed after one cell', doneCount: 1 });
  expect(failed.finishedAt).toBeInstanceOf(Date);

  // What is left, read without running (and without changing anything).
  const partly = await planProbe(db.pool, options(failedSettings));
  expect(partly).toMatchObject({ run: { id: failed.id, status: 'FAILED' }, total: 3, complete: false });
  expect(partly!.done).toHaveLength(1);
  expect(partly!.left).toHaveLength(2);
  expect(await db.prisma.probeRun.findUniqueOrThrow({ where: { id: failed.id } })).toEqual(failed);
  expect(await planProbe(db.pool, options({ ...failedSettings, seed: 19 }))).toMatchObject({ run: null, total: 3, complete: false });

  const interrupt = new AbortController();
  await expect(runProbe(db.pool, { ...options({ ...failedSettings, seed: 19 }), signal: interrupt.signal }, { onCell: () => interrupt.abort() }))
    .rejects.toMatchObject({ code: 'INTERRUPTED' });
  const interrupted = await db.prisma.probeRun.findFirstOrThrow({ where: { settings: { path: ['seed'], equals: 19 } } });
  expect(interrupted).toMatchObject({ status: 'FAILED', error: 'interrupted; re-run to resume' });
  expect(interrupted.finishedAt).toBeInstanceOf(Date);

  // Resumed: RUNNING clears finished_at, COMPLETED sets it again; the plan is then complete.
  await runProbe(db.pool, options(failedSettings));
  const resumed = await db.prisma.probeRun.findUniqueOrThrow({ where: { id: failed.id } });
  expect(resumed.status).toBe('COMPLETED');
  expect(resumed.finishedAt!.getTime()).toBeGreaterThanOrEqual(failed.finishedAt!.getTime());
  expect(await planProbe(db.pool, options(failedSettings))).toMatchObject({ complete: true, left: [], total: 3 });
});
