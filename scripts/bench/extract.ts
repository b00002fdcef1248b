// npm run bench:extract — extraction on the TINY TEST BUNDLE (not Stable Diffusion) into a scratch
// database: per-concept time split into text encoder, UNet steps, VAE, pooling and database writes;
// the share of the concept loop's wall time spent outside session.run (target < 10%); peak memory.
// Then writeSummaries alone on SYNTHETIC 768-d float32 vectors (target ≥ 20,000 rows/s).
// Env: BENCH_CONCEPTS (20), BENCH_STEPS (50), BENCH_THREADS (ORT intra-op threads, default ORT's),
// BENCH_SYNTHETIC_ROWS (40000), BENCH_BATCH (2000 rows per writeSummaries call).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli.ts';
import { connectDatabase } from '../../src/db/client.ts';
import { writeSummaries, type SummaryRow } from '../../src/db/summaries.ts';
import { binderWords } from '../../src/demo/tiny-bundle/build.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { gaussian } from '../../src/extraction/random.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { createScratchDatabase } from './api/scratch-database.ts';

const CONCEPTS = Number(process.env.BENCH_CONCEPTS ?? 20);
const STEPS = Number(process.env.BENCH_STEPS ?? 50);
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;
const SYNTHETIC_ROWS = Number(process.env.BENCH_SYNTHETIC_ROWS ?? 40_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 2000);
const DIM = 768;

const log = (line: string) => console.log(line);
const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), 'probe-atlas-bench-extract-'));
  const scratch = await createScratchDatabase(log);
  log(`scratch database: ${scratch.serverDescription}`);
  const db = connectDatabase(scratch.url, { maxConnections: 4 });
  try {
    // Built in a child process so the GloVe scan (a 310 MB file) does not count in this process's peak memory.
    const bundleDir = path.join(work, 'tiny');
    const buildStart = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/build-tiny-bundle.ts'), '--out', bundleDir], { stdio: 'ignore' });
    log(`tiny test bundle (NOT Stable Diffusion): built in ${((performance.now() - buildStart) / 1000).toFixed(2)} s (child process)`);

    const words = binderWords().slice(0, CONCEPTS);
    const dataset = await db.prisma.normsDataset.create({ data: { name: 'bench', version: 1, contentHash: 'bench', citation: 'bench', source: 'bench' } });
    for (const [position, word] of words.entries()) {
      const concept = await db.prisma.concept.upsert({ where: { word }, update: {}, create: { word } });
      await db.prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, position } });
    }

    // ── extraction ──
    let loopStart = 0;
    let loopEnd = 0;
    const started = performance.now();
    const report = await runExtraction({
      db, bundleDir, norms: 'bench', cacheDir: path.join(work, 'cache'), threads: THREADS,
      settings: { steps: STEPS },
      onEvent: (e) => {
        if (e.event === 'start') loopStart = performance.now();
        if (e.event === 'done') loopEnd = performance.now();
      },
    });
    const wall = (performance.now() - started) / 1000;
    const t = report.timings;
    const inRun = t.textEncoder + t.unet + t.vae;
    // Wall time of the concept loop (writes of concept k overlap the inference of concept k+1).
    const loop = (loopEnd - loopStart) / 1000;
    const n = report.conceptsWritten;
    log(`\nextraction: ${n} concepts × ${STEPS} DDIM steps (CFG batch 2), ${report.rowsWritten} summaries, ORT threads ${THREADS ?? 'default'}`);
    log(`  per concept: text encoder ${ms(t.textEncoder / n)}, UNet ${ms(t.unet / n)} (${ms(t.unet / n / STEPS)}/step), VAE ${ms(t.vae / n)}, pooling+guidance+scheduler ${ms(t.pooling / n)}, DB writes ${ms(t.writes / n)} (overlapped with the next concept); loop wall ${ms(loop / n)} per concept`);
    log(`  OUTSIDE session.run: ${pct(1 - inRun / t.pipeline)} of the denoising pipeline (prompt, pooling, guidance, scheduler, NaN checks; target < 10%)`);
    log(`                       ${pct(1 - inRun / loop)} of the concept loop's wall time (adds the database writes' share on the main thread)`);
    log(`  whole command incl. bundle check, tap surgery, session creation: ${wall.toFixed(2)} s (outside session.run: ${pct(1 - inRun / wall)})`);
    log(`  summaries written: ${(report.rowsWritten / t.writes).toFixed(0)} rows/s (${(report.rowsWritten / n).toFixed(0)} rows of ≤ 100 floats per concept, one transaction each)`);

    // ── writeSummaries on synthetic 768-d vectors ──
    const layer = await db.prisma.layer.findFirstOrThrow({ where: { component: { name: 'unet' } } });
    const conceptCount = Math.ceil(SYNTHETIC_ROWS / 1000);
    const conceptIds: number[] = [];
    for (let i = 0; i < conceptCount; i++) conceptIds.push((await db.prisma.concept.create({ data: { word: `synthetic-bench-${i}` } })).id);
    const syntheticBatch = (from: number): SummaryRow[] => Array.from({ length: Math.min(BATCH, SYNTHETIC_ROWS - from) }, (_, k) => {
      const i = from + k;
      return { runId: report.runId, conceptId: conceptIds[Math.floor(i / 1000)]!, layerId: layer.id, timestep: i % 1000, pooling: 'synthetic', vector: gaussian(DIM, i + 1) };
    });
    const client = await db.pool.connect();
    let written = 0;
    let writeSeconds = 0;
    try {
      for (let i = 0; i < SYNTHETIC_ROWS; i += BATCH) {
        const batch = syntheticBatch(i); // generated outside the timed part
        const writeStart = performance.now();
        await client.query('BEGIN');
        written += await writeSummaries(client, batch);
        await client.query('COMMIT');
        writeSeconds += (performance.now() - writeStart) / 1000;
      }
    } finally {
      client.release();
    }
    const first = syntheticBatch(0);
    const again = performance.now();
    const rewritten = await writeSummaries(db.pool, first);
    const againSeconds = (performance.now() - again) / 1000;
    log(`\nwriteSummaries, SYNTHETIC ${DIM}-d float32 vectors: ${written} rows in ${writeSeconds.toFixed(2)} s = ${(written / writeSeconds).toFixed(0)} rows/s (target ≥ 20,000), batches of ${BATCH}`);
    log(`  re-writing ${first.length} existing rows: ${rewritten} inserted (idempotent), ${(first.length / againSeconds).toFixed(0)} rows/s`);
    log(`\npeak RSS of the bench process (extraction + synthetic writes): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    await db.close();
    await scratch.drop();
    rmSync(work, { recursive: true, force: true });
    log('scratch database dropped');
  }
}

runCli('bench:extract', main);
