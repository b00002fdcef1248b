// Migration 20261201140000_compact_cell_results turns the attribute_pair_score rows of existing
// cells into one 'pair_accuracy' float32 triangle per cell. This proves it on a database at the
// previous migration holding cells written the old way (the old writer's statement, on a real
// probeCell result): every old number comes back exactly as float32 at its pair's place, a pair
// without a row (undefined accuracy) is NaN, and the old table is gone.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { triangleIndex, triangleLength, unpackTriangle } from '../../src/db/cell-matrices.ts';
import { probeCell } from '../../src/probes/cell.ts';
import { assignFolds } from '../../src/probes/folds.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { gaussianSampler } from '../probes/reference.ts';

const MIGRATIONS = path.join(PROJECT_ROOT, 'prisma/migrations');
const TARGET = '20261201140000_compact_cell_results';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** A small real cell: m attributes over n concepts; the `constant` ones are rated the same for every concept (a pair of two of them is undefined). */
async function realCell(seed: number, n: number, m: number, constant: readonly number[]) {
  const d = 8;
  const normal = gaussianSampler(seededRandom(seed));
  const features = new Float32Array(n * d).map(() => normal());
  const ratings = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let a = 0; a < m; a++) ratings[i * m + a] = constant.includes(a) ? 3 : features[i * d + (a % d)]! + 0.5 * normal();
  return probeCell({
    features, n, d, ratings, attributes: m, groups: [Array.from({ length: m }, (_, a) => a)], foldOf: assignFolds(n, 4, seed),
    alphas: [0.1, 1, 10], permutations: 0, bootstrap: 10, seed,
  });
}

test(`migration ${TARGET} gives back every old pair accuracy exactly as float32 and drops attribute_pair_score`, async () => {
  const names = (await readdir(MIGRATIONS)).filter((name) => /^\d{14}_/.test(name)).sort();
  const target = names.indexOf(TARGET);
  expect(target).toBeGreaterThan(0);
  const sqlOf = (name: string) => readFile(path.join(MIGRATIONS, name, 'migration.sql'), 'utf8');
  const client = await db.pool.connect();
  try {
    await client.query('CREATE SCHEMA before_compact');
    await client.query('SET search_path TO before_compact, public');
    for (const name of names.slice(0, target)) await client.query(await sqlOf(name));

    // Attribute ids run against their positions, so the matrix order (position, then id) is not the id order.
    const m = 7;
    const attributeIds = [107, 106, 105, 104, 103, 102, 101]; // position 0..6
    await client.query(`
      INSERT INTO norms_dataset (id, name, version, content_hash, citation, source) VALUES (1, 'n', 1, 'h', 'c', 's');
      INSERT INTO attribute_group (id, norms_dataset_id, name, position) VALUES (2, 1, 'g', 0);
      INSERT INTO model (id, name, kind, revision, source, description) VALUES (5, 'm', 'TINY_TEST_NETWORK', 'r', 's', 'd');
      INSERT INTO component (id, model_id, kind, name, position, has_timesteps) VALUES (6, 5, 'TEXT_ENCODER', 'c', 0, false);
      INSERT INTO layer (id, component_id, index, name) VALUES (7, 6, 0, 'l');
      INSERT INTO extraction_run (id, model_id, settings_hash, prompt_template, seed, step_count, device, settings) VALUES (8, 5, 'e', '{}', 0, 0, 'cpu', '{}');
      INSERT INTO probe_run (id, extraction_run_id, norms_dataset_id, settings_hash, method, settings, cv_scheme) VALUES (9, 8, 1, 'p', 'ridge', '{}', 'cv');
      INSERT INTO probe_cell (id, probe_run_id, layer_id, pooling, concept_count) VALUES (10, 9, 7, 'mean', 40), (11, 9, 7, 'last', 40), (12, 9, 7, 'max', 40);
    `);
    await client.query(
      `INSERT INTO attribute (id, norms_dataset_id, attribute_group_id, name, description, position)
       SELECT id, 1, 2, 'a' || id, 'd', position - 1 FROM unnest($1::int[]) WITH ORDINALITY AS u(id, position)`,
      [attributeIds],
    );

    // Cell 10: every pair defined. Cell 11: attributes at positions 2 and 4 constant, so their pair is
    // undefined and has no row. Cell 12: no rows at all. Rows written by the old writer's statement,
    // undefined pairs skipped as it did.
    const cells = { 10: await realCell(1, 40, m, []), 11: await realCell(2, 40, m, [2, 4]) };
    for (const [cellId, result] of Object.entries(cells)) {
      const pairA: number[] = [], pairB: number[] = [], accuracy: number[] = [];
      let pair = 0;
      for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++, pair++) {
        const value = result.pairAccuracies[pair]!;
        if (!Number.isFinite(value)) continue;
        pairA.push(attributeIds[a]!);
        pairB.push(attributeIds[b]!);
        accuracy.push(value);
      }
      await client.query(
        `INSERT INTO attribute_pair_score (cell_id, attribute_a_id, attribute_b_id, accuracy)
         SELECT $1, * FROM unnest($2::int[], $3::int[], $4::float8[])`,
        [Number(cellId), pairA, pairB, accuracy],
      );
    }
    expect(Number.isNaN(cells[11].pairAccuracies[triangleIndex(2, 4, m)]!)).toBe(true);
    expect([...cells[11].pairAccuracies].filter(Number.isNaN)).toHaveLength(1);
    const old = (await client.query<{ cell_id: number; a: number; b: number; accuracy: number }>(
      'SELECT cell_id, attribute_a_id AS a, attribute_b_id AS b, accuracy FROM attribute_pair_score ORDER BY id',
    )).rows;
    expect(old).toHaveLength(2 * triangleLength(m) - 1);

    await client.query(await sqlOf(TARGET));

    const matrices = (await client.query<{ cell_id: number; measure: string; attribute_ids: number[]; data: Buffer }>(
      'SELECT cell_id, measure, attribute_ids, data FROM probe_cell_matrix ORDER BY cell_id',
    )).rows;
    expect(matrices.map((row) => [row.cell_id, row.measure])).toEqual([[10, 'pair_accuracy'], [11, 'pair_accuracy']]);
    // Both keep all seven attributes, in the norms' order; cell 12 had no pair and has no matrix.
    expect(matrices[0]!.attribute_ids).toEqual(attributeIds);
    expect(matrices[1]!.attribute_ids).toEqual(attributeIds);

    for (const row of matrices) {
      const ids = row.attribute_ids;
      const values = unpackTriangle(row.data, ids.length, `cell ${row.cell_id}`);
      const mine = old.filter((pair) => pair.cell_id === row.cell_id);
      expect(values).toHaveLength(triangleLength(m));
      for (const pair of mine) {
        const i = ids.indexOf(pair.a), j = ids.indexOf(pair.b);
        expect(values[triangleIndex(Math.min(i, j), Math.max(i, j), ids.length)]).toBe(Math.fround(pair.accuracy));
      }
      // …and the matrix is the probe's own result as float32, NaN (no row) included, in the probe's order.
      expect(values).toEqual(Float32Array.from(cells[row.cell_id as 10 | 11].pairAccuracies));
    }

    const left = await client.query(`SELECT to_regclass('before_compact.attribute_pair_score') AS t`);
    expect(left.rows[0].t).toBeNull();
  } finally {
    await client.query('DROP SCHEMA IF EXISTS before_compact CASCADE');
    await client.query('RESET search_path');
    client.release();
  }
}, 60_000);

