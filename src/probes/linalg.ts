// Small dense linear algebra on row-major Float64Arrays, written for the shapes of a probe
// (n ≈ 250 concepts, d up to a few thousand features, m targets): products as contiguous inner
// loops (dot products of rows, or i-k-j saxpy loops); Householder tridiagonalisation (EISPACK tred2,
// as in JAMA) with an LDLᵀ solver for shifted tridiagonal systems; and the symmetric
// eigendecomposition tridiagonalisation + implicit QL (tql2), O(n³).

/** out (p×q) = A (p×k) · B (k×q). */
export function matmul(a: Float64Array, b: Float64Array, p: number, k: number, q: number, out = new Float64Array(p * q)): Float64Array {
  out.fill(0);
  for (let i = 0; i < p; i++) {
    const outRow = i * q;
    for (let l = 0; l < k; l++) {
      const s = a[i * k + l]!;
      if (s === 0) continue;
      const bRow = l * q;
      for (let j = 0; j < q; j++) out[outRow + j]! += s * b[bRow + j]!;
    }
  }
  return out;
}

/** out (p×q) = Aᵀ · B with A (k×p), B (k×q). */
export function matmulTransposeA(a: Float64Array, b: Float64Array, k: number, p: number, q: number, out = new Float64Array(p * q)): Float64Array {
  out.fill(0);
  for (let l = 0; l < k; l++) {
    const aRow = l * p;
    const bRow = l * q;
    for (let i = 0; i < p; i++) {
      const s = a[aRow + i]!;
      if (s === 0) continue;
      const outRow = i * q;
      for (let j = 0; j < q; j++) out[outRow + j]! += s * b[bRow + j]!;
    }
  }
  return out;
}

function dot(a: Float64Array, aOffset: number, b: Float64Array, bOffset: number, length: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let t = 0;
  for (; t + 3 < length; t += 4) {
    s0 += a[aOffset + t]! * b[bOffset + t]!;
    s1 += a[aOffset + t + 1]! * b[bOffset + t + 1]!;
    s2 += a[aOffset + t + 2]! * b[bOffset + t + 2]!;
    s3 += a[aOffset + t + 3]! * b[bOffset + t + 3]!;
  }
  for (; t < length; t++) s0 += a[aOffset + t]! * b[bOffset + t]!;
  return s0 + s1 + s2 + s3;
}

/** out (p×q) = A (p×k) · Bᵀ with B (q×k): dot products of rows. */
export function matmulTransposeB(a: Float64Array, b: Float64Array, p: number, k: number, q: number, out = new Float64Array(p * q)): Float64Array {
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) out[i * q + j] = dot(a, i * k, b, j * k, k);
  }
  return out;
}

/** The Gram matrix X Xᵀ (n×n) of X (n×d); computes one triangle and mirrors it. */
export function gram(x: Float64Array, n: number, d: number, out = new Float64Array(n * n)): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = dot(x, i * d, x, j * d, d);
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

