// Pure parsing and validation of a norms folder's files: contents in, a typed dataset or the full
// list of problems out. No file system, no database.
import { ErrorCollector, type NormsErrorLocation, type NormsValidationError } from './errors.ts';
import { decodeUtf8File } from './encoding.ts';
import { readCsv, type CsvTable } from './csv.ts';
import { parseSourceMarkdown } from './source-md.ts';
import { parseDatasetJson } from './dataset-json.ts';
import { cleanName, foldName, nameProblem } from './names.ts';
import { parseRatingValue } from './values.ts';
import { MAX_TEXT_LENGTH, codePointLength } from './limits.ts';
import { NORMS_FILES, type NormsAttribute, type NormsConcept, type NormsDatasetContent, type NormsFiles, type NormsRating, type NormsScale } from './types.ts';


export type NormsParseResult =
  | { ok: true; dataset: NormsDatasetContent }
  | { ok: false; errors: NormsValidationError[] };

/** A name for a message: quoted, and cut short so that a 50 MB name does not become a 50 MB message. */
export function shown(name: string, max = 80): string {
  return JSON.stringify(name.length > max ? `${name.slice(0, max)}…` : name);
}

function findColumn(table: CsvTable, name: string): number {
  return table.header.findIndex((column) => column.toLowerCase() === name);
}

function listNames(names: readonly string[], max = 20): string {
  const list = names.slice(0, max).map((n) => shown(n)).join(', ');
  return names.length > max ? `${list} and ${names.length - max} more` : list;
}

function decodeAndRead(files: NormsFiles, role: 'ratings' | 'attributes' | 'concepts', errors: ErrorCollector): CsvTable | undefined {
  const file = NORMS_FILES[role];
  const content = files[role];
  if (content === undefined) return undefined;
  const text = decodeUtf8File(file, content, errors);
  return text === undefined ? undefined : readCsv(file, text, errors);
}

/** Records why a cleaned name cannot be used; true when it can. `what` is "concept", "attribute"… */
function checkName(name: string, what: string, location: NormsErrorLocation, errors: ErrorCollector): boolean {
  const problem = nameProblem(name);
  if (!problem) return true;
  errors.add(problem.code, location, `${what} name ${shown(name)} ${problem.detail}`);
  return false;
}

/** Descriptions and metadata cells: any text, up to MAX_TEXT_LENGTH characters. */
function checkText(text: string, what: string, location: NormsErrorLocation, errors: ErrorCollector): boolean {
  if (text.length <= MAX_TEXT_LENGTH || codePointLength(text, MAX_TEXT_LENGTH) <= MAX_TEXT_LENGTH) return true;
  errors.add('FIELD_TOO_LONG', location, `${what} is ${codePointLength(text)} characters long; descriptions and metadata cells are limited to ${MAX_TEXT_LENGTH} characters (MAX_TEXT_LENGTH)`);
  return false;
}

/** First line of each name, by folded key: finds "Accordion" beside "accordion". */
class NameRegistry {
  private readonly byKey = new Map<string, { name: string; line: number }>();

  /** The earlier entry this name duplicates, or undefined after registering it. */
  claim(name: string, line: number): { name: string; line: number } | undefined {
    const key = foldName(name);
    const previous = this.byKey.get(key);
    if (previous) return previous;
    this.byKey.set(key, { name, line });
    return undefined;
  }
}

