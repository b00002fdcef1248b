// Demo step 1: build the tiny test bundle (a tiny random network shaped like SD 1.5, NOT Stable
// Diffusion) when its folder is absent. It is built into a sibling folder and renamed into place,
// so a start killed mid-build leaves no half-written bundle behind.
import { renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config.ts';
import { buildTinyBundle } from '../tiny-bundle/build.ts';
import type { SeedStep } from '../seed-step.ts';
import { openDemoBundle } from './lookup.ts';
import { DemoPipelineError } from './errors.ts';
import type { DemoPipelineSettings } from './settings.ts';

export function tinyBundleStep(settings: DemoPipelineSettings): SeedStep {
  const shown = path.relative(PROJECT_ROOT, settings.bundleDir).startsWith('..') ? settings.bundleDir : path.relative(PROJECT_ROOT, settings.bundleDir);
  return {
    name: 'demo-tiny-bundle',
    async isDone() {
      return openDemoBundle(settings) !== null;
    },
    async run(_db, progress) {
      if (openDemoBundle(settings)) return `${shown} is already built`;
      progress(0, 1, `building the tiny test network (not Stable Diffusion) into ${shown}`);
      const partial = `${settings.bundleDir}.partial-${process.pid}`;
      rmSync(partial, { recursive: true, force: true });
      const report = buildTinyBundle({ outDir: partial, seed: settings.bundleSeed });
      try {
        renameSync(partial, settings.bundleDir);
      } catch (error) {
        rmSync(partial, { recursive: true, force: true });
        if (openDemoBundle(settings)) return `${shown} was built meanwhile by another process`;
        throw new DemoPipelineError('MISSING_PREREQUISITE', `Cannot put the tiny bundle at ${settings.bundleDir}: ${(error as Error).message}. The folder exists without a model_index.json; delete it (bundles/ is git-ignored and rebuilt on start).`);
      }
      progress(1, 1);
      return `tiny test network (not Stable Diffusion) at ${shown}: ${report.words} whole-word tokens (${report.gloveWords} with GloVe embeddings), ${(report.bytes / 1e6).toFixed(1)} MB`;
    },
  };
}

