// Pooling: the pure functions that reduce one tapped activation to one summary vector.
//   text encoder [seq, hidden]:  eot (the end-of-text token's state), mean (mean over the prompt's
//                                tokens: start token through end token, padding excluded), concept
//                                (mean over the concept's own tokens), concept_last (the concept's
//                                last sub-token), sequence_mean (all positions, padding included)
// The extraction pools inside the graph (poolingWeights feeds the text encoder's MatMul; UNet/VAE taps
// get a ReduceMean); the JS functions below are the reference those reductions are tested against.
//   UNet / VAE [channels, h, w]: spatial_mean (mean over h×w per channel)
// Inputs are row-major typed arrays with a batch index, exactly as onnxruntime returns them.

export type TextPooling = 'eot' | 'mean' | 'concept' | 'concept_last' | 'sequence_mean';
export type SpatialPooling = 'spatial_mean' | 'guided_spatial_mean';
export type Pooling = TextPooling | SpatialPooling;

export const TEXT_POOLINGS: readonly TextPooling[] = ['eot', 'mean', 'concept'];
/** Every text pooling, in the order the API lists them. */
export const ALL_TEXT_POOLINGS: readonly TextPooling[] = ['eot', 'mean', 'concept', 'concept_last', 'sequence_mean'];

/** The token positions a text pooling averages (one position: the state at that token). */
export function poolingPositions(pooling: TextPooling, eotIndex: number, spanPositions: readonly number[], sequenceLength: number): number[] {
  switch (pooling) {
    case 'eot': return [eotIndex];
    case 'mean': return promptPositions(eotIndex);
    case 'concept': return [...spanPositions];
    case 'concept_last': return [spanPositions[spanPositions.length - 1]!];
    case 'sequence_mean': return Array.from({ length: sequenceLength }, (_, i) => i);
  }
}

/**
 * The pooling-weights rows [P, S] the text encoder's tapped graph multiplies each tap [S, H] by
 * (src/bundles/tapped-model.ts): row p averages the positions of pooling p (one-hot for eot and
 * concept_last), so row p of the product is that pooling's vector.
 */
export function poolingWeights(poolings: readonly TextPooling[], eotIndex: number, spanPositions: readonly number[], sequenceLength: number): Float32Array {
  const out = new Float32Array(poolings.length * sequenceLength);
  poolings.forEach((pooling, p) => {
    const positions = poolingPositions(pooling, eotIndex, spanPositions, sequenceLength);
    if (positions.length === 0) throw new RangeError(`poolingWeights: ${pooling} has no positions to pool over.`);
    for (const position of positions) {
      if (position < 0 || position >= sequenceLength) throw new RangeError(`poolingWeights: ${pooling} position ${position} is outside 0..${sequenceLength - 1}.`);
      out[p * sequenceLength + position]! += 1 / positions.length;
    }
  });
  return out;
}

/** Mean over `positions` of the rows of item `batch` in a [batch, seq, hidden] tensor. */
export function meanOverTokens(data: Float32Array, dims: readonly number[], batch: number, positions: readonly number[]): Float32Array {
  const [, seq, hidden] = dims as [number, number, number];
  if (positions.length === 0) throw new RangeError('meanOverTokens: no positions to pool over.');
  const out = new Float64Array(hidden);
  for (const position of positions) {
    if (position < 0 || position >= seq) throw new RangeError(`meanOverTokens: position ${position} is outside 0..${seq - 1}.`);
    const base = (batch * seq + position) * hidden;
    for (let h = 0; h < hidden; h++) out[h]! += data[base + h]!;
  }
  const result = new Float32Array(hidden);
  for (let h = 0; h < hidden; h++) result[h] = out[h]! / positions.length;
  return result;
}

export function tokenState(data: Float32Array, dims: readonly number[], batch: number, position: number): Float32Array {
  return meanOverTokens(data, dims, batch, [position]);
}

export function promptPositions(eotIndex: number): number[] {
  return Array.from({ length: eotIndex + 1 }, (_, i) => i);
}

/** Per-channel mean over all trailing axes of item `batch` in a [batch, channels, ...] tensor. */
export function spatialMean(data: Float32Array, dims: readonly number[], batch: number): Float32Array {
  const channels = dims[1]!;
  let spatial = 1;
  for (let i = 2; i < dims.length; i++) spatial *= dims[i]!;
  const out = new Float32Array(channels);
  const base = batch * channels * spatial;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    const start = base + c * spatial;
    for (let i = 0; i < spatial; i++) sum += data[start + i]!;
    out[c] = sum / spatial;
  }
  return out;
}

/** Classifier-free guidance applied to two pooled vectors: u + g (c − u). Pooling is linear, so this equals pooling the guided tensor. */
export function guided(unconditional: Float32Array, conditional: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(conditional.length);
  for (let i = 0; i < out.length; i++) out[i] = unconditional[i]! + scale * (conditional[i]! - unconditional[i]!);
  return out;
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}
