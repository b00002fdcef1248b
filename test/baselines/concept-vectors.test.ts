// Concept → vector rules on a hand-made vocabulary (the real GloVe data is tested in glove.test.ts).
import { conceptVector, conceptVectors } from '../../src/baselines/concept-vectors.ts';
import { WordVectors } from '../../src/baselines/word-vectors.ts';

const vocabulary = WordVectors.fromEntries(3, [
  ['ice', [1, 2, 3]],
  ['cream', [3, 2, 1]],
  ['t-shirt', [9, 9, 9]],
  ['t', [0, 0, 0]],
  ['shirt', [1, 1, 1]],
  ['truck', [2, 0, 2]],
]);

test('a single vocabulary token is its own vector (lower-cased, trimmed), copied', () => {
  const found = conceptVector(' Ice ', vocabulary);
  expect(found).toEqual({ concept: ' Ice ', vector: Float32Array.from([1, 2, 3]), method: 'word', words: ['ice'] });
  if (!('vector' in found)) throw new Error('expected a vector');
  found.vector[0] = 42;
  expect(vocabulary.get('ice')![0]).toBe(1);
});

test('a hyphenated vocabulary token wins over splitting it', () => {
  expect(conceptVector('T-Shirt', vocabulary)).toMatchObject({ method: 'word', words: ['t-shirt'], vector: Float32Array.from([9, 9, 9]) });
});

test('multi-word concepts (space or hyphen) are the mean of their words', () => {
  for (const concept of ['ice cream', 'ice-cream', 'ice  _cream']) {
    expect(conceptVector(concept, vocabulary)).toMatchObject({ method: 'mean_of_words', words: ['ice', 'cream'], vector: Float32Array.from([2, 2, 2]) });
  }
});

test('any missing word makes the concept out of vocabulary, with the missing words listed', () => {
  const result = conceptVectors(['ice', 'fire truck', 'zebra', 'ice cream', ''], vocabulary);
  expect(result.vectors.map((v) => v.concept)).toEqual(['ice', 'ice cream']);
  expect(result.oov).toEqual([
    { concept: 'fire truck', missingWords: ['fire'] },
    { concept: 'zebra', missingWords: ['zebra'] },
    { concept: '', missingWords: [''] },
  ]);
});

test('a concept keyed by sense is looked up as its word, and keeps its key', () => {
  const senses = WordVectors.fromEntries(2, [['bat', [1, 0]], ['fire', [0, 2]], ['truck', [2, 0]], ['tank', [3, 3]]]);
  const result = conceptVectors(['bat_(animal)', 'bat_(baseball)', 'fire_truck', 'tank (army)', 'bat_(x)_(y)', 'zebra_(animal)'], senses);
  expect(result.vectors).toEqual([
    { concept: 'bat_(animal)', vector: Float32Array.from([1, 0]), method: 'word', words: ['bat'] },
    { concept: 'bat_(baseball)', vector: Float32Array.from([1, 0]), method: 'word', words: ['bat'] },
    { concept: 'fire_truck', vector: Float32Array.from([1, 1]), method: 'mean_of_words', words: ['fire', 'truck'] },
    { concept: 'tank (army)', vector: Float32Array.from([3, 3]), method: 'word', words: ['tank'] },
  ]);
  // Only the trailing sense goes (conceptWord's rule); the rest must be in the vocabulary like any word.
  expect(result.oov).toEqual([
    { concept: 'bat_(x)_(y)', missingWords: ['(x)'] },
    { concept: 'zebra_(animal)', missingWords: ['zebra'] },
  ]);
});
