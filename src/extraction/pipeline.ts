// The denoising loop, batched: k concepts → prompts → ONE text-encoder call → N DDIM steps of the UNet
// on [u1..uk, c1..ck] (classifier-free guidance combined inside the graph) → the VAE decoder at the
// steps asked for (the final recorded one by default). Every tap is pooled inside the graph
// (src/bundles/tapped-model.ts), so session.run hands back pooled float32 vectors, never full maps
// (unless asked for). Counts what leaves session.run and the time in and out of it, per component,
// for the benchmark. Pure of any database.
import type { Bundle } from '../bundles/bundle.ts';
import type { DigestCache } from '../bundles/file-digest.ts';
import { commonDevice, createSession, ort, type Device } from '../bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName, type Tap, type TapConfig } from '../bundles/taps.ts';
import { writeTappedModel, type PoolingSurgery, type SurgeryNames } from '../bundles/tapped-model.ts';
import { conceptWord } from '../norms/concept-word.ts';
import { TEXT_POOLINGS, firstNonFinite, poolingWeights, type Pooling, type SpatialPooling, type TextPooling } from './pooling.ts';
import { DEFAULT_TEMPLATE, renderPrompt } from './prompt.ts';
import { conceptSeed, gaussian } from './random.ts';
import { DdimScheduler, ddimConfigFrom } from './scheduler.ts';
import { CodedError, type ErrorKind } from '../errors.ts';
import type { NormsErrorCode } from '../norms/errors.ts';

/**
 * EMPTY_CONCEPT is the norms' code (src/norms/errors.ts), defined there once: a concept that leaves
 * nothing to extract, whether its name is empty in a CSV or it tokenises to nothing in a prompt.
 * RUN_LOCKED and INTERRUPTED belong to the run lifecycle (src/runs/errors.ts).
 */
export type ExtractionErrorCode = 'NON_FINITE' | Extract<NormsErrorCode, 'EMPTY_CONCEPT'> | 'BAD_SETTINGS';

const KINDS: Record<ExtractionErrorCode, ErrorKind> = {
  NON_FINITE: 'failed',
  EMPTY_CONCEPT: 'bad-input',
  BAD_SETTINGS: 'bad-input',
};

export class ExtractionError extends CodedError<ExtractionErrorCode> {
  constructor(code: ExtractionErrorCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}

/** When the VAE decodes: at the final recorded step, at every recorded step, never, or at these timesteps. */
export type VaeMode = 'final' | 'all' | 'none' | number[];

/** Which components run: the whole pipeline, or the text encoder alone (no UNet step at all). */
export type ComponentSelection = 'all' | 'text_encoder';

export interface ExtractionSettings {
  steps: number;
  /** Timestep values to record (must belong to the schedule); null = every step. */
  timesteps: number[] | null;
  guidanceScale: number;
  seed: number;
  template: string;
  /** Latent height = width (the UNet config's sample_size by default). */
  latentSize: number;
  textPoolings: TextPooling[];
  spatialPoolings: SpatialPooling[];
  /** When the VAE decoder runs (on the latents after a recorded step); true/false: former spellings of 'all'/'none'. */
  vae: VaeMode | boolean;
  components: ComponentSelection;
}

export interface ComponentRuntime {
  name: ComponentName;
  session: ort.InferenceSession;
  taps: Tap[];
  device: Device;
  /** What the tapped graph takes and returns (pooled outputs, the pooling-weights and guidance inputs). */
  names: SurgeryNames;
}

export interface Summary {
  component: ComponentName;
  layer: string;
  timestep: number | null;
  pooling: Pooling;
  vector: Float32Array;
}

/**
 * One component's share of the work (stable names: the benchmark reads them): session.run calls,
 * bytes of the output tensors leaving session.run, seconds inside session.run, host seconds outside it
 * (feeds, reading outputs, the scheduler, checks).
 */
export interface ComponentStats {
  calls: number;
  outputBytes: number;
  runSeconds: number;
  hostSeconds: number;
}

export interface StageTimings {
  /** Seconds inside the text encoder's / UNet's / VAE's session.run. */
  textEncoder: number;
  unet: number;
  vae: number;
  /** Host seconds outside session.run (pooling reads, feeds, scheduler, checks). */
  pooling: number;
  /** Wall time, seconds. */
  total: number;
  components: Record<ComponentName, ComponentStats>;
}

export interface ConceptResult {
  /** The concept key (`bat_(animal)`), as stored. */
  word: string;
  prompt: string;
  summaries: Summary[];
  /** Per tapped layer, the tensor shape for one prompt (batch axis dropped). */
  shapes: Map<string, number[]>;
  /** This concept's share of its batch (the batch's timings divided by its size). */
  timings: StageTimings;
}

/** Inspection of each DDIM step (tests): the guided model output and the k latents before and after it. */
export type StepObserver = (step: { timestep: number; batch: number; noise: Float32Array; before: Float32Array; after: Float32Array }) => void;

export interface BatchResult {
  concepts: ConceptResult[];
  /** The whole batch's timings. */
  timings: StageTimings;
}

export function layerKey(component: ComponentName, layer: string): string {
  return `${component}/${layer}`;
}

const COMPONENTS: ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];
const STAT_PREFIX: Record<ComponentName, string> = { text_encoder: 'textEncoder', unet: 'unet', vae_decoder: 'vae' };

