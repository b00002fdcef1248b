// Straightforward float64 references for the probe numerics: ridge by solving the normal equations
// directly (Gaussian elimination with partial pivoting) and leave-one-out by refitting n times.

/** Solves A x = b (A n×n, b n×q, row-major) by Gaussian elimination with partial pivoting. */
export function solve(a: Float64Array, b: Float64Array, n: number, q: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[pivot * n + col]!)) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [m[col * n + c], m[pivot * n + c]] = [m[pivot * n + c]!, m[col * n + c]!];
      for (let c = 0; c < q; c++) [x[col * q + c], x[pivot * q + c]] = [x[pivot * q + c]!, x[col * q + c]!];
    }
    for (let r = col + 1; r < n; r++) {
      const factor = m[r * n + col]! / m[col * n + col]!;
      if (factor === 0) continue;
      for (let c = col; c < n; c++) m[r * n + c]! -= factor * m[col * n + c]!;
      for (let c = 0; c < q; c++) x[r * q + c]! -= factor * x[col * q + c]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    for (let c = 0; c < q; c++) {
      let s = x[r * q + c]!;
      for (let k = r + 1; k < n; k++) s -= m[r * n + k]! * x[k * q + c]!;
      x[r * q + c] = s / m[r * n + r]!;
    }
  }
  return x;
}

/** Ridge with an unpenalised intercept on rows `rows` of X (n×d) and y (n×q): returns β (d×q) and the intercept (q). */
export function ridgeNormalEquations(x: Float64Array, y: Float64Array, rows: number[], d: number, q: number, alpha: number) {
  const xMean = new Float64Array(d), yMean = new Float64Array(q);
  for (const r of rows) {
    for (let j = 0; j < d; j++) xMean[j]! += x[r * d + j]! / rows.length;
    for (let c = 0; c < q; c++) yMean[c]! += y[r * q + c]! / rows.length;
  }
  const a = new Float64Array(d * d), b = new Float64Array(d * q);
  for (const r of rows) {
    for (let i = 0; i < d; i++) {
      const xi = x[r * d + i]! - xMean[i]!;
      for (let j = 0; j < d; j++) a[i * d + j]! += xi * (x[r * d + j]! - xMean[j]!);
      for (let c = 0; c < q; c++) b[i * q + c]! += xi * (y[r * q + c]! - yMean[c]!);
    }
  }
  for (let i = 0; i < d; i++) a[i * d + i]! += alpha;
  const beta = solve(a, b, d, q);
  const intercept = new Float64Array(q);
  for (let c = 0; c < q; c++) {
    let s = yMean[c]!;
    for (let j = 0; j < d; j++) s -= xMean[j]! * beta[j * q + c]!;
    intercept[c] = s;
  }
  return { beta, intercept };
}

export function predict(x: Float64Array, row: number, d: number, q: number, fit: { beta: Float64Array; intercept: Float64Array }, column: number): number {
  let s = fit.intercept[column]!;
  for (let j = 0; j < d; j++) s += x[row * d + j]! * fit.beta[j * q + column]!;
  return s;
}

/** Mean squared leave-one-out error of ridge (intercept refitted each time) for every column. */
export function bruteForceLoo(x: Float64Array, y: Float64Array, n: number, d: number, q: number, alpha: number): Float64Array {
  const errors = new Float64Array(q);
  for (let i = 0; i < n; i++) {
    const rows = [...Array(n).keys()].filter((r) => r !== i);
    const fit = ridgeNormalEquations(x, y, rows, d, q, alpha);
    for (let c = 0; c < q; c++) errors[c]! += (y[i * q + c]! - predict(x, i, d, q, fit, c)) ** 2 / n;
  }
  return errors;
}

/** Standardises rows `train` of X (population SD) and applies the same transform to all rows. */
export function standardiseAll(x: Float64Array | Float32Array, n: number, d: number, train: number[]): Float64Array {
  const out = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (const r of train) mean += x[r * d + j]! / train.length;
    let v = 0;
    for (const r of train) v += (x[r * d + j]! - mean) ** 2 / train.length;
    const sd = Math.sqrt(v) || 1;
    for (let r = 0; r < n; r++) out[r * d + j] = (x[r * d + j]! - mean) / sd;
  }
  return out;
}

export function gaussianSampler(random: () => number): () => number {
  return () => {
    const u = Math.max(random(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
}

/** The textbook triple loop: row-major a (p × k) times b (k × q). */
export function naive(a: Float64Array, b: Float64Array, p: number, k: number, q: number): Float64Array {
  const out = new Float64Array(p * q);
  for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) {
    let s = 0;
    for (let l = 0; l < k; l++) s += a[i * k + l]! * b[l * q + j]!;
    out[i * q + j] = s;
  }
  return out;
}

/** Row-major r × c → c × r. */
export function transpose(a: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return out;
}
