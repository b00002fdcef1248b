// The grid caches are bounded by estimated bytes as well as entries: large grids cannot pile up.
import { GridResultCache } from '../../src/grid/cache.ts';

const completed = (key: string) => ({ key, cacheable: true });

test('least recently used entries leave once the estimated bytes exceed maxBytes', () => {
  const cache = new GridResultCache<number[]>(256, 60_000, () => 0, { maxBytes: 1_000, weigh: (value) => value.length * 100 });
  cache.set('a', completed('a'), [1, 2, 3, 4]); // 400
  cache.set('b', completed('b'), [1, 2, 3, 4]); // 800
  expect(cache.get('a', completed('a'))).toEqual([1, 2, 3, 4]); // a is now the most recent
  cache.set('c', completed('c'), [1, 2, 3]); // 1,100 > 1,000: b (least recent) leaves
  expect(cache.has('b')).toBe(false);
  expect(cache.has('a') && cache.has('c')).toBe(true);
  expect(cache.bytes).toBe(700);
});

test('a value heavier than the whole bound is not stored, and replacing an entry does not count it twice', () => {
  const cache = new GridResultCache<number[]>(256, 60_000, () => 0, { maxBytes: 1_000, weigh: (value) => value.length * 100 });
  cache.set('huge', completed('huge'), Array.from({ length: 11 }, () => 0));
  expect(cache.size).toBe(0);
  cache.set('a', completed('a'), [1, 2, 3]);
  cache.set('a', completed('a'), [1, 2]);
  expect(cache.bytes).toBe(200);
  cache.get('a', completed('other run state')); // a stale fingerprint drops the entry
  expect(cache.bytes).toBe(0);
});
