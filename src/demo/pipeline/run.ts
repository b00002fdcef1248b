// Runs the demo pipeline's steps to an outcome (never throws): progress as structured log lines (and
// as run status/progress in the database, hence `extractionRuns`/`probeRuns`), a failure logged
// with the step at fault, a stop (the signal) logged as a stop. Runs in whatever thread calls it;
// background.ts calls it in a worker thread so the API's event loop stays free.
import type { Logger } from '../../log.ts';
import { seedDatabase, type SeedDatabase, type SeedStep, type SeedStepReport } from '../seed.ts';
import type { DemoPipelineSettings } from './settings.ts';
import { demoPipelineSteps, resolveDemoSettings } from './steps.ts';

export interface SerializedError {
  message: string;
  code?: string;
  stack?: string;
}

export type DemoPipelineOutcome =
  | { status: 'completed'; seconds: number; reports: SeedStepReport[] }
  | { status: 'stopped'; seconds: number; step: string | null }
  | { status: 'failed'; seconds: number; step: string | null; error: SerializedError };

export type DemoLogger = Pick<Logger, 'info' | 'error' | 'warn'>;

export interface RunDemoPipelineOptions {
  db: SeedDatabase;
  log: DemoLogger;
  settings?: Partial<DemoPipelineSettings>;
  signal?: AbortSignal;
  /** Steps to run instead of the demo pipeline's own (tests). */
  steps?: readonly SeedStep[];
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { message: error.message, ...(typeof code === 'string' ? { code } : {}), ...(error.stack ? { stack: error.stack } : {}) };
}

export async function runDemoPipeline(options: RunDemoPipelineOptions): Promise<DemoPipelineOutcome> {
  const { db, log, signal } = options;
  const settings = resolveDemoSettings(options.settings);
  let current: string | null = null;
  // Each step records its name when it starts, so a failure can name the step at fault.
  const steps = (options.steps ?? demoPipelineSteps({ settings, signal })).map((step): SeedStep => ({
    ...step,
    isDone: (database) => {
      current = step.name;
      return step.isDone(database);
    },
  }));
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 10) / 100;
  log.info('demo pipeline: starting in the background (a tiny test network, NOT Stable Diffusion, with reduced settings; DEMO_PIPELINE=false skips it, docs/demo.md)', {
    demo: 'start', steps: steps.map((s) => s.name), concepts: settings.conceptLimit ?? 'all', ddimSteps: settings.steps, recordedTimesteps: settings.recordedTimesteps, probe: settings.probe,
  });
  try {
    const reports = await seedDatabase(db, { log, steps, signal });
    const ran = reports.filter((r) => r.status === 'ran').map((r) => r.name);
    log.info(`demo pipeline: complete in ${seconds()} s${ran.length ? '' : ' (everything was already stored)'}`, { demo: 'completed', seconds: seconds(), ran });
    return { status: 'completed', seconds: seconds(), reports };
  } catch (error) {
    if (signal?.aborted) {
      const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
      const detail = error === signal.reason ? '' : ` (while stopping: ${message.length > 300 ? `${message.slice(0, 300)}…` : message})`;
      log.info(`demo pipeline: stopped${current ? ` during ${current}` : ''}${detail}; the next start resumes from what is stored`, { demo: 'stopped', step: current, seconds: seconds() });
      return { status: 'stopped', seconds: seconds(), step: current };
    }
    const failure = serializeError(error);
    log.error(`demo pipeline FAILED at step ${current ?? '(none)'}: ${failure.message} — the API keeps serving; the next start retries (DEMO_PIPELINE=false skips it)`, {
      demo: 'failed', step: current, code: failure.code, error: failure.message, stack: failure.stack,
    });
    return { status: 'failed', seconds: seconds(), step: current, error: failure };
  }
}
