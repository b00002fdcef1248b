/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The demo pipeline's seed steps on a real PostgreSQL with real ONNX sessions and the real GloVe
// package, with the heavy parts shrunk by parameters (6 concepts, 2 DDIM steps, 3-fold probes):
// the first seed builds the tiny bundle and stores every run; seeding again skips every step and
// changes nothing.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoPipelineSteps, seedDatabase, type DemoPipelineSettings } from '../../src/demo/seed.ts';
import { evenlySpacedTimesteps } from '../../src/demo/pipeline/settings.ts';
import { throttledProgress } from '../../src/demo/pipeline/progress.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { tableSnapshot } from '../support/snapshot.ts';

const TABLES = ['model', 'component', 'layer', 'extraction_run', 'activation_summary', 'probe_run', 'probe_cell', 'probe_score', 'probe_group_score', 'probe_cell_matrix', 'probe_cell_prediction'] as const;
const STEP_NAMES = ['demo-tiny-bundle', 'demo-tiny-extraction', 'demo-tiny-probes', 'demo-glove-baseline', 'demo-glove-probes'];

let db: TestDatabase;
let root: string;
let settings: Partial<DemoPipelineSettings>;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDatabase(db, { log: () => {} }); // the Binder norms, which the demo needs
  root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-demo-'));
  settings = {
    bundleDir: path.join(root, 'bundles', 'tiny'),
    cacheDir: path.join(root, 'cache'),
    conceptLimit: 6,
    steps: 2,
    recordedTimesteps: 2,
    probe: { folds: 3, permutations: 3, bootstrap: 10 },
  };
});

afterAll(async () => {
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Row count and a digest of every row, per table (run timestamps and timings included: a re-run must not touch them). */
const snapshot = () => tableSnapshot(db.pool, TABLES);

test('evenly spaced timesteps keep the schedule order and both ends', () => {
  const schedule = Array.from({ length: 50 }, (_, i) => 981 - 20 * i);
  expect(evenlySpacedTimesteps(schedule, 10)).toEqual([981, 881, 761, 661, 541, 441, 321, 221, 101, 1]);
  expect(evenlySpacedTimesteps(schedule, 2)).toEqual([981, 1]);
  expect(evenlySpacedTimesteps(schedule, 1)).toEqual([1]);
  expect(evenlySpacedTimesteps([667, 334, 1], 10)).toEqual([667, 334, 1]);
  expect(() => evenlySpacedTimesteps(schedule, 0)).toThrow(RangeError);
});

test('throttled progress reports the first and last unit and at most one line per interval between', () => {
  const lines: number[] = [];
  let now = 0;
  const progress = throttledProgress((done) => lines.push(done), 1000, () => now);
  for (let done = 1; done <= 10; done++) {
    now = done * 300;
    progress(done, 10);
  }
  expect(lines).toEqual([1, 5, 9, 10]);
});

test('the first seed runs every demo step; seeding again skips them all and changes nothing', async () => {
  const logs: string[] = [];
  const first = await seedDatabase(db, { log: (m) => logs.push(m), steps: demoPipelineSteps({ settings }) });
  expect(first.map((r) => [r.name, r.status])).toEqual(STEP_NAMES.map((name) => [name, 'ran']));
  // Built in place, no half-built sibling left behind; labelled plainly as not Stable Diffusion.
  expect(existsSync(path.join(settings.bundleDir!, 'model_index.json'))).toBe(true);
  expect(readdirSync(path.dirname(settings.bundleDir!))).toEqual(['tiny']);
  expect(logs.join('\n')).toMatch(/tiny test network \(not Stable Diffusion\)/);

  const runs = await db.prisma.extractionRun.findMany({ include: { model: true }, orderBy: { id: 'asc' } });
  expect(runs.map((r) => [r.model.kind, r.status, r.doneCount, r.plannedCount])).toEqual([
    ['TINY_TEST_NETWORK', 'COMPLETED', 6, 6],
    ['WORD_EMBEDDING', 'COMPLETED', 6, 6],
  ]);
  expect(runs[0]!.stepCount).toBe(2);
  const timesteps = await db.pool.query('SELECT DISTINCT timestep FROM activation_summary WHERE run_id = $1 AND timestep IS NOT NULL ORDER BY timestep DESC', [runs[0]!.id]);
  expect(timesteps.rows.map((r) => r.timestep)).toEqual([501, 1]);
  const probeRuns = await db.prisma.probeRun.findMany({ orderBy: { id: 'asc' } });
  expect(probeRuns.map((p) => [p.extractionRunId, p.status, p.doneCount === p.plannedCount])).toEqual([
    [runs[0]!.id, 'COMPLETED', true],
    [runs[1]!.id, 'COMPLETED', true],
  ]);
  expect(probeRuns[0]!.settings).toMatchObject({ folds: 3, permutations: 3, bootstrap: 10 });
  expect(probeRuns[1]!.plannedCount).toBe(1); // the GloVe baseline is one cell
  const before = await snapshot();
  expect(Number(before.probe_score!.split(':')[0])).toBeGreaterThan(0);

  const again = await seedDatabase(db, { log: () => {}, steps: demoPipelineSteps({ settings }) });
  expect(again.map((r) => [r.name, r.status])).toEqual(STEP_NAMES.map((name) => [name, 'already-done']));
  expect(await snapshot()).toEqual(before);
});