test('a pair without a row between two kept attributes becomes NaN', async () => {
  const names = (await readdir(MIGRATIONS)).filter((name) => /^\d{14}_/.test(name)).sort();
  const sqlOf = (name: string) => readFile(path.join(MIGRATIONS, name, 'migration.sql'), 'utf8');
  const client = await db.pool.connect();
  try {
    await client.query('CREATE SCHEMA before_compact_nan');
    await client.query('SET search_path TO before_compact_nan, public');
    for (const name of names.slice(0, names.indexOf(TARGET))) await client.query(await sqlOf(name));
    await client.query(`
      INSERT INTO norms_dataset (id, name, version, content_hash, citation, source) VALUES (1, 'n', 1, 'h', 'c', 's');
      INSERT INTO attribute_group (id, norms_dataset_id, name, position) VALUES (2, 1, 'g', 0);
      INSERT INTO attribute (id, norms_dataset_id, attribute_group_id, name, description, position) VALUES (30, 1, 2, 'a', 'd', 2), (31, 1, 2, 'b', 'd', 0), (32, 1, 2, 'c', 'd', 1);
      INSERT INTO model (id, name, kind, revision, source, description) VALUES (5, 'm', 'TINY_TEST_NETWORK', 'r', 's', 'd');
      INSERT INTO component (id, model_id, kind, name, position, has_timesteps) VALUES (6, 5, 'TEXT_ENCODER', 'c', 0, false);
      INSERT INTO layer (id, component_id, index, name) VALUES (7, 6, 0, 'l');
      INSERT INTO extraction_run (id, model_id, settings_hash, prompt_template, seed, step_count, device, settings) VALUES (8, 5, 'e', '{}', 0, 0, 'cpu', '{}');
      INSERT INTO probe_run (id, extraction_run_id, norms_dataset_id, settings_hash, method, settings, cv_scheme) VALUES (9, 8, 1, 'p', 'ridge', '{}', 'cv');
      INSERT INTO probe_cell (id, probe_run_id, layer_id, pooling, concept_count) VALUES (10, 9, 7, 'mean', 1);
      INSERT INTO attribute_pair_score (cell_id, attribute_a_id, attribute_b_id, accuracy) VALUES (10, 30, 31, 0.1), (10, 32, 30, 0.7);
    `);
    await client.query(await sqlOf(TARGET));
    const { rows } = await client.query<{ attribute_ids: number[]; data: Buffer }>('SELECT attribute_ids, data FROM probe_cell_matrix');
    expect(rows[0]!.attribute_ids).toEqual([31, 32, 30]);
    // (31, 32) had no row; (31, 30) = 0.1 stored as (30, 31); (32, 30) = 0.7.
    expect([...unpackTriangle(rows[0]!.data, 3, 'cell 10')]).toEqual([NaN, Math.fround(0.1), Math.fround(0.7)]);
  } finally {
    await client.query('DROP SCHEMA IF EXISTS before_compact_nan CASCADE');
    await client.query('RESET search_path');
    client.release();
  }
});
