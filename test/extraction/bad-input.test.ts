/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Bad bundle and taps input is refused before anything is written: a scheduler that cannot give the
// requested steps, a steps_offset past the training range, a string where a list of scopes belongs,
// an unknown taps component, a tap that is not floating point, truncated external weights. Through runExtraction and through the CLI
// (exit 2, the file and field named), with every extraction table and sequence unchanged.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { BundleError } from '../../src/bundles/errors.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { tableSnapshot } from '../support/snapshot.ts';
import { insertDataset, tempTinyBundle, type TempBundle } from './fixtures.ts';

const TABLES = ['model', 'component', 'layer', 'extraction_run', 'activation_summary'] as const;

let db: TestDatabase;
let tiny: TempBundle;
let work: string;

beforeAll(async () => {
  db = await createTestDatabase();
  tiny = tempTinyBundle({ embeddings: 'random' });
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-bad-input-'));
  await insertDataset(db.prisma, 'bad-norms', ['dog', 'hammer']);
});
afterAll(async () => {
  await db?.drop();
  tiny?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function snapshot(): Promise<unknown> {
  const sequences = await db.pool.query('SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename');
  return { tables: await tableSnapshot(db.pool, TABLES), sequences: sequences.rows };
}

let counter = 0;
function bundleWith(edit: (dir: string) => void): string {
  const dir = path.join(work, `b${counter++}`);
  cpSync(tiny.dir, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editScheduler(fields: Record<string, unknown>): string {
  return bundleWith((dir) => {
    const file = path.join(dir, 'scheduler', 'scheduler_config.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...fields }));
  });
}

const truncatedWeights = () => bundleWith((dir) => {
  const file = path.join(dir, 'unet', 'model.onnx_data');
  truncateSync(file, Math.floor(statSync(file).size / 2));
});

const CASES: { name: string; bundle: () => string; taps?: unknown; steps?: number; error: RegExp }[] = [
  { name: 'num_train_timesteps 10 at 50 steps', bundle: () => editScheduler({ num_train_timesteps: 10 }), steps: 50, error: /scheduler\/scheduler_config\.json: "num_train_timesteps" 10 is fewer than the 50 inference steps/ },
  { name: 'steps_offset 5000', bundle: () => editScheduler({ steps_offset: 5000 }), steps: 2, error: /scheduler\/scheduler_config\.json: "steps_offset" 5000 must be below "num_train_timesteps" 1000/ },
  { name: 'scopes given as a string', bundle: () => tiny.dir, taps: { unet: { scopes: '/mid_block/' } }, steps: 2, error: /"unet\.scopes" must be an array of strings, got "\/mid_block\/"/ },
  { name: 'an unknown taps component', bundle: () => tiny.dir, taps: { unte: { scopes: ['/mid_block/'] } }, steps: 2, error: /"unte" is not a component \(known: text_encoder, unet, vae_decoder\)/ },
  { name: 'a tap whose element type cannot be read as float32 (int64)', bundle: () => tiny.dir, taps: { unet: { tensors: ['/mid_block/attentions.0/Shape_output_0'] } }, steps: 2, error: /unet\/model\.onnx: tap "\/mid_block\/attentions\.0\/Shape_output_0" \(tensor "\/mid_block\/attentions\.0\/Shape_output_0"\) is int64, which cannot be read as float32 activations/ },
  { name: 'truncated external weights', bundle: truncatedWeights, steps: 2, error: /unet\/model\.onnx_data is truncated .*tensor "[^"]+" needs bytes/ },
];

test.each(CASES)('runExtraction refuses $name with a BundleError; the database is unchanged', async ({ bundle, taps, steps, error }) => {
  const before = await snapshot();
  const promise = runExtraction({ db, bundleDir: bundle(), norms: 'bad-norms', cacheDir: path.join(work, 'cache'), concepts: ['dog'], settings: { steps, vae: false }, taps: taps as never });
  await expect(promise).rejects.toBeInstanceOf(BundleError);
  await expect(promise).rejects.toThrow(error);
  expect(await snapshot()).toEqual(before);
});

function extract(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/extract.ts'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('the extract CLI exits 2 for each, naming the file and field, and writes nothing', async () => {
  const before = await snapshot();
  for (const { bundle, taps, steps, error } of CASES) {
    const args = ['--bundle', bundle(), '--norms', 'bad-norms', '--concepts', 'dog', '--no-vae', '--json', '--cache-dir', path.join(work, 'cli-cache'), '--steps', String(steps)];
    if (taps) {
      const file = path.join(work, `taps-${counter++}.json`);
      writeFileSync(file, JSON.stringify(taps));
      args.push('--taps', file);
    }
    const outcome = await extract(args);
    expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(error) });
    expect(outcome.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
  }
  expect(await snapshot()).toEqual(before);
});