/** Components a selection runs. */
export function selectedComponents(selection: ComponentSelection): ComponentName[] {
  return selection === 'text_encoder' ? ['text_encoder'] : COMPONENTS;
}

export function emptyTimings(): StageTimings {
  const stats = (): ComponentStats => ({ calls: 0, outputBytes: 0, runSeconds: 0, hostSeconds: 0 });
  return { textEncoder: 0, unet: 0, vae: 0, pooling: 0, total: 0, components: { text_encoder: stats(), unet: stats(), vae_decoder: stats() } };
}

/** `into += from × scale`, field by field. */
export function addStageTimings(into: StageTimings, from: StageTimings, scale = 1): void {
  for (const key of ['textEncoder', 'unet', 'vae', 'pooling', 'total'] as const) into[key] += from[key] * scale;
  for (const name of COMPONENTS) {
    for (const key of ['calls', 'outputBytes', 'runSeconds', 'hostSeconds'] as const) into.components[name][key] += from.components[name][key] * scale;
  }
}

/** The per-component counters as flat, stable keys (`unetCalls`, `unetOutputBytes`, `unetRunSeconds`, `unetHostSeconds`, …). */
export function flatComponentStats(timings: StageTimings): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of COMPONENTS) {
    const stats = timings.components[name];
    const prefix = STAT_PREFIX[name];
    out[`${prefix}Calls`] = stats.calls;
    out[`${prefix}OutputBytes`] = stats.outputBytes;
    out[`${prefix}RunSeconds`] = stats.runSeconds;
    out[`${prefix}HostSeconds`] = stats.hostSeconds;
  }
  return out;
}

/** Settings in their one spelling (vae true/false → 'all'/'none'), so equal settings hash equally. */
export function normalizeSettings(settings: ExtractionSettings): ExtractionSettings & { vae: VaeMode } {
  const vae = settings.vae === true ? 'all' : settings.vae === false ? 'none' : settings.vae;
  return { ...settings, vae: Array.isArray(vae) ? [...new Set(vae)].sort((a, b) => b - a) : vae };
}

/** The timesteps the VAE decodes at, in schedule order. */
export function vaeTimesteps(modeOrFlag: VaeMode | boolean, recorded: readonly number[]): number[] {
  const mode = modeOrFlag === true ? 'all' : modeOrFlag === false ? 'none' : modeOrFlag;
  if (mode === 'none') return [];
  if (mode === 'all') return [...recorded];
  if (mode === 'final') return recorded.length ? [recorded[recorded.length - 1]!] : [];
  return recorded.filter((t) => mode.includes(t));
}

export interface OpenOptions {
  bundle: Bundle;
  settings: ExtractionSettings;
  device: Device;
  cacheDir: string;
  taps?: TapConfig;
  threads?: number;
  digests?: DigestCache;
  /** Concepts per UNet call (each as unconditional + conditional); null = the default (or what a fixed batch axis allows). */
  batch?: number | null;
  /** Also return every tap's full map from session.run (counted in outputBytes; nothing stores them). */
  fullMaps?: boolean;
}

/** The default number of concepts per UNet call. */
export const DEFAULT_BATCH = 4;

