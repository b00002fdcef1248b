// npm run extract -- --bundle <dir> --norms <dataset name, name@version or id> [--steps 50] [--timesteps 981,501,1]
//   [--device cpu|cuda|webgpu] [--concepts hammer,apple] [--seed 0] [--guidance 7.5] [--template "a photo of {a} {concept}"]
//   [--latent-size 64] [--guided-pooling] [--vae final|all|none|t1,t2] [--no-vae] [--text-only]
//   [--text-poolings eot,mean,concept,concept_last,sequence_mean] [--batch k] [--full-maps]
//   [--taps taps.json] [--cache-dir dir] [--threads n]
//   [--enqueue [--job-size 16] [--max-attempts 3]]
// Runs (or resumes) an extraction run; see docs/extraction.md. Progress bar on a TTY, JSON lines
// otherwise. Exit 0 done, 1 run failed (or is being written by another process), 2 bad arguments or
// bundle, 130 interrupted (SIGINT/SIGTERM: stops after the current concept; re-run to resume); src/errors.ts.
// --enqueue runs nothing here: it plans the run (its row, PENDING, with the identity the same command
// would give in process) into jobs of --job-size concepts for worker processes (npm run worker) on
// --device, the device the WORKERS must have, prints one JSON line (run id, settings hash, jobs, added,
// requeued) and exits 0; no ONNX session is opened. Enqueueing again adds only concepts no job covers
// and queues FAILED or CANCELLED jobs again.
import path from 'node:path';
import cliProgress from 'cli-progress';
import { parseCliArguments, runCli } from '../src/cli.ts';
import { loadConfig, PROJECT_ROOT } from '../src/config.ts';
import { connectDatabase } from '../src/db/client.ts';
import { BundleError } from '../src/bundles/errors.ts';
import { readTapConfig } from '../src/bundles/tap-config.ts';
import type { TapConfig } from '../src/bundles/taps.ts';
import { DEVICES, isDevice } from '../src/bundles/sessions.ts';
import { ArgumentError } from '../src/errors.ts';
import type { ExtractionSettings } from '../src/extraction/pipeline.ts';
import { ALL_TEXT_POOLINGS, type TextPooling } from '../src/extraction/pooling.ts';
import { validateTemplate } from '../src/extraction/prompt.ts';
import { planExtractionRun, runExtraction, type RunEvent } from '../src/extraction/run.ts';
import { extractJobSpec } from '../src/jobs/extract-job.ts';
import { enqueue, MAX_JOB_ATTEMPTS, taskFor } from '../src/jobs/plan.ts';

const USAGE = 'usage: npm run extract -- --bundle <dir> --norms <dataset name, name@version or id> [--steps 50] [--timesteps t1,t2] [--device cpu|cuda|webgpu] [--concepts w1,w2] [--seed 0] [--guidance 7.5] [--template "a photo of {a} {concept}"] [--vae final|all|none|t1,t2] [--text-only] [--text-poolings eot,mean,concept,concept_last,sequence_mean] [--batch k] [--full-maps] [--enqueue [--job-size 16] [--max-attempts 3]]';

/** Concepts per job and attempts per job when --enqueue is given without them. */
const DEFAULT_JOB_SIZE = 16;
const DEFAULT_MAX_ATTEMPTS = 3;

