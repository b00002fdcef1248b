// npm start's job (startProbeAtlas) on a real PostgreSQL with the demo pipeline shrunk by parameters
// (12 concepts, 20 DDIM steps, no GloVe): the API serves while the pipeline runs in its worker
// thread; a stop during the extraction leaves whole concepts and a FAILED "stopped" run; the next
// start resumes and completes it; DEMO_PIPELINE=false skips it; a failing pipeline is logged and the
// API keeps serving. And `npm start` itself (scripts/start.ts, the supervisor) with no DATABASE_URL:
// the API process, SIGKILLed, is restarted and serves again over the same embedded PostgreSQL; a
// SIGTERM stops the API and then PostgreSQL, leaving no process behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT, type Config } from '../../src/config.ts';
import type { DemoPipelineSettings } from '../../src/demo/seed.ts';
import type { LogFields, Logger } from '../../src/log.ts';
import { startProbeAtlas, type RunningProbeAtlas } from '../../src/start.ts';
import { childLines } from '../support/child-lines.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/free-port.ts';

const CONCEPTS = 12;

let db: TestDatabase;
let root: string;
let demoSettings: Partial<DemoPipelineSettings>;

beforeAll(async () => {
  db = await createTestDatabase();
  root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-start-'));
  demoSettings = {
    bundleDir: path.join(root, 'tiny'),
    cacheDir: path.join(root, 'cache'),
    conceptLimit: CONCEPTS,
    steps: 20,
    recordedTimesteps: 2,
    probe: { folds: 3, permutations: 2, bootstrap: 10 },
    glove: false,
  };
});

afterAll(async () => {
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Line {
  level: string;
  message: string;
  fields?: LogFields;
}

function capturingLogger(onLine: (line: Line) => void = () => {}): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const write = (level: string) => (message: string, fields?: LogFields) => {
    const line = { level, message, fields };
    lines.push(line);
    onLine(line);
  };
  return { lines, info: write('info'), warn: write('warn'), error: write('error') };
}

function config(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), databaseUrl: db.url, host: '127.0.0.1', port: 0, development: false, ...overrides };
}

async function graphql(app: RunningProbeAtlas, query: string) {
  const response = await fetch(app.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query }) });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: unknown[] } };
}

const RUNS = '{ extractionRuns { nodes { id status error progress { done: doneCount total: plannedCount fraction } model { kind } } } probeRuns { nodes { status progress { done: doneCount total: plannedCount fraction } } } }';

test('stopped during the extraction, resumed by the next start; skipped with DEMO_PIPELINE=false', async () => {
  // 1. First start: the API serves at once; the demo is stopped right after its first concept.
  let app: RunningProbeAtlas | undefined;
  let stopping: Promise<void> | undefined;
  let stopWanted = false;
  const log = capturingLogger((line) => {
    if (!stopping && /^seed: demo-tiny-extraction: [1-9]\d*\/12/.test(line.message)) {
      stopWanted = true;
      if (app) stopping = app.stop();
    }
  });
  app = await startProbeAtlas(config(), log, { demoSettings });
  expect(app.demo).not.toBeNull();
  const serving = await graphql(app, '{ apiLimits { maxDepth } }');
  expect(serving.status).toBe(200);
  expect(serving.body.data.apiLimits.maxDepth).toBeGreaterThan(0);
  if (stopWanted && !stopping) stopping = app.stop();
  const outcome = await app.demo!.done;
  await (stopping ?? app.stop());
  expect(outcome).toMatchObject({ status: 'stopped', step: 'demo-tiny-extraction' });
  expect(log.lines.some((l) => l.message.startsWith('demo pipeline: stopped during demo-tiny-extraction'))).toBe(true);
  expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
  const stopped = await db.prisma.extractionRun.findFirstOrThrow();
  expect(stopped.status).toBe('FAILED');
  expect(stopped.error).toMatch(/stopped/);
  expect(stopped.doneCount).toBeGreaterThanOrEqual(1);
  expect(stopped.doneCount).toBeLessThan(CONCEPTS);
  const storedConcepts = await db.pool.query<{ n: number }>('SELECT count(DISTINCT concept_id)::int AS n FROM activation_summary WHERE run_id = $1', [stopped.id]);
  expect(storedConcepts.rows[0]!.n).toBe(stopped.doneCount); // whole concepts only

  // 2. DEMO_PIPELINE=false: no demo; the API shows the stopped run as it is.
  const quiet = capturingLogger();
  const idle = await startProbeAtlas(config({ demoPipeline: false }), quiet, { demoSettings });
  try {
    expect(idle.demo).toBeNull();
    expect(quiet.lines.some((l) => l.message === 'demo pipeline: skipped (DEMO_PIPELINE=false)')).toBe(true);
    const runs = await graphql(idle, RUNS);
    expect(runs.body.data.extractionRuns.nodes).toEqual([
      { id: String(stopped.id), status: 'FAILED', error: stopped.error, progress: { done: stopped.doneCount, total: CONCEPTS, fraction: stopped.doneCount / CONCEPTS }, model: { kind: 'TINY_TEST_NETWORK' } },
    ]);
  } finally {
    await idle.stop();
  }

  // 3. The next start resumes: the stored concepts are skipped, the rest extracted, then probed.
  const resumedLog = capturingLogger();
  const resumed = await startProbeAtlas(config(), resumedLog, { demoSettings });
  try {
    const done = await resumed.demo!.done;
    expect(done.status).toBe('completed');
    if (done.status !== 'completed') return;
    expect(done.reports.map((r) => [r.name, r.status])).toEqual([
      ['demo-tiny-bundle', 'already-done'], ['demo-tiny-extraction', 'ran'], ['demo-tiny-probes', 'ran'],
    ]);
    expect(done.reports[1]!.summary).toContain(`${CONCEPTS - stopped.doneCount} concepts extracted, ${stopped.doneCount} already stored`);
    const runs = await graphql(resumed, RUNS);
    expect(runs.body.data.extractionRuns.nodes).toEqual([
      { id: String(stopped.id), status: 'COMPLETED', error: null, progress: { done: CONCEPTS, total: CONCEPTS, fraction: 1 }, model: { kind: 'TINY_TEST_NETWORK' } },
    ]);
    expect(runs.body.data.probeRuns.nodes).toEqual([{ status: 'COMPLETED', progress: { done: expect.any(Number), total: expect.any(Number), fraction: 1 } }]);
    expect(resumedLog.lines.some((l) => l.message.startsWith('demo pipeline: complete'))).toBe(true);
  } finally {
    await resumed.stop();
  }
});

