// The import's sparsity report (issue 10): on sparse feature-production norms built for the test
// (test/norms/sparse-norms.ts: every attribute's support known by construction), in the import's
// result and printed by `npm run import:norms`; and on the real, dense Binder norms, where no
// attribute falls under any reported K.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { importNormsDataset } from '../../src/norms/import.ts';
import { loadNormsFolder } from '../../src/norms/read-folder.ts';
import { REPORTED_MIN_SUPPORTS, normsSparsity } from '../../src/norms/sparsity.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { SPARSE_ATTRIBUTES, SPARSE_CONCEPTS, writeSparseNorms } from './sparse-norms.ts';

let db: TestDatabase;
let parent: string;
beforeAll(async () => {
  [db, parent] = await Promise.all([createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'sparsity-'))]);
});
afterAll(async () => {
  await db.drop();
  await rm(parent, { recursive: true, force: true });
});

// From the design: n concepts, one empty cell, and each attribute's support.
const n = SPARSE_CONCEPTS.length, m = SPARSE_ATTRIBUTES.length;
const designed = {
  cellCount: n * m,
  missingCellCount: 1,
  zeroCellCount: n * m - 1 - SPARSE_ATTRIBUTES.reduce((s, a) => s + a.support, 0),
  belowMinSupport: REPORTED_MIN_SUPPORTS.map((k) => ({ minSupport: k, attributeCount: SPARSE_ATTRIBUTES.filter((a) => a.support < k).length })),
};

test('sparse feature-production norms: zero and empty cells, and the attributes under each common K', async () => {
  const { folder } = await writeSparseNorms(parent);
  const sparsity = normsSparsity(await loadNormsFolder(folder));
  expect(sparsity).toMatchObject({ ...designed, zeroShare: designed.zeroCellCount / (n * m), missingShare: 1 / (n * m) });
  // As in real feature norms: most cells are zero, and most attributes are listed for fewer than 10 concepts.
  expect(sparsity.zeroShare).toBeGreaterThan(0.5);
  expect(sparsity.belowMinSupport.find((b) => b.minSupport === 10)!.attributeCount).toBeGreaterThan(m / 2);
  const supports = SPARSE_ATTRIBUTES.map((a) => a.support).sort((a, b) => a - b);
  expect(sparsity.medianSupportCount).toBe(m % 2 === 1 ? supports[(m - 1) / 2] : (supports[m / 2 - 1]! + supports[m / 2]!) / 2);
});

test('the import returns the report (also when the content is unchanged) and the CLI prints it', async () => {
  const { folder } = await writeSparseNorms(parent, 'printed');
  const imported = await importNormsDataset(db.prisma, await loadNormsFolder(folder), { name: 'printed' });
  expect(imported).toMatchObject({ status: 'imported', sparsity: designed });
  const cli = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(PROJECT_ROOT, 'scripts/import-norms.ts'), folder], {
    cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8', timeout: 120_000,
  });
  expect(cli.stderr).toBe('');
  expect(cli.status).toBe(0);
  expect(cli.stdout).toContain('printed: unchanged');
  const percent = (100 * designed.zeroCellCount / (n * m)).toFixed(1);
  expect(cli.stdout).toContain(`sparsity: ${percent}% of the ${n * m} cells are 0, ${(100 / (n * m)).toFixed(1)}% empty (missing)`);
  expect(cli.stdout).toContain(`K=2: ${designed.belowMinSupport[0]!.attributeCount} of ${m}, K=5: ${designed.belowMinSupport[1]!.attributeCount} of ${m}, ` +
    `K=10: ${designed.belowMinSupport[2]!.attributeCount} of ${m}, K=20: ${designed.belowMinSupport[3]!.attributeCount} of ${m}`);
}, 180_000);

test('the real Binder norms are dense: no attribute under any reported K', async () => {
  const binder = await loadNormsFolder(path.join(PROJECT_ROOT, 'data/norms/binder2016'));
  const sparsity = normsSparsity(binder);
  expect(sparsity).toMatchObject({ cellCount: 275 * 65, missingCellCount: 0 });
  expect(sparsity.belowMinSupport.map((b) => b.attributeCount)).toEqual([0, 0, 0, 0]);
  expect(sparsity.zeroShare).toBeLessThan(0.1);
});
