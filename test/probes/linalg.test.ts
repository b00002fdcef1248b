import { crossProduct, gram, matmul, matmulTransposeA, matmulTransposeB, shiftedInverseDiagonal, solveShiftedTridiagonal, symmetricEigen, tridiagonalize, tridiagonalizePanelled } from '../../src/probes/linalg.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { naive, transpose } from './reference.ts';

const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('matrix products agree with the textbook triple loop', () => {
  const random = seededRandom(7);
  const [p, k, q] = [7, 13, 5];
  const a = new Float64Array(p * k).map(() => random() - 0.5);
  const b = new Float64Array(k * q).map(() => random() - 0.5);
  const expected = naive(a, b, p, k, q);
  expect(maxDiff(matmul(a, b, p, k, q), expected)).toBeLessThan(1e-14);
  expect(maxDiff(matmulTransposeA(transpose(a, p, k), b, k, p, q), expected)).toBeLessThan(1e-14);
  expect(maxDiff(matmulTransposeB(a, transpose(b, k, q), p, k, q), expected)).toBeLessThan(1e-14);
  expect(maxDiff(gram(a, p, k), naive(a, transpose(a, p, k), p, k, p))).toBeLessThan(1e-14);
  expect(maxDiff(crossProduct(a, p, k), naive(transpose(a, p, k), a, k, p, k))).toBeLessThan(1e-14);
});

test.each([[1], [2], [9], [60]])('symmetricEigen reconstructs a random symmetric matrix of size %i, with orthonormal vectors', (n) => {
  const random = seededRandom(n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = random() - 0.5;
  const { values, vectors } = symmetricEigen(a, n);
  for (let k = 1; k < n; k++) expect(values[k]!).toBeGreaterThanOrEqual(values[k - 1]!);
  let reconstruction = 0, orthogonality = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0, o = 0;
    for (let k = 0; k < n; k++) {
      s += vectors[k * n + i]! * values[k]! * vectors[k * n + j]!;
      o += vectors[i * n + k]! * vectors[j * n + k]!;
    }
    reconstruction = Math.max(reconstruction, Math.abs(s - a[i * n + j]!));
    orthogonality = Math.max(orthogonality, Math.abs(o - (i === j ? 1 : 0)));
  }
  expect(reconstruction).toBeLessThan(1e-12);
  expect(orthogonality).toBeLessThan(1e-12);
});

test('symmetricEigen handles a rank-deficient Gram matrix with repeated zero eigenvalues', () => {
  const random = seededRandom(3);
  const [n, d] = [12, 3];
  const x = new Float64Array(n * d).map(() => random());
  const { values, vectors } = symmetricEigen(gram(x, n, d), n);
  expect(values.slice(0, n - d).every((v) => Math.abs(v) < 1e-12)).toBe(true);
  for (let k = n - d; k < n; k++) expect(values[k]!).toBeGreaterThan(1e-6);
  // A q Q = λ q for each pair
  const k = gram(x, n, d);
  for (let e = 0; e < n; e++) {
    const q = vectors.subarray(e * n, (e + 1) * n);
    const kq = matmul(k, Float64Array.from(q), n, n, 1);
    for (let i = 0; i < n; i++) expect(Math.abs(kq[i]! - values[e]! * q[i]!)).toBeLessThan(1e-11);
  }
});

test('tridiagonalize gives A = P T Pᵀ with orthonormal P, and the shifted LDLᵀ solve inverts T + αI', () => {
  const random = seededRandom(21);
  const [n, d, q] = [15, 20, 3];
  const x = new Float64Array(n * d).map(() => random() - 0.5);
  const a = gram(x, n, d);
  const t = tridiagonalize(a, n);
  const dense = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    dense[k * n + k] = t.diagonal[k]!;
    if (k > 0) dense[k * n + k - 1] = dense[(k - 1) * n + k] = t.offDiagonal[k]!;
  }
  const p = transpose(t.basis, n, n);
  expect(maxDiff(naive(naive(p, dense, n, n, n), t.basis, n, n, n), a)).toBeLessThan(1e-12);
  expect(maxDiff(naive(t.basis, p, n, n, n), Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)))).toBeLessThan(1e-12);
  const alpha = 0.01;
  const b = new Float64Array(n * q).map(() => random());
  const solution = solveShiftedTridiagonal(t, alpha, Float64Array.from(b), q);
  for (let k = 0; k < n; k++) dense[k * n + k]! += alpha;
  expect(maxDiff(naive(dense, solution, n, n, q), b)).toBeLessThan(1e-10);
});

test.each([
  ['rank-deficient Gram, block 1', 23, 30, 1, 0],
  ['rank-deficient Gram, block 4', 23, 30, 4, 0],
  ['wide Gram, block 32 (one partial panel)', 41, 60, 32, 0],
  ['Gram of 5 features (rank 5), block 8', 30, 5, 8, 0],
  ['already tridiagonal plus zero rows, block 4', 12, 0, 4, 1],
])('panelled (dsytrd-style) tridiagonalisation: %s gives A = P T Pᵀ, P orthonormal, and the same (A+αI)⁻¹ as tred2', async (_label, n, d, blockSize, tridiagonalInput) => {
  const random = seededRandom(n + d + blockSize);
  let a: Float64Array;
  if (tridiagonalInput) {
    a = new Float64Array(n * n);
    for (let k = 0; k < n - 3; k++) {
      a[k * n + k] = 1 + random();
      if (k > 0) a[k * n + k - 1] = a[(k - 1) * n + k] = random() - 0.5;
    }
  } else {
    const x = new Float64Array(n * d).map(() => random() - 0.5);
    a = gram(x, n, d);
  }
  const t = await tridiagonalizePanelled(a, n, async (l, r, p, k, q) => matmul(l, r, p, k, q), blockSize);
  const dense = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    dense[k * n + k] = t.diagonal[k]!;
    if (k > 0) dense[k * n + k - 1] = dense[(k - 1) * n + k] = t.offDiagonal[k]!;
  }
  const p = transpose(t.basis, n, n);
  expect(maxDiff(naive(naive(p, dense, n, n, n), t.basis, n, n, n), a)).toBeLessThan(1e-12);
  const identity = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
  expect(maxDiff(naive(t.basis, p, n, n, n), identity)).toBeLessThan(1e-12);
  const alpha = 0.05;
  const inverseVia = (tri: typeof t) => naive(transpose(tri.basis, n, n), solveShiftedTridiagonal(tri, alpha, tri.basis, n, new Float64Array(n * n)), n, n, n);
  expect(maxDiff(inverseVia(t), inverseVia(tridiagonalize(a, n)))).toBeLessThan(1e-10);
});

test('shiftedInverseDiagonal equals the diagonal of P (T+αI)⁻¹ Pᵀ formed explicitly', async () => {
  const random = seededRandom(77);
  const [n, d] = [19, 25];
  const x = new Float64Array(n * d).map(() => random() - 0.5);
  const t = await tridiagonalizePanelled(gram(x, n, d), n, async (l, r, p, k, q) => matmul(l, r, p, k, q), 4);
  for (const alpha of [1e-2, 1, 1e3]) {
    const full = naive(transpose(t.basis, n, n), solveShiftedTridiagonal(t, alpha, t.basis, n, new Float64Array(n * n)), n, n, n);
    const diagonal = shiftedInverseDiagonal(t, alpha, t.basis, new Float64Array(n * n), new Float64Array(n));
    for (let i = 0; i < n; i++) expect(Math.abs(diagonal[i]! - full[i * n + i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(full[i * n + i]!)));
  }
});
