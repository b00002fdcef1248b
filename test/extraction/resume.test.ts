/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Kill-and-resume through the real CLI: SIGKILL a batched extract process right after its first concept
// is committed (mid-batch: the batch's other concepts are still being written), start it again, and
// check the run ends COMPLETED with exactly one row per summary, each equal to a batch-1 extraction's.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { defaultSettings, Pipeline } from '../../src/extraction/pipeline.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { insertDataset, tempTinyBundle, TEST_WORDS, type TempBundle } from './fixtures.ts';

let db: TestDatabase;
let bundle: TempBundle;
const WORDS = TEST_WORDS.slice(0, 20);
const STEPS = 12;

beforeAll(async () => {
  db = await createTestDatabase();
  bundle = tempTinyBundle({ embeddings: 'random' });
  await insertDataset(db.prisma, 'resume-norms', WORDS);
});

afterAll(async () => {
  await db?.drop();
  bundle?.remove();
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Record<string, unknown>[];
  stderr: string;
}

/** Runs the CLI; when `killAfterFirstConcept`, sends `signal` (SIGKILL) as soon as it reports a committed concept. */
function extract(args: string[], killAfterFirstConcept: boolean, signal: NodeJS.Signals = 'SIGKILL'): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/extract.ts'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: Record<string, unknown>[] = [];
    let buffered = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const event = JSON.parse(line) as Record<string, unknown>;
        events.push(event);
        if (killAfterFirstConcept && event.event === 'concept' && !child.killed) child.kill(signal);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, events, stderr }));
  });
}

test('a SIGKILLed batched run resumes where it stopped and ends with exactly one row per summary, each equal to batch 1', async () => {
  const args = ['--bundle', bundle.dir, '--norms', 'resume-norms', '--steps', String(STEPS), '--cache-dir', bundle.cacheDir, '--device', 'cuda', '--no-vae', '--batch', '3'];
  const first = await extract(args, true);
  expect(first.signal).toBe('SIGKILL');
  // No GPU can exist on this machine: the CUDA request must fall back to the CPU with a warning.
  expect(first.events.find((e) => e.event === 'warning')?.message).toMatch(/CUDA was requested but is unavailable.*running on the CPU/);
  expect(first.events.find((e) => e.event === 'start')).toMatchObject({ device: 'cpu', skipped: 0, todo: WORDS.length, batch: 3 });

  const run = await db.prisma.extractionRun.findFirstOrThrow();
  expect(run.status).toBe('RUNNING');
  const committed = await db.pool.query<{ n: string }>('SELECT count(DISTINCT concept_id) AS n FROM activation_summary WHERE run_id = $1', [run.id]);
  const committedConcepts = Number(committed.rows[0]!.n);
  expect(committedConcepts).toBeGreaterThanOrEqual(1);
  expect(committedConcepts).toBeLessThan(WORDS.length);

  const second = await extract(args, false);
  expect(second.code).toBe(0);
  expect(second.events.find((e) => e.event === 'start')).toMatchObject({ skipped: committedConcepts, todo: WORDS.length - committedConcepts });

  const finished = await db.prisma.extractionRun.findUniqueOrThrow({ where: { id: run.id } });
  expect(finished).toMatchObject({ status: 'COMPLETED', doneCount: WORDS.length, plannedCount: WORDS.length, error: null });
  const perConcept = 6 * 3 + 5 * STEPS; // text layers × poolings + UNet layers × timesteps
  const rows = await db.pool.query<{ concepts: string; total: string; distinct_keys: string }>(
    `SELECT count(DISTINCT concept_id) AS concepts, count(*) AS total,
            count(DISTINCT (concept_id, layer_id, coalesce(timestep, -1), pooling)) AS distinct_keys
     FROM activation_summary WHERE run_id = $1`, [run.id]);
  expect(rows.rows[0]).toEqual({ concepts: String(WORDS.length), total: String(WORDS.length * perConcept), distinct_keys: String(WORDS.length * perConcept) });
  const incomplete = await db.pool.query('SELECT concept_id FROM activation_summary WHERE run_id = $1 GROUP BY concept_id HAVING count(*) <> $2', [run.id, perConcept]);
  expect(incomplete.rows).toEqual([]);

  // Exactly what an uninterrupted batch-1 run computes: the first concept (killed session), one the
  // killed batch may have left unwritten, and the last (resumed session, in a short final batch).
  const tiny = loadBundle(bundle.dir);
  const pipeline = await Pipeline.open({ bundle: tiny, settings: { ...defaultSettings(tiny), steps: STEPS, vae: 'none' }, device: 'cpu', cacheDir: bundle.cacheDir, batch: 1 });
  try {
    for (const word of [WORDS[0]!, WORDS[2]!, WORDS[WORDS.length - 1]!]) {
      const expected = await pipeline.extractConcept(word);
      const stored = await db.pool.query<{ layer: string; component: string; timestep: number | null; pooling: string; vector: Buffer }>(
        `SELECT l.name AS layer, co.name AS component, s.timestep, s.pooling, s.vector FROM activation_summary s
         JOIN layer l ON l.id = s.layer_id JOIN component co ON co.id = l.component_id JOIN concept c ON c.id = s.concept_id
         WHERE s.run_id = $1 AND c.word = $2`, [run.id, word]);
      expect(stored.rows).toHaveLength(expected.summaries.length);
      let worst = 0;
      for (const summary of expected.summaries) {
        const row = stored.rows.find((r) => r.component === summary.component && r.layer === summary.layer && r.timestep === summary.timestep && r.pooling === summary.pooling)!;
        const vector = new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.vector.byteLength));
        const scale = Math.max(...Array.from(summary.vector, Math.abs));
        for (let i = 0; i < vector.length; i++) worst = Math.max(worst, Math.abs(vector[i]! - summary.vector[i]!) / scale);
      }
      expect([word, worst <= 1e-5]).toEqual([word, true]);
    }
  } finally {
    await pipeline.release();
  }
}, 300_000);

