// A real probe run for the atlas page's browser tests and `npm run bench:atlas`: the Binder norms
// seeded, the tiny test network (not Stable Diffusion) built into a temp folder, an extraction of
// the first concepts over a few DDIM steps through real ONNX sessions, and a probe run on it — the
// same library calls the CLIs make, small enough for a loaded 2-core machine.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Database } from '../../src/db/client.ts';
import { buildTinyBundle } from '../../src/demo/tiny-bundle/build.ts';
import { BINDER_DATASET_NAME, seedDatabase } from '../../src/demo/seed.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { findNormsDataset, selectConcepts } from '../../src/norms/query.ts';
import { runProbe } from '../../src/probe-runs/run.ts';

export interface TinyProbeRun {
  extractionRunId: number;
  probeRunId: number;
}

export async function fillWithTinyProbeRun(db: Database, options: { concepts?: number; steps?: number } = {}): Promise<TinyProbeRun> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-web-'));
  try {
    await seedDatabase(db, { log: () => {} });
    const dataset = await findNormsDataset(db.prisma, BINDER_DATASET_NAME);
    const words = (await selectConcepts(db.prisma, dataset.id)).slice(0, options.concepts ?? 12).map((c) => c.word);
    const bundleDir = path.join(root, 'tiny');
    buildTinyBundle({ outDir: bundleDir, words });
    const extraction = await runExtraction({
      db, bundleDir, norms: BINDER_DATASET_NAME, concepts: words, cacheDir: path.join(root, 'cache'), threads: 1,
      settings: { steps: options.steps ?? 3, vae: false },
    });
    const probe = await runProbe(db.pool, {
      extractionRunId: extraction.runId, norms: BINDER_DATASET_NAME, settings: { folds: 3, permutations: 4, bootstrap: 20 },
    });
    return { extractionRunId: extraction.runId, probeRunId: probe.probeRunId };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