test('a failing demo pipeline is logged with its step and the API keeps serving', async () => {
  const log = capturingLogger();
  const app = await startProbeAtlas(config(), log, { demoSettings: { ...demoSettings, norms: 'no-such-norms' } });
  try {
    const outcome = await app.demo!.done;
    expect(outcome).toMatchObject({ status: 'failed', step: 'demo-tiny-extraction', error: { code: 'DATASET_NOT_FOUND' } });
    const errors = log.lines.filter((l) => l.level === 'error');
    expect(errors.at(-1)!.message).toMatch(/^demo pipeline FAILED at step demo-tiny-extraction: No norms dataset matches "no-such-norms"/);
    expect(errors.at(-1)!.fields).toMatchObject({ step: 'demo-tiny-extraction', code: 'DATASET_NOT_FOUND' });
    const serving = await graphql(app, '{ extractionRuns { nodes { status } } }');
    expect(serving.status).toBe(200);
    expect(serving.body.errors).toBeUndefined();
  } finally {
    await app.stop();
  }
});

/** Whether a process with this id exists (signal 0 checks without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('npm start supervises: a SIGKILLed API process is restarted and serves; SIGTERM stops it, then PostgreSQL', async () => {
  const postgresPort = await freePort();
  const supervisor = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/start.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env, DATABASE_URL: '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', SEED_ON_START: 'false',
      EMBEDDED_PG_DIR: path.join(root, 'supervised-pg'), EMBEDDED_PG_PORT: String(postgresPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { lines, exited, next } = childLines(supervisor, 'scripts/start.ts');
  const ask = async (url: string) => (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: '{ apiLimits { maxDepth } }' }) })).status;
  let postgresPid = 0;
  let dataDir = '';
  try {
    const postgres = await next((l) => typeof l.postgresPid === 'number');
    postgresPid = postgres.postgresPid;
    dataDir = postgres.dataDir;
    const first = await next((l) => /^API process \d+ serves at /.test(l.message));
    expect(await ask(first.url)).toBe(200);

    process.kill(first.apiPid, 'SIGKILL');
    const crashed = await next((l) => /ended unexpectedly/.test(l.message));
    expect(crashed.message).toMatch(/ended unexpectedly \(signal SIGKILL.*\); restarting it in \d+ ms \(crash 1 of 5 within 60 s\)/);
    const second = await next((l) => /^API process \d+ serves at /.test(l.message) && l.apiPid !== first.apiPid);
    expect(alive(postgresPid)).toBe(true); // PostgreSQL belongs to the supervisor: it outlived the crash
    expect(await ask(second.url)).toBe(200);

    supervisor.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(lines.some((l) => l.message === 'embedded PostgreSQL stopped')).toBe(true);
    expect(alive(second.apiPid)).toBe(false);
    expect(alive(postgresPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([crashed.message]);
  } finally {
    if (supervisor.exitCode === null) {
      supervisor.kill('SIGKILL');
      await exited;
    }
    if (postgresPid && alive(postgresPid)) process.kill(postgresPid, 'SIGKILL');
    // As root in a private folder the data moved out of `root` (src/db/embedded-placement.ts).
    if (dataDir && !dataDir.startsWith(root)) rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);
