// The demo pipeline as seed steps, in order, each idempotent and resumable:
//   demo-tiny-bundle → demo-tiny-extraction → demo-tiny-probes → demo-glove-baseline → demo-glove-probes.
// They run after the binder2016-norms seed step (they need its dataset).
import type { SeedStep } from '../seed-step.ts';
import { tinyBundleStep } from './bundle-step.ts';
import { tinyExtractionStep } from './extraction-step.ts';
import { gloveBaselineStep } from './glove-step.ts';
import { demoConcepts, demoDataset, extractionCovers, findCompletedGloveRun, findDemoExtractionRun, openDemoBundle } from './lookup.ts';
import { probeStep } from './probe-step.ts';
import { DEMO_PIPELINE_SETTINGS, type DemoPipelineSettings } from './settings.ts';

export interface DemoPipelineStepOptions {
  /** Overrides of the demo settings (tests shrink the heavy parts). */
  settings?: Partial<DemoPipelineSettings>;
  /** Aborting it stops the running step after its current concept or cell. */
  signal?: AbortSignal;
}

export function resolveDemoSettings(overrides: Partial<DemoPipelineSettings> = {}): DemoPipelineSettings {
  return { ...DEMO_PIPELINE_SETTINGS, ...overrides, probe: { ...DEMO_PIPELINE_SETTINGS.probe, ...overrides.probe } };
}

export function demoPipelineSteps(options: DemoPipelineStepOptions = {}): SeedStep[] {
  const settings = resolveDemoSettings(options.settings);
  const { signal } = options;
  const steps: SeedStep[] = [
    tinyBundleStep(settings),
    tinyExtractionStep(settings, signal),
    probeStep(settings, {
      name: 'demo-tiny-probes',
      subject: 'the tiny test network (not Stable Diffusion)',
      async findTarget(db) {
        const bundle = openDemoBundle(settings);
        const run = bundle && (await findDemoExtractionRun(db, bundle, settings));
        if (!run) return null;
        const dataset = await demoDataset(db, settings);
        const complete = await extractionCovers(db, run, (await demoConcepts(db, settings, dataset.id)).map((c) => c.id));
        return complete ? { extractionRunId: run.id, datasetId: dataset.id } : null;
      },
    }, signal),
  ];
  if (settings.glove) {
    steps.push(gloveBaselineStep(settings, signal), probeStep(settings, {
      name: 'demo-glove-probes',
      subject: 'the GloVe word-vector baseline',
      async findTarget(db) {
        const dataset = await demoDataset(db, settings);
        const run = await findCompletedGloveRun(db, (await demoConcepts(db, settings, dataset.id)).map((c) => c.word));
        return run ? { extractionRunId: run.id, datasetId: dataset.id } : null;
      },
    }, signal));
  }
  return steps;
}
