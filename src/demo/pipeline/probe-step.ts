// Demo probe steps: a probe run (runProbe, as `npm run probe`) on an extraction run the demo made.
// The probe run's settings hash makes it resumable cell by cell.
import { cellLabel } from '../../probe-runs/load.ts';
import { runProbe } from '../../probe-runs/run.ts';
import { normaliseSettings } from '../../probe-runs/settings.ts';
import type { SeedDatabase, SeedStep } from '../seed-step.ts';
import { demoProbePlan } from './lookup.ts';
import { DemoPipelineError } from './errors.ts';
import { throttledProgress } from './progress.ts';
import type { DemoPipelineSettings } from './settings.ts';
import { throwIfStopped } from './stop.ts';

export interface ProbeTarget {
  extractionRunId: number;
  datasetId: number;
}

export interface ProbeStepOptions {
  name: string;
  /** What is probed, for log lines, e.g. `the tiny test network`. */
  subject: string;
  /** The completed extraction run to probe, or null when it is not there yet. */
  findTarget(db: SeedDatabase): Promise<ProbeTarget | null>;
}

export function probeStep(settings: DemoPipelineSettings, options: ProbeStepOptions, signal?: AbortSignal): SeedStep {
  return {
    name: options.name,
    async isDone(db) {
      const target = await options.findTarget(db);
      return target !== null && ((await demoProbePlan(db, target.extractionRunId, target.datasetId, settings))?.complete ?? false);
    },
    async run(db, rawProgress) {
      const target = await options.findTarget(db);
      if (!target) throw new DemoPipelineError('MISSING_PREREQUISITE', `${options.name}: no completed extraction run of ${options.subject} to probe (the step before it makes one).`);
      const progress = throttledProgress(rawProgress);
      throwIfStopped(signal);
      const summary = await runProbe(db.pool, { extractionRunId: target.extractionRunId, norms: String(target.datasetId), settings: settings.probe }, {
        onStart: ({ probeRunId, total, alreadyDone }) => rawProgress(alreadyDone, total, `probe run ${probeRunId} on extraction run ${target.extractionRunId}: ${total - alreadyDone} cells to fit, ${alreadyDone} already stored`),
        onCell: (event) => {
          progress(event.done, event.total, event.skipped ? `skipped ${cellLabel(event.cell)}: ${event.skipped}` : cellLabel(event.cell));
          // After the cell's transaction: throwing stops the run, which stays resumable.
          throwIfStopped(signal);
        },
      });
      const probe = normaliseSettings(settings.probe);
      const scheme = `${probe.folds}-fold CV, ${probe.permutations} permutations, ${probe.bootstrap} bootstrap resamples`;
      return `probe run ${summary.probeRunId} on ${options.subject} (extraction run ${target.extractionRunId}): ${summary.written} cells fitted, ` +
        `${summary.alreadyDone} already stored${summary.skipped ? `, ${summary.skipped} skipped (too few concepts)` : ''}; ${scheme}`;
    },
  };
}
