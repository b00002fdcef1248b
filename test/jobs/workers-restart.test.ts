/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Issue 12's last guarantee: PostgreSQL restarting in the middle of a run does not lose it. The
// test's own embedded PostgreSQL (src/db/embedded.ts: its data folder in a temp folder, a free port;
// the shared test server is never restarted) is migrated (applyMigrations: Prisma's schema and
// graphile_worker's), given norms, and a run enqueued for two real worker processes; once they have
// finished a job, the server is stopped (fast shutdown: the transactions in flight are rolled back),
// kept down ~2 s, and started again on the same data folder and port. The same two workers must
// reconnect on their own and complete the run with exactly one summary per key.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { startEmbeddedPostgres, type RunningDatabase } from '../../src/db/embedded.ts';
import { applyMigrations } from '../../src/db/migrate.ts';
import { insertDataset, tempTinyBundle, TEST_WORDS, type TempBundle } from '../extraction/fixtures.ts';
import { anyExited, enqueueWith, extractionRun, freePort, jobsOf, spawnWorker, summaryCounts, until, type WorkerProcess } from './worker-harness.ts';

jest.setTimeout(240_000);

let root: string;
let port: number;
let server: RunningDatabase | undefined;
let db: Database;
let bundle: TempBundle;
const users: (() => Promise<void>)[] = [];
const owner = { using: (stop: () => Promise<void>) => void users.push(stop) };

const WORDS = TEST_WORDS.slice(0, 16);
const STEPS = 25;
const PER_CONCEPT = 6 * 3 + 5 * STEPS + 3;

const start = () => startEmbeddedPostgres({ dataDir: path.join(root, 'data'), port, database: 'probe_atlas', persistent: true });

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-restart-'));
  chmodSync(root, 0o755); // as root, the postgres user runs the server: the data folder stays where it is
  port = await freePort();
  server = await start();
  await applyMigrations(server.url);
  db = connectDatabase(server.url, { maxConnections: 2, onConnectionError: () => {} });
  bundle = tempTinyBundle({ embeddings: 'random' });
  await insertDataset(db.prisma, 'test-norms', TEST_WORDS);
});

afterAll(async () => {
  // The workers first (SIGKILL if still running), then our pool, then the server.
  for (const stop of users.splice(0).reverse()) await stop().catch(() => {});
  await db?.close().catch(() => {});
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
  bundle?.remove();
});

test('PostgreSQL stopped for ~2 s mid-run and started again: both workers reconnect and the run completes exactly', async () => {
  const workers: WorkerProcess[] = [0, 1].map(() => spawnWorker(owner, server!.url, { cacheDir: bundle.cacheDir, visibilityTimeout: 30 }));
  const ids = await Promise.all(workers.map((w) => w.id));
  const planned = await enqueueWith('extract.ts', [
    '--bundle', bundle.dir, '--norms', 'test-norms', '--concepts', WORDS.join(','), '--steps', String(STEPS), '--cache-dir', bundle.cacheDir, '--job-size', '2',
  ], server!.url);
  const runId = Number(planned.runId);
  expect(planned).toMatchObject({ jobs: WORDS.length / 2 });

  // Mid-run: a job is done, most are not.
  await Promise.race(workers.map((w) => w.line('a job-done', (l) => l.event === 'job-done')));
  const before = await jobsOf(db.pool, 'extraction_run_id', runId);
  expect(before.filter((j) => j.status === 'DONE').length).toBeLessThan(before.length - 2);
  await server!.stop();
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // the outage itself, not a wait for something
  // Down: nothing answers on the port.
  await expect(db.pool.query('SELECT 1')).rejects.toThrow();
  server = await start();

  // A worker that died (rather than reconnecting) ends the wait at once, with its stderr.
  const run = await until('the run to complete after the restart', () => extractionRun(db.pool, runId), (r) => r.status === 'COMPLETED' || r.status === 'FAILED', 180_000, () => anyExited(workers));
  expect(run).toMatchObject({ status: 'COMPLETED', done_count: WORDS.length, planned_count: WORDS.length, error: null });
  expect(await summaryCounts(db.pool, runId)).toEqual({ rows: WORDS.length * PER_CONCEPT, keys: WORDS.length * PER_CONCEPT, concepts: WORDS.length });
  const jobs = await jobsOf(db.pool, 'extraction_run_id', runId);
  expect(jobs.map((j) => [j.status, j.units_done])).toEqual(jobs.map(() => ['DONE', 2]));
  expect(jobs.every((j) => ids.includes(j.worker_id!))).toBe(true);

  // The same processes lived through it (nothing restarted them), and stop cleanly now.
  expect(workers.map((w) => w.child.exitCode)).toEqual([null, null]);
  for (const w of workers) w.child.kill('SIGTERM');
  expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0]);
  const rows = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM worker WHERE id = ANY($1) AND stopped_at IS NOT NULL', [ids]);
  expect(rows.rows[0]!.n).toBe(2);
});
