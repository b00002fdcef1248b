// What the multi-worker tests (test/jobs/workers-*.test.ts) share: real `npm run worker` processes
// spawned on a test database, their JSON event lines read as they come (worker-start with its id,
// job-start, job-done, …), `npm run extract|probe -- --enqueue` run as the user runs it, waiting on
// database conditions with a deadline (never a fixed sleep), and the stored results read back in a
// form two databases can be compared by: summary vectors keyed by concept word / layer / timestep /
// pooling (database ids differ between databases), probe scores keyed by cell and attribute.
import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { PROJECT_ROOT } from '../../src/config.ts';

/** One JSON line a worker prints on stdout (scripts/worker.ts). */
export interface WorkerLine {
  event: string;
  workerId?: string;
  jobId?: number;
  runId?: number;
  position?: number;
  attempt?: number;
  error?: string;
  final?: boolean;
  [key: string]: unknown;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Every event line so far, in order. */
  lines: WorkerLine[];
  /** stderr so far (its logs), for failure messages. */
  stderr(): string;
  /** The worker's id, from its worker-start line. */
  id: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first line (already seen or to come) that `match` accepts; rejects at the deadline or when the process exits first. */
  line(what: string, match: (line: WorkerLine) => boolean, ms?: number): Promise<WorkerLine>;
}

/** Anything the test database's drop() must stop first (test/support/database.ts's using()). */
export interface Owner {
  using(stop: () => Promise<void>): void;
}

export interface WorkerArguments {
  kinds?: string;
  cacheDir: string;
  visibilityTimeout?: number;
  heartbeat?: number;
  /** Intra-op threads per ONNX session: 1 keeps several workers on a 2-core machine from thrashing. */
  threads?: number;
}

const exitedWith = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
  else child.once('exit', (code, signal) => resolve({ code, signal }));
});

