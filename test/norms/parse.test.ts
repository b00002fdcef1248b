// Parsing and validation on small inline files: one test per kind of problem, asserting the code and
// the file:line:column the message points at.
import { parseNormsFiles } from '../../src/norms/parse.ts';
import { findInvalidUtf8 } from '../../src/norms/encoding.ts';
import { normsContentHash } from '../../src/norms/content-hash.ts';
import { parseSourceMarkdown } from '../../src/norms/source-md.ts';
import { MAX_ERRORS_PER_FILE, type NormsValidationError } from '../../src/norms/errors.ts';
import type { NormsFiles } from '../../src/norms/types.ts';

const ATTRIBUTES = 'attribute,group,description,extra\nBright,Vision,visually bright,x1\nLoud,Audition,a loud sound,x2\nDark,Vision,visually dark,x3\n';
const RATINGS = 'concept,category,Bright,Loud,Dark\nhammer,tool,1.5,2,0\ndrum,instrument,0.5,5.5,1\n';
const SOURCE = '# Tiny norms\n\nA small test set.\n\n## Citation\n\nDoe, J. (2020). Tiny norms.\n\n## Where the files came from\n\nWritten by hand for tests.\n';

function files(overrides: Partial<Record<keyof NormsFiles, string | Uint8Array | undefined>> = {}): NormsFiles {
  const base: NormsFiles = { ratings: RATINGS, attributes: ATTRIBUTES, source: SOURCE };
  const merged = { ...base, ...overrides };
  for (const key of Object.keys(merged) as (keyof NormsFiles)[]) if (merged[key] === undefined) delete merged[key];
  return merged;
}

function errorsOf(input: NormsFiles): NormsValidationError[] {
  const result = parseNormsFiles(input);
  if (result.ok) throw new Error('expected validation errors, got a dataset');
  return result.errors;
}

function only(input: NormsFiles): NormsValidationError {
  const errors = errorsOf(input);
  expect(errors.map((e) => e.message)).toHaveLength(1);
  return errors[0]!;
}

test('a valid folder parses: groups in first-appearance order, attributes in file order, metadata kept', () => {
  const result = parseNormsFiles(files());
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  const { dataset } = result;
  expect(dataset.groups).toEqual(['Vision', 'Audition']);
  expect(dataset.attributes.map((a) => a.name)).toEqual(['Bright', 'Loud', 'Dark']);
  expect(dataset.attributes[1]).toEqual({ name: 'Loud', group: 'Audition', description: 'a loud sound', metadata: { extra: 'x2' } });
  expect(dataset.concepts).toEqual([
    { word: 'hammer', category: 'tool', metadata: {} },
    { word: 'drum', category: 'instrument', metadata: {} },
  ]);
  expect(dataset.ratings).toHaveLength(6);
  expect(dataset.ratings).toContainEqual({ concept: 1, attribute: 1, value: 5.5 });
  expect(dataset.citation).toBe('Doe, J. (2020). Tiny norms.');
  expect(dataset.source).toBe('Written by hand for tests.');
});

test('ratings columns may come in another order than attributes.csv; ratings follow attributes.csv order', () => {
  const result = parseNormsFiles(files({ ratings: 'Dark,concept,Loud,Bright\n0,hammer,2,1.5\n' }));
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  expect(result.dataset.ratings).toEqual([
    { concept: 0, attribute: 0, value: 1.5 },
    { concept: 0, attribute: 1, value: 2 },
    { concept: 0, attribute: 2, value: 0 },
  ]);
  expect(result.dataset.concepts[0]!.category).toBeNull();
});

