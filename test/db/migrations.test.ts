// The standard Prisma commands must work offline through the WASM schema engine shim, and the
// hand-edited migration (NULLS NOT DISTINCT) must still agree with schema.prisma.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const run = promisify(execFile);
const prismaCli = ['node_modules/prisma/build/index.js'];

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