/** A fixed batch size a graph input declares, or null when its batch axis is dynamic. */
function fixedBatch(bundle: Bundle, component: ComponentName, input: string): number | null {
  const size = bundle.components[component].inputs.find((i) => i.name === input)?.dims?.[0];
  return typeof size === 'number' ? size : null;
}

/** Whether either UNet input that carries the batch (`sample`, `encoder_hidden_states`) has a fixed batch axis (batchFor checks they agree). */
function unetHasFixedBatch(bundle: Bundle): boolean {
  return fixedBatch(bundle, 'unet', 'sample') !== null || fixedBatch(bundle, 'unet', 'encoder_hidden_states') !== null;
}

/**
 * The batch a run uses: `requested` (default DEFAULT_BATCH), or what a UNet with a fixed batch axis
 * allows (its batch holds k unconditional and k conditional items); a request it cannot run is refused.
 */
export function batchFor(bundle: Bundle, settings: ExtractionSettings, requested: number | null | undefined): number {
  if (requested !== null && requested !== undefined && !(Number.isInteger(requested) && requested >= 1)) {
    throw new ExtractionError('BAD_SETTINGS', `--batch must be a positive integer, got ${JSON.stringify(requested)}.`);
  }
  if (settings.components === 'text_encoder') return requested ?? DEFAULT_BATCH;
  const file = bundle.components.unet.file;
  const sample = fixedBatch(bundle, 'unet', 'sample');
  const context = fixedBatch(bundle, 'unet', 'encoder_hidden_states');
  if (sample === null && context === null) return requested ?? DEFAULT_BATCH;
  if (sample !== null && context !== null && sample !== context) {
    throw new ExtractionError('BAD_SETTINGS', `${file}: graph inputs "sample" and "encoder_hidden_states" have different fixed batch sizes (${sample} and ${context}).`);
  }
  const fixed = (sample ?? context)!;
  if (fixed % 2 !== 0) {
    throw new ExtractionError('BAD_SETTINGS', `${file}: the UNet's batch axis is fixed at ${fixed}, which cannot hold the unconditional and conditional halves of classifier-free guidance (it needs an even batch).`);
  }
  const allowed = fixed / 2;
  if (requested !== null && requested !== undefined && requested !== allowed) {
    throw new ExtractionError('BAD_SETTINGS', `--batch ${requested}: ${file} has a fixed batch axis of ${fixed}, so it runs ${allowed} concept${allowed === 1 ? '' : 's'} per call (--batch ${allowed}, or leave --batch out).`);
  }
  return allowed;
}

interface PreparedConcept {
  key: string;
  prompt: string;
  ids: Int32Array;
  eotIndex: number;
  spanPositions: number[];
}

export class Pipeline {
  readonly scheduler: DdimScheduler;
  readonly recorded: Set<number>;
  readonly decodeAt: Set<number>;
  private uncondHidden: Float32Array | null = null;

  private constructor(
    readonly bundle: Bundle,
    readonly components: Partial<Record<ComponentName, ComponentRuntime>>,
    readonly settings: ExtractionSettings,
    readonly device: Device,
    readonly warnings: string[],
    scheduler: DdimScheduler,
    readonly batch: number,
  ) {
    this.scheduler = scheduler;
    this.recorded = new Set(settings.timesteps ?? scheduler.timesteps);
    this.decodeAt = new Set(vaeTimesteps(settings.vae, scheduler.timesteps.filter((t) => this.recorded.has(t))));
  }

  /** The run's scheduler, checked against the settings: bad input is refused before any session or file is made. */
  static schedulerFor(bundle: Bundle, settings: ExtractionSettings): DdimScheduler {
    const scheduler = new DdimScheduler(ddimConfigFrom(bundle.schedulerConfig, bundle.schedulerFile), settings.steps, bundle.schedulerFile);
    const schedule = scheduler.timesteps;
    if (settings.timesteps) {
      const missing = settings.timesteps.filter((t) => !schedule.includes(t));
      if (missing.length) {
        throw new ExtractionError('BAD_SETTINGS', `--timesteps ${missing.join(',')} not in the ${settings.steps}-step schedule (${schedule.join(',')}).`);
      }
    }
    if (Array.isArray(settings.vae)) {
      const recorded = settings.timesteps ?? schedule;
      const missing = settings.vae.filter((t) => !recorded.includes(t));
      if (missing.length) throw new ExtractionError('BAD_SETTINGS', `--vae ${missing.join(',')}: the VAE decodes at recorded timesteps only (${recorded.join(',')}).`);
    }
    if (settings.textPoolings.length === 0 && settings.components === 'text_encoder') {
      throw new ExtractionError('BAD_SETTINGS', 'A text-encoder-only run needs at least one text pooling.');
    }
    return scheduler;
  }

