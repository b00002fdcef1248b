// The extraction measured on the SD-1.5-SIZED benchmark bundle (src/demo/sd15-sized; Stable Diffusion
// 1.5's activation shapes, cheap ops, NOT Stable Diffusion), shared by `npm run bench:extract` (CPU)
// and scripts/bench/gpu.ts (CUDA/WebGPU). One real runExtraction into a scratch database, read two
// ways: the pipeline's own per-component counters (calls, bytes leaving session.run, seconds inside
// it, host seconds outside it) and an independent hook on InferenceSession.prototype.run that counts
// the same bytes and seconds, so the figures do not rest on the code they measure.
import path from 'node:path';
import type { Database } from '../../src/db/client.ts';
import { loadBundle } from '../../src/bundles/bundle.ts';
import { commonDevice, createSession, ort, type Device } from '../../src/bundles/sessions.ts';
import { writeTappedModel } from '../../src/bundles/tapped-model.ts';
import { DEFAULT_TAPS, resolveTaps } from '../../src/bundles/taps.ts';
import { binderWords } from '../../src/demo/tiny-bundle/build.ts';
import { spatialMean } from '../../src/extraction/pooling.ts';
import { gaussian } from '../../src/extraction/random.ts';
import { defaultSettings, Pipeline } from '../../src/extraction/pipeline.ts';
import { runExtraction, type RunReport } from '../../src/extraction/run.ts';

type Component = 'text_encoder' | 'unet' | 'vae_decoder';

export interface SessionCounters {
  calls: number;
  bytes: number;
  seconds: number;
  /** Old way only: seconds the pre-issue-9 JavaScript pooling takes over the full maps returned. */
  jsPoolingSeconds: number;
  /** Host gaps between one call's return and the next call of the same session, with no other session run between (seconds). */
  gaps: number[];
}

export interface Sd15Measurement {
  mode: 'pooled' | 'full maps';
  device: Device;
  report: RunReport;
  concepts: number;
  steps: number;
  batch: number;
  /** runExtraction's whole wall (bundle check, surgery, sessions, loop, writes), seconds. */
  wall: number;
  /** From the run's 'start' to its 'done' event (the concept loop), seconds. */
  loop: number;
  /** The hook's counts per component. */
  hooked: Record<Component, SessionCounters>;
}

const componentOf = (session: ort.InferenceSession): Component =>
  session.inputNames.includes('sample') ? 'unet' : session.inputNames.includes('latent_sample') ? 'vae_decoder' : 'text_encoder';

const emptyCounters = (): Record<Component, SessionCounters> => ({
  text_encoder: { calls: 0, bytes: 0, seconds: 0, jsPoolingSeconds: 0, gaps: [] },
  unet: { calls: 0, bytes: 0, seconds: 0, jsPoolingSeconds: 0, gaps: [] },
  vae_decoder: { calls: 0, bytes: 0, seconds: 0, jsPoolingSeconds: 0, gaps: [] },
});


/**
 * Counts every session.run while `body` runs. With `poolLikeBefore`, each 4-D float32 output other
 * than the network's own is pooled once per batch item the old way, timed apart from session.run.
 */
async function hookRuns<T>(counters: Record<Component, SessionCounters>, poolLikeBefore: boolean, body: () => Promise<T>): Promise<T> {
  // The factory type hides the class; at run time it is the class every session is an instance of.
  const proto = (ort.InferenceSession as unknown as { prototype: { run: (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType> } }).prototype;
  const original = proto.run;
  let last: { session: ort.InferenceSession; end: number } | null = null;
  proto.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
    const into = counters[componentOf(this)];
    const started = performance.now();
    if (last && last.session === this) into.gaps.push((started - last.end) / 1000);
    last = null;
    const out = await original.apply(this, args);
    const ended = performance.now();
    into.seconds += (ended - started) / 1000;
    into.calls += 1;
    for (const value of Object.values(out)) into.bytes += (value.data as ArrayBufferView).byteLength;
    if (poolLikeBefore) {
      const poolStart = performance.now();
      for (const [name, value] of Object.entries(out)) {
        if (name === 'out_sample' || name === 'sample' || value.type !== 'float32' || value.dims.length !== 4) continue;
        // The JavaScript pooling the pipeline did before pooling moved into the graph (spatialMean, still in pooling.ts).
        for (let item = 0; item < value.dims[0]!; item++) spatialMean(value.data as Float32Array, value.dims, item);
      }
      into.jsPoolingSeconds += (performance.now() - poolStart) / 1000;
    }
    // The gap to this session's next call starts when session.run returns, so it holds the old-way pooling too.
    last = { session: this, end: ended };
    return out;
  };
  try {
    return await body();
  } finally {
    proto.run = original;
  }
}

