// Pure parsing and validation of a norms folder's files: contents in, a typed dataset or the full
// list of problems out. No file system, no database.
import { ErrorCollector, type NormsValidationError } from './errors.ts';
import { decodeUtf8File } from './encoding.ts';
import { readCsv, type CsvTable } from './csv.ts';
import { parseSourceMarkdown } from './source-md.ts';
import { NORMS_FILES, type NormsAttribute, type NormsConcept, type NormsDatasetContent, type NormsFiles, type NormsRating } from './types.ts';

export type NormsParseResult =
  | { ok: true; dataset: NormsDatasetContent }
  | { ok: false; errors: NormsValidationError[] };

// Plain decimal numbers only: "na", "Infinity", "0x1F" or "1,5" are errors, not silently NaN or 31.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
// Control characters (incl. NUL, tab, newline) make a name unusable in prompts and URLs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function cleanName(raw: string): string {
  return raw.trim().normalize('NFC');
}

function findColumn(table: CsvTable, name: string): number {
  return table.header.findIndex((column) => column.toLowerCase() === name);
}

function listNames(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((n) => JSON.stringify(n)).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

function decodeAndRead(files: NormsFiles, role: 'ratings' | 'attributes' | 'concepts', errors: ErrorCollector): CsvTable | undefined {
  const file = NORMS_FILES[role];
  const content = files[role];
  if (content === undefined) return undefined;
  const text = decodeUtf8File(file, content, errors);
  return text === undefined ? undefined : readCsv(file, text, errors);
}

interface AttributesTable {
  attributes: NormsAttribute[];
  /** Every non-empty name on a row, valid or not, so one bad row does not also read as a mismatch. */
  declared: Set<string>;
}

function parseAttributes(table: CsvTable, errors: ErrorCollector): AttributesTable {
  const { file } = table;
  const nameColumn = findColumn(table, 'attribute');
  const groupColumn = findColumn(table, 'group');
  const descriptionColumn = findColumn(table, 'description');
  if (nameColumn < 0) errors.add('MISSING_COLUMN', { file, line: table.headerLine }, 'the header has no "attribute" column');
  if (groupColumn < 0) errors.add('MISSING_COLUMN', { file, line: table.headerLine }, 'the header has no "group" column: every attribute needs a group');
  if (nameColumn < 0 || groupColumn < 0) return { attributes: [], declared: new Set() };
  const extra = table.header.map((name, index) => ({ name, index })).filter(({ index }) => ![nameColumn, groupColumn, descriptionColumn].includes(index));
  const attributes: NormsAttribute[] = [];
  const declared = new Set<string>();
  const firstLine = new Map<string, number>();
  for (const row of table.rows) {
    const name = cleanName(row.fields[nameColumn] ?? '');
    const group = cleanName(row.fields[groupColumn] ?? '');
    if (name !== '') declared.add(name);
    if (name === '') {
      errors.add('EMPTY_ATTRIBUTE', { file, line: row.line, column: nameColumn + 1, columnName: 'attribute' }, 'attribute name is empty');
      continue;
    }
    if (CONTROL.test(name)) {
      errors.add('INVALID_NAME', { file, line: row.line, column: nameColumn + 1, columnName: 'attribute', attribute: name }, `attribute name ${JSON.stringify(name)} contains a control character`);
      continue;
    }
    const previous = firstLine.get(name);
    if (previous !== undefined) {
      errors.add('DUPLICATE_ATTRIBUTE', { file, line: row.line, column: nameColumn + 1, columnName: 'attribute', attribute: name }, `attribute ${JSON.stringify(name)} is already defined on line ${previous}`);
      continue;
    }
    firstLine.set(name, row.line);
    if (group === '') {
      errors.add('EMPTY_GROUP', { file, line: row.line, column: groupColumn + 1, columnName: 'group', attribute: name }, `attribute ${JSON.stringify(name)} has no group`);
      continue;
    }
    const metadata: Record<string, string> = {};
    for (const { name: key, index } of extra) metadata[key] = row.fields[index] ?? '';
    attributes.push({ name, group, description: descriptionColumn >= 0 ? (row.fields[descriptionColumn] ?? '').trim() : '', metadata });
  }
  if (attributes.length === 0 && errors.countFor(file) === 0) errors.add('NO_ATTRIBUTES', { file }, 'the file lists no attributes');
  return { attributes, declared };
}

interface RatingsTable {
  concepts: NormsConcept[];
  conceptLines: number[];
  /** Attribute columns of ratings.csv: header name and column index. */
  attributeColumns: { name: string; index: number }[];
  hasCategory: boolean;
  /** Values by concept index, keyed by attribute name. */
  values: Map<string, number>[];
}

function parseRatings(table: CsvTable, errors: ErrorCollector): RatingsTable | undefined {
  const { file } = table;
  const conceptColumn = findColumn(table, 'concept');
  if (conceptColumn < 0) {
    errors.add('MISSING_COLUMN', { file, line: table.headerLine }, 'the header has no "concept" column');
    return undefined;
  }
  const categoryColumn = findColumn(table, 'category');
  const attributeColumns = table.header
    .map((name, index) => ({ name, index }))
    .filter(({ name, index }) => index !== conceptColumn && index !== categoryColumn && name !== '');
  const result: RatingsTable = { concepts: [], conceptLines: [], attributeColumns, hasCategory: categoryColumn >= 0, values: [] };
  const firstLine = new Map<string, number>();
  for (const row of table.rows) {
    const word = cleanName(row.fields[conceptColumn] ?? '');
    const location = { file, line: row.line, column: conceptColumn + 1, columnName: table.header[conceptColumn]! };
    if (word === '') {
      errors.add('EMPTY_CONCEPT', location, 'concept name is empty');
      continue;
    }
    if (CONTROL.test(word)) {
      errors.add('INVALID_NAME', { ...location, concept: word }, `concept name ${JSON.stringify(word)} contains a control character`);
      continue;
    }
    const previous = firstLine.get(word);
    if (previous !== undefined) {
      errors.add('DUPLICATE_CONCEPT', { ...location, concept: word }, `concept ${JSON.stringify(word)} already appears on line ${previous}`);
      continue;
    }
    firstLine.set(word, row.line);
    const values = new Map<string, number>();
    for (const { name, index } of attributeColumns) {
      const raw = (row.fields[index] ?? '').trim();
      if (raw === '') continue;
      if (!DECIMAL.test(raw)) {
        errors.add('NON_NUMERIC_VALUE', { file, line: row.line, column: index + 1, columnName: name, concept: word, attribute: name },
          `value ${JSON.stringify(raw)} for concept ${JSON.stringify(word)}, attribute ${JSON.stringify(name)} is not a number (leave the cell empty for a missing rating)`);
        continue;
      }
      values.set(name, Number(raw));
    }
    const category = categoryColumn >= 0 ? cleanName(row.fields[categoryColumn] ?? '') : '';
    result.concepts.push({ word, category: category === '' ? null : category, metadata: {} });
    result.conceptLines.push(row.line);
    result.values.push(values);
  }
  if (result.concepts.length === 0 && errors.countFor(file) === 0) errors.add('NO_CONCEPTS', { file }, 'the file has no concept rows');
  return result;
}

function checkAttributesMatch(ratings: RatingsTable, ratingsTable: CsvTable, defined: ReadonlySet<string>, attributesTable: CsvTable, errors: ErrorCollector): void {
  const rated = new Set(ratings.attributeColumns.map((c) => c.name));
  const undefinedInAttributes = [...rated].filter((name) => !defined.has(name));
  const unrated = [...defined].filter((name) => !rated.has(name));
  if (undefinedInAttributes.length > 0) {
    errors.add('ATTRIBUTE_MISMATCH', { file: ratingsTable.file, line: ratingsTable.headerLine },
      `${undefinedInAttributes.length} attribute column(s) of ratings.csv are not defined in attributes.csv: ${listNames(undefinedInAttributes)}`);
  }
  if (unrated.length > 0) {
    errors.add('ATTRIBUTE_MISMATCH', { file: attributesTable.file },
      `${unrated.length} attribute(s) of attributes.csv have no column in ratings.csv: ${listNames(unrated)}`);
  }
}

function applyConceptMetadata(table: CsvTable, ratings: RatingsTable, errors: ErrorCollector): void {
  const { file } = table;
  const conceptColumn = findColumn(table, 'concept');
  if (conceptColumn < 0) {
    errors.add('MISSING_COLUMN', { file, line: table.headerLine }, 'the header has no "concept" column');
    return;
  }
  const categoryColumn = findColumn(table, 'category');
  const extra = table.header.map((name, index) => ({ name, index })).filter(({ index }) => index !== conceptColumn && index !== categoryColumn);
  const indexOf = new Map(ratings.concepts.map((c, i) => [c.word, i]));
  const seen = new Map<string, number>();
  const unknown: string[] = [];
  for (const row of table.rows) {
    const word = cleanName(row.fields[conceptColumn] ?? '');
    const location = { file, line: row.line, column: conceptColumn + 1, columnName: table.header[conceptColumn]! };
    if (word === '') {
      errors.add('EMPTY_CONCEPT', location, 'concept name is empty');
      continue;
    }
    const previous = seen.get(word);
    if (previous !== undefined) {
      errors.add('DUPLICATE_CONCEPT', { ...location, concept: word }, `concept ${JSON.stringify(word)} already appears on line ${previous}`);
      continue;
    }
    seen.set(word, row.line);
    const index = indexOf.get(word);
    if (index === undefined) {
      unknown.push(word);
      continue;
    }
    const concept = ratings.concepts[index]!;
    if (categoryColumn >= 0) {
      const raw = cleanName(row.fields[categoryColumn] ?? '');
      const category = raw === '' ? null : raw;
      if (!ratings.hasCategory) concept.category = category;
      else if (category !== concept.category) {
        errors.add('CATEGORY_MISMATCH', { file, line: row.line, column: categoryColumn + 1, columnName: 'category', concept: word },
          `concept ${JSON.stringify(word)} has category ${JSON.stringify(category)} here but ${JSON.stringify(concept.category)} in ratings.csv (line ${ratings.conceptLines[index]})`);
      }
    }
    const metadata: Record<string, string> = {};
    for (const { name, index: column } of extra) metadata[name] = row.fields[column] ?? '';
    concept.metadata = metadata;
  }
  if (unknown.length > 0) {
    errors.add('CONCEPT_MISMATCH', { file }, `${unknown.length} concept(s) of concepts.csv are not in ratings.csv: ${listNames(unknown)}`);
  }
  const undescribed = ratings.concepts.map((c) => c.word).filter((word) => !seen.has(word));
  if (undescribed.length > 0) {
    errors.add('CONCEPT_MISMATCH', { file }, `${undescribed.length} concept(s) of ratings.csv have no row in concepts.csv: ${listNames(undescribed)}`);
  }
}

/**
 * Parses and validates a norms folder's files. Every problem found is returned (capped per file);
 * checks that need a clean file (cross-file consistency) run only once those files parsed.
 */
export function parseNormsFiles(files: NormsFiles): NormsParseResult {
  const errors = new ErrorCollector();
  for (const role of ['ratings', 'attributes', 'source'] as const) {
    if (files[role] === undefined) errors.add('MISSING_FILE', { file: NORMS_FILES[role] }, `required file ${NORMS_FILES[role]} is missing`);
  }
  const ratingsTable = decodeAndRead(files, 'ratings', errors);
  const attributesTable = decodeAndRead(files, 'attributes', errors);
  const conceptsTable = decodeAndRead(files, 'concepts', errors);
  const sourceText = files.source === undefined ? undefined : decodeUtf8File(NORMS_FILES.source, files.source, errors);

  const { attributes, declared } = attributesTable ? parseAttributes(attributesTable, errors) : { attributes: [], declared: new Set<string>() };
  const ratings = ratingsTable ? parseRatings(ratingsTable, errors) : undefined;
  if (ratings && ratingsTable && attributesTable && declared.size > 0) {
    checkAttributesMatch(ratings, ratingsTable, declared, attributesTable, errors);
  }
  if (ratings && conceptsTable) applyConceptMetadata(conceptsTable, ratings, errors);

  let citation = '';
  let source = '';
  if (sourceText !== undefined) {
    ({ citation, source } = parseSourceMarkdown(sourceText));
    if (citation === '') errors.add('MISSING_CITATION', { file: NORMS_FILES.source }, 'no citation found: add a "Citation" (or "Original publication") section or a first paragraph');
  }

  if (!errors.ok || !ratings) return { ok: false, errors: errors.errors };

  const groups: string[] = [];
  for (const attribute of attributes) if (!groups.includes(attribute.group)) groups.push(attribute.group);
  const ratingsList: NormsRating[] = [];
  ratings.values.forEach((values, conceptIndex) => {
    attributes.forEach((attribute, attributeIndex) => {
      const value = values.get(attribute.name);
      if (value !== undefined) ratingsList.push({ concept: conceptIndex, attribute: attributeIndex, value });
    });
  });
  return { ok: true, dataset: { citation, source, groups, attributes, concepts: ratings.concepts, ratings: ratingsList } };
}
