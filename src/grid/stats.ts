// Pure statistics for the grid: Student-t quantiles, t-intervals on a mean, Welch intervals on a
// difference of means. No I/O; tested on numbers (test/grid/stats.test.ts).

/** ln Γ(x), Lanczos approximation (g = 7, n = 9): ~1e-15 relative accuracy for x > 0. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let sum = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) sum += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the regularised incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` (real, > 0) degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

const quantileCache = new Map<string, number>();

/** The p-quantile (0.5 < p < 1) of Student's t with `df` degrees of freedom, by bisection on the CDF. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0.5 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0.5, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  const cacheKey = `${p}:${df}`;
  const cached = quantileCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let low = 0;
  let high = 1;
  while (studentTCdf(high, df) < p) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
    const mid = (low + high) / 2;
    if (studentTCdf(mid, df) < p) low = mid;
    else high = mid;
  }
  const value = (low + high) / 2;
  if (quantileCache.size > 10_000) quantileCache.clear();
  quantileCache.set(cacheKey, value);
  return value;
}

export interface Interval {
  low: number;
  high: number;
}

/**
 * 95% t-interval on a mean of n values with sample standard deviation sd:
 * mean ± t(0.975, n − 1) · sd / √n. Undefined (null) for n < 2.
 */
export function meanInterval(mean: number | null, sd: number | null, n: number, level = 0.95): Interval | null {
  if (mean === null || sd === null || n < 2) return null;
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { low: mean - half, high: mean + half };
}

export interface Summary {
  mean: number | null;
  sd: number | null;
  n: number;
}

/**
 * Welch interval on meanLeft − meanRight: standard error √(sL²/nL + sR²/nR) and
 * Welch–Satterthwaite degrees of freedom. Null unless both sides have n ≥ 2 and a positive SE.
 */
export function welchInterval(left: Summary, right: Summary, level = 0.95): (Interval & { df: number }) | null {
  if (left.mean === null || right.mean === null || left.sd === null || right.sd === null) return null;
  if (left.n < 2 || right.n < 2) return null;
  const vl = (left.sd * left.sd) / left.n;
  const vr = (right.sd * right.sd) / right.n;
  const se = Math.sqrt(vl + vr);
  if (!(se > 0)) return null;
  const df = ((vl + vr) * (vl + vr)) / ((vl * vl) / (left.n - 1) + (vr * vr) / (right.n - 1));
  const half = studentTQuantile(1 - (1 - level) / 2, df) * se;
  const difference = left.mean - right.mean;
  return { low: difference - half, high: difference + half, df };
}

/** Mean and sample standard deviation of plain numbers (reference arithmetic for tests and callers). */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: null, sd: null, n: 0 };
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  if (n < 2) return { mean, sd: null, n };
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  return { mean, sd: Math.sqrt(variance), n };
}