/** A real worker process on `databaseUrl`; SIGKILLed (if still running) when `owner` stops its users. */
export function spawnWorker(owner: Owner, databaseUrl: string, args: WorkerArguments): WorkerProcess {
  const argv = ['--import', 'tsx', 'scripts/worker.ts', '--device', 'cpu', '--kinds', args.kinds ?? 'extract', '--cache-dir', args.cacheDir, '--json'];
  if (args.visibilityTimeout !== undefined) argv.push('--visibility-timeout', String(args.visibilityTimeout));
  if (args.heartbeat !== undefined) argv.push('--heartbeat', String(args.heartbeat));
  argv.push('--threads', String(args.threads ?? 1));
  const child = spawn(process.execPath, argv, { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitedWith(child);
  owner.using(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines: WorkerLine[] = [];
  const waiters = new Set<() => void>();
  let stdout = '', stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    let newline: number;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      const text = stdout.slice(0, newline).trim();
      stdout = stdout.slice(newline + 1);
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as WorkerLine);
      } catch {
        continue;
      }
      for (const wake of [...waiters]) wake();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const wake of [...waiters]) wake();
  });

  const line = (what: string, match: (line: WorkerLine) => boolean, ms = 90_000) => new Promise<WorkerLine>((resolve, reject) => {
    const check = () => {
      const found = lines.find(match);
      if (found) return done(() => resolve(found));
      if (gone) return done(() => reject(new Error(`worker pid ${child.pid} exited before ${what}; lines: ${JSON.stringify(lines)}; stderr: ${stderr.slice(-2000)}`)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${what} from worker pid ${child.pid}; lines: ${JSON.stringify(lines)}; stderr: ${stderr.slice(-2000)}`))), ms);
    const done = (settle: () => void) => {
      clearTimeout(timer);
      waiters.delete(check);
      settle();
    };
    waiters.add(check);
    check();
  });
  const id = line('its worker-start line', (l) => l.event === 'worker-start').then((l) => l.workerId!);
  id.catch(() => {}); // a test that never asks for it must not see an unhandled rejection
  return { child, lines, stderr: () => stderr, id, exited, line };
}

export interface ScriptOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/<script>` with these arguments on `databaseUrl`, to its end. */
export function runScript(script: string, args: readonly string[], databaseUrl: string, ms = 120_000): Promise<ScriptOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${script}`, ...args], {
      cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`scripts/${script} ${args.join(' ')} ran past ${ms} ms; stderr: ${stderr}`));
    }, ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The last JSON line of an --enqueue command's stdout, which must have exited 0. */
export async function enqueueWith(script: 'extract.ts' | 'probe.ts', args: readonly string[], databaseUrl: string): Promise<Record<string, unknown>> {
  const outcome = await runScript(script, [...args, '--enqueue'], databaseUrl);
  if (outcome.code !== 0) throw new Error(`scripts/${script} ${args.join(' ')} --enqueue exited ${outcome.code}: ${outcome.stderr}`);
  const last = outcome.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!last) throw new Error(`scripts/${script} --enqueue printed no JSON line: ${outcome.stdout}`);
  return JSON.parse(last) as Record<string, unknown>;
}

/**
 * Polls `read` until `ok` accepts its value; throws at the deadline with the last value, or as soon as
 * `hopeless` says why waiting is pointless (a worker died). A read that throws (the database
 * restarting) counts as not yet.
 */
export async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 120_000, hopeless?: () => string | null): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const reason = hopeless?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      const value = await read();
      if (ok(value)) return value;
      last = value;
    } catch (error) {
      last = `read failed: ${(error as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Why waiting on these workers is pointless: one of them has exited (with its stderr's end), else null. */
export function anyExited(workers: readonly WorkerProcess[]): string | null {
  const dead = workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
  return dead ? `worker pid ${dead.child.pid} exited (${dead.child.exitCode ?? dead.child.signalCode}); stderr: ${dead.stderr().slice(-3000)}` : null;
}

export { freePort } from '../support/free-port.ts';

export interface RunRow {
  status: string;
  done_count: number;
  planned_count: number | null;
  error: string | null;
}

export const extractionRun = (pool: pg.Pool, id: number) => pool.query<RunRow>(
  'SELECT status, done_count, planned_count, error FROM extraction_run WHERE id = $1', [id]).then((r) => r.rows[0]!);

export const probeRun = (pool: pg.Pool, id: number) => pool.query<RunRow>(
  'SELECT status, done_count, planned_count, error FROM probe_run WHERE id = $1', [id]).then((r) => r.rows[0]!);

export interface JobView {
  id: number;
  position: number;
  status: string;
  attempts: number;
  max_attempts: number;
  worker_id: string | null;
  error: string | null;
  units_done: number;
  unit_count: number;
  words: string[] | null;
}

/** The jobs of a run (EXTRACT: their concept words, from the spec), by position. */
export const jobsOf = (pool: pg.Pool, column: 'extraction_run_id' | 'probe_run_id', runId: number) => pool.query<JobView>(
  `SELECT id, position, status, attempts, max_attempts, worker_id, error, units_done, unit_count,
          (SELECT array_agg(u->>'word') FROM jsonb_array_elements(spec->'units') u WHERE u ? 'word') AS words
   FROM job WHERE ${column} = $1 ORDER BY position`, [runId]).then((r) => r.rows);

/** Rows of a run's summaries, and how many distinct (concept, layer, timestep, pooling) keys they have. */
export async function summaryCounts(pool: pg.Pool, runId: number): Promise<{ rows: number; keys: number; concepts: number }> {
  const { rows } = await pool.query<{ rows: number; keys: number; concepts: number }>(
    `SELECT count(*)::int AS rows, count(DISTINCT (concept_id, layer_id, coalesce(timestep, -1), pooling))::int AS keys, count(DISTINCT concept_id)::int AS concepts
     FROM activation_summary WHERE run_id = $1`, [runId]);
  return rows[0]!;
}

/** A run's summary vectors (hex of the stored float32 bytes), keyed by word / component.layer / timestep / pooling. */
export async function summaryBytes(pool: pg.Pool, runId: number): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ key: string; vector: Buffer }>(
    `SELECT concat_ws('/', c.word, co.name || '.' || l.name, coalesce(s.timestep::text, 'none'), s.pooling) AS key, s.vector
     FROM activation_summary s JOIN concept c ON c.id = s.concept_id JOIN layer l ON l.id = s.layer_id JOIN component co ON co.id = l.component_id
     WHERE s.run_id = $1`, [runId]);
  const out = new Map<string, string>();
  for (const row of rows) {
    if (out.has(row.key)) throw new Error(`run ${runId} stores ${row.key} twice`);
    out.set(row.key, row.vector.toString('hex'));
  }
  return out;
}

/** A probe run's scores as exact float64 bit patterns, keyed by layer / timestep / pooling / attribute. */
export async function probeScoreBits(pool: pg.Pool, probeRunId: number): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ key: string; pearson_r: number; r2: number; two_vs_two: number; alpha: number; p_value: number | null; q_value: number | null; null_pearson_r: number | null }>(
    `SELECT concat_ws('/', co.name || '.' || l.name, coalesce(c.timestep::text, 'none'), c.pooling, a.name) AS key,
            s.pearson_r, s.r2, s.two_vs_two, s.alpha, s.p_value, s.q_value, s.null_pearson_r
     FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id JOIN layer l ON l.id = c.layer_id JOIN component co ON co.id = l.component_id
       JOIN attribute a ON a.id = s.attribute_id
     WHERE c.probe_run_id = $1`, [probeRunId]);
  const bits = (value: number | null) => {
    if (value === null) return 'null';
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleLE(value);
    return buffer.toString('hex');
  };
  const out = new Map<string, string>();
  for (const row of rows) {
    if (out.has(row.key)) throw new Error(`probe run ${probeRunId} stores ${row.key} twice`);
    out.set(row.key, [row.pearson_r, row.r2, row.two_vs_two, row.alpha, row.p_value, row.q_value, row.null_pearson_r].map(bits).join(':'));
  }
  return out;
}
