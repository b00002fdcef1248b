// What `npm start` runs: a small supervisor. It owns the embedded PostgreSQL (when DATABASE_URL is
// unset), so the database outlives a crash of the API, and runs the API — migrations, seed, the
// GraphQL server and the demo pipeline (src/start.ts, through scripts/serve.ts) — as child
// processes with a bounded V8 heap (API_MAX_HEAP_MB), so a runaway request crashes that process
// rather than swapping the host. API_PROCESSES children serve one port: they are node:cluster
// workers of this process, which holds the listening socket and hands connections round-robin to
// the children listening (Node 20 has no reusePort). Only the first child migrates, seeds and runs
// the demo pipeline; the others start once it is ready and only serve (`serveOnly`). A child that
// dies unexpectedly is restarted after a growing delay, with a log line that says how it ended, while
// the others keep the port answering; after too many crashes of one child in a short time the
// supervisor gives up with a clear message and exit code 1 (restart-policy.ts, one policy per child).
// SIGINT, SIGTERM and SIGHUP stop the children first (each stops the demo pipeline after its
// current unit, then the API), then PostgreSQL. PostgreSQL runs in its own process group; cluster
// workers share this one, so a supervised child ignores the terminal's SIGINT and SIGHUP and stops
// on the SIGTERM this process sends it (scripts/serve.ts); a child whose supervisor is gone (its
// IPC channel closes) stops by itself.
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { PROJECT_ROOT, type Config } from '../config.ts';
import { startEmbeddedPostgres, type RunningDatabase } from '../db/embedded.ts';
import type { Logger } from '../log.ts';
import { describeExit, RestartPolicy, type RestartPolicyOptions } from './restart-policy.ts';

/** What the API process tells its supervisor. */
export type ChildMessage = { type: 'ready'; url: string };

/**
 * The environment variable through which the supervisor tells a child its part: `first` migrates,
 * seeds and runs the demo pipeline; `replica` only serves. Not a setting for users (unset = `first`).
 */
export const API_ROLE_VARIABLE = 'PROBE_ATLAS_API_ROLE';
export type ApiRole = 'first' | 'replica';

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

/** One API process's place: its role, its restart bookkeeping and the worker now running in it. */
interface Slot {
  index: number;
  role: ApiRole;
  policy: RestartPolicy;
  worker?: Worker;
  /** Whether a child in this slot has ever said it serves (a child that never did failed to start). */
  everReady: boolean;
  /** The URL the current child serves at, once it said so. */
  url?: string;
  restartTimer?: NodeJS.Timeout;
}

function running(worker: Worker | undefined): worker is Worker {
  return !!worker && worker.process.exitCode === null && worker.process.signalCode === null;
}