test('bad arguments exit with code 2 and name the argument', async () => {
  const outcome = await extract(['--bundle', bundle.dir, '--norms', 'resume-norms', '--steps', 'many'], false);
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).toMatch(/--steps must be an integer from 1 to 1000, got "many"/);
  const vae = await extract(['--bundle', bundle.dir, '--norms', 'resume-norms', '--vae', 'sometimes'], false);
  expect({ code: vae.code, stderr: vae.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/--vae must be final, all, none or a list of recorded timesteps, got "sometimes"/) });
  const poolings = await extract(['--bundle', bundle.dir, '--norms', 'resume-norms', '--text-poolings', 'eot,last'], false);
  expect({ code: poolings.code, stderr: poolings.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/--text-poolings: unknown "last" \(known: eot, mean, concept, concept_last, sequence_mean\)/) });
  const batch = await extract(['--bundle', bundle.dir, '--norms', 'resume-norms', '--batch', '0'], false);
  expect({ code: batch.code, stderr: batch.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/--batch must be an integer from 1 to 1024, got "0"/) });
});

test('--text-only: a text-encoder-only run (no UNet or VAE step) with the new poolings, its own identity', async () => {
  const args = ['--bundle', bundle.dir, '--norms', 'resume-norms', '--cache-dir', bundle.cacheDir, '--text-only', '--text-poolings', 'concept_last,sequence_mean,eot', '--concepts', 'hammer,dog', '--json'];
  const outcome = await extract(args, false);
  expect(outcome.code).toBe(0);
  expect(outcome.events.find((e) => e.event === 'batch')).toMatchObject({ size: 2, textEncoderCalls: 1, unetCalls: 0, vaeCalls: 0 });
  const run = await db.prisma.extractionRun.findFirstOrThrow({ where: { settings: { path: ['settings', 'components'], equals: 'text_encoder' } } });
  expect(run.status).toBe('COMPLETED');
  const rows = await db.pool.query<{ component: string; pooling: string; n: number }>(
    `SELECT co.name AS component, s.pooling, count(*)::int AS n FROM activation_summary s JOIN layer l ON l.id = s.layer_id
     JOIN component co ON co.id = l.component_id WHERE s.run_id = $1 GROUP BY co.name, s.pooling ORDER BY s.pooling`, [run.id]);
  expect(rows.rows).toEqual(['concept_last', 'eot', 'sequence_mean'].map((pooling) => ({ component: 'text_encoder', pooling, n: 2 * 6 })));
});

test('SIGINT stops after the batch in flight: exit 130, run FAILED "interrupted"; duplicate --concepts count once', async () => {
  const args = ['--bundle', bundle.dir, '--norms', 'resume-norms@1', '--steps', '2', '--cache-dir', bundle.cacheDir, '--no-vae', '--seed', '3', '--batch', '2',
    '--concepts', 'hammer,dog,hammer,banana,apricot,dog,elephant'];
  const outcome = await extract(args, true, 'SIGINT');
  expect(outcome.code).toBe(130);
  expect(outcome.stderr).toMatch(/interrupted; re-run to resume/);
  expect(outcome.events.find((e) => e.event === 'start')).toMatchObject({ concepts: 5, todo: 5 });
  const run = await db.prisma.extractionRun.findFirstOrThrow({ where: { seed: 3 } });
  expect(run).toMatchObject({ status: 'FAILED', error: 'interrupted; re-run to resume', plannedCount: 5 });
  const stored = await db.pool.query<{ n: number }>('SELECT count(DISTINCT concept_id)::int AS n FROM activation_summary WHERE run_id = $1', [run.id]);
  expect(run.doneCount).toBe(stored.rows[0]!.n);
  expect(run.doneCount).toBeLessThan(5);
});
