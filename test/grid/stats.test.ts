// The grid's statistics on plain numbers, against published Student-t quantiles.
import { meanInterval, studentTCdf, studentTQuantile, summarize, welchInterval } from '../../src/grid/stats.ts';

test.each([
  [1, 12.706204736],
  [2, 4.302652730],
  [5, 2.570581836],
  [10, 2.228138852],
  [30, 2.042272456],
  [1000, 1.962339081],
])('t(0.975, %d) = %f', (df, expected) => {
  expect(studentTQuantile(0.975, df)).toBeCloseTo(expected, 7);
});

test('the t CDF is symmetric and matches the Cauchy distribution at df = 1', () => {
  for (const t of [-3, -0.5, 0, 0.7, 4]) {
    expect(studentTCdf(t, 4) + studentTCdf(-t, 4)).toBeCloseTo(1, 12);
    expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
  }
  expect(studentTQuantile(0.995, 7.5)).toBeGreaterThan(studentTQuantile(0.995, 8));
});

test('summary and t-interval of a small sample, by hand', () => {
  const values = [0.1, 0.4, 0.35, 0.2];
  const summary = summarize(values);
  expect(summary.n).toBe(4);
  expect(summary.mean).toBeCloseTo(0.2625, 12);
  // Σ(x − x̄)² = 0.02640625 + 0.01890625 + 0.00765625 + 0.00390625 = 0.056875 → variance /3.
  expect(summary.sd).toBeCloseTo(Math.sqrt(0.056875 / 3), 12);
  const interval = meanInterval(summary.mean, summary.sd, summary.n)!;
  const half = 3.182446305 * Math.sqrt(0.056875 / 3) / 2;
  expect(interval.low).toBeCloseTo(0.2625 - half, 8);
  expect(interval.high).toBeCloseTo(0.2625 + half, 8);
  expect(meanInterval(0.3, null, 1)).toBeNull();
  expect(summarize([])).toEqual({ mean: null, sd: null, n: 0 });
  expect(summarize([2])).toEqual({ mean: 2, sd: null, n: 1 });
});

test('Welch interval: standard error and Welch–Satterthwaite degrees of freedom', () => {
  const left = { mean: 0.5, sd: 0.1, n: 10 };
  const right = { mean: 0.3, sd: 0.2, n: 5 };
  const vl = 0.01 / 10;
  const vr = 0.04 / 5;
  const df = (vl + vr) ** 2 / (vl ** 2 / 9 + vr ** 2 / 4);
  const interval = welchInterval(left, right)!;
  expect(interval.df).toBeCloseTo(df, 12);
  expect(df).toBeCloseTo(5.0275862069, 8);
  const half = studentTQuantile(0.975, df) * Math.sqrt(vl + vr);
  expect(interval.low).toBeCloseTo(0.2 - half, 12);
  expect(interval.high).toBeCloseTo(0.2 + half, 12);
  expect(welchInterval(left, { mean: 0.3, sd: null, n: 1 })).toBeNull();
  expect(welchInterval({ mean: 1, sd: 0, n: 3 }, { mean: 1, sd: 0, n: 3 })).toBeNull();
});
