// scripts/bench/gpu.sh runs this: the one-command GPU check. It finds a GPU execution provider that
// really loads (CUDA, else WebGPU; GPU_BENCH_DEVICE=cuda|webgpu forces one), builds the
// SD-1.5-sized benchmark bundle locally (no network at run time), runs a short extraction on that
// provider into a scratch database (a server at DATABASE_URL or 127.0.0.1:5432, else an embedded
// PostgreSQL) and prints it/s, the GPU-idle share (wall outside session.run / wall, and nvidia-smi
// utilisation sampling where present) and the projected wall time of 275 concepts × 50 steps.
// Where no GPU provider loads it says what is missing and how to install it and exits 3: it never
// times the CPU and calls it a GPU figure (a run whose sessions fell back to the CPU is refused too).
// Env: GPU_BENCH_DEVICE (auto), GPU_BENCH_CONCEPTS (8), GPU_BENCH_STEPS (10), GPU_BENCH_BATCH (4).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli.ts';
import { connectDatabase } from '../../src/db/client.ts';
import { DataType, encodeModel } from '../../src/bundles/onnx-model.ts';
import { INSTALL_HINTS, createSession, cudaProviderInstalled, onnxRuntimeLibraryDir, resetUnavailableProviders, type Device } from '../../src/bundles/sessions.ts';
import { buildSd15SizedBundle } from '../../src/demo/sd15-sized/build.ts';
import { GraphBuilder } from '../../src/demo/tiny-bundle/graph-builder.ts';
import { ArgumentError, CodedError } from '../../src/errors.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { benchDataset, figures, kb, measureExtraction, pct } from './sd15-extraction.ts';

type GpuDevice = Exclude<Device, 'cpu'>;

class GpuBenchError extends CodedError<'NO_GPU_PROVIDER' | 'FELL_BACK'> {
  constructor(code: 'NO_GPU_PROVIDER' | 'FELL_BACK', message: string) {
    super(code, 'not-found', message);
  }
}

const CONCEPTS = Number(process.env.GPU_BENCH_CONCEPTS ?? 8);
const STEPS = Number(process.env.GPU_BENCH_STEPS ?? 10);
const BATCH = Number(process.env.GPU_BENCH_BATCH ?? 4);
const log = (line: string) => console.log(line);

