// Seeded randomness, documented so a run can be reproduced bit for bit anywhere:
//   uniform  — Mulberry32 (32-bit state, period 2^32), returning k / 2^32 in [0, 1)
//   normal   — Box–Muller on two uniforms (1 - u1 avoids log(0)); both outputs are used
//   seeds    — a concept's seed is the first 4 bytes (big-endian) of sha256("<run seed>:<word>")
import { createHash } from 'node:crypto';
import { mulberry32, type Uniform } from '../random.ts';

export { mulberry32, type Uniform } from '../random.ts';

/** Fills `out` with standard normal samples from `uniform`. */
export function fillGaussian(out: Float32Array, uniform: Uniform, scale = 1): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform();
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = radius * Math.cos(2 * Math.PI * u2) * scale;
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(2 * Math.PI * u2) * scale;
  }
  return out;
}

export function gaussian(length: number, seed: number, scale = 1): Float32Array {
  return fillGaussian(new Float32Array(length), mulberry32(seed), scale);
}

export function conceptSeed(runSeed: number, word: string): number {
  return createHash('sha256').update(`${runSeed}:${word}`).digest().readUInt32BE(0);
}