function duplicateDetail(what: string, name: string, previous: { name: string; line: number }, verb: string): string {
  return previous.name === name
    ? `${what} ${shown(name)} ${verb} on line ${previous.line}`
    : `${what} ${shown(name)} ${verb} on line ${previous.line} as ${shown(previous.name)} (names are compared ignoring case and Unicode compatibility forms)`;
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
  const seen = new NameRegistry();
  for (const row of table.rows) {
    const name = cleanName(row.fields[nameColumn] ?? '');
    const group = cleanName(row.fields[groupColumn] ?? '');
    if (name !== '') declared.add(name);
    const at = { file, line: row.line, column: nameColumn + 1, columnName: 'attribute' };
    if (name === '') {
      errors.add('EMPTY_ATTRIBUTE', at, 'attribute name is empty');
      continue;
    }
    if (!checkName(name, 'attribute', { ...at, attribute: name.slice(0, 200) }, errors)) continue;
    const previous = seen.claim(name, row.line);
    if (previous !== undefined) {
      errors.add('DUPLICATE_ATTRIBUTE', { ...at, attribute: name }, duplicateDetail('attribute', name, previous, 'is already defined'));
      continue;
    }
    const groupAt = { file, line: row.line, column: groupColumn + 1, columnName: 'group', attribute: name };
    if (group === '') {
      errors.add('EMPTY_GROUP', groupAt, `attribute ${shown(name)} has no group`);
      continue;
    }
    if (!checkName(group, 'group', groupAt, errors)) continue;
    const description = descriptionColumn >= 0 ? (row.fields[descriptionColumn] ?? '').trim() : '';
    if (!checkText(description, 'the description', { file, line: row.line, column: descriptionColumn + 1, columnName: 'description', attribute: name }, errors)) continue;
    const metadata: Record<string, string> = {};
    let metadataOk = true;
    for (const { name: key, index } of extra) {
      metadata[key] = row.fields[index] ?? '';
      metadataOk &&= checkText(metadata[key], `the ${shown(key)} cell`, { file, line: row.line, column: index + 1, columnName: key, attribute: name }, errors);
    }
    if (metadataOk) attributes.push({ name, group, description, metadata });
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

function formatScale(scale: NormsScale): string {
  return `${scale.min}–${scale.max}`;
}

function parseRatings(table: CsvTable, scale: NormsScale | null, errors: ErrorCollector): RatingsTable | undefined {
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
  const seen = new NameRegistry();
  for (const row of table.rows) {
    const word = cleanName(row.fields[conceptColumn] ?? '');
    const location = { file, line: row.line, column: conceptColumn + 1, columnName: table.header[conceptColumn]! };
    if (word === '') {
      errors.add('EMPTY_CONCEPT', location, 'concept name is empty');
      continue;
    }
    if (!checkName(word, 'concept', { ...location, concept: word.slice(0, 200) }, errors)) continue;
    const previous = seen.claim(word, row.line);
    if (previous !== undefined) {
      errors.add('DUPLICATE_CONCEPT', { ...location, concept: word }, duplicateDetail('concept', word, previous, 'already appears'));
      continue;
    }
    const values = new Map<string, number>();
    for (const { name, index } of attributeColumns) {
      const raw = (row.fields[index] ?? '').trim();
      if (raw === '') continue;
      const at = { file, line: row.line, column: index + 1, columnName: name, concept: word, attribute: name };
      const parsed = parseRatingValue(raw);
      if (!parsed.ok) {
        const code = parsed.reason === 'not-a-number' ? 'NON_NUMERIC_VALUE' : parsed.reason === 'too-long' ? 'FIELD_TOO_LONG' : 'VALUE_OUT_OF_RANGE';
        errors.add(code, at, `value ${shown(raw, 40)} for concept ${shown(word)}, attribute ${shown(name)} ${parsed.detail}`);
        continue;
      }
      if (scale && (parsed.value < scale.min || parsed.value > scale.max)) {
        errors.add('VALUE_OUT_OF_SCALE', at, `value ${shown(raw)} for concept ${shown(word)}, attribute ${shown(name)} is outside the declared scale ${formatScale(scale)} (${NORMS_FILES.dataset})`);
        continue;
      }
      values.set(name, parsed.value);
    }
    const category = categoryColumn >= 0 ? cleanName(row.fields[categoryColumn] ?? '') : '';
    if (category !== '' && !checkName(category, 'category', { file, line: row.line, column: categoryColumn + 1, columnName: 'category', concept: word }, errors)) continue;
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
  const seen = new NameRegistry();
  const listed = new Set<string>();
  const unknown: string[] = [];
  for (const row of table.rows) {
    const word = cleanName(row.fields[conceptColumn] ?? '');
    const location = { file, line: row.line, column: conceptColumn + 1, columnName: table.header[conceptColumn]! };
    if (word === '') {
      errors.add('EMPTY_CONCEPT', location, 'concept name is empty');
      continue;
    }
    if (!checkName(word, 'concept', { ...location, concept: word.slice(0, 200) }, errors)) continue;
    const previous = seen.claim(word, row.line);
    if (previous !== undefined) {
      errors.add('DUPLICATE_CONCEPT', { ...location, concept: word }, duplicateDetail('concept', word, previous, 'already appears'));
      continue;
    }
    listed.add(word);
    const index = indexOf.get(word);
    if (index === undefined) {
      unknown.push(word);
      continue;
    }
    const concept = ratings.concepts[index]!;
    if (categoryColumn >= 0) {
      const raw = cleanName(row.fields[categoryColumn] ?? '');
      const category = raw === '' ? null : raw;
      if (category !== null && !checkName(category, 'category', { file, line: row.line, column: categoryColumn + 1, columnName: 'category', concept: word }, errors)) continue;
      if (!ratings.hasCategory) concept.category = category;
      else if (category !== concept.category) {
        errors.add('CATEGORY_MISMATCH', { file, line: row.line, column: categoryColumn + 1, columnName: 'category', concept: word },
          `concept ${shown(word)} has category ${JSON.stringify(category)} here but ${JSON.stringify(concept.category)} in ratings.csv (line ${ratings.conceptLines[index]})`);
      }
    }
    const metadata: Record<string, string> = {};
    for (const { name, index: column } of extra) {
      metadata[name] = row.fields[column] ?? '';
      checkText(metadata[name], `the ${shown(name)} cell`, { file, line: row.line, column: column + 1, columnName: name, concept: word }, errors);
    }
    concept.metadata = metadata;
  }
  if (unknown.length > 0) {
    errors.add('CONCEPT_MISMATCH', { file }, `${unknown.length} concept(s) of concepts.csv are not in ratings.csv: ${listNames(unknown)}`);
  }
  const undescribed = ratings.concepts.map((c) => c.word).filter((word) => !listed.has(word));
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
  const datasetText = files.dataset === undefined ? undefined : decodeUtf8File(NORMS_FILES.dataset, files.dataset, errors);
  const scale = datasetText === undefined ? (files.dataset === undefined ? null : undefined) : parseDatasetJson(datasetText, errors);
  const ratingsTable = decodeAndRead(files, 'ratings', errors);
  const attributesTable = decodeAndRead(files, 'attributes', errors);
  const conceptsTable = decodeAndRead(files, 'concepts', errors);
  const sourceText = files.source === undefined ? undefined : decodeUtf8File(NORMS_FILES.source, files.source, errors);

  const { attributes, declared } = attributesTable ? parseAttributes(attributesTable, errors) : { attributes: [], declared: new Set<string>() };
  // An unreadable dataset.json leaves the scale unknown: values are then checked without it.
  const ratings = ratingsTable ? parseRatings(ratingsTable, scale ?? null, errors) : undefined;
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

  if (!errors.ok || !ratings || scale === undefined) return { ok: false, errors: errors.errors };

  const groups: string[] = [];
  for (const attribute of attributes) if (!groups.includes(attribute.group)) groups.push(attribute.group);
  const ratingsList: NormsRating[] = [];
  ratings.values.forEach((values, conceptIndex) => {
    attributes.forEach((attribute, attributeIndex) => {
      const value = values.get(attribute.name);
      if (value !== undefined) ratingsList.push({ concept: conceptIndex, attribute: attributeIndex, value });
    });
  });
  return { ok: true, dataset: { citation, source, groups, attributes, concepts: ratings.concepts, ratings: ratingsList, scale } };
}
