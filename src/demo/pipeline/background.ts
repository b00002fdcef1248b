// Runs the demo pipeline in the background of a serving API, in a worker thread: the probes' and
// the networks' CPU work then never blocks the API's event loop. Log lines come back to the
// server's logger; a crash of the worker is a failed outcome, never the server's. stop() asks the
// worker to stop after its current concept or cell (the next start resumes) and waits until the
// thread has exited — its outcome arrives before its connection pool is closed, so only the exit
// says that nothing of it is still connected when the caller goes on to stop the database.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runDemoPipeline, serializeError, type DemoLogger, type DemoPipelineOutcome } from './run.ts';
import type { DemoPipelineSettings } from './settings.ts';
import type { DemoWorkerData, DemoWorkerMessage } from './worker.ts';

export type { DemoPipelineOutcome } from './run.ts';

export interface DemoPipelineHandle {
  /** Settles (never rejects) when the pipeline completes, stops or fails. */
  readonly done: Promise<DemoPipelineOutcome>;
  /** Asks the pipeline to stop after its current concept or cell and waits for the thread to exit (at most `timeoutMs`, then it is terminated). */
  stop(timeoutMs?: number): Promise<void>;
}

export interface DemoPipelineOptions {
  /** The database the worker connects to (its own pool). */
  databaseUrl: string;
  log: DemoLogger;
  settings?: Partial<DemoPipelineSettings>;
}

/**
 * From TypeScript sources (tsx, jest) the worker first registers tsx's ESM loader in its own thread
 * (Node 20 does not carry the parent's loader hooks into workers), as src/probes/fold-pool.ts does.
 */
function startWorker(data: DemoWorkerData): Worker {
  const url = new URL('./worker.ts', import.meta.url);
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: data });
  const tsxRoot = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

export function startDemoPipeline(options: DemoPipelineOptions): DemoPipelineHandle {
  const { log } = options;
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 10) / 100;
  const worker = startWorker({ databaseUrl: options.databaseUrl, settings: options.settings });
  let outcome: DemoPipelineOutcome | null = null;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const done = new Promise<DemoPipelineOutcome>((resolve) => {
    const fail = (error: unknown) => {
      if (outcome) return;
      const failure = serializeError(error);
      log.error(`demo pipeline FAILED: ${failure.message} — the API keeps serving; the next start retries (DEMO_PIPELINE=false skips it)`, { demo: 'failed', error: failure.message, stack: failure.stack });
      outcome = { status: 'failed', seconds: seconds(), step: null, error: failure };
      resolve(outcome);
    };
    worker.on('message', (message: DemoWorkerMessage) => {
      if (message.type === 'log') log[message.level](message.message, message.fields);
      else if (message.type === 'outcome' && !outcome) {
        outcome = message.outcome;
        resolve(outcome);
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the demo pipeline's worker thread exited (code ${code}) before reporting an outcome`)));
  });
  return {
    done,
    async stop(timeoutMs = 30_000) {
      if (!outcome) worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const result = await Promise.race([done.then(() => exited), timeout]);
      clearTimeout(timer);
      if (result === 'timeout') {
        log.warn(`demo pipeline: still busy ${timeoutMs / 1000} s after the stop request; terminating it (the next start resumes)`, { demo: 'stop-timeout' });
        await worker.terminate();
      }
    },
  };
}

export { runDemoPipeline };
