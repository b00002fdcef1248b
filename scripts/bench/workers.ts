// npm run bench:workers — what the job queue (issue 12, src/jobs/) costs and buys, measured on the TINY
// test bundle (NOT Stable Diffusion) on this machine, in a scratch database dropped at the end:
//  1. extraction throughput with 1, 2 and 4 worker PROCESSES (scripts/worker.ts) on one queued run each
//     (a fresh run identity per configuration: a different seed), concepts/s and summary rows/s;
//  2. the queue's overhead against the in-process path: the same concepts through runExtraction in this
//     process vs one worker process with jobs of a realistic size (16 concepts) and with tiny jobs (1
//     concept), as (worker wall − in-process wall) / in-process wall and per job; target < 5% for
//     realistic jobs. A worker's wall runs from its first job-start to the last job-done: process
//     start-up (spawn → first job-start; the jobs are queued before the spawn) is shown apart;
//  3. API requests/s with 1 and 2 API processes (`npm start` with API_PROCESSES, one port, node:cluster)
//     on the runs/catalogue query and a grid query (autocannon in a child, as bench:api), on the same
//     database (the extraction runs above plus bench:api's SYNTHETIC probe scores).
// It exists so the scale-out's claims (more workers → more throughput, the queue is cheap, replicas
// serve more) are figures from one command rather than guesses; nothing here fails on a threshold.
// Env: BENCH_CONCEPTS (default: calibrated so each configuration runs ≥ BENCH_MIN_SECONDS, 20),
// BENCH_JOB_SIZE (16), BENCH_WORKERS (1,2,4), BENCH_STEPS (50), BENCH_THREADS (ORT intra-op threads
// per process, default ORT's), BENCH_DURATION (10 s per API measurement), BENCH_WARMUP (2),
// BENCH_PAIRS (1: more in-process/worker pairs for a median overhead), BENCH_CONNECTIONS (32), BENCH_HEAVY_CONNECTIONS (4, the uncached grid), BENCH_SKIP_API=1, BENCH_SKIP_EXTRACTION=1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { binderWords } from '../../src/demo/tiny-bundle/build.ts';
import { ArgumentError, CodedError } from '../../src/errors.ts';
import { planExtractionRun, runExtraction, type ExtractionConcept } from '../../src/extraction/run.ts';
import { extractJobSpec } from '../../src/jobs/extract-job.ts';
import { enqueue, taskFor } from '../../src/jobs/plan.ts';
import type { LoadResult, LoadSpec } from './api/load.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { loadSyntheticScores, SYNTHETIC_LABEL } from './api/synthetic-load.ts';
import { HEATMAP_COLUMNS_QUERY } from './queries.ts';

type BenchErrorCode = 'WORKER_EXITED' | 'JOB_FAILED' | 'RUN_MISMATCH' | 'API_NOT_READY' | 'TIMED_OUT';

class WorkersBenchError extends CodedError<BenchErrorCode> {
  constructor(code: BenchErrorCode, message: string) {
    super(code, 'failed', message);
  }
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKER_SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'worker.ts');
const START_SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'start.ts');
const DATASET = 'bench-workers';