  /** The surgery each component's graph gets for these settings. */
  static surgeryFor(name: ComponentName, settings: ExtractionSettings, fullMaps: boolean): PoolingSurgery {
    const full = fullMaps ? { fullMaps: true } : {};
    if (name === 'text_encoder') return { reduce: 'text', keep: ['last_hidden_state'], ...full };
    if (name === 'unet') {
      const halves = settings.spatialPoolings.map((p) => (p === 'spatial_mean' ? 'conditional' as const : 'guided' as const));
      return { reduce: 'spatial', guidance: { halves }, keep: ['out_sample'], ...full };
    }
    return { reduce: 'spatial', keep: [], pooled: ['sample'], ...full };
  }

  static async open(options: OpenOptions): Promise<Pipeline> {
    const { bundle, settings } = options;
    const scheduler = Pipeline.schedulerFor(bundle, settings);
    const batch = batchFor(bundle, settings, options.batch);
    const names = selectedComponents(settings.components);
    const resolved = names.map((name) => {
      const component = bundle.components[name];
      return { name, component, taps: resolveTaps(component.model.graph!, options.taps?.[name] ?? DEFAULT_TAPS[name], `${component.file}`) };
    });
    const warnings: string[] = [];
    const runtimes: Partial<Record<ComponentName, ComponentRuntime>> = {};
    try {
      // Every graph is tapped (and every tap's element type checked) before any session opens.
      const tapped = resolved.map(({ name, component, taps }) => ({
        name,
        taps,
        model: writeTappedModel({
          sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: options.cacheDir,
          weights: component.weights, digests: options.digests, surgery: Pipeline.surgeryFor(name, settings, options.fullMaps ?? false),
        }),
      }));
      for (const { name, taps, model } of tapped) {
        const opened = await createSession(model, options.device, { threads: options.threads });
        if (opened.warning && !warnings.includes(opened.warning)) warnings.push(opened.warning);
        runtimes[name] = { name, session: opened.session, taps, device: opened.device, names: model.names };
      }
    } catch (error) {
      // Sessions opened before the failure are released, not leaked.
      for (const runtime of Object.values(runtimes)) await runtime.session.release().catch(() => {});
      throw error;
    }
    // The one provider every session ran on (H3's commonDevice: mixed providers are refused, not recorded as either).
    let device: Device;
    try {
      device = commonDevice(names.map((n) => runtimes[n]!.device), names);
    } catch (error) {
      for (const runtime of Object.values(runtimes)) await runtime.session.release().catch(() => {});
      throw error;
    }
    return new Pipeline(bundle, runtimes, settings, device, warnings, scheduler, batch);
  }

  /** Tap tensor names of every component (none for a component the run skips), for the run's identity. */
  tapSummary(): Record<ComponentName, { label: string; tensor: string }[]> {
    return Object.fromEntries(COMPONENTS.map((n) => [n, (this.components[n]?.taps ?? []).map(({ label, tensor }) => ({ label, tensor }))])) as Record<ComponentName, { label: string; tensor: string }[]>;
  }

  async release(): Promise<void> {
    for (const name of COMPONENTS) await this.components[name]?.session.release();
  }

  private runtime(name: ComponentName): ComponentRuntime {
    return this.components[name]!;
  }

  private async run(name: ComponentName, feeds: Record<string, ort.Tensor>, timings: StageTimings): Promise<ort.InferenceSession.OnnxValueMapType> {
    const t0 = performance.now();
    const out = await this.runtime(name).session.run(feeds);
    const seconds = (performance.now() - t0) / 1000;
    const stats = timings.components[name];
    stats.calls += 1;
    stats.runSeconds += seconds;
    for (const value of Object.values(out)) stats.outputBytes += (value.data as ArrayBufferView).byteLength ?? 0;
    return out;
  }