/** A norms dataset of the first `count` Binder words (no ratings: extraction needs only concepts). */
export async function benchDataset(db: Database, name: string, count: number): Promise<string[]> {
  const words = binderWords().slice(0, count);
  const dataset = await db.prisma.normsDataset.create({ data: { name, version: 1, contentHash: name, citation: 'bench', source: 'bench' } });
  for (const [position, word] of words.entries()) {
    const concept = await db.prisma.concept.upsert({ where: { word }, update: {}, create: { word } });
    await db.prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, position } });
  }
  return words;
}

export interface MeasureOptions {
  db: Database;
  bundleDir: string;
  cacheDir: string;
  norms: string;
  device: Device;
  steps: number;
  batch: number;
  fullMaps: boolean;
  /** Distinct seeds give distinct runs (the two modes must not find each other's run complete). */
  seed: number;
  threads?: number;
}

export async function measureExtraction(options: MeasureOptions): Promise<Sd15Measurement> {
  const hooked = emptyCounters();
  let loopStart = 0;
  let loopEnd = 0;
  const started = performance.now();
  const report = await hookRuns(hooked, options.fullMaps, () => runExtraction({
    db: options.db, bundleDir: options.bundleDir, norms: options.norms, cacheDir: options.cacheDir, device: options.device,
    threads: options.threads, batch: options.batch, fullMaps: options.fullMaps,
    settings: { steps: options.steps, seed: options.seed },
    onEvent: (e) => {
      if (e.event === 'start') loopStart = performance.now();
      if (e.event === 'done') loopEnd = performance.now();
      if (e.event === 'warning') console.log(`  warning: ${String(e.message)}`);
    },
  }));
  return {
    mode: options.fullMaps ? 'full maps' : 'pooled', device: report.device, report, concepts: report.conceptsWritten, steps: options.steps, batch: report.batch,
    wall: (performance.now() - started) / 1000, loop: (loopEnd - loopStart) / 1000, hooked,
  };
}

export interface UnetRunTimes {
  device: Device;
  /** Fastest session.run, ms: the bundle's own UNet (nothing tapped: the compute floor), and the tapped graphs the pipeline runs. */
  floor: number;
  pooled: number;
  fullMaps: number;
}

/**
 * The UNet's session.run alone, A/B/C in the same process and on the same feeds: the bundle's own
 * graph (only out_sample leaves), the graph pooled inside (as the pipeline runs it) and the graph
 * that also returns every full map. Calls alternate in rounds and the fastest of each is kept, so a
 * loaded machine disturbs all three alike; full maps − floor is what returning the maps costs inside
 * session.run (the ORT → JS hand-off).
 */