/** Runs until stopped by a signal (resolves 0) or until it gives up (resolves 1). */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const { config, log } = options;
  const entry = options.entry ?? path.join(PROJECT_ROOT, 'scripts', 'serve.ts');
  const stopTimeoutMs = options.stopTimeoutMs ?? 45_000;
  const processes = config.apiProcesses ?? 1;
  if (!cluster.isPrimary) throw new Error('supervise() runs in the primary process, not in a cluster worker');

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
  // Round-robin in this process (Node's default off Windows, pinned so an environment cannot change it).
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: entry, args: [], execArgv, cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

  const slots: Slot[] = Array.from({ length: processes }, (_, index) => ({
    index,
    role: index === 0 ? 'first' : 'replica',
    policy: new RestartPolicy(options.policy),
    everReady: false,
  }));
  /** How a slot is named in the log (with one process, as the log has always named it). */
  const name = (slot: Slot) => (processes === 1 ? 'the API process' : `API process ${slot.index + 1} of ${processes}`);
  let replicasStarted = false;
  let allReadyLogged = false;
  let stopping = false;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const stopChild = async (slot: Slot) => {
    const worker = slot.worker;
    if (!running(worker)) return;
    const exited = new Promise<void>((resolve) => worker.process.once('exit', () => resolve()));
    worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      log.warn(`${name(slot)} (pid ${worker.process.pid}) is still stopping after ${stopTimeoutMs / 1000} s: killing it`);
      worker.process.kill('SIGKILL');
    }, stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };

  const stopEverything = async (code: number) => {
    for (const slot of slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
    // Children first, all at once (each ends its own demo pipeline and API), then PostgreSQL.
    await Promise.all(slots.map(stopChild));
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

  const fail = () => {
    stopping = true;
    void stopEverything(1);
  };

  const onReady = (slot: Slot) => {
    if (slot.role === 'first' && !replicasStarted) {
      // The schema, the seed and the demo are the first child's: the others only serve, from now.
      replicasStarted = true;
      for (const replica of slots.slice(1)) startChild(replica);
    }
    if (processes > 1 && !allReadyLogged && slots.every((s) => s.url !== undefined && running(s.worker))) {
      allReadyLogged = true;
      const apiPids = slots.map((s) => s.worker!.process.pid!);
      log.info(`all ${processes} API processes serve at ${slot.url} (pids ${apiPids.join(', ')})`, { apiPids, url: slot.url });
    }
  };

  const startChild = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.url = undefined;
    const started = cluster.fork({ DATABASE_URL: databaseUrl, [API_ROLE_VARIABLE]: slot.role });
    slot.worker = started;
    const pid = started.process.pid;
    const part = processes === 1 ? '' : `, ${slot.index + 1} of ${processes}, ${slot.role === 'first' ? 'migrates, seeds and runs the demo' : 'serves only'}`;
    log.info(`API process started (pid ${pid}${part}${heapMb > 0 ? `, heap limit ${heapMb} MB` : ''})`, { apiPid: pid, apiProcess: slot.index + 1 });
    started.on('message', (message: ChildMessage) => {
      if (message?.type !== 'ready' || slot.worker !== started) return;
      slot.everReady = true;
      slot.url = message.url;
      log.info(`API process ${pid} serves at ${message.url}`, { apiPid: pid, apiProcess: slot.index + 1, url: message.url });
      onReady(slot);
    });
    started.once('error', (error) => log.error(`${name(slot)}: ${error.message}`));
    started.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      if (stopping || slot.worker !== started) return;
      slot.url = undefined;
      const how = describeExit(code, signal);
      if (!slot.everReady) {
        log.error(`${name(slot)} failed to start (${how}); see its error above. Not restarting.`, { apiPid: pid, apiProcess: slot.index + 1 });
        fail();
        return;
      }
      const decision = slot.policy.recordCrash(Date.now());
      const window = `${decision.crashesInWindow} of ${slot.policy.options.maxCrashes} within ${slot.policy.options.windowMs / 1000} s`;
      const fields = { apiPid: pid, apiProcess: slot.index + 1, code, signal };
      if (decision.action === 'give-up') {
        const stopped = processes > 1 ? 'the other API processes and PostgreSQL are' : 'PostgreSQL is';
        log.error(`${name(slot)} ended unexpectedly (${how}) — ${window}: giving up; ${stopped} being stopped. Look for the cause in the lines above.`, fields);
        fail();
        return;
      }
      const others = slots.filter((s) => s !== slot && s.url !== undefined && running(s.worker)).length;
      const meanwhile = processes > 1 ? ` while ${others} other${others === 1 ? '' : 's'} serve${others === 1 ? 's' : ''}` : '';
      log.error(`${name(slot)} ended unexpectedly (${how}); restarting it in ${decision.delayMs} ms (crash ${window})${meanwhile}`, { ...fields, restartInMs: decision.delayMs });
      slot.restartTimer = setTimeout(() => startChild(slot), decision.delayMs);
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping the API process${processes > 1 ? 'es' : ''}, then PostgreSQL`);
    void stopEverything(0);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  void embedded?.exited.then(({ code, signal }) => {
    if (stopping) return;
    log.error(`the embedded PostgreSQL ended unexpectedly (${describeExit(code, signal)}): stopping the API process${processes > 1 ? 'es' : ''}`);
    fail();
  });

  startChild(slots[0]!);
  const code = await finished;
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  return code;
}
