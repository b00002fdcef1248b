// RFC 4180 CSV into header + rows that remember their line, so every later check can point at it.
import { parse } from 'csv-parse/sync';
import type { ErrorCollector } from './errors.ts';

export interface CsvRow {
  /** 1-based line where the record starts (records may span lines inside quotes). */
  line: number;
  fields: string[];
}

export interface CsvTable {
  file: string;
  header: string[];
  headerLine: number;
  rows: CsvRow[];
}

interface CsvParseFailure extends Error {
  code?: string;
  lines?: number;
  column?: number | string;
}

function newlineCount(fields: readonly string[]): number {
  let count = 0;
  for (const field of fields) for (let i = field.indexOf('\n'); i >= 0; i = field.indexOf('\n', i + 1)) count++;
  return count;
}

/**
 * Where the quote that is never closed opened: csv-parse reports the end of the file, which points
 * the reader at the wrong line. A small RFC 4180 scan (comma-separated, LF or CRLF) finds it.
 */
export function findUnclosedQuote(text: string): { line: number; field: number; character: number } | undefined {
  let line = 1;
  let lineStart = 0;
  let field = 1;
  let state: 'start' | 'unquoted' | 'quoted' | 'closed' = 'start';
  let opened = { line: 1, field: 1, character: 1 };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state === 'quoted') {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else state = 'closed';
      } else if (c === '\n') {
        line++;
        lineStart = i + 1;
      }
      continue;
    }
    if (c === ',') { field++; state = 'start'; continue; }
    if (c === '\n') { line++; lineStart = i + 1; field = 1; state = 'start'; continue; }
    if (state === 'start' && c === '"') {
      state = 'quoted';
      opened = { line, field, character: i - lineStart + 1 };
    } else if (state === 'start') {
      state = 'unquoted';
    } else if (state === 'closed' && c !== '\r') {
      return undefined; // a stray character after a closing quote: csv-parse's own message is right
    }
  }
  return state === 'quoted' ? opened : undefined;
}

/**
 * Parses a CSV text. Ragged rows (field count ≠ header's) are reported, all of them, up to the cap;
 * a syntax error (unclosed quote…) stops the file there. Blank lines are skipped.
 */
export function readCsv(file: string, text: string, errors: ErrorCollector): CsvTable | undefined {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true }) as unknown as typeof records;
  } catch (error) {
    const failure = error as CsvParseFailure;
    const unclosed = failure.code === 'CSV_QUOTE_NOT_CLOSED' ? findUnclosedQuote(text) : undefined;
    if (unclosed) {
      errors.add('CSV_SYNTAX', { file, line: unclosed.line, column: unclosed.field },
        `CSV syntax error: the quote that opens field ${unclosed.field} at line ${unclosed.line}, character ${unclosed.character} is never closed (${failure.code})`);
      return undefined;
    }
    errors.add('CSV_SYNTAX', { file, ...(typeof failure.lines === 'number' ? { line: failure.lines } : {}) },
      `CSV syntax error: ${failure.message}${failure.code ? ` (${failure.code})` : ''}`);
    return undefined;
  }
  const lines = records.map(({ record, info }) => ({ line: info.lines - newlineCount(record), fields: record }));
  // A record whose fields are all blank (e.g. ",,,") is a blank line too.
  const nonBlank = lines.filter((row) => row.fields.some((field) => field.trim() !== ''));
  const [header, ...rows] = nonBlank;
  if (!header) {
    errors.add('EMPTY_FILE', { file }, 'the file has no header row');
    return undefined;
  }
  const names = header.fields.map((name) => name.trim().normalize('NFC'));
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === '') {
      errors.add('EMPTY_HEADER', { file, line: header.line, column: index + 1 }, `header field ${index + 1} is empty`);
      return;
    }
    const first = seen.get(name);
    if (first !== undefined) {
      errors.add('DUPLICATE_COLUMN', { file, line: header.line, column: index + 1, columnName: name, attribute: name },
        `column ${JSON.stringify(name)} appears twice in the header (columns ${first + 1} and ${index + 1})`);
    } else {
      seen.set(name, index);
    }
  });
  for (const row of rows) {
    if (row.fields.length !== names.length) {
      errors.add('RAGGED_ROW', { file, line: row.line, column: Math.min(row.fields.length, names.length) + 1 },
        `row has ${row.fields.length} fields but the header has ${names.length}`);
    }
  }
  return { file, header: names, headerLine: header.line, rows };
}