/** The cross-product Xᵀ X (d×d) of X (n×d), by rank-one updates over rows (upper triangle, mirrored). */
export function crossProduct(x: Float64Array, n: number, d: number, out = new Float64Array(d * d)): Float64Array {
  out.fill(0);
  for (let r = 0; r < n; r++) {
    const row = r * d;
    for (let i = 0; i < d; i++) {
      const s = x[row + i]!;
      if (s === 0) continue;
      const outRow = i * d;
      for (let j = i; j < d; j++) out[outRow + j]! += s * x[row + j]!;
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) out[i * d + j] = out[j * d + i]!;
  return out;
}

export interface SymmetricEigen {
  n: number;
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as ROWS (row k is the unit eigenvector of values[k]): Qᵀ in row-major order. */
  vectors: Float64Array;
}

export interface Tridiagonal {
  n: number;
  /** Diagonal of T. */
  diagonal: Float64Array;
  /** offDiagonal[k] couples rows k-1 and k of T (offDiagonal[0] = 0). */
  offDiagonal: Float64Array;
  /** The orthogonal basis P of A = P T Pᵀ, as ROWS: row k is column k of P (Pᵀ in row-major order). */
  basis: Float64Array;
}

/**
 * Householder tridiagonalisation A = P T Pᵀ of a symmetric matrix (EISPACK tred2), O(n³). The work
 * matrix is held transposed (w[c·n + r] = V[r][c]) so that the inner loops run over contiguous memory.
 */
export function tridiagonalize(a: Float64Array, n: number): Tridiagonal {
  const { w, d, e } = householderReduce(a, n);
  if (n === 0) return { n, diagonal: d, offDiagonal: e, basis: w };
  const at = (r: number, c: number) => c * n + r; // index of V[r][c]
  // Accumulate P = H_{n-1} ⋯ H_1 in place (the diagonal of T is parked in row n-1 meanwhile).
  for (let i = 0; i < n - 1; i++) {
    w[at(n - 1, i)] = w[at(i, i)]!;
    w[at(i, i)] = 1;
    const h = d[i + 1]!;
    const next = (i + 1) * n; // V[k][i+1] = w[next + k]
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[next + k]! / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[next + k]! * w[col + k]!;
        for (let k = 0; k <= i; k++) w[col + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) w[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[at(n - 1, j)]!;
    w[at(n - 1, j)] = 0;
  }
  w[at(n - 1, n - 1)] = 1;
  e[0] = 0;
  return { n, diagonal: d, offDiagonal: e, basis: w };
}


interface HouseholderReduction {
  /** Work matrix: row i (entries 0..i-1) holds the Householder vector u_i; w[i·n+i] the diagonal of T. */
  w: Float64Array;
  /** d[i] = h_i, with H_i = I − u_i u_iᵀ / h_i (h_i = 0: no reflection); d[0] = T's first diagonal entry. */
  d: Float64Array;
  /** Sub-diagonal of T (e[0] meaningless). */
  e: Float64Array;
}

/** The reduction half of tred2: T and the Householder vectors, without forming P. */
function householderReduce(a: Float64Array, n: number): HouseholderReduction {
  const w = Float64Array.from(a); // V := A (symmetric, so Vᵀ = A as well)
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { w, d, e };
  const at = (r: number, c: number) => c * n + r; // index of V[r][c]

  // tred2, first half: Householder reduction to tridiagonal form (vectors kept, P not formed).
  for (let j = 0; j < n; j++) d[j] = w[at(n - 1, j)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = w[at(i - 1, j)]!;
        w[at(i, j)] = 0;
        w[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        w[at(j, i)] = f;
        const col = j * n; // V[k][j] = w[col + k]
        g = e[j]! + w[col + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const v = w[col + k]!;
          g += v * d[k]!;
          e[k]! += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const col = j * n;
        for (let k = j; k <= i - 1; k++) w[col + k]! -= f * e[k]! + g * d[k]!;
        d[j] = w[col + i - 1]!;
        w[col + i] = 0;
      }
    }
    d[i] = h;
  }
  return { w, d, e };
}

type Multiply = (a: Float64Array, b: Float64Array, p: number, k: number, q: number) => Promise<Float64Array>;

/**
 * Eigendecomposition A = Q diag(λ) Qᵀ of a symmetric matrix (only symmetry is assumed, not
 * definiteness): tridiagonalisation, then implicit QL iterations (EISPACK tql2) that rotate the
 * basis rows; each rotation touches two contiguous rows.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const { diagonal: d, offDiagonal: e, basis: w } = tridiagonalize(a, n);
  if (n === 0) return { n, values: d, vectors: w };

  // tql2: implicit QL iterations on the tridiagonal matrix, rotating the eigenvector rows.
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 60) throw new Error(`symmetricEigen: QL iteration did not converge (n=${n}).`);
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1, c2 = 1, c3 = 1;
        const el1 = e[l + 1]!;
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const rowI = i * n;
          const rowNext = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = w[rowNext + k]!;
            const vk = w[rowI + k]!;
            w[rowNext + k] = s * vk + c * hk;
            w[rowI + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }

  // Sort ascending (selection sort on values, swapping eigenvector rows).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = w[i * n + j]!;
        w[i * n + j] = w[k * n + j]!;
        w[k * n + j] = t;
      }
    }
  }
  return { n, values: d, vectors: w };
}

/** LDLᵀ of T + αI (unit lower bidiagonal L with sub-diagonal `factor`, D = `pivot`); no pivoting, stable for SPD. */
function shiftedLdl(t: Tridiagonal, alpha: number): { pivot: Float64Array; factor: Float64Array } {
  const { n, diagonal, offDiagonal } = t;
  const pivot = new Float64Array(n);
  const factor = new Float64Array(n);
  pivot[0] = diagonal[0]! + alpha;
  for (let k = 1; k < n; k++) {
    factor[k] = offDiagonal[k]! / pivot[k - 1]!;
    pivot[k] = diagonal[k]! + alpha - factor[k]! * offDiagonal[k]!;
  }
  return { pivot, factor };
}

/**
 * Solves (T + αI) X = B for a symmetric tridiagonal T and α such that T + αI is positive definite
 * (T from a Gram matrix, α > 0): LDLᵀ without pivoting (stable for SPD), O(n) per column, with all
 * columns of a row updated together (rows of B are contiguous). Two passes over B: forward
 * elimination (reading B, writing `out`), then scaling fused with back substitution. `out` may be B.
 */
export function solveShiftedTridiagonal(t: Tridiagonal, alpha: number, b: Float64Array, columns: number, out: Float64Array = b): Float64Array {
  const { n } = t;
  const { pivot, factor } = shiftedLdl(t, alpha);
  if (out !== b) out.set(b.subarray(0, columns));
  for (let k = 1; k < n; k++) {
    const l = factor[k]!;
    const row = k * columns, previous = (k - 1) * columns;
    for (let c = 0; c < columns; c++) out[row + c] = b[row + c]! - l * out[previous + c]!;
  }
  const lastInverse = 1 / pivot[n - 1]!;
  for (let c = 0, row = (n - 1) * columns; c < columns; c++) out[row + c]! *= lastInverse;
  for (let k = n - 2; k >= 0; k--) {
    const l = factor[k + 1]!;
    const inverse = 1 / pivot[k]!;
    const row = k * columns, next = (k + 1) * columns;
    for (let c = 0; c < columns; c++) out[row + c] = out[row + c]! * inverse - l * out[next + c]!;
  }
  return out;
}

/**
 * Blocked Householder tridiagonalisation A = P T Pᵀ in the LAPACK dsytrd/dlatrd layout (lower):
 * P = H_0 H_1 ⋯ H_{n-2}, H_j = I − τ_j v_j v_jᵀ with v_j zero above row j+1 and v_j[j+1] = 1.
 * Each panel of `blockSize` columns is reduced with matrix-vector products against the trailing
 * matrix as it stood before the panel (the panel's own updates applied through the n×b matrices V
 * and W), then the trailing matrix takes all of them at once, A ← A − V Wᵀ − W Vᵀ, as ONE product
 * `multiply` can hand to a fast backend. Half of the reduction's flops (those rank-2 updates) and
 * all of forming P become matrix products; unblocked tred2 does them as TypeScript loops. T differs
 * from tred2's (another valid reduction) but P (T+αI)⁻¹ Pᵀ = (A+αI)⁻¹ all the same.
 */
export async function tridiagonalizePanelled(a: Float64Array, n: number, multiply: Multiply, blockSize = 32): Promise<Tridiagonal> {
  const work = Float64Array.from(a.subarray(0, n * n)); // symmetric; column j below the diagonal is read as row j
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  const reflectors = new Float64Array(n * n); // row j = v_j (zero-padded)
  const tau = new Float64Array(n);
  const vt = new Float64Array(blockSize * n); // panel's v vectors as rows
  const wt = new Float64Array(blockSize * n); // panel's w vectors as rows
  const y = new Float64Array(n);
  for (let k = 0; k < n - 1; k += blockSize) {
    const b = Math.min(blockSize, n - 1 - k);
    vt.fill(0);
    wt.fill(0);
    for (let i = 0; i < b; i++) {
      const j = k + i;
      const rowJ = j * n;
      // Bring column j up to date with the panel's earlier reflectors.
      for (let s = 0; s < i; s++) {
        const vs = s * n;
        const wj = wt[vs + j]!, vj = vt[vs + j]!;
        for (let r = j; r < n; r++) work[rowJ + r]! -= vt[vs + r]! * wj + wt[vs + r]! * vj;
      }
      diagonal[j] = work[rowJ + j]!;
      // Reflector (dlarfg) annihilating column j below row j+1.
      const head = work[rowJ + j + 1]!;
      let largest = 0;
      for (let r = j + 2; r < n; r++) largest = Math.max(largest, Math.abs(work[rowJ + r]!));
      let scaledSquares = 0; // ‖tail‖ scaled by its largest entry (no overflow or underflow, as dnrm2)
      if (largest > 0) for (let r = j + 2; r < n; r++) scaledSquares += (work[rowJ + r]! / largest) ** 2;
      const tailNorm = largest * Math.sqrt(scaledSquares);
      const vi = i * n;
      if (tailNorm === 0) {
        offDiagonal[j + 1] = head; // already tridiagonal in this column: H_j = I
        tau[j] = 0;
        continue;
      }
      const beta = head >= 0 ? -Math.hypot(head, tailNorm) : Math.hypot(head, tailNorm);
      const t = (beta - head) / beta;
      const inverse = 1 / (head - beta);
      offDiagonal[j + 1] = beta;
      tau[j] = t;
      vt[vi + j + 1] = 1;
      for (let r = j + 2; r < n; r++) vt[vi + r] = work[rowJ + r]! * inverse;
      reflectors.set(vt.subarray(vi + j + 1, vi + n), rowJ + j + 1);
      // w = τ (A v − V (Wᵀ v) − W (Vᵀ v)), A the trailing matrix before this panel's updates.
      symmetricTimesVector(work, n, j + 1, vt, vi, y);
      for (let s = 0; s < i; s++) {
        const vs = s * n;
        const wv = dot(wt, vs + j + 1, vt, vi + j + 1, n - j - 1);
        const vv = dot(vt, vs + j + 1, vt, vi + j + 1, n - j - 1);
        for (let r = j + 1; r < n; r++) y[r]! -= vt[vs + r]! * wv + wt[vs + r]! * vv;
      }
      let yv = 0;
      for (let r = j + 1; r < n; r++) {
        y[r]! *= t;
        yv += y[r]! * vt[vi + r]!;
      }
      const correction = -0.5 * t * yv;
      for (let r = j + 1; r < n; r++) wt[vi + r] = y[r]! + correction * vt[vi + r]!;
    }
    // Trailing update A ← A − V Wᵀ − W Vᵀ on rows and columns k+b.. as one product [V W] [W V]ᵀ.
    const start = k + b;
    const m = n - start;
    if (m > 0) {
      const left = new Float64Array(m * 2 * b);
      const right = new Float64Array(2 * b * m);
      for (let r = 0; r < m; r++) {
        for (let s = 0; s < b; s++) {
          left[r * 2 * b + s] = vt[s * n + start + r]!;
          left[r * 2 * b + b + s] = wt[s * n + start + r]!;
        }
      }
      for (let s = 0; s < b; s++) {
        right.set(wt.subarray(s * n + start, s * n + n), s * m);
        right.set(vt.subarray(s * n + start, s * n + n), (b + s) * m);
      }
      const update = await multiply(left, right, m, 2 * b, m);
      for (let r = 0; r < m; r++) {
        const row = (start + r) * n + start;
        for (let c = 0; c < m; c++) work[row + c]! -= update[r * m + c]!;
      }
    }
  }
  if (n > 0) diagonal[n - 1] = work[n * n - 1]!;
  const q = await accumulateReflectors(reflectors, tau, n, multiply, blockSize);
  const basis = transposeSquare(q, n); // Pᵀ row-major: row c = column c of P
  return { n, diagonal, offDiagonal, basis };
}

/**
 * y[r] = Σ_c A[r][c] v[c] over rows and columns r, c ≥ from of the n×n symmetric A (v read at
 * vOffset + c), reading only the upper triangle: each entry above the diagonal serves both y[r]
 * and y[c]. Two rows at a time, so each load of v and y feeds two products.
 */
function symmetricTimesVector(a: Float64Array, n: number, from: number, v: Float64Array, vOffset: number, y: Float64Array): void {
  for (let r = from; r < n; r++) y[r] = 0;
  let r = from;
  for (; r + 1 < n; r += 2) {
    const o0 = r * n, o1 = o0 + n;
    const x0 = v[vOffset + r]!, x1 = v[vOffset + r + 1]!;
    let s0 = a[o0 + r]! * x0 + a[o0 + r + 1]! * x1;
    let s1 = a[o0 + r + 1]! * x0 + a[o1 + r + 1]! * x1;
    for (let c = r + 2; c < n; c++) {
      const a0 = a[o0 + c]!, a1 = a[o1 + c]!, x = v[vOffset + c]!;
      s0 += a0 * x;
      s1 += a1 * x;
      y[c]! += a0 * x0 + a1 * x1;
    }
    y[r]! += s0;
    y[r + 1]! += s1;
  }
  if (r < n) y[r]! += a[r * n + r]! * v[vOffset + r]!;
}

function transposeSquare(q: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out[c * n + r] = q[r * n + c]!;
  return out;
}

/**
 * Q = H_0 H_1 ⋯ H_{n-2} (H_j = I − τ_j v_j v_jᵀ, v_j = row j of `reflectors`, zero above row j+1),
 * accumulated backwards as LAPACK's dorgtr: blocks of reflectors in compact WY form
 * H_a ⋯ H_b = I − V T Vᵀ (T upper triangular, dlarft) are applied from the left, last block first.
 * A block starting at reflector a only touches rows and columns a+1.. of Q (the rest is still the
 * identity there), so the products shrink with the block: 4n³/3 flops instead of 4n³.
 */
async function accumulateReflectors(reflectors: Float64Array, tau: Float64Array, n: number, multiply: Multiply, blockSize: number): Promise<Float64Array> {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const blocks: number[] = [];
  for (let start = 0; start < n - 1; start += blockSize) blocks.push(start);
  for (let index = blocks.length - 1; index >= 0; index--) {
    const first = blocks[index]!;
    const b = Math.min(blockSize, n - 1 - first);
    const offset = first + 1; // rows/columns of Q this block touches
    const m = n - offset;
    const vt = new Float64Array(b * m); // Vᵀ restricted to rows offset..
    for (let s = 0; s < b; s++) vt.set(reflectors.subarray((first + s) * n + offset, (first + s + 1) * n), s * m);
    const t = new Float64Array(b * b);
    const z = new Float64Array(b);
    for (let c = 0; c < b; c++) {
      const tc = tau[first + c]!;
      for (let s = 0; s < c; s++) z[s] = dot(vt, s * m, vt, c * m, m);
      for (let r = 0; r < c; r++) {
        let sum = 0;
        for (let s = r; s < c; s++) sum += t[r * b + s]! * z[s]!;
        t[r * b + c] = -tc * sum;
      }
      t[c * b + c] = tc;
    }
    const sub = new Float64Array(m * m);
    for (let r = 0; r < m; r++) sub.set(q.subarray((offset + r) * n + offset, (offset + r + 1) * n), r * m);
    const v = new Float64Array(m * b);
    for (let s = 0; s < b; s++) for (let r = 0; r < m; r++) v[r * b + s] = vt[s * m + r]!;
    const projected = await multiply(vt, sub, b, m, m); // Vᵀ Q
    const update = await multiply(v, await multiply(t, projected, b, b, m), m, b, m); // V T Vᵀ Q
    for (let r = 0; r < m; r++) {
      const row = (offset + r) * n + offset;
      for (let c = 0; c < m; c++) q[row + c]! -= update[r * m + c]!;
    }
  }
  return q;
}

/**
 * The diagonal of P (T + αI)⁻¹ Pᵀ, with `basis` = Pᵀ (row k = column k of P): out[i] =
 * Σ_k P_ik [(T+αI)⁻¹ Pᵀ]_ki. The same LDLᵀ solve as solveShiftedTridiagonal on the n columns of
 * Pᵀ, with the products taken during back substitution, so the solution is never read back.
 * `scratch` (n×n) holds the forward elimination.
 */
export function shiftedInverseDiagonal(t: Tridiagonal, alpha: number, basis: Float64Array, scratch: Float64Array, out: Float64Array): Float64Array {
  const { n } = t;
  const { pivot, factor } = shiftedLdl(t, alpha);
  scratch.set(basis.subarray(0, n));
  for (let k = 1; k < n; k++) {
    const l = factor[k]!;
    const row = k * n, previous = (k - 1) * n;
    for (let c = 0; c < n; c++) scratch[row + c] = basis[row + c]! - l * scratch[previous + c]!;
  }
  out.fill(0);
  const lastInverse = 1 / pivot[n - 1]!;
  for (let c = 0, row = (n - 1) * n; c < n; c++) {
    const x = scratch[row + c]! * lastInverse;
    scratch[row + c] = x;
    out[c]! += basis[row + c]! * x;
  }
  for (let k = n - 2; k >= 0; k--) {
    const l = factor[k + 1]!;
    const inverse = 1 / pivot[k]!;
    const row = k * n, next = (k + 1) * n;
    for (let c = 0; c < n; c++) {
      const x = scratch[row + c]! * inverse - l * scratch[next + c]!;
      scratch[row + c] = x;
      out[c]! += basis[row + c]! * x;
    }
  }
  return out;
}
