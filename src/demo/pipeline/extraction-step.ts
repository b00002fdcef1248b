// Demo step 2: an extraction run of the tiny test network over the norms' concepts, through the same
// runExtraction as `npm run extract`. Its settings hash makes it resumable: after a stop or a kill,
// the next start skips the concepts already stored.
import { runExtraction, type RunEvent } from '../../extraction/run.ts';
import type { SeedStep } from '../seed-step.ts';
import { borrowedDatabase } from './database.ts';
import { demoConcepts, demoDataset, demoExtractionPlan, demoExtractionSettings, openDemoBundle } from './lookup.ts';
import { DemoPipelineError } from './errors.ts';
import { throttledProgress } from './progress.ts';
import type { DemoPipelineSettings } from './settings.ts';
import { throwIfStopped } from './stop.ts';

export function tinyExtractionStep(settings: DemoPipelineSettings, signal?: AbortSignal): SeedStep {
  return {
    name: 'demo-tiny-extraction',
    async isDone(db) {
      const bundle = openDemoBundle(settings);
      return bundle !== null && (await demoExtractionPlan(db, bundle, settings)).complete;
    },
    async run(db, rawProgress) {
      const bundle = openDemoBundle(settings);
      if (!bundle) throw new DemoPipelineError('MISSING_PREREQUISITE', `No tiny bundle at ${settings.bundleDir}: the demo-tiny-bundle step builds it first.`);
      const dataset = await demoDataset(db, settings);
      const concepts = await demoConcepts(db, settings, dataset.id);
      const extraction = demoExtractionSettings(bundle, settings);
      const progress = throttledProgress(rawProgress);
      const onEvent = (event: RunEvent) => {
        if (event.event === 'start') {
          rawProgress(Number(event.skipped), Number(event.concepts), `extraction run ${event.runId}: ${event.todo} concepts to do, ${event.skipped} already stored`);
        } else if (event.event === 'concept') {
          progress(Number(event.done), Number(event.total), `"${String(event.word)}"`);
          // After the concept's transaction: stopping here leaves whole concepts only.
          throwIfStopped(signal);
        } else if (event.event === 'warning') {
          rawProgress(0, concepts.length, `warning: ${String(event.message)}`);
        }
      };
      throwIfStopped(signal);
      const report = await runExtraction({
        db: borrowedDatabase(db),
        bundleDir: settings.bundleDir,
        norms: String(dataset.id),
        settings: extraction,
        concepts: concepts.map((c) => c.word),
        device: 'cpu',
        cacheDir: settings.cacheDir,
        threads: settings.threads,
        onEvent,
      });
      return `extraction run ${report.runId} of the tiny test network (not Stable Diffusion): ${report.conceptsWritten} concepts extracted, ` +
        `${report.conceptsSkipped} already stored, ${report.rowsWritten} summaries written; ${settings.steps} DDIM steps recorded at ` +
        `${extraction.timesteps!.length} timesteps (${extraction.timesteps!.join(', ')})`;
    },
  };
}
