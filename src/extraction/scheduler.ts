// DDIM (Song et al. 2021) as diffusers' DDIMScheduler computes it, with eta = 0 (deterministic),
// configured from a bundle's scheduler/scheduler_config.json. Arithmetic in float64; diffusers
// computes betas/alphas_cumprod in float32, so values agree to ~1e-7 relative.
import { BundleError } from '../bundles/errors.ts';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export interface DdimConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  setAlphaToOne: boolean;
  stepsOffset: number;
  predictionType: PredictionType;
  timestepSpacing: 'leading' | 'trailing' | 'linspace';
  clipSample: boolean;
  clipSampleRange: number;
}

function field<T>(config: Record<string, unknown>, key: string, fallback: T, check: (v: unknown) => boolean, expected: string, file: string): T {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (!check(value)) throw new BundleError('BAD_SCHEDULER', `${file}: "${key}" must be ${expected}, got ${JSON.stringify(value)}.`);
  return value as T;
}

/** Reads a diffusers scheduler config (any scheduler class: DDIM reuses its noise schedule). */
export function ddimConfigFrom(config: Record<string, unknown>, file = 'scheduler_config.json'): DdimConfig {
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const oneOf = (...values: string[]) => (v: unknown) => typeof v === 'string' && values.includes(v);
  if (config.trained_betas) throw new BundleError('BAD_SCHEDULER', `${file}: "trained_betas" is not supported.`);
  const result: DdimConfig = {
    numTrainTimesteps: field(config, 'num_train_timesteps', 1000, (v) => Number.isInteger(v) && (v as number) > 1, 'an integer > 1', file),
    betaStart: field(config, 'beta_start', 0.00085, num, 'a number', file),
    betaEnd: field(config, 'beta_end', 0.012, num, 'a number', file),
    betaSchedule: field(config, 'beta_schedule', 'scaled_linear' as const, oneOf('scaled_linear', 'linear'), '"scaled_linear" or "linear"', file),
    setAlphaToOne: field(config, 'set_alpha_to_one', false, (v) => typeof v === 'boolean', 'true or false', file),
    stepsOffset: field(config, 'steps_offset', 0, (v) => Number.isInteger(v) && (v as number) >= 0, 'a non-negative integer', file),
    predictionType: field(config, 'prediction_type', 'epsilon' as const, oneOf('epsilon', 'v_prediction', 'sample'), '"epsilon", "v_prediction" or "sample"', file),
    timestepSpacing: field(config, 'timestep_spacing', 'leading' as const, oneOf('leading', 'trailing', 'linspace'), '"leading", "trailing" or "linspace"', file),
    clipSample: field(config, 'clip_sample', false, (v) => typeof v === 'boolean', 'true or false', file),
    clipSampleRange: field(config, 'clip_sample_range', 1, (v) => num(v) && (v as number) > 0, 'a positive number', file),
  };
  // diffusers adds steps_offset to the "leading" timesteps: one at or past num_train_timesteps indexes
  // beyond alphas_cumprod (NaN here, an IndexError there).
  if (result.stepsOffset >= result.numTrainTimesteps) {
    throw new BundleError('BAD_SCHEDULER', `${file}: "steps_offset" ${result.stepsOffset} must be below "num_train_timesteps" ${result.numTrainTimesteps}.`);
  }
  if (!(result.betaStart > 0 && result.betaEnd < 1 && result.betaStart < result.betaEnd)) {
    throw new BundleError('BAD_SCHEDULER', `${file}: need 0 < beta_start < beta_end < 1.`);
  }
  return result;
}

export function betas(config: DdimConfig): Float64Array {
  const n = config.numTrainTimesteps;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const fraction = n === 1 ? 0 : i / (n - 1);
    out[i] = config.betaSchedule === 'scaled_linear'
      ? (Math.sqrt(config.betaStart) + fraction * (Math.sqrt(config.betaEnd) - Math.sqrt(config.betaStart))) ** 2
      : config.betaStart + fraction * (config.betaEnd - config.betaStart);
  }
  return out;
}

export function alphasCumprod(config: DdimConfig): Float64Array {
  const b = betas(config);
  const out = new Float64Array(b.length);
  let product = 1;
  for (let i = 0; i < b.length; i++) out[i] = product *= 1 - b[i]!;
  return out;
}

