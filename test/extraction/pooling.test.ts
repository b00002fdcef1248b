// Pooling and prompt helpers on small arrays whose results are obvious by hand.
import { firstNonFinite, guided, meanOverTokens, poolingPositions, poolingWeights, promptPositions, spatialMean, tokenState } from '../../src/extraction/pooling.ts';
import { indefiniteArticle, renderPrompt, validateTemplate } from '../../src/extraction/prompt.ts';
import { conceptSeed, gaussian, mulberry32 } from '../../src/extraction/random.ts';

// [batch 2, seq 3, hidden 2]: item 1 rows are (10,20), (30,40), (50,60).
const text = new Float32Array([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
const textDims = [2, 3, 2];

test('text poolings: token state, mean over prompt, mean over concept tokens', () => {
  expect(Array.from(tokenState(text, textDims, 1, 2))).toEqual([50, 60]);
  expect(Array.from(meanOverTokens(text, textDims, 1, promptPositions(1)))).toEqual([20, 30]);
  expect(Array.from(meanOverTokens(text, textDims, 0, [0, 2]))).toEqual([3, 4]);
  expect(() => meanOverTokens(text, textDims, 0, [])).toThrow(/no positions/);
  expect(() => meanOverTokens(text, textDims, 0, [3])).toThrow(/position 3 is outside 0..2/);
  expect(promptPositions(3)).toEqual([0, 1, 2, 3]);
});

test('spatial mean of one batch item, per channel; guidance on pooled vectors', () => {
  // [batch 2, channels 2, 2, 1]
  const data = new Float32Array([1, 3, 5, 7, 0, 2, 10, 30]);
  expect(Array.from(spatialMean(data, [2, 2, 2, 1], 0))).toEqual([2, 6]);
  expect(Array.from(spatialMean(data, [2, 2, 2, 1], 1))).toEqual([1, 20]);
  expect(Array.from(guided(new Float32Array([1, 2]), new Float32Array([3, 2]), 7.5))).toEqual([16, 2]);
  expect(firstNonFinite([1, 2, Number.NaN])).toBe(2);
  expect(firstNonFinite(new Float32Array([1, Infinity]))).toBe(1);
  expect(firstNonFinite([1, 2])).toBe(-1);
  // The pipeline checks pooled means instead of whole tensors: any NaN/±Inf must reach the mean.
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    const tensor = new Float32Array([1, 2, 3, bad, 5, 6, 7, 8]);
    expect(firstNonFinite(spatialMean(tensor, [1, 2, 4], 0))).toBe(0);
  }
  expect(firstNonFinite(spatialMean(new Float32Array([3e38, 3e38, 3e38, -3e38]), [1, 1, 4], 0))).toBe(-1);
});

test('prompts: indefinite article and concept span', () => {
  expect(renderPrompt('a photo of {a} {concept}', 'apple')).toEqual({ text: 'a photo of an apple', span: { start: 14, end: 19 } });
  expect(renderPrompt('a photo of {a} {concept}', 'hammer').text).toBe('a photo of a hammer');
  expect(renderPrompt('{concept}', 'dog')).toEqual({ text: 'dog', span: { start: 0, end: 3 } });
  expect(indefiniteArticle('umbrella')).toBe('an');
  expect(indefiniteArticle('unicorn')).toBe('a');
  expect(indefiniteArticle('hour')).toBe('an');
  expect(() => validateTemplate('a photo')).toThrow(/must contain \{concept\} exactly once/);
  expect(() => validateTemplate('{b} {concept}')).toThrow(/unknown placeholder \{b\}/);
});

test('seeded noise is reproducible, differs per concept and is standard normal', () => {
  expect(Array.from(gaussian(4, 7))).toEqual(Array.from(gaussian(4, 7)));
  expect(conceptSeed(0, 'dog')).toBe(conceptSeed(0, 'dog'));
  expect(conceptSeed(0, 'dog')).not.toBe(conceptSeed(1, 'dog'));
  const sample = gaussian(20000, conceptSeed(0, 'dog'));
  const mean = sample.reduce((a, b) => a + b, 0) / sample.length;
  const variance = sample.reduce((a, b) => a + (b - mean) ** 2, 0) / sample.length;
  expect(Math.abs(mean)).toBeLessThan(0.03);
  expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  const uniform = mulberry32(1);
  const first = uniform();
  expect(first).toBeGreaterThanOrEqual(0);
  expect(first).toBeLessThan(1);
});

test('pooling-weights rows (what the text encoder\'s graph multiplies each tap by): one-hot for eot and concept_last, averages for the rest', () => {
  // Sequence of 5; prompt 0..3 (eot 3); concept tokens 1 and 2.
  const rows = poolingWeights(['eot', 'mean', 'concept', 'concept_last', 'sequence_mean'], 3, [1, 2], 5);
  const row = (p: number) => Array.from(rows.subarray(p * 5, p * 5 + 5));
  expect(row(0)).toEqual([0, 0, 0, 1, 0]);
  expect(row(1)).toEqual([0.25, 0.25, 0.25, 0.25, 0]);
  expect(row(2)).toEqual([0, 0.5, 0.5, 0, 0]);
  expect(row(3)).toEqual([0, 0, 1, 0, 0]);
  expect(row(4)).toEqual(Array(5).fill(Math.fround(0.2)));
  expect(poolingPositions('concept_last', 3, [1, 2, 4], 5)).toEqual([4]);
  expect(() => poolingWeights(['concept'], 3, [], 5)).toThrow(/concept has no positions/);
  expect(() => poolingWeights(['eot'], 7, [1], 5)).toThrow(/eot position 7 is outside 0..4/);
  // Row · tap equals the JS pooling of the same tap.
  const tap = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // [1, 5, 2]
  const product = [0, 1].map((h) => rows.subarray(5, 10).reduce((sum, w, s) => sum + w * tap[s * 2 + h]!, 0));
  expect(product).toEqual(Array.from(meanOverTokens(tap, [1, 5, 2], 0, promptPositions(3))));
});
