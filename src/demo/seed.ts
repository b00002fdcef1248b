// First-start seed: an ordered list of named steps, each skipped when its result is already stored,
// so seeding twice changes nothing. The registered steps (the Binder norms) are quick and run before
// the API serves; the demo pipeline (demoPipelineSteps: tiny bundle → extraction → probes, GloVe
// baseline) comes after them, and npm start runs it in the background (src/demo/pipeline/background.ts).
import type { SeedDatabase, SeedProgress, SeedStep } from './seed-step.ts';
import { binderNormsStep } from './seed-binder.ts';
import { CodedError } from '../errors.ts';

export type { SeedDatabase, SeedProgress, SeedStep } from './seed-step.ts';
export { BINDER_DATASET_NAME, BINDER_FOLDER, binderNormsStep } from './seed-binder.ts';
export { demoPipelineSteps, resolveDemoSettings, type DemoPipelineStepOptions } from './pipeline/steps.ts';
export { DEMO_PIPELINE_SETTINGS, type DemoPipelineSettings } from './pipeline/settings.ts';

const registry: SeedStep[] = [binderNormsStep];

/** The registered steps, in the order they run. */
export function seedSteps(): readonly SeedStep[] {
  return [...registry];
}

/** A seed step registered twice, or placed next to one that does not exist: a wrong argument to addSeedStep. */
export class SeedStepError extends CodedError<'DUPLICATE_SEED_STEP' | 'UNKNOWN_SEED_STEP'> {
  constructor(code: SeedStepError['code'], message: string) {
    super(code, 'bad-input', message);
  }
}

/**
 * Registers a step: at the end, or right after/before a named step. Returns a function that
 * unregisters it (for tests).
 */
export function addSeedStep(step: SeedStep, position: { after?: string; before?: string } = {}): () => void {
  if (registry.some((s) => s.name === step.name)) throw new SeedStepError('DUPLICATE_SEED_STEP', `A seed step named ${JSON.stringify(step.name)} is already registered.`);
  const anchor = position.after ?? position.before;
  let index = registry.length;
  if (anchor !== undefined) {
    const found = registry.findIndex((s) => s.name === anchor);
    if (found < 0) throw new SeedStepError('UNKNOWN_SEED_STEP', `No seed step named ${JSON.stringify(anchor)} to place ${JSON.stringify(step.name)} next to.`);
    index = position.after !== undefined ? found + 1 : found;
  }
  registry.splice(index, 0, step);
  return () => {
    const at = registry.indexOf(step);
    if (at >= 0) registry.splice(at, 1);
  };
}

export interface SeedStepReport {
  name: string;
  status: 'already-done' | 'ran';
  seconds: number;
  summary?: string;
}

/** Structurally compatible with src/log.ts's Logger. */
export interface SeedLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

export interface SeedOptions {
  /** A plain function or a structured logger; defaults to console.log. */
  log?: ((message: string) => void) | SeedLogger;
  /** Defaults to the registered steps. */
  steps?: readonly SeedStep[];
  /**
   * Aborted: no further step starts (the abort reason is thrown), and an error of the running step
   * is logged as a stop, not a failure.
   */
  signal?: AbortSignal;
}

/** Runs every step that is not done yet, in order; stops at the first failure (the error propagates). */
export async function seedDatabase(db: SeedDatabase, options: SeedOptions = {}): Promise<SeedStepReport[]> {
  const sink = options.log ?? ((message: string) => console.log(message));
  const log = (message: string, fields: Record<string, unknown> = {}, level: 'info' | 'error' = 'info') => {
    if (typeof sink === 'function') sink(message);
    else if (level === 'error' && sink.error) sink.error(message, fields);
    else sink.info(message, fields);
  };
  const reports: SeedStepReport[] = [];
  const { signal } = options;
  for (const step of options.steps ?? seedSteps()) {
    if (signal?.aborted) {
      log(`seed: stopped before ${step.name}`, { step: step.name, stopped: true });
      throw signal.reason;
    }
    const started = performance.now();
    if (await step.isDone(db)) {
      reports.push({ name: step.name, status: 'already-done', seconds: (performance.now() - started) / 1000 });
      log(`seed: ${step.name}: already done`, { step: step.name });
      continue;
    }
    log(`seed: ${step.name}: running`, { step: step.name });
    const progress: SeedProgress = (done, total, message) => log(`seed: ${step.name}: ${done}/${total}${message ? ` ${message}` : ''}`, { step: step.name, done, total });
    let summary: string | void;
    try {
      summary = await step.run(db, progress);
    } catch (error) {
      // Once a stop is requested, an error is part of stopping (e.g. the database shutting down too).
      if (signal?.aborted) {
        const message = (error as Error).message;
        log(`seed: ${step.name}: ${error === signal.reason && /^stopped\b/.test(message) ? message : `stopped: ${message}`}`, { step: step.name, stopped: true });
      } else log(`seed: ${step.name}: failed: ${(error as Error).message}`, { step: step.name }, 'error');
      throw error;
    }
    const seconds = (performance.now() - started) / 1000;
    reports.push({ name: step.name, status: 'ran', seconds, ...(summary ? { summary } : {}) });
    log(`seed: ${step.name}: done in ${seconds.toFixed(2)} s${summary ? ` — ${summary}` : ''}`, { step: step.name, seconds });
  }
  return reports;
}