function nvidiaSmi(args: string[]): string | null {
  try {
    return execFileSync('nvidia-smi', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

/** Opens a one-node model on `device`; the provider that actually ran and, if it fell back, why. */
async function probe(device: GpuDevice, dir: string): Promise<{ ran: Device; warning?: string }> {
  const g = new GraphBuilder();
  g.one('Relu', [g.input('x', DataType.FLOAT, [4])], {}, 'y');
  g.output('y', DataType.FLOAT, [4]);
  const file = path.join(dir, `probe-${device}.onnx`);
  writeFileSync(file, encodeModel(g.model('probe')));
  const opened = await createSession({ modelPath: file, externalData: [], externalMode: 'none' }, device);
  await opened.session.release();
  return { ran: opened.device, warning: opened.warning };
}

async function chooseDevice(work: string): Promise<GpuDevice> {
  const forced = process.env.GPU_BENCH_DEVICE;
  if (forced !== undefined && forced !== 'cuda' && forced !== 'webgpu') throw new ArgumentError(`GPU_BENCH_DEVICE must be cuda or webgpu, got ${JSON.stringify(forced)}.`);
  const gpu = nvidiaSmi(['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  log(`nvidia-smi: ${gpu ?? 'not found (no NVIDIA driver on this host, or not on PATH)'}`);
  log(`onnxruntime-node CUDA provider libraries in ${onnxRuntimeLibraryDir()}: ${cudaProviderInstalled() ? 'present' : 'MISSING'}`);
  const missing: string[] = [];
  const candidates: GpuDevice[] = forced ? [forced] : ['cuda', 'webgpu'];
  for (const device of candidates) {
    if (device === 'cuda' && !cudaProviderInstalled()) {
      missing.push(`CUDA: the provider libraries (libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so) are not installed; ${INSTALL_HINTS.cuda}.`);
      continue;
    }
    const result = await probe(device, work);
    if (result.ran === device) {
      log(`${device}: a session opened on it`);
      return device;
    }
    missing.push(result.warning ?? `${device}: the session ran on ${result.ran}.`);
  }
  throw new GpuBenchError(
    'NO_GPU_PROVIDER',
    `no GPU execution provider loads on this host, so nothing was timed (a CPU figure is not a GPU figure):\n  - ${missing.join('\n  - ')}\n` +
      'Install one of them (docs/bundles.md "GPU hosts") and run scripts/bench/gpu.sh again; `npm run bench:extract` gives the CPU figures.',
  );
}

/** Samples GPU utilisation every 100 ms while the extraction runs (nvidia-smi's own loop). */
function sampleUtilisation(): { child: ChildProcess | null; samples: number[] } {
  const samples: number[] = [];
  if (nvidiaSmi(['-L']) === null) return { child: null, samples };
  const child = spawn('nvidia-smi', ['--query-gpu=utilization.gpu', '--format=csv,noheader,nounits', '-lms', '100'], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      const value = Number(line.trim().split(',')[0]);
      if (line.trim() && Number.isFinite(value)) samples.push(value);
    }
  });
  return { child, samples };
}

async function main(): Promise<number> {
  const work = mkdtempSync(path.join(tmpdir(), 'probe-atlas-bench-gpu-'));
  try {
    resetUnavailableProviders();
    const device = await chooseDevice(work);
    const built = buildSd15SizedBundle();
    log(`SD-1.5-sized benchmark bundle (NOT Stable Diffusion): ${built.reused ? 'reused' : 'built'} ${built.dir}`);
    const scratch = await createScratchDatabase(log);
    const db = connectDatabase(scratch.url, { maxConnections: 4 });
    try {
      await benchDataset(db, 'bench-gpu', CONCEPTS);
      const common = { db, bundleDir: built.dir, cacheDir: path.join(work, 'cache'), norms: 'bench-gpu', device, batch: BATCH, fullMaps: false };
      // Warm-up (provider initialisation, kernel selection): its own run, not counted.
      await measureExtraction({ ...common, steps: 2, seed: 100 });
      const sampler = sampleUtilisation();
      let m: Awaited<ReturnType<typeof measureExtraction>>;
      try {
        m = await measureExtraction({ ...common, steps: STEPS, seed: 0 });
      } finally {
        sampler.child?.kill('SIGTERM');
      }
      if (m.device !== device) throw new GpuBenchError('FELL_BACK', `the run's sessions ran on ${m.device}, not ${device}; no GPU figure to report.`);
      const f = figures(m);
      const unetCalls = m.hooked.unet.calls;
      const conceptSteps = m.concepts * m.steps;
      const fixed = m.hooked.text_encoder.seconds + m.hooked.vae_decoder.seconds;
      const perConceptStep = (m.loop - fixed) / conceptSteps;
      const projected = 275 * 50 * perConceptStep + (275 * fixed) / m.concepts;
      log(`\n${m.concepts} concepts × ${m.steps} DDIM steps on ${m.device}, ${m.batch} concepts per UNet call (batch ${2 * m.batch} with guidance), VAE at the final step`);
      log(`  it/s (UNet calls per second in the concept loop): ${(unetCalls / m.loop).toFixed(2)}; concept-steps/s: ${(conceptSteps / m.loop).toFixed(2)}`);
      log(`  UNet session.run ${f.runMsPerCall.toFixed(2)} ms/call; host ${f.hostMsPerCall.toFixed(2)} ms/call outside it; ${kb(f.bytesPerCall)} leaving it per call`);
      log(`  GPU-idle share (wall outside session.run / wall): ${pct(f.outsideShareOfLoop)} of the concept loop, ${pct(f.outsideShareOfWall)} of the whole run`);
      if (sampler.samples.length) {
        const mean = sampler.samples.reduce((a, b) => a + b, 0) / sampler.samples.length;
        log(`  nvidia-smi utilization.gpu over the run: mean ${mean.toFixed(0)}%, ${sampler.samples.length} samples at 100 ms`);
      } else {
        log('  nvidia-smi utilisation: not sampled (no nvidia-smi)');
      }
      log(`  projected wall time, 275 concepts × 50 steps: ${projected.toFixed(0)} s = 275 × 50 × ${(perConceptStep * 1000).toFixed(2)} ms per concept-step ` +
        `(loop ${m.loop.toFixed(2)} s − text encoder and VAE ${fixed.toFixed(2)} s, over ${conceptSteps} concept-steps) + 275 × ${(fixed / m.concepts).toFixed(3)} s per concept (text encoder + final-step VAE)`);
      log('  this network has SD 1.5\'s shapes but cheap ops: a real SD 1.5 UNet adds its compute (~1.35 TFLOP per batch-2 call: ~46 s for 275 × 50 at 400 TFLOP/s).');
      return 0;
    } finally {
      await db.close();
      await scratch.drop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

runCli('bench:gpu', main);
