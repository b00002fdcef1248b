// The demo pipeline as seed steps, in order, each idempotent and resumable:
//   demo-tiny-bundle → demo-tiny-extraction → demo-tiny-probes → demo-glove-baseline → demo-glove-probes.
// They run after the binder2016-norms seed step (they need its dataset).
import type { SeedStep } from '../seed-step.ts';
import { tinyBundleStep } from './bundle-step.ts';
import { tinyExtractionStep } from './extraction-step.ts';
import { gloveBaselineStep } from './glove-step.ts';
import { demoDataset, demoExtractionPlan, demoGlovePlan, openDemoBundle } from './lookup.ts';
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
        const plan = bundle && (await demoExtractionPlan(db, bundle, settings));
        return plan?.complete && plan.run ? { extractionRunId: plan.run.id, datasetId: (await demoDataset(db, settings)).id } : null;
      },
    }, signal),
  ];
  if (settings.glove) {
    steps.push(gloveBaselineStep(settings, signal), probeStep(settings, {
      name: 'demo-glove-probes',
      subject: 'the GloVe word-vector baseline',
      async findTarget(db) {
        const plan = await demoGlovePlan(db, settings);
        return plan.complete && plan.run ? { extractionRunId: plan.run.id, datasetId: (await demoDataset(db, settings)).id } : null;
      },
    }, signal));
  }
  return steps;
}
