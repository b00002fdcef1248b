// The standard Prisma commands must work offline through the WASM schema engine shim, and the
// hand-edited migration (NULLS NOT DISTINCT) must still agree with schema.prisma.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const run = promisify(execFile);
const prismaCli = ['node_modules/prisma/build/index.js'];
const MIGRATIONS = path.join(PROJECT_ROOT, 'prisma/migrations');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

async function prisma(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, PRISMA_HIDE_UPDATE_MESSAGE: '1' };
  delete env.PRISMA_SCHEMA_ENGINE_BINARY; // prisma.config.ts must choose the shim by itself
  return run(process.execPath, [...prismaCli, ...args], { cwd: PROJECT_ROOT, env });
}

test('the schema engine shim answers --version with the engines hash', async () => {
  const { stdout } = await run(process.execPath, ['scripts/schema-engine-shim.mjs', '--version'], { cwd: PROJECT_ROOT });
  expect(stdout).toMatch(/^schema-engine-cli [0-9a-f]{40}\n$/);
});

test('migrate status sees every migration applied', async () => {
  const { stdout } = await prisma(['migrate', 'status']);
  expect(stdout).toMatch(/Database schema is up to date/);
});

test('migrations and schema.prisma agree: migrate diff is empty', async () => {
  const { stdout } = await prisma([
    'migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', 'prisma/schema.prisma', '--script',
  ]);
  expect(stdout).toMatch(/This is an empty migration/);
  expect(stdout).not.toMatch(/CREATE|ALTER|DROP/);
});

test('the NULLS NOT DISTINCT indexes are in place', async () => {
  const { rows } = await db.pool.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%NULLS NOT DISTINCT%' ORDER BY indexname`,
  );
  expect(rows.map((row) => row.indexname)).toEqual([
    'activation_summary_run_id_layer_id_timestep_pooling_concept_key',
    'probe_cell_probe_run_id_layer_id_timestep_pooling_key',
  ]);
});

test('migration 20261201130000_names_2 renames columns and keeps their data', async () => {
  // The migrations before it, applied in a schema of their own, store one row behind each renamed
  // column; after names_2 the same values are read under the new names.
  const names = (await readdir(MIGRATIONS)).filter((name) => /^\d{14}_/.test(name)).sort();
  const target = names.indexOf('20261201130000_names_2');
  expect(target).toBeGreaterThan(0);
  const sqlOf = (name: string) => readFile(path.join(MIGRATIONS, name, 'migration.sql'), 'utf8');
  const client = await db.pool.connect();
  try {
    await client.query('CREATE SCHEMA before_names_2');
    await client.query('SET search_path TO before_names_2, public');
    for (const name of names.slice(0, target)) await client.query(await sqlOf(name));
    await client.query(`
      INSERT INTO norms_dataset (id, name, version, content_hash, citation, source) VALUES (1, 'n', 1, 'h', 'c', 's');
      INSERT INTO attribute_group (id, dataset_id, name, position) VALUES (2, 1, 'g', 0);
      INSERT INTO attribute (id, dataset_id, group_id, name, description, position) VALUES (3, 1, 2, 'a', 'd', 0);
      INSERT INTO concept (id, word) VALUES (4, 'hammer');
      INSERT INTO dataset_concept (dataset_id, concept_id, position) VALUES (1, 4, 0);
      INSERT INTO model (id, name, kind, revision, source, description) VALUES (5, 'm', 'TINY_TEST_NETWORK', 'r', 's', 'd');
      INSERT INTO component (id, model_id, kind, name, position, has_timesteps) VALUES (6, 5, 'TEXT_ENCODER', 'c', 0, false);
      INSERT INTO layer (id, component_id, index, name) VALUES (7, 6, 0, 'l');
      INSERT INTO extraction_run (id, model_id, settings_hash, prompt_template, seed, step_count, device, settings, progress_done, progress_total)
        VALUES (8, 5, 'e', '{}', 0, 0, 'cpu', '{}', 3, 4);
      INSERT INTO probe_run (id, extraction_run_id, dataset_id, settings_hash, method, settings, cv_scheme, progress_done, progress_total)
        VALUES (9, 8, 1, 'p', 'ridge', '{}', 'cv', 5, 6);
      INSERT INTO probe_cell (id, probe_run_id, layer_id, pooling, concept_count) VALUES (10, 9, 7, 'mean', 1);
      INSERT INTO probe_group_score (cell_id, group_id, metric, mean, ci_low, ci_high) VALUES (10, 2, 'pearson_r', 0.5, 0.4, 0.6);
    `);
    await client.query(await sqlOf(names[target]!));
    const read = async (sql: string) => (await client.query(sql)).rows;
    expect(await read('SELECT norms_dataset_id FROM attribute_group')).toEqual([{ norms_dataset_id: 1 }]);
    expect(await read('SELECT norms_dataset_id, attribute_group_id FROM attribute')).toEqual([{ norms_dataset_id: 1, attribute_group_id: 2 }]);
    expect(await read('SELECT norms_dataset_id, concept_id FROM dataset_concept')).toEqual([{ norms_dataset_id: 1, concept_id: 4 }]);
    expect(await read('SELECT done_count, planned_count FROM extraction_run')).toEqual([{ done_count: 3, planned_count: 4 }]);
    expect(await read('SELECT norms_dataset_id, done_count, planned_count FROM probe_run')).toEqual([{ norms_dataset_id: 1, done_count: 5, planned_count: 6 }]);
    expect(await read('SELECT attribute_group_id, mean FROM probe_group_score')).toEqual([{ attribute_group_id: 2, mean: 0.5 }]);
  } finally {
    await client.query('DROP SCHEMA IF EXISTS before_names_2 CASCADE');
    await client.query('RESET search_path');
    client.release();
  }
});