test('an empty cell is a missing rating (no entry), not 0', () => {
  const result = parseNormsFiles(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1.5,,0\n' }));
  if (!result.ok) throw new Error('expected ok');
  expect(result.dataset.ratings.map((r) => r.attribute)).toEqual([0, 2]);
});

test('missing files are each reported; concepts.csv is optional', () => {
  const errors = errorsOf(files({ ratings: undefined, source: undefined }));
  expect(errors.map((e) => [e.code, e.file])).toEqual([['MISSING_FILE', 'ratings.csv'], ['MISSING_FILE', 'SOURCE.md']]);
  expect(errors[0]!.message).toContain('ratings.csv is missing');
});

test('ragged rows: every short or long row is reported with its line', () => {
  const errors = errorsOf(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1,2\ndrum,instrument,1,2,3\nbell,instrument,1,2,3,4\n' }));
  expect(errors.map((e) => [e.code, e.line])).toEqual([['RAGGED_ROW', 2], ['RAGGED_ROW', 4]]);
  expect(errors[0]!.message).toMatch(/^ratings\.csv:2:5: row has 4 fields but the header has 5/);
});

test('a record spanning lines inside quotes is located at the line where it starts', () => {
  const errors = errorsOf(files({ ratings: 'concept,category,Bright,Loud,Dark\n"ham\nmer",tool,1,2,3\ndrum,instrument,x,2,3\n' }));
  expect(errors.map((e) => [e.code, e.line, e.column])).toEqual([['INVALID_NAME', 2, 1], ['NON_NUMERIC_VALUE', 4, 3]]);
  // A category is a name too: the newline inside it is refused, and the next record keeps its line.
  const next = errorsOf(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,"to\nol",1,2,3\ndrum,instrument,x,2,3\n' }));
  expect(next.map((e) => [e.code, e.line, e.column])).toEqual([['INVALID_NAME', 2, 2], ['NON_NUMERIC_VALUE', 4, 3]]);
});

test('CSV syntax errors name the line', () => {
  const error = only(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1,2,3\n"drum,instrument,1,2,3\n' }));
  expect(error.code).toBe('CSV_SYNTAX');
  expect(error.file).toBe('ratings.csv');
  expect(error.line).toBeGreaterThanOrEqual(3);
});

test('duplicate concepts name both lines', () => {
  const error = only(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1,2,3\ndrum,instrument,1,2,3\n hammer ,tool,1,2,3\n' }));
  expect(error).toMatchObject({ code: 'DUPLICATE_CONCEPT', file: 'ratings.csv', line: 4, column: 1, concept: 'hammer' });
  expect(error.message).toBe('ratings.csv:4:1 (column "concept"): concept "hammer" already appears on line 2 [DUPLICATE_CONCEPT]');
});

test('empty concept names are rejected with their line', () => {
  const error = only(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1,2,3\n  ,tool,1,2,3\n' }));
  expect(error).toMatchObject({ code: 'EMPTY_CONCEPT', line: 3, column: 1 });
});

test('duplicate attribute names: in attributes.csv rows and in the ratings header', () => {
  const inAttributes = errorsOf(files({ attributes: ATTRIBUTES + 'Loud,Audition,again,x4\n' }));
  expect(inAttributes.map((e) => [e.code, e.file, e.line])).toEqual([['DUPLICATE_ATTRIBUTE', 'attributes.csv', 5]]);
  expect(inAttributes[0]!.message).toContain('already defined on line 3');
  const inHeader = errorsOf(files({ ratings: 'concept,category,Bright,Loud,Dark,Loud\nhammer,tool,1,2,3,4\n' }));
  expect(inHeader[0]).toMatchObject({ code: 'DUPLICATE_COLUMN', file: 'ratings.csv', line: 1, column: 6 });
  expect(inHeader[0]!.message).toContain('columns 4 and 6');
});

test('non-numeric values name the concept, the attribute, line and column; all of them are reported', () => {
  const errors = errorsOf(files({ ratings: 'concept,category,Bright,Loud,Dark\nhammer,tool,1,na,3\ndrum,instrument,1e1,2,Infinity\nbell,instrument,0x1F,"1,5",.5\n' }));
  expect(errors.map((e) => [e.code, e.line, e.column, e.concept, e.attribute])).toEqual([
    ['NON_NUMERIC_VALUE', 2, 4, 'hammer', 'Loud'],
    ['NON_NUMERIC_VALUE', 3, 5, 'drum', 'Dark'],
    ['NON_NUMERIC_VALUE', 4, 3, 'bell', 'Bright'],
    ['NON_NUMERIC_VALUE', 4, 4, 'bell', 'Loud'],
  ]);
  expect(errors[0]!.message).toBe('ratings.csv:2:4 (column "Loud"): value "na" for concept "hammer", attribute "Loud" is not a number (leave the cell empty for a missing rating) [NON_NUMERIC_VALUE]');
});

test('attributes in one file but not the other are listed, in both directions', () => {
  const errors = errorsOf(files({
    attributes: ATTRIBUTES + 'Smell,Olfaction,a smell,x\nTaste,Gustation,a taste,x\n',
    ratings: 'concept,category,Bright,Loud,Dark,Shiny\nhammer,tool,1,2,3,4\n',
  }));
  expect(errors.map((e) => [e.code, e.file])).toEqual([['ATTRIBUTE_MISMATCH', 'ratings.csv'], ['ATTRIBUTE_MISMATCH', 'attributes.csv']]);
  expect(errors[0]!.message).toContain('not defined in attributes.csv: "Shiny"');
  expect(errors[1]!.message).toContain('2 attribute(s) of attributes.csv have no column in ratings.csv: "Smell", "Taste"');
});

test('attributes without a group, and a missing group column', () => {
  const errors = errorsOf(files({ attributes: 'attribute,group,description\nBright,Vision,b\nLoud, ,l\nDark,,d\n' }));
  expect(errors.map((e) => [e.code, e.line, e.column, e.attribute])).toEqual([['EMPTY_GROUP', 3, 2, 'Loud'], ['EMPTY_GROUP', 4, 2, 'Dark']]);
  const noColumn = errorsOf(files({ attributes: 'attribute,description\nBright,b\n' }));
  expect(noColumn[0]).toMatchObject({ code: 'MISSING_COLUMN', file: 'attributes.csv', line: 1 });
  expect(noColumn[0]!.message).toContain('"group"');
});

test('empty attribute names and header fields', () => {
  const errors = errorsOf(files({ attributes: 'attribute,group,description\nBright,Vision,b\n,Audition,l\nDark,Vision,d\nLoud,Audition,l\n' }));
  expect(errors.map((e) => [e.code, e.line])).toEqual([['EMPTY_ATTRIBUTE', 3]]);
  const header = errorsOf(files({ ratings: 'concept,category,Bright,,Loud,Dark\nhammer,tool,1,,2,3\n' }));
  expect(header[0]).toMatchObject({ code: 'EMPTY_HEADER', line: 1, column: 4 });
});

test('invalid UTF-8 is rejected with its byte offset, line and column', () => {
  // "café" in Latin-1 on line 3: the 0xE9 byte is not valid UTF-8.
  const latin1 = Buffer.concat([Buffer.from('concept,category,Bright,Loud,Dark\nhammer,tool,1,2,3\ncaf'), Buffer.from([0xe9]), Buffer.from(',food,1,2,3\n')]);
  const error = only(files({ ratings: latin1 }));
  expect(error).toMatchObject({ code: 'INVALID_UTF8', file: 'ratings.csv', line: 3, column: 4 });
  expect(error.message).toContain(`byte offset ${latin1.indexOf(0xe9)}`);
});

test('a UTF-8 BOM is accepted and does not change the content hash; UTF-16 is rejected', () => {
  const plain = parseNormsFiles(files({ ratings: Buffer.from(RATINGS) }));
  const bom = parseNormsFiles(files({ ratings: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(RATINGS.replace(/\n/g, '\r\n'))]) }));
  if (!plain.ok || !bom.ok) throw new Error('expected ok');
  expect(bom.dataset.concepts[0]!.word).toBe('hammer');
  expect(normsContentHash(bom.dataset)).toBe(normsContentHash(plain.dataset));
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(RATINGS, 'utf16le')]);
  expect(only(files({ ratings: utf16 }))).toMatchObject({ code: 'UNSUPPORTED_ENCODING', file: 'ratings.csv', line: 1 });
});

test('the UTF-8 validator finds overlong forms, surrogates and truncated sequences', () => {
  expect(findInvalidUtf8(Buffer.from('héllo ✓ 𝄞'))).toEqual([]);
  expect(findInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0xaf]))).toEqual([1, 2]); // overlong "/"
  expect(findInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toEqual([0, 1, 2]); // UTF-16 surrogate
  expect(findInvalidUtf8(Uint8Array.from([0x61, 0xe2, 0x9c]))).toEqual([1, 2]); // truncated at end
});

