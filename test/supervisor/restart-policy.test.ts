// npm start's restart rule, on a hand-driven clock: the delay doubles with each crash inside the
// window, crashes older than the window are forgotten, and the fifth crash within 60 s gives up.
import { describeExit, RestartPolicy } from '../../src/supervisor/restart-policy.ts';

test('the delay doubles per crash in the window, up to its cap; the fifth crash within the window gives up', () => {
  const policy = new RestartPolicy({ maxCrashes: 5, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 3_000 });
  expect(policy.recordCrash(0)).toEqual({ action: 'restart', delayMs: 500, crashesInWindow: 1 });
  expect(policy.recordCrash(1_000)).toEqual({ action: 'restart', delayMs: 1_000, crashesInWindow: 2 });
  expect(policy.recordCrash(2_000)).toEqual({ action: 'restart', delayMs: 2_000, crashesInWindow: 3 });
  expect(policy.recordCrash(3_000)).toEqual({ action: 'restart', delayMs: 3_000, crashesInWindow: 4 }); // capped
  expect(policy.recordCrash(59_999)).toEqual({ action: 'give-up', crashesInWindow: 5 });
});

test('crashes older than the window are forgotten: occasional crashes restart for ever', () => {
  const policy = new RestartPolicy({ maxCrashes: 2, windowMs: 60_000, baseDelayMs: 100 });
  for (let minute = 0; minute < 10; minute++) {
    expect(policy.recordCrash(minute * 60_000)).toEqual({ action: 'restart', delayMs: 100, crashesInWindow: 1 });
  }
  expect(policy.recordCrash(9 * 60_000 + 59_999)).toEqual({ action: 'give-up', crashesInWindow: 2 });
});

test('bad settings are refused by name', () => {
  expect(() => new RestartPolicy({ maxCrashes: 0 })).toThrow(/maxCrashes must be an integer ≥ 1, got 0/);
  expect(() => new RestartPolicy({ windowMs: Number.NaN })).toThrow(/windowMs must be a finite number ≥ 0, got NaN/);
});

test('exits are described so the log says why, out-of-memory aborts pointing at the heap limit', () => {
  expect(describeExit(1, null)).toBe('exit code 1');
  expect(describeExit(null, 'SIGABRT')).toMatch(/heap limit.*API_MAX_HEAP_MB/);
  expect(describeExit(134, null)).toMatch(/out of memory.*API_MAX_HEAP_MB/);
  expect(describeExit(null, 'SIGKILL')).toMatch(/^signal SIGKILL/);
  expect(describeExit(null, 'SIGSEGV')).toBe('signal SIGSEGV');
});
