// npm run bench:extract — the extraction on the SD-1.5-SIZED benchmark bundle (src/demo/sd15-sized:
// Stable Diffusion 1.5's activation shapes, cheap ops, NOT Stable Diffusion) into a scratch database,
// twice in the same run: pooled inside the graph (today) and with every tap's full map returned and
// pooled in JavaScript (the old way, the peer). Per UNet call: bytes leaving session.run (target
// ≤ 100 KB, from ~50 MB), host milliseconds outside session.run (target ≤ 1 ms, from ~49 ms), and
// the share of the whole run's wall time outside session.run; then the UNet's session.run alone,
// untapped (the compute floor), pooled and with full maps, alternating on the same feeds. Then
// writeSummaries alone on SYNTHETIC 768-d float32 vectors (target ≥ 20,000 rows/s). BENCH_TINY=1
// adds the tiny bundle's figures.
// Env: BENCH_CONCEPTS (2), BENCH_STEPS (4), BENCH_CONCEPT_BATCH (concepts per UNet call, 1: the
// issue's batch-2 figures), BENCH_THREADS (ORT intra-op threads, default ORT's), BENCH_DEVICE (cpu),
// BENCH_SYNTHETIC_ROWS (40000), BENCH_WRITE_BATCH (2000 rows per writeSummaries call).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli.ts';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { writeSummaries, type SummaryRow } from '../../src/db/summaries.ts';
import { isDevice } from '../../src/bundles/sessions.ts';
import { buildSd15SizedBundle } from '../../src/demo/sd15-sized/build.ts';
import { binderWords } from '../../src/demo/tiny-bundle/build.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { ArgumentError } from '../../src/errors.ts';
import { gaussian } from '../../src/extraction/random.ts';
import { runExtraction } from '../../src/extraction/run.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { benchDataset, figures, kb, measureExtraction, pct, unetRunTimes } from './sd15-extraction.ts';

const CONCEPTS = Number(process.env.BENCH_CONCEPTS ?? 2);
const STEPS = Number(process.env.BENCH_STEPS ?? 4);
const CONCEPT_BATCH = Number(process.env.BENCH_CONCEPT_BATCH ?? 1);
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;
const DEVICE = process.env.BENCH_DEVICE ?? 'cpu';
const SYNTHETIC_ROWS = Number(process.env.BENCH_SYNTHETIC_ROWS ?? 40_000);
const BATCH = Number(process.env.BENCH_WRITE_BATCH ?? 2000);
const DIM = 768;

const log = (line: string) => console.log(line);
const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;

async function sd15Section(db: Database, work: string): Promise<void> {
  if (!isDevice(DEVICE)) throw new ArgumentError(`BENCH_DEVICE must be cpu, cuda or webgpu, got ${JSON.stringify(DEVICE)}.`);
  const built = buildSd15SizedBundle();
  log(`SD-1.5-sized benchmark bundle (NOT Stable Diffusion: SD 1.5's activation shapes, cheap ops): ${built.reused ? 'reused' : 'built'} ${built.dir} (${kb(built.bytes)}, ${built.seconds.toFixed(2)} s)`);
  await benchDataset(db, 'bench-sd15', CONCEPTS);
  const common = { db, bundleDir: built.dir, cacheDir: path.join(work, 'cache'), norms: 'bench-sd15', device: DEVICE, steps: STEPS, batch: CONCEPT_BATCH, threads: THREADS };
  const pooled = await measureExtraction({ ...common, fullMaps: false, seed: 0 });
  const full = await measureExtraction({ ...common, fullMaps: true, seed: 1 });
  const alone = await unetRunTimes(built.dir, DEVICE, pooled.batch, 5, path.join(work, 'ab-cache'), THREADS);
  const p = figures(pooled);
  const f = figures(full);
  log(`\n${pooled.concepts} concepts × ${STEPS} DDIM steps, ${pooled.batch} concept(s) per UNet call (batch ${2 * pooled.batch} with guidance), device ${pooled.device}, ORT threads ${THREADS ?? 'default'}; VAE at the final step`);
  log('                                          pooled in the graph    full maps (old way)   target');
  const row = (label: string, a: string, b: string, target = '') => log(`  ${label.padEnd(40)}${a.padStart(20)}${b.padStart(22)}   ${target}`);
  row('bytes leaving the UNet session.run/call', kb(p.bytesPerCall), kb(f.bytesPerCall), '≤ 100 KB');
  row('  (same, counted by the run hook)', kb(p.hookBytesPerCall), kb(f.hookBytesPerCall));
  row('host ms outside session.run per UNet call', p.hostMsPerCall.toFixed(2), f.hostMsPerCall.toFixed(2), '≤ 1 ms (full maps: incl. JS pooling)');
  row('  median gap between UNet calls (hook), ms', p.medianGapMs.toFixed(2), f.medianGapMs.toFixed(2), '(full maps: incl. JS pooling)');
  row('  shortest gap between UNet calls, ms', p.minGapMs.toFixed(2), f.minGapMs.toFixed(2));
  row('ms inside the UNet session.run per call', p.runMsPerCall.toFixed(1), f.runMsPerCall.toFixed(1));
  row('UNet session.run alone, fastest of 5 (ms)', alone.pooled.toFixed(1), alone.fullMaps.toFixed(1), `floor ${alone.floor.toFixed(1)} (nothing tapped)`);
  row('  hand-off above the floor (ms)', (alone.pooled - alone.floor).toFixed(1), (alone.fullMaps - alone.floor).toFixed(1));
  row('wall outside session.run, whole run', pct(p.outsideShareOfWall), pct(f.outsideShareOfWall));
  row('wall outside session.run, concept loop', pct(p.outsideShareOfLoop), pct(f.outsideShareOfLoop));
  row('whole run wall', `${pooled.wall.toFixed(2)} s`, `${full.wall.toFixed(2)} s`);
  const vaeBytes = (m: typeof pooled) => m.hooked.vae_decoder.bytes / Math.max(1, m.hooked.vae_decoder.calls);
  row('bytes leaving the VAE session.run/call', kb(vaeBytes(pooled)), kb(vaeBytes(full)), '(~580 MB old way)');
  log(`  ratios: bytes/call ${(f.bytesPerCall / p.bytesPerCall).toFixed(0)}× fewer; host ms/call ${(f.hostMsPerCall / p.hostMsPerCall).toFixed(0)}× less`);
  const check = (m: ReturnType<typeof figures>, mode: string) => {
    if (Math.abs(m.bytesPerCall - m.hookBytesPerCall) > 0.01 * m.hookBytesPerCall) log(`  NOTE (${mode}): the pipeline's byte counter and the hook differ by more than 1%.`);
  };
  check(p, 'pooled');
  check(f, 'full maps');
}