test('concepts.csv: metadata kept, categories must agree, every concept listed once', () => {
  const ok = parseNormsFiles(files({ concepts: 'concept,category,super,n\nhammer,tool,artifact,29\ndrum,instrument,artifact,30\n' }));
  if (!ok.ok) throw new Error(ok.errors.map((e) => e.message).join('\n'));
  expect(ok.dataset.concepts[1]).toEqual({ word: 'drum', category: 'instrument', metadata: { super: 'artifact', n: '30' } });
  const errors = errorsOf(files({ concepts: 'concept,category,super\nhammer,weapon,artifact\nflute,instrument,artifact\n' }));
  expect(errors.map((e) => [e.code, e.line])).toEqual([['CATEGORY_MISMATCH', 2], ['CONCEPT_MISMATCH', undefined], ['CONCEPT_MISMATCH', undefined]]);
  expect(errors[1]!.message).toContain('not in ratings.csv: "flute"');
  expect(errors[2]!.message).toContain('no row in concepts.csv: "drum"');
});

test('problems are reported across files at once, and capped per file', () => {
  const rows = Array.from({ length: MAX_ERRORS_PER_FILE + 10 }, (_, i) => `c${i},tool,x,1,1`).join('\n');
  const errors = errorsOf(files({ ratings: `concept,category,Bright,Loud,Dark\n${rows}\n`, attributes: ATTRIBUTES + 'Loud,Audition,dup,x\n' }));
  const ratingErrors = errors.filter((e) => e.file === 'ratings.csv');
  expect(ratingErrors).toHaveLength(MAX_ERRORS_PER_FILE + 1);
  expect(ratingErrors.at(-1)!.code).toBe('TOO_MANY_ERRORS');
  expect(errors.some((e) => e.file === 'attributes.csv' && e.code === 'DUPLICATE_ATTRIBUTE')).toBe(true);
});

