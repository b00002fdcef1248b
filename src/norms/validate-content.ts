// The last check before a norms dataset is written: the same rules the folder parser applies, run on
// the typed content itself, so that content built in code (not read from a folder) cannot reach the
// database with a value, name or duplicate that validation could have stopped. A refusal here
// happens before the first statement, so the database, sequences included, is untouched.
import { ErrorCollector, type NormsValidationError } from './errors.ts';
import { MAX_TEXT_LENGTH, codePointLength } from './limits.ts';
import { foldName, nameProblem } from './names.ts';
import { MIN_NORMAL } from './values.ts';
import type { NormsDatasetContent } from './types.ts';

const FILE = 'dataset content';
const NUL_OR_LONE_SURROGATE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function validateNormsContent(dataset: NormsDatasetContent): NormsValidationError[] {
  const errors = new ErrorCollector();
  const name = (value: unknown, what: string): boolean => {
    if (typeof value !== 'string' || value === '' || value.trim() !== value || value.normalize('NFC') !== value) {
      errors.add('INVALID_NAME', { file: FILE }, `${what} must be a non-empty, trimmed, NFC-normalised string, got ${JSON.stringify(value)?.slice(0, 80)}`);
      return false;
    }
    const problem = nameProblem(value);
    if (problem) errors.add(problem.code, { file: FILE }, `${what} ${JSON.stringify(value.slice(0, 80))} ${problem.detail}`);
    return !problem;
  };
  const text = (value: unknown, what: string): void => {
    if (typeof value !== 'string') errors.add('INVALID_CONTENT', { file: FILE }, `${what} must be a string`);
    else if (NUL_OR_LONE_SURROGATE.test(value)) errors.add('INVALID_CONTENT', { file: FILE }, `${what} contains a NUL character or a lone UTF-16 surrogate`);
    else if (what !== 'the citation' && what !== 'the source' && codePointLength(value, MAX_TEXT_LENGTH) > MAX_TEXT_LENGTH) {
      errors.add('FIELD_TOO_LONG', { file: FILE }, `${what} is longer than ${MAX_TEXT_LENGTH} characters (MAX_TEXT_LENGTH)`);
    }
  };
  const unique = (names: readonly string[], what: string, code: 'DUPLICATE_CONCEPT' | 'DUPLICATE_ATTRIBUTE' | 'INVALID_CONTENT'): void => {
    const first = new Map<string, number>();
    names.forEach((n, i) => {
      if (typeof n !== 'string') return;
      const key = foldName(n);
      const previous = first.get(key);
      if (previous === undefined) first.set(key, i);
      else errors.add(code, { file: FILE }, `${what} ${i} ${JSON.stringify(n.slice(0, 80))} is the same as ${what} ${previous} ${JSON.stringify(names[previous]!.slice(0, 80))} (names are compared ignoring case and Unicode compatibility forms)`);
    });
  };

  text(dataset.citation, 'the citation');
  text(dataset.source, 'the source');
  dataset.groups.forEach((g, i) => name(g, `group ${i}`));
  unique(dataset.groups, 'group', 'INVALID_CONTENT');
  const groups = new Set(dataset.groups);
  dataset.attributes.forEach((a, i) => {
    name(a.name, `attribute ${i}`);
    if (!groups.has(a.group)) errors.add('INVALID_CONTENT', { file: FILE, attribute: a.name }, `attribute ${i} ${JSON.stringify(a.name)} has group ${JSON.stringify(a.group)}, which is not in groups`);
    text(a.description, `the description of attribute ${i}`);
    for (const [key, value] of Object.entries(a.metadata ?? {})) { text(key, `a metadata key of attribute ${i}`); text(value, `metadata ${JSON.stringify(key)} of attribute ${i}`); }
  });
  unique(dataset.attributes.map((a) => a.name), 'attribute', 'DUPLICATE_ATTRIBUTE');
  dataset.concepts.forEach((c, i) => {
    name(c.word, `concept ${i}`);
    if (c.category !== null) name(c.category, `the category of concept ${i}`);
    for (const [key, value] of Object.entries(c.metadata ?? {})) { text(key, `a metadata key of concept ${i}`); text(value, `metadata ${JSON.stringify(key)} of concept ${i}`); }
  });
  unique(dataset.concepts.map((c) => c.word), 'concept', 'DUPLICATE_CONCEPT');

  const scale = dataset.scale ?? null;
  if (scale !== null && !(Number.isFinite(scale.min) && Number.isFinite(scale.max) && scale.min < scale.max)) {
    errors.add('INVALID_METADATA', { file: FILE }, `the scale must have finite min < max, got ${JSON.stringify(scale)}`);
  }
  const seen = new Set<number>();
  const width = dataset.attributes.length;
  dataset.ratings.forEach((r, i) => {
    const where = `rating ${i}`;
    if (!Number.isInteger(r.concept) || r.concept < 0 || r.concept >= dataset.concepts.length || !Number.isInteger(r.attribute) || r.attribute < 0 || r.attribute >= width) {
      errors.add('INVALID_CONTENT', { file: FILE }, `${where} points at concept ${r.concept}, attribute ${r.attribute}, outside the dataset`);
      return;
    }
    const concept = dataset.concepts[r.concept]!.word;
    const attribute = dataset.attributes[r.attribute]!.name;
    const at = { file: FILE, concept, attribute };
    const cell = r.concept * width + r.attribute;
    if (seen.has(cell)) errors.add('INVALID_CONTENT', at, `${where}: a second rating for concept ${JSON.stringify(concept)}, attribute ${JSON.stringify(attribute)}`);
    seen.add(cell);
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) errors.add('VALUE_OUT_OF_RANGE', at, `${where} for concept ${JSON.stringify(concept)}, attribute ${JSON.stringify(attribute)} is not a finite number (${r.value})`);
    else if (r.value !== 0 && Math.abs(r.value) < MIN_NORMAL) errors.add('VALUE_OUT_OF_RANGE', at, `${where} for concept ${JSON.stringify(concept)}, attribute ${JSON.stringify(attribute)} is subnormal (${r.value})`);
    else if (scale && (r.value < scale.min || r.value > scale.max)) errors.add('VALUE_OUT_OF_SCALE', at, `${where} for concept ${JSON.stringify(concept)}, attribute ${JSON.stringify(attribute)} is ${r.value}, outside the declared scale ${scale.min}–${scale.max}`);
  });
  return errors.errors;
}
