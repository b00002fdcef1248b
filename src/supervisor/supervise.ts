// What `npm start` runs: a small supervisor. It owns the embedded PostgreSQL (when DATABASE_URL is
// unset), so the database outlives a crash of the API, and runs the API — migrations, seed, the
// GraphQL server and the demo pipeline (src/start.ts, through scripts/serve.ts) — as a child
// process with a bounded V8 heap (API_MAX_HEAP_MB), so a runaway request crashes that process
// rather than swapping the host. A child that dies unexpectedly is restarted after a growing delay,
// with a log line that says how it ended; after too many crashes in a short time the supervisor
// gives up with a clear message and exit code 1 (restart-policy.ts). SIGINT, SIGTERM and SIGHUP
// stop the child first (it stops the demo pipeline after its current unit, then the API), then
// PostgreSQL. Child and PostgreSQL run in their own process groups: a Ctrl-C in the terminal
// reaches only this process, which stops them in that order; a child whose supervisor is gone (its
// IPC channel closes) stops by itself.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, type Config } from '../config.ts';
import { startEmbeddedPostgres, type RunningDatabase } from '../db/embedded.ts';
import type { Logger } from '../log.ts';
import { describeExit, RestartPolicy, type RestartPolicyOptions } from './restart-policy.ts';

/** What the API process tells its supervisor. */
export type ChildMessage = { type: 'ready'; url: string };

export interface SuperviseOptions {
  config: Config;
  log: Logger;
  /** The API process's entry module (default scripts/serve.ts). */
  entry?: string;
  policy?: Partial<RestartPolicyOptions>;
  /** How long a stopping child may take before it is killed. */
  stopTimeoutMs?: number;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Runs until stopped by a signal (resolves 0) or until it gives up (resolves 1). */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const { config, log } = options;
  const entry = options.entry ?? path.join(PROJECT_ROOT, 'scripts', 'serve.ts');
  const stopTimeoutMs = options.stopTimeoutMs ?? 45_000;
  const policy = new RestartPolicy(options.policy);

  let embedded: RunningDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    log.info('DATABASE_URL is not set: starting the embedded PostgreSQL', { dataDir: config.embeddedPostgres.dataDir });
    try {
      embedded = await startEmbeddedPostgres({
        dataDir: config.embeddedPostgres.dataDir,
        port: config.embeddedPostgres.port,
        database: 'probe_atlas',
        detached: true,
        log: (line) => {
          if (!/^\d{4}-\d\d-\d\d .* (LOG|DETAIL|HINT):/.test(line)) log.info(`embedded PostgreSQL: ${line}`);
        },
      });
    } catch (error) {
      log.error(error instanceof Error ? error.message : String(error));
      return 1;
    }
    databaseUrl = embedded.url;
    const shown = databaseUrl.replace(/:[^:@/]*@/, ':***@');
    log.info(`embedded PostgreSQL (pid ${embedded.pid}) at ${shown} (password in ${path.join(embedded.dataDir, 'probe-atlas-password')})`, { postgresPid: embedded.pid, dataDir: embedded.dataDir });
  }

  const heapMb = config.apiMaxHeapMb ?? 0;
  const execArgv = [...process.execArgv.filter((arg) => !arg.startsWith('--max-old-space-size')), ...(heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [])];
  let child: ChildProcess | undefined;
  let everReady = false;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const stopEverything = async (code: number) => {
    if (restartTimer) clearTimeout(restartTimer);
    if (child && child.exitCode === null && child.signalCode === null) {
      const running = child;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      const timer = setTimeout(() => {
        log.warn(`the API process (pid ${running.pid}) is still stopping after ${stopTimeoutMs / 1000} s: killing it`);
        running.kill('SIGKILL');
      }, stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    if (embedded) {
      try {
        await embedded.stop();
        log.info('embedded PostgreSQL stopped');
      } catch (error) {
        log.error(`stopping the embedded PostgreSQL: ${error instanceof Error ? error.message : String(error)}`);
        code = 1;
      }
    }
    finish(code);
  };

  const startChild = () => {
    restartTimer = undefined;
    const started = fork(entry, [], {
      cwd: PROJECT_ROOT,
      execArgv,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // its own process group: terminal signals reach only the supervisor
    });
    child = started;
    log.info(`API process started (pid ${started.pid}${heapMb > 0 ? `, heap limit ${heapMb} MB` : ''})`, { apiPid: started.pid });
    started.on('message', (message: ChildMessage) => {
      if (message?.type === 'ready') {
        everReady = true;
        log.info(`API process ${started.pid} serves at ${message.url}`, { apiPid: started.pid, url: message.url });
      }
    });
    started.once('error', (error) => log.error(`API process: ${error.message}`));
    started.once('exit', (code, signal) => {
      if (stopping || child !== started) return;
      const how = describeExit(code, signal);
      if (!everReady) {
        log.error(`the API process failed to start (${how}); see its error above. Not restarting.`);
        stopping = true;
        void stopEverything(1);
        return;
      }
      const decision = policy.recordCrash(Date.now());
      const window = `${decision.crashesInWindow} of ${policy.options.maxCrashes} within ${policy.options.windowMs / 1000} s`;
      if (decision.action === 'give-up') {
        log.error(`the API process ended unexpectedly (${how}) — ${window}: giving up; PostgreSQL is being stopped. Look for the cause in the lines above.`, { apiPid: started.pid, code, signal });
        stopping = true;
        void stopEverything(1);
        return;
      }
      log.error(`the API process ended unexpectedly (${how}); restarting it in ${decision.delayMs} ms (crash ${window})`, { apiPid: started.pid, code, signal, restartInMs: decision.delayMs });
      restartTimer = setTimeout(startChild, decision.delayMs);
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping the API process, then PostgreSQL`);
    void stopEverything(0);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  void embedded?.exited.then(({ code, signal }) => {
    if (stopping) return;
    log.error(`the embedded PostgreSQL ended unexpectedly (${describeExit(code, signal)}): stopping the API process`);
    stopping = true;
    void stopEverything(1);
  });

  startChild();
  const code = await finished;
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  return code;
}
