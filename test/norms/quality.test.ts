// Data quality of norms input, on inline files (no database): values a float64 cannot hold as
// written, over-long fields, concept keys that only differ by case or hide invisible characters,
// values outside a declared scale, and an unclosed quote located where it opened (issue 7).
import { parseNormsFiles } from '../../src/norms/parse.ts';
import { findUnclosedQuote } from '../../src/norms/csv.ts';
import { normsContentHash } from '../../src/norms/content-hash.ts';
import { foldName, nameProblem } from '../../src/norms/names.ts';
import { validateNormsContent } from '../../src/norms/validate-content.ts';
import { MAX_NAME_LENGTH, MAX_VALUE_LENGTH } from '../../src/norms/limits.ts';
import type { NormsValidationError } from '../../src/norms/errors.ts';
import type { NormsDatasetContent, NormsFiles } from '../../src/norms/types.ts';

const ATTRIBUTES = 'attribute,group\nBright,Vision\nLoud,Audition\n';
const HEADER = 'concept,category,Bright,Loud\n';
const SOURCE = '# Tiny\n\n## Citation\n\nDoe (2020).\n';
const SCALE = '{"scale": {"min": 0, "max": 6}}\n';

function parse(ratings: string, extra: Partial<NormsFiles> = {}) {
  return parseNormsFiles({ ratings, attributes: ATTRIBUTES, source: SOURCE, ...extra });
}

function errorsOf(ratings: string, extra: Partial<NormsFiles> = {}): NormsValidationError[] {
  const result = parse(ratings, extra);
  if (result.ok) throw new Error('expected validation errors, got a dataset');
  return result.errors;
}

function dataset(ratings: string, extra: Partial<NormsFiles> = {}): NormsDatasetContent {
  const result = parse(ratings, extra);
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.dataset;
}

describe('values', () => {
  test('1e999 (float64 overflow) is refused, not stored as Infinity/NULL', () => {
    const [error, ...rest] = errorsOf(`${HEADER}hammer,tool,1e999,2\n`);
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ code: 'VALUE_OUT_OF_RANGE', file: 'ratings.csv', line: 2, column: 3, concept: 'hammer', attribute: 'Bright' });
    expect(error!.message).toMatch(/^ratings\.csv:2:3 \(column "Bright"\): value "1e999" .* too large for a float64/);
    expect(errorsOf(`${HEADER}hammer,tool,1,-1e400\n`)[0]).toMatchObject({ code: 'VALUE_OUT_OF_RANGE', column: 4 });
  });

  test('a 50 MB digit string is refused by the length limit, named in the message, which stays short', () => {
    const digits = '9'.repeat(50 * 1024 * 1024);
    const [error] = errorsOf(`${HEADER}hammer,tool,${digits},2\n`);
    expect(error).toMatchObject({ code: 'FIELD_TOO_LONG', line: 2, column: 3 });
    expect(error!.message).toContain(`limited to ${MAX_VALUE_LENGTH} characters (MAX_VALUE_LENGTH)`);
    expect(error!.message.length).toBeLessThan(500);
    // Just over the limit, and exactly at it (a long but valid decimal).
    expect(errorsOf(`${HEADER}hammer,tool,${'1'.repeat(MAX_VALUE_LENGTH + 1)},2\n`)[0]).toMatchObject({ code: 'FIELD_TOO_LONG' });
    expect(dataset(`${HEADER}hammer,tool,0.${'1'.repeat(MAX_VALUE_LENGTH - 2)},2\n`).ratings[0]!.value).toBeCloseTo(0.111111, 6);
  });

  test('1e-400 (underflow to 0) and 1e-310 (subnormal) are refused; zeros in any spelling are 0', () => {
    const errors = errorsOf(`${HEADER}hammer,tool,1e-400,2\ndrum,instrument,1,-1e-310\n`);
    expect(errors.map((e) => [e.code, e.line, e.column])).toEqual([['VALUE_OUT_OF_RANGE', 2, 3], ['VALUE_OUT_OF_RANGE', 3, 4]]);
    expect(errors[0]!.message).toContain('too close to zero for a float64 (it would be stored as 0)');
    const zeros = dataset(`${HEADER}hammer,tool,0e-400,-0\ndrum,instrument,0.000,2.2250738585072014e-308\n`);
    expect(zeros.ratings.map((r) => r.value)).toEqual([0, 0, 0, 2.2250738585072014e-308]);
    expect(Object.is(zeros.ratings[1]!.value, -0)).toBe(false);
  });
});

