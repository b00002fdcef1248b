// The denoising loop: one concept → prompt → text encoder → N DDIM steps of the UNet with
// classifier-free guidance (conditional and unconditional branches batched, as diffusers does) →
// VAE decoder on the current latents, pooling every tapped tensor as it goes. Pure of any database.
import type { Bundle } from '../bundles/bundle.ts';
import type { DigestCache } from '../bundles/file-digest.ts';
import { createSession, ort, type Device } from '../bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName, type Tap, type TapConfig } from '../bundles/taps.ts';
import { writeTappedModel } from '../bundles/tapped-model.ts';
import { TEXT_POOLINGS, firstNonFinite, guided, meanOverTokens, promptPositions, spatialMean, tokenState, type Pooling, type SpatialPooling, type TextPooling } from './pooling.ts';
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
  /** Whether the VAE decoder runs (on the latents after each recorded step). */
  vae: boolean;
}

export interface ComponentRuntime {
  name: ComponentName;
  session: ort.InferenceSession;
  taps: Tap[];
  device: Device;
}

export interface Summary {
  component: ComponentName;
  layer: string;
  timestep: number | null;
  pooling: Pooling;
  vector: Float32Array;
}

export interface StageTimings {
  textEncoder: number;
  unet: number;
  vae: number;
  pooling: number;
  /** Wall time of the whole concept, seconds. */
  total: number;
}

export interface ConceptResult {
  word: string;
  prompt: string;
  summaries: Summary[];
  /** Per tapped layer, the tensor shape for one prompt (batch axis dropped). */
  shapes: Map<string, number[]>;
  timings: StageTimings;
}

export function layerKey(component: ComponentName, layer: string): string {
  return `${component}/${layer}`;
}

const COMPONENTS: ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];

export class Pipeline {
  readonly scheduler: DdimScheduler;
  readonly recorded: Set<number>;
  private uncondHidden: Float32Array | null = null;

  private constructor(
    readonly bundle: Bundle,
    readonly components: Record<ComponentName, ComponentRuntime>,
    readonly settings: ExtractionSettings,
    readonly device: Device,
    readonly warnings: string[],
    scheduler: DdimScheduler,
  ) {
    this.scheduler = scheduler;
    this.recorded = new Set(settings.timesteps ?? scheduler.timesteps);
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
    return scheduler;
  }

  static async open(options: { bundle: Bundle; settings: ExtractionSettings; device: Device; cacheDir: string; taps?: TapConfig; threads?: number; digests?: DigestCache }): Promise<Pipeline> {
    const { bundle } = options;
    const scheduler = Pipeline.schedulerFor(bundle, options.settings);
    const resolved = COMPONENTS.map((name) => {
      const component = bundle.components[name];
      return { name, component, taps: resolveTaps(component.model.graph!, options.taps?.[name] ?? DEFAULT_TAPS[name], `${component.file}`) };
    });
    const warnings: string[] = [];
    const runtimes = {} as Record<ComponentName, ComponentRuntime>;
    try {
      for (const { name, component, taps } of resolved) {
        const tapped = writeTappedModel({ sourcePath: component.file, sourceBytes: component.bytes, model: component.model, taps, cacheDir: options.cacheDir, weights: component.weights, digests: options.digests });
        const opened = await createSession(tapped, options.device, { threads: options.threads });
        if (opened.warning && !warnings.includes(opened.warning)) warnings.push(opened.warning);
        runtimes[name] = { name, session: opened.session, taps, device: opened.device };
      }
    } catch (error) {
      // Sessions opened before the failure are released, not leaked.
      for (const runtime of Object.values(runtimes)) await runtime.session.release().catch(() => {});
      throw error;
    }
    const device: Device = COMPONENTS.every((n) => runtimes[n].device === 'cuda') ? 'cuda' : 'cpu';
    return new Pipeline(bundle, runtimes, options.settings, device, warnings, scheduler);
  }

  /** Tap tensor names of every component, for the run's identity. */
  tapSummary(): Record<ComponentName, { label: string; tensor: string }[]> {
    return Object.fromEntries(COMPONENTS.map((n) => [n, this.components[n].taps.map(({ label, tensor }) => ({ label, tensor }))])) as Record<ComponentName, { label: string; tensor: string }[]>;
  }

  async release(): Promise<void> {
    for (const name of COMPONENTS) await this.components[name].session.release();
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
    return new ort.Tensor('float32', new Float32Array(length).fill(t), dims);
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

  private async encodeText(ids: Int32Array): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.components.text_encoder.session.run({ input_ids: this.idsTensor(ids, 1) });
  }

