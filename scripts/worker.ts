// npm run worker -- [--device cpu|cuda|webgpu] [--concurrency 1] [--kinds extract,probe]
//   [--cache-dir dir] [--threads n] [--visibility-timeout 60] [--heartbeat s] [--json]
// Takes jobs of runs planned with `npm run extract|probe -- … --enqueue` from the PostgreSQL job queue
// and runs them, on any machine that reaches the database (and, for extraction, the bundle folder at
// the path the run was planned with); see docs/scaling.md. Extraction jobs go only to workers of their
// run's device. One JSON line per job event on stdout (a line per job on a terminal too: a worker runs
// for days, a bar would not say more).
// --visibility-timeout s: a worker not seen for that long is lost and its jobs are run by others.
// SIGINT/SIGTERM: stop taking jobs; jobs in flight stop after their unit in flight and go back to the
// queue (a second signal exits at once; the visibility timeout then hands them on). Exit codes: 0
// stopped, 1 failed, 2 bad argument (src/errors.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCliArguments, runCli } from '../src/cli.ts';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { DEVICES, isDevice } from '../src/bundles/sessions.ts';
import { ArgumentError, EXIT_CODES } from '../src/errors.ts';
import { JOB_HANDLERS } from '../src/jobs/handlers.ts';
import { JOB_KINDS, type JobKind } from '../src/jobs/types.ts';
import { DEFAULT_VISIBILITY_TIMEOUT_MS, startWorker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { closeFoldPool } from '../src/probes/ridge.ts';

/** The usage is this file's header comment. */
function usage(): string {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.slice(0, lines.findIndex((line) => !line.startsWith('//'))).map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

function positive(name: string, raw: string | undefined, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ArgumentError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}.`);
  }
  return value;
}

async function main(): Promise<number> {
  const { values } = parseCliArguments({
    options: {
      device: { type: 'string', default: 'cpu' }, concurrency: { type: 'string', default: '1' }, kinds: { type: 'string', default: 'extract,probe' },
      'cache-dir': { type: 'string' }, threads: { type: 'string' }, 'visibility-timeout': { type: 'string' }, heartbeat: { type: 'string' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    },
  }, usage());
  if (values.help) {
    console.log(usage());
    return 0;
  }
  if (!isDevice(values.device)) throw new ArgumentError(`--device must be ${DEVICES.join(', ')}, got ${JSON.stringify(values.device)}.`);
  const kinds = [...new Set(values.kinds.split(',').map((k) => k.trim().toUpperCase()).filter(Boolean))];
  const unknown = kinds.filter((k) => !JOB_KINDS.includes(k as JobKind));
  if (unknown.length || kinds.length === 0) throw new ArgumentError(`--kinds: ${unknown.length ? `unknown ${unknown.join(', ')}` : 'none given'} (known: extract, probe).`);
  const concurrency = positive('concurrency', values.concurrency, true)!;
  if (concurrency > 64) throw new ArgumentError(`--concurrency must be at most 64, got ${concurrency}.`);
  const visibility = positive('visibility-timeout', values['visibility-timeout'], false);
  const heartbeat = positive('heartbeat', values.heartbeat, false);
  if (visibility !== undefined && heartbeat !== undefined && heartbeat * 2 > visibility) {
    throw new ArgumentError(`--heartbeat (${heartbeat} s) must be at most half of --visibility-timeout (${visibility} s), or live workers are taken for lost.`);
  }
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: a worker takes its jobs from the PostgreSQL database the runs were planned in.');

  const log = createLogger('worker');
  const worker = await startWorker({
    databaseUrl,
    device: values.device,
    concurrency,
    kinds: kinds as JobKind[],
    handlers: (kinds as JobKind[]).map((kind) => JOB_HANDLERS[kind]),
    cacheDir: path.resolve(values['cache-dir'] ?? path.join(PROJECT_ROOT, 'bundles', '.tap-cache')),
    threads: positive('threads', values.threads, true),
    visibilityTimeoutMs: (visibility ?? DEFAULT_VISIBILITY_TIMEOUT_MS / 1000) * 1000,
    heartbeatMs: heartbeat === undefined ? undefined : heartbeat * 1000,
    log,
    onJob: (event) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`),
  });
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'worker-start', workerId: worker.id, device: values.device, concurrency, kinds })}\n`);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(EXIT_CODES.interrupted);
    signalled = true;
    console.error(`worker: ${signal}: stopping after the units in flight (again to quit at once)`);
    void worker.stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await worker.done;
  await closeFoldPool();
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'worker-stop', workerId: worker.id })}\n`);
  return 0;
}

runCli('worker', main, { kinds: ['bad-input'] });