function envInteger(name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}.`);
  return value;
}

const CONCEPTS = envInteger('BENCH_CONCEPTS', undefined, 1);
const MIN_SECONDS = envInteger('BENCH_MIN_SECONDS', 20, 1)!;
const JOB_SIZE = envInteger('BENCH_JOB_SIZE', 16, 1)!;
const STEPS = envInteger('BENCH_STEPS', 50, 1)!;
const THREADS = envInteger('BENCH_THREADS', undefined, 1);
const DURATION = envInteger('BENCH_DURATION', 10, 1)!;
const WARMUP = envInteger('BENCH_WARMUP', 2, 0)!;
const CONNECTIONS = envInteger('BENCH_CONNECTIONS', 32, 1)!;
/** Clients of the uncached grid: each API process admits GRAPHQL_MAX_HEAVY_OPERATIONS (1 on 2 cores) and queues 4 per one; beyond that it answers 503 at once. */
const HEAVY_CONNECTIONS = envInteger('BENCH_HEAVY_CONNECTIONS', 4, 1)!;
const PAIRS = envInteger('BENCH_PAIRS', 1, 1)!;
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map((raw) => {
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < 1 || value > 16) throw new ArgumentError(`BENCH_WORKERS must be a comma-separated list of integers from 1 to 16, got ${JSON.stringify(process.env.BENCH_WORKERS)}.`);
  return value;
});
/** How long one configuration may take before the bench gives up on it. */
const RUN_TIMEOUT_MS = 30 * 60_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const cores = os.availableParallelism();
const loadAverage = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

// ── processes this bench starts (and stops, by their own handles) ─────────────────────────────────────

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The last `limit` characters a stream wrote (for the message when a child dies). */
function tail(stream: NodeJS.ReadableStream | null, limit = 4_000): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-limit);
  });
  return () => text.trim();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ── the extraction configurations ─────────────────────────────────────────────────────────────────────

interface Context {
  db: Database;
  databaseUrl: string;
  bundleDir: string;
  cacheDir: string;
  concepts: ExtractionConcept[];
}

interface Measured {
  label: string;
  workers: number | null;
  jobSize: number | null;
  jobs: number;
  concepts: number;
  rows: number;
  wallSeconds: number;
  /** Per worker: spawn → ready to take jobs (its worker-start line), s. */
  startupSeconds: number[];
  /** Per worker: its warm-up job's seconds (a fresh process: sessions opened, code not yet optimised). */
  warmUpSeconds?: number[];
  /** Per job: the time a worker spent between its jobs (its wall minus its jobs' durations), ms. */
  gapMsPerJob: number | null;
  /** Planning and enqueueing the run (worker configurations), s. */
  planSeconds: number | null;
  runId: number;
  /** Concepts per UNet call (in process: the report's). */
  batch?: number;
  /** Σ over jobs of job-done's seconds (claim to recorded outcome) and of the handler's own wall (the job rows' timings.wall), s. */
  jobSeconds?: number;
  handlerSeconds?: number;
}

let nextSeed = 1;
const seedFor = () => 1000 + nextSeed++;

async function summaryRows(db: Database, runId: number): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM activation_summary WHERE run_id = $1', [runId]);
  return rows[0]!.n;
}

async function inProcess(context: Context, concepts: ExtractionConcept[], label: string): Promise<Measured> {
  const started = performance.now();
  const report = await runExtraction({
    db: context.db, bundleDir: context.bundleDir, norms: DATASET, cacheDir: context.cacheDir, threads: THREADS,
    concepts: concepts.map((c) => c.word), settings: { steps: STEPS, seed: seedFor() },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  return {
    label, workers: null, jobSize: null, jobs: 0, concepts: report.conceptsWritten, rows: report.rowsWritten, wallSeconds,
    startupSeconds: [], gapMsPerJob: null, planSeconds: null, runId: report.runId, batch: report.batch,
  };
}

interface WorkerEvent {
  event: string;
  jobId?: number;
  runId?: number;
  seconds?: number;
  error?: string;
  final?: boolean;
}

/** What one worker process did for one run. */
interface WorkerShare {
  firstJobStart: number | null;
  lastJobDone: number | null;
  jobSeconds: number;
  jobsDone: number;
}

interface WorkerProcess {
  child: ChildProcess;
  spawnedAt: number;
  readyAt: number | null;
  byRun: Map<number, WorkerShare>;
  stderr: () => string;
}

/** Worker processes started for one configuration, with what they report by run. */
class WorkerSet {
  readonly processes: WorkerProcess[] = [];
  private readonly done = new Map<number, Set<number>>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private failure: Error | null = null;
  private failed: (error: Error) => void = () => {};
  private over = false;

  constructor(private readonly label: string) {}

  start(count: number, databaseUrl: string, cacheDir: string): void {
    for (let i = 0; i < count; i++) {
      const args = ['--import', 'tsx', WORKER_SCRIPT, '--device', 'cpu', '--kinds', 'extract', '--cache-dir', cacheDir, '--json', ...(THREADS ? ['--threads', String(THREADS)] : [])];
      const spawnedAt = performance.now();
      const child = track(spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] }));
      const worker: WorkerProcess = { child, spawnedAt, readyAt: null, byRun: new Map(), stderr: tail(child.stderr) };
      this.processes.push(worker);
      createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(worker, line, performance.now()));
      child.once('exit', (code, signal) => {
        if (!this.over) this.fail(new WorkersBenchError('WORKER_EXITED', `${this.label}: worker ${i + 1} (pid ${child.pid}) exited (${signal ?? `code ${code}`}) unasked:\n${worker.stderr()}`));
      });
    }
  }

  private onLine(worker: WorkerProcess, line: string, at: number): void {
    let event: WorkerEvent;
    try {
      event = JSON.parse(line) as WorkerEvent;
    } catch {
      return; // not an event line
    }
    const share = (runId: number) => {
      let found = worker.byRun.get(runId);
      if (!found) worker.byRun.set(runId, (found = { firstJobStart: null, lastJobDone: null, jobSeconds: 0, jobsDone: 0 }));
      return found;
    };
    if (event.event === 'worker-start') worker.readyAt = at;
    else if (event.event === 'job-start' && event.runId !== undefined) share(event.runId).firstJobStart ??= at;
    else if (event.event === 'job-done' && event.runId !== undefined && event.jobId !== undefined) {
      const mine = share(event.runId);
      mine.lastJobDone = at;
      mine.jobSeconds += event.seconds ?? 0;
      mine.jobsDone += 1;
      let ids = this.done.get(event.runId);
      if (!ids) this.done.set(event.runId, (ids = new Set()));
      ids.add(event.jobId);
    } else if (event.event === 'job-failed') {
      const message = `${this.label}: job ${event.jobId} of run ${event.runId} failed${event.final ? ' for good' : ' (it will be retried)'}: ${event.error}`;
      if (event.final) this.fail(new WorkersBenchError('JOB_FAILED', message));
      else log(`  WARNING: ${message}`);
    }
    this.poke();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.failed(error);
  }

  private poke(): void {
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve();
  }

  /** Resolves when `check` holds after an event; rejects when a worker dies, a job fails for good, or after RUN_TIMEOUT_MS. */
  until(what: string, check: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      if (check()) return resolve();
      const timer = setTimeout(() => reject(new WorkersBenchError('TIMED_OUT', `${this.label}: ${what} did not happen within ${RUN_TIMEOUT_MS / 60_000} min.`)), RUN_TIMEOUT_MS);
      const previous = this.failed;
      this.failed = (error) => {
        previous(error);
        clearTimeout(timer);
        reject(error);
      };
      this.waiters.push({ check, resolve: () => {
        clearTimeout(timer);
        resolve();
      } });
    });
  }

  jobsDone(runId: number): number {
    return this.done.get(runId)?.size ?? 0;
  }

  async stop(): Promise<void> {
    this.over = true;
    await Promise.all(this.processes.map((p) => stopChild(p.child)));
  }
}

/** Plans a fresh run of `concepts` into jobs of `jobSize` (as `npm run extract -- --enqueue` does); returns its id and job count. */
async function plan(context: Context, concepts: ExtractionConcept[], jobSize: number): Promise<{ runId: number; jobs: number; concepts: number }> {
  const planned = await planExtractionRun({
    db: context.db, bundleDir: context.bundleDir, norms: DATASET, cacheDir: context.cacheDir, device: 'cpu',
    concepts: concepts.map((c) => c.word), settings: { steps: STEPS, seed: seedFor() },
  });
  const report = await enqueue(context.db.pool, {
    kind: 'EXTRACT', runId: planned.runId, task: taskFor('EXTRACT', planned.device), units: planned.concepts, key: (c) => String(c.id), jobSize,
    spec: (units) => extractJobSpec(planned, units), maxAttempts: 3,
  });
  return { runId: planned.runId, jobs: report.jobs, concepts: planned.concepts.length };
}

/**
 * `workers` worker processes: once every one is ready, a warm-up run (one 2-concept job per worker, not
 * counted) leaves them as warm as this process is for its in-process runs; then the measured run of
 * jobs of `jobSize`, from its first job-start to its last job-done.
 */
async function queued(context: Context, workers: number, jobSize: number, label: string): Promise<Measured> {
  const { db } = context;
  const set = new WorkerSet(label);
  let measured: { runId: number; jobs: number; concepts: number };
  let planSeconds: number;
  let warmUpSeconds: number[];
  try {
    set.start(workers, context.databaseUrl, context.cacheDir);
    await set.until('every worker ready', () => set.processes.every((p) => p.readyAt !== null));
    const warmUp = await plan(context, context.concepts.slice(0, 2 * workers), 2);
    await set.until('the warm-up run done', () => set.jobsDone(warmUp.runId) === warmUp.jobs);
    warmUpSeconds = set.processes.flatMap((p) => {
      const share = p.byRun.get(warmUp.runId);
      return share ? [share.jobSeconds / share.jobsDone] : [];
    });
    const planStart = performance.now();
    measured = await plan(context, context.concepts, jobSize);
    planSeconds = (performance.now() - planStart) / 1000;
    await set.until('the measured run done', () => set.jobsDone(measured.runId) === measured.jobs);
  } finally {
    await set.stop();
  }

  const { rows } = await db.pool.query<{ status: string; done_count: number }>('SELECT status, done_count FROM extraction_run WHERE id = $1', [measured.runId]);
  const left = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker.jobs');
  if (rows[0]?.status !== 'COMPLETED' || rows[0].done_count !== measured.concepts || left.rows[0]!.n !== 0) {
    throw new WorkersBenchError('RUN_MISMATCH', `${label}: after its last job the run is ${rows[0]?.status} with ${rows[0]?.done_count} of ${measured.concepts} concepts, ${left.rows[0]!.n} queue entries left.`);
  }
  const shares = set.processes.map((p) => p.byRun.get(measured.runId)).filter((s): s is WorkerShare => !!s && s.jobsDone > 0);
  const firstStart = Math.min(...shares.map((s) => s.firstJobStart!));
  const lastDone = Math.max(...shares.map((s) => s.lastJobDone!));
  const gapSeconds = shares.reduce((sum, s) => sum + (s.lastJobDone! - s.firstJobStart!) / 1000 - s.jobSeconds, 0);
  const handler = await db.pool.query<{ s: number }>(`SELECT coalesce(sum((timings->>'wall')::float8), 0) AS s FROM job WHERE extraction_run_id = $1`, [measured.runId]);
  return {
    label, workers, jobSize, jobs: measured.jobs, concepts: measured.concepts, rows: await summaryRows(db, measured.runId),
    wallSeconds: (lastDone - firstStart) / 1000,
    startupSeconds: set.processes.map((p) => ((p.readyAt ?? NaN) - p.spawnedAt) / 1000),
    warmUpSeconds,
    gapMsPerJob: (gapSeconds * 1000) / measured.jobs, planSeconds, runId: measured.runId,
    jobSeconds: shares.reduce((sum, s) => sum + s.jobSeconds, 0), handlerSeconds: handler.rows[0]!.s,
  };
}

async function createDataset(db: Database, words: string[]): Promise<ExtractionConcept[]> {
  const dataset = await db.prisma.normsDataset.create({ data: { name: DATASET, version: 1, contentHash: DATASET, citation: 'bench:workers', source: 'scripts/bench/workers.ts' } });
  const { rows } = await db.pool.query<{ id: number; word: string }>(
    `WITH c AS (INSERT INTO concept (word) SELECT unnest($1::text[]) ON CONFLICT (word) DO UPDATE SET word = excluded.word RETURNING id, word)
     SELECT id, word FROM c`, [words],
  );
  const byWord = new Map(rows.map((r) => [r.word, r.id]));
  await db.pool.query(
    'INSERT INTO dataset_concept (norms_dataset_id, concept_id, position) SELECT $1, unnest($2::int[]), generate_series(0, $3 - 1)',
    [dataset.id, words.map((w) => byWord.get(w)!), words.length],
  );
  return words.map((word) => ({ id: byWord.get(word)!, word }));
}

// ── the API with 1 and 2 processes ────────────────────────────────────────────────────────────────────

function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'api/load.ts'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code !== 0 ? reject(new Error(`load generator exited with ${code}`)) : resolve(JSON.parse(output.trim().split('\n').pop()!) as LoadResult)));
  });
}

async function post(url: string, body: string): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await response.json()) as { errors?: unknown };
  if (!response.ok || json.errors) throw new WorkersBenchError('API_NOT_READY', `${url} answered ${response.status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

interface Api {
  url: string;
  startSeconds: number;
  /** The last lines the supervisor and its API processes logged. */
  output(): string;
  stop(): Promise<void>;
}

/** `npm start` (the supervisor) with API_PROCESSES=`processes` on a free port and the scratch database; ready when every process serves. */
async function startApi(databaseUrl: string, processes: number): Promise<Api> {
  const port = await freePort();
  const started = performance.now();
  const child = track(spawn(process.execPath, ['--import', 'tsx', START_SCRIPT], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env, DATABASE_URL: databaseUrl, API_PROCESSES: String(processes), HOST: '127.0.0.1', PORT: String(port),
      NODE_ENV: 'production', SEED_ON_START: 'false', DEMO_PIPELINE: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const output = { text: '' };
  const ready = new Promise<string>((resolve, reject) => {
    const servesOne = /API process \d+ serves at (http:\/\/[^\s"]+)/;
    const servesAll = new RegExp(`all ${processes} API processes serve at (http://[^\\s"]+)`);
    const onLine = (line: string) => {
      output.text = `${output.text}${line}\n`.slice(-4_000);
      const match = (processes === 1 ? servesOne : servesAll).exec(line);
      if (match) resolve(match[1]!);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code, signal) => reject(new WorkersBenchError('API_NOT_READY', `npm start (API_PROCESSES=${processes}) exited (${signal ?? `code ${code}`}) before serving:\n${output.text}`)));
    setTimeout(() => reject(new WorkersBenchError('API_NOT_READY', `npm start (API_PROCESSES=${processes}) did not serve within 180 s:\n${output.text}`)), 180_000).unref();
  });
  try {
    const url = await ready;
    return { url, startSeconds: (performance.now() - started) / 1000, output: () => output.text, stop: () => stopChild(child, 60_000) };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

// No `device`: synthetic-load.ts's extraction run stores "none (synthetic)", which the Device enum cannot serialise.
const RUNS_QUERY = `query Runs {
  models { name components { name } }
  extractionRuns(first: 20) { totalCount nodes { id status seed stepCount progress { doneCount plannedCount } durationSeconds model { name } } }
}`;

interface ApiRow {
  target: string;
  processes: number;
  connections: number;
  result: LoadResult;
  startSeconds: number;
}

async function apiSection(db: Database, databaseUrl: string): Promise<ApiRow[]> {
  const load = await loadSyntheticScores(db.pool);
  log(`SYNTHETIC LOAD "${SYNTHETIC_LABEL}" (generated numbers, not results) added for the grid query: ${load.scoreCount.toLocaleString('en')} scores`);
  const input = { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(load.probeRunId)] } };
  const setRunStatus = (status: string) => async () => {
    await db.pool.query(`UPDATE probe_run SET status = $1::"RunStatus", finished_at = CASE WHEN $1 = 'COMPLETED' THEN now() END WHERE id = $2`, [status, load.probeRunId]);
  };
  const grid = JSON.stringify({ query: HEATMAP_COLUMNS_QUERY, variables: { input } });
  const targets: { name: string; body: string; connections: number; prepare?: () => Promise<void> }[] = [
    { name: 'runs + catalogue (models, extractionRuns)', body: JSON.stringify({ query: RUNS_QUERY }), connections: CONNECTIONS },
    // RUNNING: nothing is cached, one aggregation per request (bench:api's uncached grid), at a client count the admission limits take.
    { name: 'grid: UNet heatmap, uncached (run RUNNING)', body: grid, connections: HEAVY_CONNECTIONS, prepare: setRunStatus('RUNNING') },
    // COMPLETED: each process's grid response cache answers after one catalogue statement.
    { name: 'grid: UNet heatmap, cached (run COMPLETED)', body: grid, connections: CONNECTIONS, prepare: setRunStatus('COMPLETED') },
  ];
  const rows: ApiRow[] = [];
  // Both set-ups serve at once (one idle while the other is measured), so each query's 1- and 2-process
  // figures are taken back to back: the load from elsewhere on this machine drifts over minutes.
  const apis: { processes: number; api: Api }[] = [];
  try {
    for (const processes of [1, 2]) {
      const api = await startApi(databaseUrl, processes);
      apis.push({ processes, api });
      log(`npm start with API_PROCESSES=${processes} serves at ${api.url} (${api.startSeconds.toFixed(1)} s to every process serving)`);
    }
    for (const target of targets) {
      await target.prepare?.();
      for (const { processes, api } of apis) {
        // It must answer without errors before it is measured (an error response is fast and would flatter it).
        await post(api.url, target.body).catch((error: Error) => {
          throw new WorkersBenchError('API_NOT_READY', `${target.name}: ${error.message}\nthe API's last log lines:\n${api.output()}`);
        });
        log(`measuring ${target.name}, ${processes} API process(es), ${target.connections} connections: ${WARMUP} s warm-up + ${DURATION} s…`);
        const result = await runLoad({ url: api.url, body: target.body, connections: target.connections, durationSeconds: DURATION, warmupSeconds: WARMUP });
        if (result.non2xx > 0 || result.errors > 0) log(`  WARNING: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
        rows.push({ target: target.name, processes, connections: target.connections, result, startSeconds: api.startSeconds });
      }
    }
  } finally {
    await Promise.all(apis.map(({ api }) => api.stop()));
  }
  return rows;
}

// ── main ──────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  const machine = `${cores} CPU core(s) (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
  log(`probe-atlas bench:workers — ${machine}; load average at start ${loadAverage()}`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-bench-workers-'));
  const scratch = await createScratchDatabase(log);
  log(`scratch database: ${scratch.serverDescription}`);
  const db = connectDatabase(scratch.url, { maxConnections: 4 });
  const measured: Measured[] = [];
  const extraPairs: { worker: Measured; local: Measured }[] = [];
  let apiRows: ApiRow[] = [];
  let conceptCount = 0;
  let perConcept = NaN;
  let batch = 0;
  const onSignal = () => void Promise.all([...children].map((c) => stopChild(c, 5_000))).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (process.env.BENCH_SKIP_EXTRACTION !== '1') {
      // Built in a child process, like bench:extract, so the GloVe scan stays out of this process.
      const bundleDir = path.join(work, 'tiny');
      execFileSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/build-tiny-bundle.ts'), '--out', bundleDir], { stdio: 'ignore' });
      // The Binder words, then the same words again under a sense (`hammer_(bench-2)`: prompted as
      // "hammer", conceptWord), so a fast machine still gets runs of ≥ BENCH_MIN_SECONDS.
      const binder = [...new Set(binderWords())];
      const words = [...binder, ...[2, 3, 4, 5].flatMap((copy) => binder.map((word) => `${word}_(bench-${copy})`))];
      const all = await createDataset(db, words);
      const context: Context = { db, databaseUrl: scratch.url, bundleDir, cacheDir: path.join(work, 'cache'), concepts: all };

      // Calibration: 16 concepts in process (fills the tap cache every configuration then reads), then 32 timed.
      await inProcess(context, all.slice(0, 16), 'warm-up');
      const calibration = await inProcess(context, all.slice(0, 32), 'calibration');
      perConcept = calibration.wallSeconds / calibration.concepts;
      // The fastest configuration is at best `cores` times one worker; 1.5 for the load from elsewhere easing.
      const wanted = CONCEPTS ?? Math.ceil((MIN_SECONDS * cores * 1.5) / perConcept);
      conceptCount = Math.min(all.length, Math.max(2 * JOB_SIZE, wanted));
      if (conceptCount < wanted) log(`NOTE: ${wanted} concepts wanted, the dataset has ${all.length}; using ${all.length}`);
      context.concepts = all.slice(0, conceptCount);
      log(`calibration: ${calibration.concepts} concepts in ${calibration.wallSeconds.toFixed(1)} s (${perConcept.toFixed(2)} s/concept, sessions opened included) → ${conceptCount} concepts per configuration, ${STEPS} steps`);

      // The in-process run and the one-worker run it is compared with go back to back (load drifts).
      log('in process: runExtraction…');
      measured.push(await inProcess(context, context.concepts, 'in process (runExtraction)'));
      for (const [workers, jobSize] of [[1, JOB_SIZE], [1, 1], ...WORKER_COUNTS.filter((n) => n !== 1).map((n) => [n, JOB_SIZE])] as [number, number][]) {
        const label = `${workers} worker process${workers === 1 ? '' : 'es'}, ${jobSize} concept${jobSize === 1 ? '' : 's'}/job`;
        log(`${label}…`);
        measured.push(await queued(context, workers, jobSize, label));
      }
      // BENCH_PAIRS > 1: more (worker, in-process) pairs, the worker first this time, for the median overhead.
      for (let pair = 2; pair <= PAIRS; pair++) {
        log(`overhead pair ${pair} of ${PAIRS}: 1 worker process, ${JOB_SIZE} concepts/job, then in process…`);
        const worker = await queued(context, 1, JOB_SIZE, `pair ${pair}: 1 worker process`);
        const local = await inProcess(context, context.concepts, `pair ${pair}: in process`);
        extraPairs.push({ worker, local });
      }
      const reference = measured[0]!;
      for (const m of [...measured.slice(1), ...extraPairs.flatMap((p) => [p.worker, p.local])]) {
        if (m.rows !== reference.rows) throw new WorkersBenchError('RUN_MISMATCH', `${m.label} stored ${m.rows} summary rows, the in-process run ${reference.rows} for the same ${conceptCount} concepts.`);
      }
      batch = reference.batch ?? 0;
    }
    if (process.env.BENCH_SKIP_API !== '1') apiRows = await apiSection(db, scratch.url);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([...children].map((c) => stopChild(c, 5_000)));
    await db.close().catch(() => {});
    await scratch.drop();
    rmSync(work, { recursive: true, force: true });
    log('scratch database dropped');
  }

  // ── the report ──
  log('');
  log(`## bench:workers — ${machine}`);
  log('');
  log(`${measured.length ? `Tiny test bundle (NOT Stable Diffusion), ${STEPS} DDIM steps${batch ? `, ${batch} concepts per UNet call` : ''}, ORT intra-op threads ${THREADS ?? "ORT's default"} per process; ` : ''}` +
    `PostgreSQL, the workers, the API and the load generator all share these ${cores} cores. Load average at the end ${loadAverage()}.`);
  if (measured.length) {
    const inProc = measured[0]!;
    const oneWorker = measured.find((m) => m.workers === 1 && m.jobSize === JOB_SIZE)!;
    log('');
    log(`### Extraction, ${conceptCount} concepts per configuration (a fresh run each)`);
    log('');
    log('| configuration | jobs | wall s | concepts/s | summary rows/s | speed-up vs 1 worker | process start-up s (spawn → ready) | warm-up job s (fresh process, 2 concepts) | between jobs, ms/job | plan + enqueue s |');
    log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const range = (values: number[] | undefined) => {
      if (!values?.length) return '—';
      const [low, high] = [fixed(Math.min(...values), 1), fixed(Math.max(...values), 1)];
      return low === high ? low : `${low}–${high}`;
    };
    for (const m of measured) {
      const startup = `${range(m.startupSeconds)} | ${range(m.warmUpSeconds)}`;
      const speedUp = m.workers === null ? '—' : fixed(oneWorker.wallSeconds / m.wallSeconds * (m.concepts / oneWorker.concepts), 2);
      log(`| ${m.label} | ${m.jobs || '—'} | ${fixed(m.wallSeconds, 1)} | ${fixed(m.concepts / m.wallSeconds, 2)} | ${fixed(m.rows / m.wallSeconds, 0)} | ${speedUp} | ${startup} | ${m.gapMsPerJob === null ? '—' : fixed(m.gapMsPerJob, 1)} | ${m.planSeconds === null ? '—' : fixed(m.planSeconds, 2)} |`);
    }
    const short = measured.filter((m) => m.wallSeconds < MIN_SECONDS);
    if (short.length) log(`\nNOTE: ${short.map((m) => m.label).join('; ')} ran under ${MIN_SECONDS} s; set BENCH_CONCEPTS higher for steadier figures.`);
    log('');
    log('Wall: in process, the runExtraction call (its sessions opened included), in this process warmed by the calibration runs; workers, the measured run\'s first job-start to its last job-done ' +
      '(each worker opens that run\'s sessions in its first job of it, as runExtraction does once). Before it, once every worker is ready, a warm-up run of one 2-concept job per worker (not counted) ' +
      'warms each fresh process as the calibration warmed this one; process start-up and that first job are shown apart. ' +
      '"Between jobs": per worker, its wall minus the durations of its jobs (job-done\'s seconds: handler plus finishJob), per job: queue pickup and claimJob.');
    log('');
    log('### Queue overhead against the in-process path (one worker process)');
    log('');
    log('| job size | jobs | in-process wall s | worker wall s | overhead | per job ms | of which between jobs (pickup, claim) | finishJob (outcome, run settled) | inside the handler | target < 5% |');
    log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    const overheadOf = (worker: Measured, local: Measured) => (worker.wallSeconds - local.wallSeconds) / local.wallSeconds;
    const overheads = [overheadOf(oneWorker, inProc), ...extraPairs.map((p) => overheadOf(p.worker, p.local))];
    const sorted = [...overheads].sort((a, b) => a - b);
    const medianOverhead = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
    for (const m of measured.filter((x) => x.workers === 1)) {
      const overhead = (m.wallSeconds - inProc.wallSeconds) / inProc.wallSeconds;
      const perJob = ((m.wallSeconds - inProc.wallSeconds) * 1000) / m.jobs;
      // Per job: pickup and claim between jobs; finishJob after the handler; the rest (a remainder, with the noise) is inside the handler.
      const between = m.gapMsPerJob ?? NaN;
      const around = (((m.jobSeconds ?? NaN) - (m.handlerSeconds ?? NaN)) * 1000) / m.jobs;
      const inside = perJob - between - around;
      const target = m.jobSize !== JOB_SIZE ? 'n/a (tiny jobs, to show the per-job cost)' : extraPairs.length ? `${medianOverhead < 0.05 ? 'MET' : 'MISSED'} (median of ${PAIRS} pairs)` : overhead < 0.05 ? 'MET' : 'MISSED';
      log(`| ${m.jobSize} | ${m.jobs} | ${fixed(inProc.wallSeconds, 1)} | ${fixed(m.wallSeconds, 1)} | ${(overhead * 100).toFixed(1)}% | ${fixed(perJob, 0)} | ${fixed(between, 0)} | ${fixed(around, 0)} | ${fixed(inside, 0)} | ${target} |`);
    }
    if (extraPairs.length) log(`\n${JOB_SIZE} concepts/job, overhead per (in-process, worker) pair: ${overheads.map((o) => `${(o * 100).toFixed(1)}%`).join(', ')}; median ${(medianOverhead * 100).toFixed(1)}%`);
    log('');
    log('"Inside the handler" (the remainder): a job\'s own start and end — its stored-concept check, model and layer look-ups, and the last batch\'s writes, ' +
      'which the in-process loop overlaps with the next batch through the networks but a job ends on — against the same concepts in one in-process loop.');
    log('');
    log(`(${PAIRS === 1 ? 'one measurement each' : `${PAIRS} pairs`}, on a shared machine: differences of a few per cent are within run-to-run noise here${PAIRS === 1 ? '; BENCH_PAIRS=3 for a median' : ''}; calibration ${fixed(perConcept, 2)} s/concept)`);
  }
  if (apiRows.length) {
    log('');
    log(`### API, ${WARMUP} s warm-up + ${DURATION} s each (npm start, API_PROCESSES on one port)`);
    log('');
    log('| query | API processes | clients | 2xx req/s | p50 ms | p99 ms | responses by status | 2 vs 1 process (2xx req/s) |');
    log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
    const okPerSecond = (result: LoadResult) => (result.requests - result.non2xx) / DURATION;
    for (const row of apiRows) {
      const one = apiRows.find((r) => r.target === row.target && r.processes === 1)!;
      const ratio = row.processes === 1 ? '—' : `${(okPerSecond(row.result) / okPerSecond(one.result)).toFixed(2)}×`;
      const statuses = Object.entries(row.result.statusCodes).map(([code, count]) => `${code}: ${count}`).join(', ') + (row.result.errors ? `, errors: ${row.result.errors}` : '');
      log(`| ${row.target} | ${row.processes} | ${row.connections} | ${okPerSecond(row.result).toFixed(0)} | ${row.result.p50} | ${row.result.p99} | ${statuses} | ${ratio} |`);
    }
    log('');
    log(`(the load generator, PostgreSQL and the API processes share ${cores} cores; p50/p99 are autocannon's whole-millisecond values)`);
  }
  return 0;
}

runCli('bench:workers', main);