function integer(name: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ArgumentError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}.`);
  return value;
}

async function main(): Promise<void> {
  const values = parseCliArguments({
    options: {
      bundle: { type: 'string' }, norms: { type: 'string' }, steps: { type: 'string' }, timesteps: { type: 'string' },
      device: { type: 'string', default: 'cpu' }, concepts: { type: 'string' }, seed: { type: 'string' }, guidance: { type: 'string' },
      template: { type: 'string' }, 'latent-size': { type: 'string' }, 'guided-pooling': { type: 'boolean', default: false },
      'no-vae': { type: 'boolean', default: false }, vae: { type: 'string' }, 'text-only': { type: 'boolean', default: false },
      'text-poolings': { type: 'string' }, batch: { type: 'string' }, 'full-maps': { type: 'boolean', default: false }, taps: { type: 'string' }, 'cache-dir': { type: 'string' }, threads: { type: 'string' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
      enqueue: { type: 'boolean', default: false }, 'job-size': { type: 'string' }, 'max-attempts': { type: 'string' },
    },
  }, USAGE).values;
  if (values.help) return void console.log(USAGE);
  if (!values.bundle) throw new ArgumentError(`--bundle is required.\n${USAGE}`);
  if (!values.norms) throw new ArgumentError(`--norms is required.\n${USAGE}`);
  if (!isDevice(values.device)) throw new ArgumentError(`--device must be ${DEVICES.join(', ')}, got ${JSON.stringify(values.device)}.`);
  if (!values.enqueue) {
    for (const option of ['job-size', 'max-attempts'] as const) if (values[option] !== undefined) throw new ArgumentError(`--${option} plans jobs: it needs --enqueue.`);
  } else {
    if (values['full-maps']) throw new ArgumentError('--full-maps is a measurement of an in-process run; it cannot be enqueued.');
    if (values.threads !== undefined) throw new ArgumentError('--threads is set on each worker (npm run worker), not when enqueueing.');
  }
  const settings: Partial<ExtractionSettings> = {};
  const steps = integer('steps', values.steps, 1, 1000);
  if (steps !== undefined) settings.steps = steps;
  const seed = integer('seed', values.seed, 0, 2 ** 31 - 1);
  if (seed !== undefined) settings.seed = seed;
  const latent = integer('latent-size', values['latent-size'], 1, 512);
  if (latent !== undefined) settings.latentSize = latent;
  if (values.guidance !== undefined) {
    const g = Number(values.guidance);
    if (!Number.isFinite(g) || g < 0) throw new ArgumentError(`--guidance must be a non-negative number, got ${JSON.stringify(values.guidance)}.`);
    settings.guidanceScale = g;
  }
  if (values.timesteps !== undefined && values.timesteps !== 'all') {
    settings.timesteps = values.timesteps.split(',').map((t) => integer('timesteps', t.trim(), 0, 100_000)!);
  }
  if (values.template !== undefined) {
    validateTemplate(values.template);
    settings.template = values.template;
  }
  if (values['guided-pooling']) settings.spatialPoolings = ['spatial_mean', 'guided_spatial_mean'];
  if (values['no-vae'] && values.vae !== undefined && values.vae !== 'none') throw new ArgumentError(`--no-vae contradicts --vae ${values.vae}.`);
  if (values['no-vae']) settings.vae = 'none';
  if (values.vae !== undefined) {
    const vae = values.vae.trim();
    settings.vae = vae === 'final' || vae === 'all' || vae === 'none' ? vae : vae.split(',').map((t) => {
      const value = Number(t.trim());
      if (!Number.isInteger(value) || value < 0 || t.trim() === '') throw new ArgumentError(`--vae must be final, all, none or a list of recorded timesteps, got ${JSON.stringify(values.vae)}.`);
      return value;
    });
  }
  if (values['text-only']) settings.components = 'text_encoder';
  if (values['text-poolings'] !== undefined) {
    const names = [...new Set(values['text-poolings'].split(',').map((p) => p.trim()).filter(Boolean))];
    const unknown = names.filter((p) => !ALL_TEXT_POOLINGS.includes(p as TextPooling));
    if (unknown.length || names.length === 0) throw new ArgumentError(`--text-poolings: ${unknown.length ? `unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}` : 'none given'} (known: ${ALL_TEXT_POOLINGS.join(', ')}).`);
    settings.textPoolings = names as TextPooling[];
  }
  let taps: TapConfig | undefined;
  if (values.taps) {
    try {
      taps = readTapConfig(path.resolve(values.taps));
    } catch (error) {
      if (!(error instanceof BundleError)) throw error;
      throw new BundleError(error.code, `--taps: ${error.message}`, { cause: error });
    }
  }
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: extraction writes to PostgreSQL, e.g. DATABASE_URL=postgresql://user@localhost:5432/probe_atlas');

  // Duplicates would be extracted once but counted twice.
  const concepts = values.concepts === undefined ? undefined : [...new Set(values.concepts.split(',').map((c) => c.trim()).filter(Boolean))];
  const cacheDir = path.resolve(values['cache-dir'] ?? path.join(PROJECT_ROOT, 'bundles', '.tap-cache'));
  const batch = integer('batch', values.batch, 1, 1024) ?? null;

  if (values.enqueue) {
    const jobSize = integer('job-size', values['job-size'], 1, 1_000_000) ?? DEFAULT_JOB_SIZE;
    const maxAttempts = integer('max-attempts', values['max-attempts'], 1, MAX_JOB_ATTEMPTS) ?? DEFAULT_MAX_ATTEMPTS;
    const db = connectDatabase(databaseUrl, { maxConnections: 3 });
    try {
      const plan = await planExtractionRun({ db, bundleDir: values.bundle, norms: values.norms, settings, concepts, device: values.device, cacheDir, taps, batch });
      const report = await enqueue(db.pool, {
        kind: 'EXTRACT', runId: plan.runId, task: taskFor('EXTRACT', plan.device), units: plan.concepts, key: (c) => String(c.id),
        jobSize, spec: (units) => extractJobSpec(plan, units), maxAttempts,
      });
      process.stdout.write(`${JSON.stringify({ runId: report.runId, settingsHash: plan.settingsHash, jobs: report.jobs, added: report.added, requeued: report.requeued })}\n`);
    } finally {
      await db.close();
    }
    return;
  }

  const json = values.json || !process.stderr.isTTY;
  const progress: { bar: cliProgress.SingleBar | null } = { bar: null };
  let fullMapsShown = false;
  const onEvent = (event: RunEvent) => {
    if (json) {
      process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      return;
    }
    if (event.event === 'warning') console.error(`WARNING: ${String(event.message)}`);
    else if (event.event === 'start') {
      console.error(`run ${event.runId} (${String(event.settingsHash).slice(0, 12)}) on ${event.device}, batch ${event.batch}: ${event.todo} concepts to do, ${event.skipped} already done`);
      progress.bar = new cliProgress.SingleBar({ format: 'extract [{bar}] {value}/{total} concepts | ETA {eta_formatted} | {word}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      progress.bar.start(Number(event.concepts), Number(event.skipped), { word: '' });
    } else if (event.event === 'batch' && values['full-maps'] && !fullMapsShown) {
      fullMapsShown = true;
      const mb = (bytes: unknown, calls: unknown) => (Number(calls) ? `${(Number(bytes) / Number(calls) / 1e6).toFixed(2)} MB` : '—');
      console.error(`--full-maps: leaving session.run per call (batch of ${event.size}): text encoder ${mb(event.textEncoderOutputBytes, event.textEncoderCalls)}, UNet ${mb(event.unetOutputBytes, event.unetCalls)}, VAE ${mb(event.vaeOutputBytes, event.vaeCalls)}`);
    } else if (event.event === 'concept') progress.bar?.update(Number(event.done), { word: event.word });
    else if (event.event === 'done' || event.event === 'failed') {
      progress.bar?.stop();
      progress.bar = null;
      console.error(event.event === 'done' ? `done: ${event.rows} summaries written in ${event.seconds} s` : `FAILED: ${String(event.error)}`);
    }
  };

  // Ctrl-C / SIGTERM: finish the concept in flight (whole concepts only), then stop.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    console.error(`extract: ${signal}: stopping after the current concept…`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Three connections: the run's advisory lock, the concept write in flight, and Prisma's updates.
  const db = connectDatabase(databaseUrl, { maxConnections: 3 });
  try {
    await runExtraction({
      db,
      bundleDir: values.bundle,
      norms: values.norms,
      settings,
      concepts,
      device: values.device,
      cacheDir,
      taps,
      threads: integer('threads', values.threads, 1, 256),
      batch,
      fullMaps: values['full-maps'],
      onEvent,
      signal: stop.signal,
    });
  } finally {
    progress.bar?.stop();
    await db.close();
  }
}

// A run another process holds is reported as a failed run (1), the code this command documents.
runCli('extract', main, { kinds: ['bad-input', 'interrupted'] });