async function tinySection(db: Database, work: string): Promise<void> {
  // Built in a child process so the GloVe scan (a 310 MB file) does not count in this process's peak memory.
  const bundleDir = path.join(work, 'tiny');
  execFileSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/build-tiny-bundle.ts'), '--out', bundleDir], { stdio: 'ignore' });
  const words = binderWords().slice(0, 20);
  const dataset = await db.prisma.normsDataset.create({ data: { name: 'bench', version: 1, contentHash: 'bench', citation: 'bench', source: 'bench' } });
  for (const [position, word] of words.entries()) {
    const concept = await db.prisma.concept.upsert({ where: { word }, update: {}, create: { word } });
    await db.prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, position } });
  }
  const report = await runExtraction({ db, bundleDir, norms: 'bench', cacheDir: path.join(work, 'cache'), threads: THREADS, settings: { steps: 50 } });
  const t = report.timings;
  const n = report.conceptsWritten;
  log(`\ntiny test bundle (NOT Stable Diffusion): ${n} concepts × 50 steps: text encoder ${ms(t.textEncoder / n)}, UNet ${ms(t.unet / n)}, VAE ${ms(t.vae / n)}, host ${ms(t.pooling / n)} per concept; outside session.run ${pct(1 - (t.textEncoder + t.unet + t.vae) / t.wall)} of the run's wall`);
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), 'probe-atlas-bench-extract-'));
  const scratch = await createScratchDatabase(log);
  log(`scratch database: ${scratch.serverDescription}`);
  const db = connectDatabase(scratch.url, { maxConnections: 4 });
  try {
    await sd15Section(db, work);
    if (process.env.BENCH_TINY === '1') await tinySection(db, work);
    const run = await db.prisma.extractionRun.findFirstOrThrow({ orderBy: { id: 'asc' } });

    // ── writeSummaries on synthetic 768-d vectors ──
    const layer = await db.prisma.layer.findFirstOrThrow({ where: { component: { name: 'unet' } } });
    const conceptCount = Math.ceil(SYNTHETIC_ROWS / 1000);
    const conceptIds: number[] = [];
    for (let i = 0; i < conceptCount; i++) conceptIds.push((await db.prisma.concept.create({ data: { word: `synthetic-bench-${i}` } })).id);
    const syntheticBatch = (from: number): SummaryRow[] => Array.from({ length: Math.min(BATCH, SYNTHETIC_ROWS - from) }, (_, k) => {
      const i = from + k;
      return { runId: run.id, conceptId: conceptIds[Math.floor(i / 1000)]!, layerId: layer.id, timestep: i % 1000, pooling: 'synthetic', vector: gaussian(DIM, i + 1) };
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