describe('names', () => {
  test('a 50 MB concept name is refused by the name limit (it would not fit the concept index)', () => {
    const huge = 'a'.repeat(50 * 1024 * 1024);
    const [error, ...rest] = errorsOf(`${HEADER}${huge},tool,1,2\n`);
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ code: 'FIELD_TOO_LONG', file: 'ratings.csv', line: 2, column: 1 });
    expect(error!.message).toContain(`limited to ${MAX_NAME_LENGTH} characters (MAX_NAME_LENGTH)`);
    expect(error!.message.length).toBeLessThan(500);
    expect(nameProblem('é'.repeat(MAX_NAME_LENGTH))).toBeUndefined();
    expect(nameProblem('😀'.repeat(MAX_NAME_LENGTH + 1))).toMatchObject({ code: 'FIELD_TOO_LONG' });
  });

  test('Accordion beside accordion is a duplicate naming both lines; so are ß/SS and full-width forms', () => {
    const errors = errorsOf(`${HEADER}accordion,instrument,1,2\ndrum,instrument,1,2\nAccordion,instrument,1,2\nSTRASSE,place,1,1\nstraße,place,1,1\nｄｒｕｍ,instrument,1,1\n`);
    expect(errors.map((e) => [e.code, e.line, e.column, e.concept])).toEqual([
      ['DUPLICATE_CONCEPT', 4, 1, 'Accordion'], ['DUPLICATE_CONCEPT', 6, 1, 'straße'], ['DUPLICATE_CONCEPT', 7, 1, 'ｄｒｕｍ'],
    ]);
    expect(errors[0]!.message).toBe('ratings.csv:4:1 (column "concept"): concept "Accordion" already appears on line 2 as "accordion" (names are compared ignoring case and Unicode compatibility forms) [DUPLICATE_CONCEPT]');
    // concepts.csv and attributes.csv follow the same rule.
    const inConcepts = errorsOf(`${HEADER}accordion,instrument,1,2\n`, { concepts: 'concept,n\naccordion,1\nACCORDION,2\n' });
    expect(inConcepts.map((e) => [e.code, e.file, e.line])).toEqual([['DUPLICATE_CONCEPT', 'concepts.csv', 3]]);
    const inAttributes = parseNormsFiles({ ratings: `${HEADER}hammer,tool,1,2\n`, attributes: `${ATTRIBUTES}bright,Vision\n`, source: SOURCE });
    // (The second spelling also has no ratings column, which is reported too.)
    expect(inAttributes.ok ? [] : inAttributes.errors.map((e) => [e.code, e.line])).toEqual([['DUPLICATE_ATTRIBUTE', 4], ['ATTRIBUTE_MISMATCH', undefined]]);
    expect(inAttributes.ok ? '' : inAttributes.errors[0]!.message).toContain('attribute "bright" is already defined on line 2 as "Bright"');
  });

  test('stored keys keep their case and are NFC; decomposed and composed forms are one key', () => {
    const result = dataset(`${HEADER}TV,object,1,2\nCafe\u0301,place,1,2\n`);
    expect(result.concepts.map((c) => c.word)).toEqual(['TV', 'Caf\u00e9']);
    expect(errorsOf(`${HEADER}caf\u00e9,place,1,2\nCAFE\u0301,place,1,2\n`)[0]).toMatchObject({ code: 'DUPLICATE_CONCEPT', line: 3 });
    expect(foldName('Straße')).toBe(foldName('STRASSE'));
  });

  test('zero-width and other invisible characters are refused with line, column and character', () => {
    const errors = errorsOf(`${HEADER}accor\u200bdion,instrument,1,2\nham\u2060mer,tool,1,2\nbe\ufeffll,instrument,1,2\nice\u00a0cream,food,1,2\nice  cream,food,1,2\nkettle,to\u200dol,1,2\nlamp\u00ad,object,1,2\n`);
    expect(errors.map((e) => [e.code, e.line, e.column])).toEqual([
      ['INVALID_NAME', 2, 1], ['INVALID_NAME', 3, 1], ['INVALID_NAME', 4, 1], ['INVALID_NAME', 5, 1], ['INVALID_NAME', 6, 1], ['INVALID_NAME', 7, 2], ['INVALID_NAME', 8, 1],
    ]);
    expect(errors[0]!.message).toBe('ratings.csv:2:1 (column "concept"): concept name "accor\u200bdion" contains the invisible or control character U+200B at character 6; remove it (names may not hide characters) [INVALID_NAME]');
    expect(errors[4]!.message).toContain('two spaces in a row at character 4');
    // Attribute and group names too.
    const attributes = parseNormsFiles({ ratings: 'concept,Bri\u200bght\nhammer,1\n', attributes: 'attribute,group\nBri\u200bght,Vision\n', source: SOURCE });
    expect(attributes.ok ? [] : attributes.errors.map((e) => [e.code, e.file, e.line])).toEqual([['INVALID_NAME', 'attributes.csv', 2]]);
  });

  test('ZWNJ/ZWJ stay allowed inside words of scripts that need them (Persian), never in Latin', () => {
    expect(nameProblem('می\u200cخواهم')).toBeUndefined();
    expect(nameProblem('क्\u200dष')).toBeUndefined();
    expect(nameProblem('ham\u200cmer')).toMatchObject({ code: 'INVALID_NAME' });
    expect(nameProblem('\u200cمی')).toMatchObject({ code: 'INVALID_NAME' });
  });
});