  async extractConcept(word: string): Promise<ConceptResult> {
    const started = performance.now();
    const timings: StageTimings = { textEncoder: 0, unet: 0, vae: 0, pooling: 0, total: 0 };
    const settings = this.settings;
    const { tokenizer } = this.bundle;
    const summaries: Summary[] = [];
    const shapes = new Map<string, number[]>();
    const prompt = renderPrompt(settings.template, word);
    const encoding = tokenizer.encode(prompt.text, prompt.span);
    if (encoding.spanPositions.length === 0) {
      throw new ExtractionError('EMPTY_CONCEPT', `Concept "${word}" tokenises to nothing in prompt ${JSON.stringify(prompt.text)}${encoding.truncated ? ' (truncated at 77 tokens)' : ''}.`);
    }

    // Text encoder: the unconditional (empty prompt) states are the same for every concept.
    let t0 = performance.now();
    if (!this.uncondHidden) {
      const uncond = await this.encodeText(tokenizer.encode('').ids);
      this.uncondHidden = uncond.last_hidden_state!.data as Float32Array;
      this.checkFinite('(empty prompt)', 'text_encoder', 'last_hidden_state', null, this.uncondHidden);
    }
    const text = await this.encodeText(encoding.ids);
    timings.textEncoder += (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (const tap of this.components.text_encoder.taps) {
      const value = text[tap.tensor]!;
      const data = value.data as Float32Array;
      this.checkFinite(word, 'text_encoder', tap.label, null, data);
      const dims = value.dims as number[];
      shapes.set(layerKey('text_encoder', tap.label), dims.slice(1));
      for (const pooling of settings.textPoolings) {
        const vector = pooling === 'eot' ? tokenState(data, dims, 0, encoding.eotIndex)
          : pooling === 'mean' ? meanOverTokens(data, dims, 0, promptPositions(encoding.eotIndex))
          : meanOverTokens(data, dims, 0, encoding.spanPositions);
        summaries.push({ component: 'text_encoder', layer: tap.label, timestep: null, pooling, vector });
      }
    }
    const condHidden = text.last_hidden_state!.data as Float32Array;
    this.checkFinite(word, 'text_encoder', 'last_hidden_state', null, condHidden);
    const hiddenDims = text.last_hidden_state!.dims as number[];
    // Batch order as in diffusers: [unconditional, conditional].
    const context = new Float32Array(condHidden.length * 2);
    context.set(this.uncondHidden);
    context.set(condHidden, condHidden.length);
    const contextTensor = new ort.Tensor('float32', context, [2, hiddenDims[1]!, hiddenDims[2]!]);
    timings.pooling += (performance.now() - t0) / 1000;

    const unetSample = this.bundle.components.unet.inputs.find((i) => i.name === 'sample')!;
    const channels = typeof unetSample.dims?.[1] === 'number' ? unetSample.dims[1] : Number(this.bundle.components.unet.config.in_channels ?? 4);
    const size = settings.latentSize;
    const latentLength = channels * size * size;
    let latents: Float32Array = gaussian(latentLength, conceptSeed(settings.seed, word), this.scheduler.initNoiseSigma);
    const scaling = Number(this.bundle.components.vae_decoder.config.scaling_factor ?? 0.18215);
    const doubled = new Float32Array(latentLength * 2);
    const noise = new Float32Array(latentLength);

    for (const t of this.scheduler.timesteps) {
      const record = this.recorded.has(t);
      doubled.set(latents);
      doubled.set(latents, latentLength);
      t0 = performance.now();
      const unet = await this.components.unet.session.run({
        sample: new ort.Tensor('float32', doubled, [2, channels, size, size]),
        timestep: this.timestepTensor(t),
        encoder_hidden_states: contextTensor,
      });
      timings.unet += (performance.now() - t0) / 1000;
      t0 = performance.now();
      const prediction = unet.out_sample!.data as Float32Array;
      this.checkFinite(word, 'unet', 'out_sample', t, prediction);
      if (record) {
        for (const tap of this.components.unet.taps) {
          const value = unet[tap.tensor]!;
          const data = value.data as Float32Array;
          const dims = value.dims as number[];
          shapes.set(layerKey('unet', tap.label), dims.slice(1));
          // A NaN/±Inf anywhere in a channel makes that channel's float64 mean non-finite (finite
          // float32 values cannot overflow a float64 sum), so checking both branches' means checks
          // the whole tensor in the same single pass that pools it.
          const unconditional = spatialMean(data, dims, 0);
          const conditional = spatialMean(data, dims, 1);
          this.checkFinite(word, 'unet', tap.label, t, unconditional);
          this.checkFinite(word, 'unet', tap.label, t, conditional);
          for (const pooling of settings.spatialPoolings) {
            const vector = pooling === 'spatial_mean' ? conditional : guided(unconditional, conditional, settings.guidanceScale);
            summaries.push({ component: 'unet', layer: tap.label, timestep: t, pooling, vector });
          }
        }
      }
      const g = settings.guidanceScale;
      for (let i = 0; i < latentLength; i++) {
        const u = prediction[i]!;
        noise[i] = u + g * (prediction[latentLength + i]! - u);
      }
      latents = this.scheduler.step(noise, t, latents, latents);
      this.checkFinite(word, 'unet', 'latents', t, latents);
      timings.pooling += (performance.now() - t0) / 1000;

      if (record && settings.vae) {
        const scaled = new Float32Array(latentLength);
        for (let i = 0; i < latentLength; i++) scaled[i] = latents[i]! / scaling;
        t0 = performance.now();
        const vae = await this.components.vae_decoder.session.run({ latent_sample: new ort.Tensor('float32', scaled, [1, channels, size, size]) });
        timings.vae += (performance.now() - t0) / 1000;
        t0 = performance.now();
        this.checkFinite(word, 'vae_decoder', 'sample', t, vae.sample!.data as Float32Array);
        for (const tap of this.components.vae_decoder.taps) {
          const value = vae[tap.tensor]!;
          const dims = value.dims as number[];
          shapes.set(layerKey('vae_decoder', tap.label), dims.slice(1));
          const pooled = spatialMean(value.data as Float32Array, dims, 0);
          this.checkFinite(word, 'vae_decoder', tap.label, t, pooled); // see the UNet note: the mean checks every value
          // One decoded latent (already guided): its spatial mean is the only VAE pooling.
          if (settings.spatialPoolings.includes('spatial_mean')) {
            summaries.push({ component: 'vae_decoder', layer: tap.label, timestep: t, pooling: 'spatial_mean', vector: pooled });
          }
        }
        timings.pooling += (performance.now() - t0) / 1000;
      }
    }
    timings.total = (performance.now() - started) / 1000;
    return { word, prompt: prompt.text, summaries, shapes, timings };
  }
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
    vae: true,
  };
}
