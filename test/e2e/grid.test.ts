/** @jest-environment ./test/bundles/onnx-environment.cjs */
// End to end through the library functions the CLIs use: the tiny test bundle (not Stable
// Diffusion) built into a temp folder, an extraction of 12 Binder concepts with 3 DDIM steps (real
// ONNX sessions), a probe run (3 folds, few permutations), then the real API over HTTP serving the
// grid. Expected score counts and means are computed here from the stored probe_score rows, not by grid SQL.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildTinyBundle } from '../../src/demo/tiny-bundle/build.ts';
import { BINDER_DATASET_NAME, seedDatabase } from '../../src/demo/seed.ts';
import { runExtraction, type RunReport } from '../../src/extraction/run.ts';
import { findNormsDataset, selectConcepts } from '../../src/norms/query.ts';
import { runProbe, type ProbeRunSummary } from '../../src/probe-runs/run.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

const CONCEPTS = 12;
const STEPS = 3;
const SCHEDULE = [667, 334, 1]; // DDIM "leading" spacing of 1000 train steps at 3 steps, offset 1

let db: TestDatabase;
let api: TestApi;
let root: string;
let extraction: RunReport;
let probe: ProbeRunSummary;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDatabase(db, { log: () => {} });
  const dataset = await findNormsDataset(db.prisma, BINDER_DATASET_NAME);
  const words = (await selectConcepts(db.prisma, dataset.id)).slice(0, CONCEPTS).map((c) => c.word);
  root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-e2e-'));
  const bundleDir = path.join(root, 'tiny');
  buildTinyBundle({ outDir: bundleDir, words });
  extraction = await runExtraction({
    db, bundleDir, norms: BINDER_DATASET_NAME, concepts: words, cacheDir: path.join(root, 'cache'), threads: 1,
    settings: { steps: STEPS, vae: false },
  });
  probe = await runProbe(db.pool, { extractionRunId: extraction.runId, norms: BINDER_DATASET_NAME, settings: { folds: 3, permutations: 4, bootstrap: 20 } });
  api = await startTestApi(db);
});

afterAll(async () => {
  await api?.stop();
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface ScoreRow {
  layer_id: number;
  component: string;
  timestep: number | null;
  pearson_r: number;
}

test('the stored runs are what the API reports: COMPLETED with progress 1', async () => {
  expect(extraction).toMatchObject({ status: 'COMPLETED', conceptsWritten: CONCEPTS });
  expect(probe).toMatchObject({ status: 'COMPLETED', skipped: 0 });
  const response = await api.graphql(`{
    extractionRuns { nodes { id status stepCount timesteps progress { doneCount plannedCount fraction } model { kind kindLabel } } }
    probeRuns { nodes { id status progress { doneCount plannedCount fraction } extractionRun { id } } }
  }`);
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data.extractionRuns.nodes).toEqual([{
    id: String(extraction.runId), status: 'COMPLETED', stepCount: STEPS, timesteps: [...SCHEDULE].sort((a, b) => a - b),
    progress: { doneCount: CONCEPTS, plannedCount: CONCEPTS, fraction: 1 },
    model: { kind: 'TINY_TEST_NETWORK', kindLabel: expect.stringMatching(/not Stable Diffusion/i) },
  }]);
  expect(response.body.data.probeRuns.nodes).toEqual([{
    id: String(probe.probeRunId), status: 'COMPLETED', progress: { doneCount: probe.total, plannedCount: probe.total, fraction: 1 }, extractionRun: { id: String(extraction.runId) },
  }]);
});

test('the grid serves text-encoder layers without a timestep and UNet blocks × timesteps, matching the stored scores', async () => {
  const { rows } = await db.pool.query<ScoreRow>(
    `SELECT c.layer_id, k.name AS component, c.timestep, s.pearson_r
     FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id JOIN layer l ON l.id = c.layer_id JOIN component k ON k.id = l.component_id
     WHERE c.probe_run_id = $1`, [probe.probeRunId]);
  expect(rows.length).toBeGreaterThan(0);
  const response = await api.graphql(`query Grid($input: GridInput!) {
    grid(input: $input) {
      cellCount
      axes { dimension values { index key label id timestep } }
      cells { coordinates scoreCount mean }
    }
  }`, { input: { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { probeRunIds: [String(probe.probeRunId)] } } });
  expect(response.body.errors).toBeUndefined();
  const grid = response.body.data.grid;
  const [layerAxis, timestepAxis] = grid.axes;
  expect(layerAxis.dimension).toBe('LAYER');
  expect(timestepAxis.values.map((v: { timestep: number | null }) => v.timestep)).toEqual([null, ...SCHEDULE]);
  expect(grid.cellCount).toBe(layerAxis.values.length * timestepAxis.values.length);

  const layers = await db.prisma.layer.findMany({ where: { component: { model: { extractionRuns: { some: { id: extraction.runId } } } } }, include: { component: true } });
  const componentOf = new Map(layers.map((l) => [String(l.id), l.component.name]));
  expect(layers.filter((l) => l.component.name === 'text_encoder')).toHaveLength(6);
  expect(layers.filter((l) => l.component.name === 'unet')).toHaveLength(5);
  expect(layerAxis.values.map((v: { id: string }) => v.id).sort()).toEqual(layers.map((l) => String(l.id)).sort());

  const seen = new Set<string>();
  for (const cell of grid.cells) {
    const [l, t] = cell.coordinates;
    const layerId = layerAxis.values[l].id as string;
    const timestep = timestepAxis.values[t].timestep as number | null;
    const scores = rows.filter((r) => String(r.layer_id) === layerId && r.timestep === timestep).map((r) => r.pearson_r);
    expect(cell.scoreCount).toBe(scores.length);
    if (scores.length === 0) {
      expect(cell.mean).toBeNull();
      continue;
    }
    seen.add(`${componentOf.get(layerId)}:${timestep === null ? 'none' : 'timestep'}`);
    expect(typeof cell.mean).toBe('number');
    expect(Number.isFinite(cell.mean)).toBe(true);
    expect(cell.mean).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / scores.length, 10);
  }
  // Text-encoder layers only at "no timestep", UNet blocks only at timesteps; every stored score is in the grid.
  expect([...seen].sort()).toEqual(['text_encoder:none', 'unet:timestep']);
  expect(grid.cells.reduce((sum: number, c: { scoreCount: number }) => sum + c.scoreCount, 0)).toBe(rows.length);
  // Text layers pool 3 ways (eot, mean, concept), UNet blocks 1 (spatial_mean): the score count per cell shows it.
  const attributes = 65;
  const textCell = grid.cells.find((c: { coordinates: number[]; scoreCount: number }) => c.coordinates[1] === 0 && c.scoreCount > 0);
  const unetCell = grid.cells.find((c: { coordinates: number[]; scoreCount: number }) => c.coordinates[1] === 1 && c.scoreCount > 0);
  expect(textCell.scoreCount).toBeLessThanOrEqual(3 * attributes);
  expect(textCell.scoreCount).toBeGreaterThan(2 * attributes);
  expect(unetCell.scoreCount).toBeLessThanOrEqual(attributes);
});