  private idsTensor(ids: Int32Array, batch: number): ort.Tensor {
    const declared = this.bundle.components.text_encoder.inputs.find((i) => i.name === 'input_ids')!;
    const dims = [batch, ids.length / batch];
    return declared.elemType === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims) : new ort.Tensor('int32', ids, dims);
  }

  private timestepTensor(t: number): ort.Tensor {
    const declared = this.bundle.components.unet.inputs.find((i) => i.name === 'timestep')!;
    const rank = declared.dims?.length ?? 1;
    const length = rank === 0 ? 1 : typeof declared.dims?.[0] === 'number' ? (declared.dims[0] as number) : 1;
    const dims = rank === 0 ? [] : [length];
    if (declared.elemType === 'int64') return new ort.Tensor('int64', new BigInt64Array(length).fill(BigInt(t)), dims);
    if (declared.elemType === 'int32') return new ort.Tensor('int32', new Int32Array(length).fill(t), dims);
    return new ort.Tensor('float32', new Float32Array(length).fill(t), dims); // float16 timesteps are cast inside the graph
  }

  private checkFinite(word: string, component: ComponentName, layer: string, timestep: number | null, data: ArrayLike<number>): void {
    const at = firstNonFinite(data);
    if (at >= 0) {
      throw new ExtractionError(
        'NON_FINITE',
        `Concept "${word}": ${component} layer ${layer}${timestep === null ? '' : ` at timestep ${timestep}`} produced a non-finite value (${data[at]}) at index ${at}.`,
      );
    }
  }

  private prepare(key: string): PreparedConcept {
    const prompt = renderPrompt(this.settings.template, conceptWord(key));
    const encoding = this.bundle.tokenizer.encode(prompt.text, prompt.span);
    if (encoding.spanPositions.length === 0) {
      throw new ExtractionError('EMPTY_CONCEPT', `Concept "${key}" tokenises to nothing in prompt ${JSON.stringify(prompt.text)}${encoding.truncated ? ' (truncated at 77 tokens)' : ''}.`);
    }
    return { key, prompt: prompt.text, ids: encoding.ids, eotIndex: encoding.eotIndex, spanPositions: encoding.spanPositions };
  }

  /**
   * The text encoder on these prompts in as few calls as its batch axis allows (a fixed axis gets
   * chunks, padded with the last prompt): per prompt, its last_hidden_state and pooled rows per tap.
   */
  private async encode(prompts: { ids: Int32Array; eotIndex: number; spanPositions: number[] }[], timings: StageTimings): Promise<{ hidden: Float32Array[]; pooled: Float32Array[][]; shapes: number[][]; hiddenDims: number[] }> {
    const runtime = this.runtime('text_encoder');
    const poolings = this.settings.textPoolings.length ? this.settings.textPoolings : (['eot'] as TextPooling[]);
    const fixed = fixedBatch(this.bundle, 'text_encoder', 'input_ids');
    const chunk = fixed ?? prompts.length;
    const hidden: Float32Array[] = [];
    const pooled: Float32Array[][] = [];
    let shapes: number[][] = [];
    let hiddenDims: number[] = [];
    for (let start = 0; start < prompts.length; start += chunk) {
      const part = prompts.slice(start, start + chunk);
      const real = part.length;
      while (part.length < chunk) part.push(part[part.length - 1]!);
      const seq = part[0]!.ids.length;
      const ids = new Int32Array(part.length * seq);
      part.forEach((p, i) => ids.set(p.ids, i * seq));
      const weights = new Float32Array(part.length * poolings.length * seq);
      part.forEach((p, i) => weights.set(poolingWeights(poolings, p.eotIndex, p.spanPositions, seq), i * poolings.length * seq));
      const feeds: Record<string, ort.Tensor> = {
        input_ids: this.idsTensor(ids, part.length),
        [runtime.names.poolingWeights!]: new ort.Tensor('float32', weights, [part.length, poolings.length, seq]),
      };
      const out = await this.run('text_encoder', feeds, timings);
      const state = out[runtime.names.keep.last_hidden_state!]!;
      hiddenDims = state.dims as number[];
      const width = hiddenDims[1]! * hiddenDims[2]!;
      const stateData = state.data as Float32Array;
      for (let i = 0; i < real; i++) hidden.push(stateData.slice(i * width, (i + 1) * width));
      const perTap = runtime.names.taps.map((n) => out[n.pooled!]!.data as Float32Array);
      shapes = runtime.names.taps.map((n) => Array.from(out[n.shape!]!.data as BigInt64Array, Number).slice(1));
      for (let i = 0; i < real; i++) {
        pooled.push(perTap.map((data) => {
          const rows = data.length / part.length;
          return data.slice(i * rows, (i + 1) * rows);
        }));
      }
    }
    return { hidden, pooled, shapes, hiddenDims };
  }

  /** Runs `items` (k latents) through a component whose batch axis may be fixed: chunks padded with the last item. */
  private chunkSize(component: ComponentName, input: string, items: number): number {
    return fixedBatch(this.bundle, component, input) ?? items;
  }

  /** One concept at a time (batch 1), as the run's batches do it with k concepts. */
  async extractConcept(word: string): Promise<ConceptResult> {
    return (await this.extractBatch([word])).concepts[0]!;
  }

  /**
   * k concepts in one pass: one text-encoder call for all prompts, k (unconditional, conditional)
   * pairs per UNet call, the VAE on the k latents at once. Each concept's vectors equal a batch-1 run's
   * to float tolerance: no op of these networks mixes batch items.
   */
  async extractBatch(requested: readonly string[], observe?: StepObserver): Promise<BatchResult> {
    // A UNet with a fixed batch axis takes exactly `batch` concepts: a short (last) batch is padded
    // with its last concept, whose copies are computed and dropped.
    const fixedUnet = this.settings.components !== 'text_encoder' && unetHasFixedBatch(this.bundle);
    if (fixedUnet && requested.length < this.batch) {
      const padded = await this.extractBatch([...requested, ...Array<string>(this.batch - requested.length).fill(requested[requested.length - 1]!)], observe);
      const share = emptyTimings();
      addStageTimings(share, padded.timings, 1 / requested.length);
      return { concepts: padded.concepts.slice(0, requested.length).map((c) => ({ ...c, timings: share })), timings: padded.timings };
    }
    const keys = requested;
    const started = performance.now();
    const timings = emptyTimings();
    const settings = this.settings;
    const k = keys.length;
    const prepared = keys.map((key) => this.prepare(key));
    const summaries: Summary[][] = keys.map(() => []);
    const shapes = new Map<string, number[]>();
    const host = (name: ComponentName, since: number, runBefore: number) => {
      timings.components[name].hostSeconds += (performance.now() - since) / 1000 - (timings.components[name].runSeconds - runBefore);
    };

    // Text encoder: the unconditional (empty prompt) states are the same for every concept.
    let stage = performance.now();
    let runBefore = 0;
    const needUncond = settings.components !== 'text_encoder' && !this.uncondHidden;
    const empty = needUncond ? this.bundle.tokenizer.encode('') : null;
    const encoded = await this.encode([...prepared, ...(empty ? [{ ids: empty.ids, eotIndex: empty.eotIndex, spanPositions: [empty.eotIndex] }] : [])], timings);
    if (empty) {
      this.uncondHidden = encoded.hidden[k]!;
      this.checkFinite('(empty prompt)', 'text_encoder', 'last_hidden_state', null, this.uncondHidden);
    }
    const textTaps = this.runtime('text_encoder').taps;
    textTaps.forEach((tap, t) => shapes.set(layerKey('text_encoder', tap.label), encoded.shapes[t]!));
    for (let i = 0; i < k; i++) {
      const key = keys[i]!;
      textTaps.forEach((tap, t) => {
        const rows = encoded.pooled[i]![t]!;
        // A NaN/±Inf anywhere in the tap reaches every pooled row (0 × NaN is NaN): checking the rows checks the tensor.
        this.checkFinite(key, 'text_encoder', tap.label, null, rows);
        const width = rows.length / Math.max(1, settings.textPoolings.length);
        settings.textPoolings.forEach((pooling, p) => {
          summaries[i]!.push({ component: 'text_encoder', layer: tap.label, timestep: null, pooling, vector: rows.slice(p * width, (p + 1) * width) });
        });
      });
      this.checkFinite(key, 'text_encoder', 'last_hidden_state', null, encoded.hidden[i]!);
    }
    host('text_encoder', stage, runBefore);

    if (settings.components !== 'text_encoder') {
      await this.denoise(keys, encoded.hidden, encoded.hiddenDims, summaries, shapes, timings, observe);
    }
    timings.total = (performance.now() - started) / 1000;
    finishTimings(timings);
    const share = emptyTimings();
    addStageTimings(share, timings, 1 / k);
    return {
      concepts: prepared.map((p, i) => ({ word: p.key, prompt: p.prompt, summaries: summaries[i]!, shapes, timings: share })),
      timings,
    };
  }

  private async denoise(keys: readonly string[], hidden: Float32Array[], hiddenDims: number[], summaries: Summary[][], shapes: Map<string, number[]>, timings: StageTimings, observe?: StepObserver): Promise<void> {
    const settings = this.settings;
    const unet = this.runtime('unet');
    const k = keys.length;
    let stage = performance.now();
    let runBefore = timings.components.unet.runSeconds;
    // Batch order as in diffusers, k-wide: [u1..uk, c1..ck].
    const width = hidden[0]!.length;
    const context = new Float32Array(2 * k * width);
    for (let i = 0; i < k; i++) {
      context.set(this.uncondHidden!, i * width);
      context.set(hidden[i]!, (k + i) * width);
    }
    const contextTensor = new ort.Tensor('float32', context, [2 * k, hiddenDims[1]!, hiddenDims[2]!]);
    const unetSample = this.bundle.components.unet.inputs.find((i) => i.name === 'sample')!;
    const channels = typeof unetSample.dims?.[1] === 'number' ? unetSample.dims[1] : Number(this.bundle.components.unet.config.in_channels ?? 4);
    const size = settings.latentSize;
    const latentLength = channels * size * size;
    const latents = new Float32Array(k * latentLength);
    keys.forEach((key, i) => latents.set(gaussian(latentLength, conceptSeed(settings.seed, key), this.scheduler.initNoiseSigma), i * latentLength));
    const scaling = Number(this.bundle.components.vae_decoder.config.scaling_factor ?? 0.18215);
    const doubled = new Float32Array(2 * k * latentLength);
    const guidance = new ort.Tensor('float32', new Float32Array([settings.guidanceScale]), [1]);
    const which = (data: Float32Array, per: number) => Math.floor(firstNonFinite(data) / per);

    for (const t of this.scheduler.timesteps) {
      const record = this.recorded.has(t);
      doubled.set(latents);
      doubled.set(latents, k * latentLength);
      const out = await this.run('unet', {
        sample: new ort.Tensor('float32', doubled, [2 * k, channels, size, size]),
        timestep: this.timestepTensor(t),
        encoder_hidden_states: contextTensor,
        [unet.names.guidanceScale!]: guidance,
      }, timings);
      const noise = out[unet.names.guidedNoise!]!.data as Float32Array;
      if (firstNonFinite(noise) >= 0) this.checkFinite(keys[which(noise, latentLength)]!, 'unet', 'out_sample', t, noise.subarray(which(noise, latentLength) * latentLength, (which(noise, latentLength) + 1) * latentLength));
      if (record) {
        unet.taps.forEach((tap, index) => {
          const names = unet.names.taps[index]!;
          shapes.set(layerKey('unet', tap.label), Array.from(out[names.shape!]!.data as BigInt64Array, Number).slice(1));
          for (const pooling of settings.spatialPoolings) {
            const data = out[(pooling === 'spatial_mean' ? names.conditional : names.guided)!]!.data as Float32Array;
            const c = data.length / k;
            for (let i = 0; i < k; i++) {
              const vector = data.slice(i * c, (i + 1) * c);
              // The mean of a channel with any NaN/±Inf is non-finite: checking the means checks the maps.
              this.checkFinite(keys[i]!, 'unet', tap.label, t, vector);
              summaries[i]!.push({ component: 'unet', layer: tap.label, timestep: t, pooling, vector });
            }
          }
        });
      }
      // The scheduler's update is elementwise at one timestep: all k latents in one pass.
      const before = observe ? latents.slice() : null;
      this.scheduler.step(noise, t, latents, latents);
      if (observe) observe({ timestep: t, batch: k, noise: noise.slice(), before: before!, after: latents.slice() });
      for (let i = 0; i < k; i++) this.checkFinite(keys[i]!, 'unet', 'latents', t, latents.subarray(i * latentLength, (i + 1) * latentLength));

      if (this.decodeAt.has(t)) {
        timings.components.unet.hostSeconds += (performance.now() - stage) / 1000 - (timings.components.unet.runSeconds - runBefore);
        await this.decode(keys, latents, latentLength, [channels, size, size], scaling, t, summaries, shapes, timings);
        stage = performance.now();
        runBefore = timings.components.unet.runSeconds;
      }
    }
    timings.components.unet.hostSeconds += (performance.now() - stage) / 1000 - (timings.components.unet.runSeconds - runBefore);
  }

  private async decode(keys: readonly string[], latents: Float32Array, latentLength: number, dims: number[], scaling: number, t: number, summaries: Summary[][], shapes: Map<string, number[]>, timings: StageTimings): Promise<void> {
    const vae = this.runtime('vae_decoder');
    const stage = performance.now();
    const runBefore = timings.components.vae_decoder.runSeconds;
    const k = keys.length;
    const chunk = this.chunkSize('vae_decoder', 'latent_sample', k);
    for (let start = 0; start < k; start += chunk) {
      const real = Math.min(chunk, k - start);
      const scaled = new Float32Array(chunk * latentLength);
      for (let i = 0; i < chunk; i++) {
        const from = (start + Math.min(i, real - 1)) * latentLength;
        for (let j = 0; j < latentLength; j++) scaled[i * latentLength + j] = latents[from + j]! / scaling;
      }
      const out = await this.run('vae_decoder', { latent_sample: new ort.Tensor('float32', scaled, [chunk, ...dims]) }, timings);
      const sample = out[vae.names.pooled.sample!]!.data as Float32Array;
      const per = sample.length / chunk;
      for (let i = 0; i < real; i++) this.checkFinite(keys[start + i]!, 'vae_decoder', 'sample', t, sample.subarray(i * per, (i + 1) * per));
      vae.taps.forEach((tap, index) => {
        const names = vae.names.taps[index]!;
        shapes.set(layerKey('vae_decoder', tap.label), Array.from(out[names.shape!]!.data as BigInt64Array, Number).slice(1));
        const data = out[names.pooled!]!.data as Float32Array;
        const c = data.length / chunk;
        for (let i = 0; i < real; i++) {
          const vector = data.slice(i * c, (i + 1) * c);
          this.checkFinite(keys[start + i]!, 'vae_decoder', tap.label, t, vector); // see the UNet note: the mean checks every value
          // One decoded latent (already guided): its spatial mean is the only VAE pooling.
          if (this.settings.spatialPoolings.includes('spatial_mean')) {
            summaries[start + i]!.push({ component: 'vae_decoder', layer: tap.label, timestep: t, pooling: 'spatial_mean', vector });
          }
        }
      });
    }
    timings.components.vae_decoder.hostSeconds += (performance.now() - stage) / 1000 - (timings.components.vae_decoder.runSeconds - runBefore);
  }
}

/** The summary fields from the per-component counters: seconds inside each session.run, host seconds in all. */
function finishTimings(timings: StageTimings): void {
  timings.textEncoder = timings.components.text_encoder.runSeconds;
  timings.unet = timings.components.unet.runSeconds;
  timings.vae = timings.components.vae_decoder.runSeconds;
  timings.pooling = COMPONENTS.reduce((sum, n) => sum + timings.components[n].hostSeconds, 0);
}

/** Default settings, with the latent size from the bundle's UNet config (SD 1.5: 64, SD 2.1: 96). */
export function defaultSettings(bundle: Bundle): ExtractionSettings {
  const sampleSize = Number(bundle.components.unet.config.sample_size ?? 64);
  return {
    steps: 50,
    timesteps: null,
    guidanceScale: 7.5,
    seed: 0,
    template: DEFAULT_TEMPLATE,
    latentSize: Number.isInteger(sampleSize) && sampleSize > 0 ? sampleSize : 64,
    textPoolings: [...TEXT_POOLINGS],
    spatialPoolings: ['spatial_mean'],
    vae: 'final',
    components: 'all',
  };
}
