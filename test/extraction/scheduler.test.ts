// DDIM arithmetic against values worked out by hand (a 4-timestep linear schedule makes every
// product exact: betas 0.1, 0.2, 0.3, 0.4 → alphas_cumprod 0.9, 0.72, 0.504, 0.3024).
import { BundleError } from '../../src/bundles/errors.ts';
import { alphasCumprod, betas, DdimScheduler, ddimConfigFrom, inferenceTimesteps } from '../../src/extraction/scheduler.ts';

const SD15 = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000, set_alpha_to_one: false, steps_offset: 1 };
const TOY = { beta_start: 0.1, beta_end: 0.4, beta_schedule: 'linear', num_train_timesteps: 4, set_alpha_to_one: false, steps_offset: 1 };

test('scaled_linear betas run from beta_start to beta_end through the square roots', () => {
  const b = betas(ddimConfigFrom(SD15));
  expect(b[0]).toBeCloseTo(0.00085, 12);
  expect(b[999]).toBeCloseTo(0.012, 12);
  // (√0.00085 + (√0.012 − √0.00085)/999)² = 0.000854698655…
  expect(b[1]).toBeCloseTo(0.0008546986554, 12);
  // Final cumulative product for SD 1.x: ≈ 0.0046601 (its square root ≈ 0.0683, the familiar "signal left at t=999").
  expect(alphasCumprod(ddimConfigFrom(SD15))[999]).toBeCloseTo(0.0046600985, 9);
});

test('alphas_cumprod of the toy schedule', () => {
  const ac = alphasCumprod(ddimConfigFrom(TOY));
  [0.9, 0.72, 0.504, 0.3024].forEach((v, i) => expect(ac[i]).toBeCloseTo(v, 12));
});

test('inference timesteps for each spacing', () => {
  const config = ddimConfigFrom(SD15);
  const fifty = inferenceTimesteps(config, 50);
  expect(fifty).toHaveLength(50);
  expect(fifty.slice(0, 3)).toEqual([981, 961, 941]);
  expect(fifty[49]).toBe(1);
  expect(inferenceTimesteps(config, 4)).toEqual([751, 501, 251, 1]);
  expect(inferenceTimesteps(ddimConfigFrom({ ...SD15, timestep_spacing: 'trailing', steps_offset: 0 }), 4)).toEqual([999, 749, 499, 249]);
  expect(inferenceTimesteps(ddimConfigFrom({ ...SD15, timestep_spacing: 'linspace' }), 4)).toEqual([999, 666, 333, 0]);
  expect(() => inferenceTimesteps(config, 0)).toThrow(/steps must be an integer from 1 to 1000/);
});

test('one DDIM step, epsilon prediction', () => {
  const scheduler = new DdimScheduler(ddimConfigFrom(TOY), 2);
  expect(scheduler.timesteps).toEqual([3, 1]);
  const x0 = new Float32Array(1);
  // t=3 → t=1: x0 = (1 − √0.6976·0.5)/√0.3024 = 1.05906186…, x' = √0.72·x0 + √0.28·0.5 = 1.16321892…
  const out = scheduler.step(new Float32Array([0.5]), 3, new Float32Array([1]), undefined, x0);
  expect(x0[0]).toBeCloseTo(1.0590618654, 6);
  expect(out[0]).toBeCloseTo(1.1632189231, 6);
  // Last step t=1 → "t=−1" uses alphas_cumprod[0] = 0.9 (set_alpha_to_one false): 0.98034388…
  expect(scheduler.step(new Float32Array([0.5]), 1, new Float32Array([1]))[0]).toBeCloseTo(0.9803438826, 6);
  // With set_alpha_to_one the last step returns the predicted x0 itself: (1 − √0.28·0.5)/√0.72 = 0.86670652…
  const toOne = new DdimScheduler(ddimConfigFrom({ ...TOY, set_alpha_to_one: true }), 2);
  expect(toOne.step(new Float32Array([0.5]), 1, new Float32Array([1]))[0]).toBeCloseTo(0.8667065197, 6);
});

test('one DDIM step, v prediction', () => {
  const scheduler = new DdimScheduler(ddimConfigFrom({ ...TOY, prediction_type: 'v_prediction' }), 2);
  const x0 = new Float32Array(1);
  // x0 = √0.3024·1 − √0.6976·0.5 = 0.13229682…; ε = √0.3024·0.5 + √0.6976·1; x' = √0.72·x0 + √0.28·ε = 0.69970912…
  const out = scheduler.step(new Float32Array([0.5]), 3, new Float32Array([1]), undefined, x0);
  expect(x0[0]).toBeCloseTo(0.132296823, 6);
  expect(out[0]).toBeCloseTo(0.6997091188, 6);
});

test('bad scheduler configs name the file and key', () => {
  expect(() => ddimConfigFrom({ ...SD15, beta_schedule: 'squaredcos_cap_v2' }, 'x/scheduler_config.json')).toThrow(/x\/scheduler_config.json: "beta_schedule" must be "scaled_linear" or "linear"/);
  expect(() => ddimConfigFrom({ ...SD15, prediction_type: 'flow' })).toThrow(/"prediction_type" must be/);
  expect(() => ddimConfigFrom({ ...SD15, beta_start: 0.5 })).toThrow(/0 < beta_start < beta_end < 1/);
});

function schedulerError(make: () => unknown): BundleError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).code).toBe('BAD_SCHEDULER');
    return error as BundleError;
  }
  throw new Error('expected a BAD_SCHEDULER error');
}

test('more inference steps than training timesteps is a bad scheduler config naming file and field, as diffusers refuses it', () => {
  const config = ddimConfigFrom({ ...SD15, num_train_timesteps: 10 }, 'b/scheduler/scheduler_config.json');
  expect(schedulerError(() => new DdimScheduler(config, 50, 'b/scheduler/scheduler_config.json')).message)
    .toBe('b/scheduler/scheduler_config.json: "num_train_timesteps" 10 is fewer than the 50 inference steps (--steps); use at most 10 steps.');
  // As many steps as training timesteps is valid (offset 0): every timestep once.
  expect(new DdimScheduler(ddimConfigFrom({ ...SD15, num_train_timesteps: 10, steps_offset: 0 }), 10).timesteps).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
});

test('a steps_offset that pushes timesteps past the training range is refused up front, naming the field', () => {
  expect(schedulerError(() => ddimConfigFrom({ ...SD15, steps_offset: 5000 }, 'x/scheduler_config.json')).message)
    .toBe('x/scheduler_config.json: "steps_offset" 5000 must be below "num_train_timesteps" 1000.');
  // Within range on its own but not at this step count: 1000 leading steps with offset 1 reach timestep 1000.
  expect(schedulerError(() => new DdimScheduler(ddimConfigFrom(SD15), 1000, 'x/scheduler_config.json')).message)
    .toMatch(/x\/scheduler_config.json: "steps_offset" 1 with 1000 "leading" steps gives timestep 1000, outside the 1000 training timesteps \(0\.\.999\)/);
  expect(new DdimScheduler(ddimConfigFrom({ ...SD15, steps_offset: 19 }), 50).timesteps[0]).toBe(999);
  expect(schedulerError(() => ddimConfigFrom({ ...SD15, clip_sample_range: 0 })).message).toMatch(/"clip_sample_range" must be a positive number/);
});