describe('declared scale (dataset.json)', () => {
  test('values outside the declared scale are refused with file:line:column; inside it they import', () => {
    const errors = errorsOf(`${HEADER}hammer,tool,6.5,2\ndrum,instrument,-0.1,6\n`, { dataset: SCALE });
    expect(errors.map((e) => [e.code, e.file, e.line, e.column, e.concept, e.attribute])).toEqual([
      ['VALUE_OUT_OF_SCALE', 'ratings.csv', 2, 3, 'hammer', 'Bright'], ['VALUE_OUT_OF_SCALE', 'ratings.csv', 3, 3, 'drum', 'Bright'],
    ]);
    expect(errors[0]!.message).toBe('ratings.csv:2:3 (column "Bright"): value "6.5" for concept "hammer", attribute "Bright" is outside the declared scale 0–6 (dataset.json) [VALUE_OUT_OF_SCALE]');
    const ok = dataset(`${HEADER}hammer,tool,0,6\n`, { dataset: SCALE });
    expect(ok.scale).toEqual({ min: 0, max: 6 });
    // Without dataset.json nothing is declared, and any finite value is accepted.
    expect(dataset(`${HEADER}hammer,tool,60,2\n`).scale).toBeNull();
  });

  test('the scale is part of the content hash only when declared', () => {
    const plain = dataset(`${HEADER}hammer,tool,1,2\n`);
    const scaled = dataset(`${HEADER}hammer,tool,1,2\n`, { dataset: SCALE });
    const wider = dataset(`${HEADER}hammer,tool,1,2\n`, { dataset: '{"scale":{"min":0,"max":7}}' });
    expect(new Set([normsContentHash(plain), normsContentHash(scaled), normsContentHash(wider)]).size).toBe(3);
    expect(normsContentHash(dataset(`${HEADER}hammer,tool,1,2\n`, { dataset: '{"scale":null}' }))).toBe(normsContentHash(plain));
  });

  test('a malformed dataset.json is refused: bad JSON at its line and column, unknown keys, bad bounds', () => {
    const bad = (json: string) => errorsOf(`${HEADER}hammer,tool,1,2\n`, { dataset: json });
    expect(bad('{\n  "scale": {"min": 0,, "max": 6}\n}')[0]).toMatchObject({ code: 'INVALID_METADATA', file: 'dataset.json', line: 2, column: 22 });
    expect(bad('{"scael": {"min": 0, "max": 6}}')[0]!.message).toContain('unknown key "scael"');
    expect(bad('{"scale": {"min": 6, "max": 0}}')[0]!.message).toContain('must be below');
    expect(bad('{"scale": {"min": 0, "max": 1e999}}')[0]!.message).toContain('"scale.max" must be a finite number');
    expect(bad('{"scale": {"min": 0}}')[0]!.message).toContain('"scale.max" must be a finite number');
    expect(bad('[1]')[0]!.code).toBe('INVALID_METADATA');
  });
});

test('an unclosed quote is reported at the line and field where it opened, not at the last line', () => {
  const ratings = `${HEADER}hammer,tool,1,2\ndrum,instrument,1,2\nbell,"instrument,1,2\nkettle,tool,1,2\nlamp,object,1,2\n`;
  const [error, ...rest] = errorsOf(ratings);
  expect(rest).toEqual([]);
  expect(error).toMatchObject({ code: 'CSV_SYNTAX', file: 'ratings.csv', line: 4, column: 2 });
  expect(error!.message).toMatch(/^ratings\.csv:4:2: CSV syntax error: the quote that opens field 2 at line 4, character 6 is never closed/);
  // Quoted fields that do close (with "" and newlines inside) are skipped over correctly.
  expect(findUnclosedQuote('a,b\r\n"x ""y""\nz",1\n2,"open\n')).toEqual({ line: 4, field: 2, character: 3 });
  expect(findUnclosedQuote('a,"b"\n')).toBeUndefined();
});

test('validateNormsContent refuses, before any write, what code could hand the import directly', () => {
  const good = dataset(`${HEADER}hammer,tool,1,2\ndrum,instrument,3,4\n`, { dataset: SCALE });
  expect(validateNormsContent(good)).toEqual([]);
  const bad: NormsDatasetContent = {
    ...good,
    concepts: [...good.concepts, { word: 'Hammer', category: null, metadata: {} }, { word: 'x\u200b', category: null, metadata: { note: 'a\u0000b' } }],
    ratings: [...good.ratings, { ...good.ratings[0]! }, { concept: 2, attribute: 1, value: Infinity }, { concept: 3, attribute: 0, value: 7 }, { concept: 9, attribute: 0, value: 1 }],
  };
  expect(validateNormsContent(bad).map((e) => e.code).sort()).toEqual([
    'DUPLICATE_CONCEPT', 'INVALID_CONTENT', 'INVALID_CONTENT', 'INVALID_CONTENT', 'INVALID_NAME', 'VALUE_OUT_OF_RANGE', 'VALUE_OUT_OF_SCALE',
  ]);
});
