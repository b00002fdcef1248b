// Mulberry32: a small, fast generator with 32-bit state (period 2^32), returning k / 2^32 in [0, 1).
// Shared by extraction (latents) and probes (folds, permutations, bootstrap) so that every seeded
// choice in probe-atlas comes from one documented generator.
export type Uniform = () => number;

export function mulberry32(seed: number): Uniform {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