/** Inference timesteps, first (noisiest) to last, as diffusers' set_timesteps. */
export function inferenceTimesteps(config: DdimConfig, steps: number): number[] {
  const n = config.numTrainTimesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > n) throw new RangeError(`steps must be an integer from 1 to ${n}, got ${steps}.`);
  const out: number[] = [];
  if (config.timestepSpacing === 'leading') {
    const ratio = Math.floor(n / steps);
    for (let i = steps - 1; i >= 0; i--) out.push(Math.round(i * ratio) + config.stepsOffset);
  } else if (config.timestepSpacing === 'trailing') {
    const ratio = n / steps;
    for (let t = n; t > 0 && out.length < steps; t -= ratio) out.push(Math.round(t) - 1);
  } else {
    for (let i = steps - 1; i >= 0; i--) out.push(Math.round((i * (n - 1)) / (steps - 1 || 1)));
  }
  return out;
}

export class DdimScheduler {
  readonly alphasCumprod: Float64Array;
  readonly finalAlphaCumprod: number;
  readonly timesteps: number[];
  /** DDIM needs no input scaling and starts from unit-variance noise. */
  readonly initNoiseSigma = 1;

  /** `file` names the scheduler config in the errors for a schedule the config cannot give at this many steps. */
  constructor(readonly config: DdimConfig, readonly steps: number, file = 'scheduler_config.json') {
    this.alphasCumprod = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
    const n = config.numTrainTimesteps;
    if (Number.isInteger(steps) && steps > n) {
      // As diffusers' set_timesteps: a model trained on n timesteps cannot be sampled in more than n steps.
      throw new BundleError('BAD_SCHEDULER', `${file}: "num_train_timesteps" ${n} is fewer than the ${steps} inference steps (--steps); use at most ${n} steps.`);
    }
    this.timesteps = inferenceTimesteps(config, steps);
    const outside = this.timesteps.find((t) => !(Number.isInteger(t) && t >= 0 && t < n));
    if (outside !== undefined) {
      throw new BundleError(
        'BAD_SCHEDULER',
        `${file}: "steps_offset" ${config.stepsOffset} with ${steps} "${config.timestepSpacing}" steps gives timestep ${outside}, outside the ${n} training timesteps (0..${n - 1}); use fewer steps or a smaller "steps_offset".`,
      );
    }
  }

  previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / this.steps);
  }

  /**
   * One deterministic DDIM update x_t → x_{t-Δ} from the model output (noise, v or x0 by prediction
   * type). Writes into `out` (may alias `sample`) and returns it with the predicted x0 in `predictedOriginal`.
   */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, out: Float32Array = new Float32Array(sample.length), predictedOriginal?: Float32Array): Float32Array {
    const previous = this.previousTimestep(t);
    const alphaT = this.alphasCumprod[t]!;
    const alphaPrev = previous >= 0 ? this.alphasCumprod[previous]! : this.finalAlphaCumprod;
    const sqrtAlpha = Math.sqrt(alphaT);
    const sqrtBeta = Math.sqrt(1 - alphaT);
    const sqrtAlphaPrev = Math.sqrt(alphaPrev);
    const sqrtBetaPrev = Math.sqrt(1 - alphaPrev);
    const range = this.config.clipSampleRange;
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      let x0: number;
      let eps: number;
      if (this.config.predictionType === 'epsilon') {
        x0 = (x - sqrtBeta * m) / sqrtAlpha;
        eps = m;
      } else if (this.config.predictionType === 'v_prediction') {
        x0 = sqrtAlpha * x - sqrtBeta * m;
        eps = sqrtAlpha * m + sqrtBeta * x;
      } else {
        x0 = m;
        eps = (x - sqrtAlpha * x0) / sqrtBeta;
      }
      if (this.config.clipSample) {
        x0 = Math.min(range, Math.max(-range, x0));
        eps = (x - sqrtAlpha * x0) / sqrtBeta;
      }
      if (predictedOriginal) predictedOriginal[i] = x0;
      out[i] = sqrtAlphaPrev * x0 + sqrtBetaPrev * eps;
    }
    return out;
  }
}