export async function unetRunTimes(bundleDir: string, device: Device, batch: number, rounds: number, cacheDir: string, threads?: number): Promise<UnetRunTimes> {
  const bundle = loadBundle(bundleDir);
  const unet = bundle.components.unet;
  const settings = defaultSettings(bundle);
  const taps = resolveTaps(unet.model.graph!, DEFAULT_TAPS.unet, unet.file);
  const tapped = (fullMaps: boolean) => writeTappedModel({ sourcePath: unet.file, sourceBytes: unet.bytes, model: unet.model, taps, cacheDir, weights: unet.weights, surgery: Pipeline.surgeryFor('unet', settings, fullMaps) });
  const variants = [
    await createSession({ modelPath: unet.file, externalData: [], externalMode: 'none' }, device, { threads }),
    await createSession(tapped(false), device, { threads }),
    await createSession(tapped(true), device, { threads }),
  ];
  try {
    const items = 2 * batch;
    const base: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', gaussian(items * 4 * 64 * 64, 1), [items, 4, 64, 64]),
      timestep: new ort.Tensor('int64', new BigInt64Array([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', gaussian(items * 77 * 768, 2), [items, 77, 768]),
    };
    // Inputs the surgery adds (the guidance scale) get a float32 scalar.
    const feeds = variants.map(({ session }) => Object.fromEntries(session.inputNames.map((name) => [name, base[name] ?? new ort.Tensor('float32', new Float32Array([7.5]), [1])])));
    const best = variants.map(() => Number.POSITIVE_INFINITY);
    for (const [i, { session }] of variants.entries()) await session.run(feeds[i]!);
    for (let round = 0; round < rounds; round++) {
      for (const [i, { session }] of variants.entries()) {
        const t0 = performance.now();
        await session.run(feeds[i]!);
        best[i] = Math.min(best[i]!, performance.now() - t0);
      }
    }
    return { device: commonDevice(variants.map((v) => v.device)), floor: best[0]!, pooled: best[1]!, fullMaps: best[2]! };
  } finally {
    for (const { session } of variants) await session.release();
  }
}

/** The figures a measurement gives, per UNet call and over the run. */
export interface Figures {
  unetCalls: number;
  /** Bytes leaving the UNet's session.run per call: pipeline counter and hook. */
  bytesPerCall: number;
  hookBytesPerCall: number;
  /** Milliseconds inside the UNet's session.run per call (hook). */
  runMsPerCall: number;
  /** Host milliseconds outside session.run per UNet call: the pipeline's UNet host seconds (+ the old JS pooling, full maps). */
  hostMsPerCall: number;
  /** Median host milliseconds between two consecutive UNet calls (the hook's gaps: scheduler, feeds, reading outputs). */
  medianGapMs: number;
  /** The shortest such gap (the least disturbed by other work on the thread, such as the previous concept's writes). */
  minGapMs: number;
  /** Seconds inside any session.run (hook), and the share of wall time outside it. */
  inRun: number;
  outsideShareOfWall: number;
  outsideShareOfLoop: number;
}

export function figures(m: Sd15Measurement): Figures {
  const t = m.report.timings as unknown as Record<string, number>;
  const calls = t.unetCalls ?? m.hooked.unet.calls;
  const inRun = m.hooked.text_encoder.seconds + m.hooked.unet.seconds + m.hooked.vae_decoder.seconds;
  // The old way's JS pooling (full maps) runs in the hook after session.run returns: outside the
  // hook's run seconds, inside the loop's wall, and, since the pipeline times the awaited call, inside
  // the pipeline's run seconds rather than its host seconds; so it is added to the host figure here.
  return {
    unetCalls: calls,
    bytesPerCall: (t.unetOutputBytes ?? Number.NaN) / calls,
    hookBytesPerCall: m.hooked.unet.bytes / m.hooked.unet.calls,
    runMsPerCall: (m.hooked.unet.seconds / m.hooked.unet.calls) * 1000,
    hostMsPerCall: (((t.unetHostSeconds ?? Number.NaN) + m.hooked.unet.jsPoolingSeconds) / calls) * 1000,
    medianGapMs: median(m.hooked.unet.gaps) * 1000,
    minGapMs: (m.hooked.unet.gaps.length ? Math.min(...m.hooked.unet.gaps) : Number.NaN) * 1000,
    inRun,
    outsideShareOfWall: 1 - inRun / m.wall,
    outsideShareOfLoop: 1 - inRun / m.loop,
  };
}

function median(values: readonly number[]): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const kb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} KB`);
export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