test('files with a header only are reported as empty', () => {
  expect(only(files({ ratings: 'concept,category,Bright,Loud,Dark\n' }))).toMatchObject({ code: 'NO_CONCEPTS', file: 'ratings.csv' });
  expect(only(files({ ratings: '' }))).toMatchObject({ code: 'EMPTY_FILE', file: 'ratings.csv' });
});

test('SOURCE.md: citation section, else first paragraph; a SOURCE.md without text is an error', () => {
  expect(parseSourceMarkdown('# T\n\nFirst para\nline two.\n\nSecond.\n')).toEqual({ citation: 'First para\nline two.', source: '' });
  expect(parseSourceMarkdown('# T\n\nIntro.\n\n## Original publication (cite this)\n\nX (2016).\n\n## Source\n\nnpm.\n'))
    .toEqual({ citation: 'X (2016).', source: 'npm.' });
  expect(only(files({ source: '# Title only\n' }))).toMatchObject({ code: 'MISSING_CITATION', file: 'SOURCE.md' });
});

test('the content hash ignores formatting but not content', () => {
  const parse = (ratings: string) => {
    const result = parseNormsFiles(files({ ratings }));
    if (!result.ok) throw new Error('expected ok');
    return normsContentHash(result.dataset);
  };
  const base = parse(RATINGS);
  expect(parse(RATINGS.replace('1.5', '1.50').replace('hammer', '"hammer"'))).toBe(base);
  expect(parse('Dark,concept,Loud,category,Bright\n0,hammer,2,tool,1.5\n1,drum,5.5,instrument,0.5\n')).toBe(base);
  expect(parse(RATINGS.replace('1.5', '1.6'))).not.toBe(base);
  expect(parse(RATINGS.replace('1.5', ''))).not.toBe(base);
  expect(parse(RATINGS.replace('tool', 'weapon'))).not.toBe(base);
});
