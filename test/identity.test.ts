import { createHash } from 'node:crypto';
import { canonicalJson, identityHash } from '../src/identity.ts';

test('canonicalJson sorts object keys at every level and keeps array order', () => {
  expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,1,{"y":2,"z":1}]},"b":1}');
  expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  expect(canonicalJson({ a: 1, skip: undefined })).toBe('{"a":1}');
  expect(canonicalJson('x"y')).toBe('"x\\"y"');
});

test('identityHash is the sha256 of canonicalJson and ignores key order', () => {
  const value = { folds: 10, alphas: [0.1, 1], nested: { b: true, a: 'x' } };
  expect(identityHash(value)).toBe(createHash('sha256').update(canonicalJson(value)).digest('hex'));
  expect(identityHash(value)).toMatch(/^[0-9a-f]{64}$/);
  expect(identityHash({ nested: { a: 'x', b: true }, alphas: [0.1, 1], folds: 10 })).toBe(identityHash(value));
  expect(identityHash({ ...value, folds: 5 })).not.toBe(identityHash(value));
});
