// Validation problems of a norms folder, as values: one class, one `code` per kind of problem, each
// naming the file and (where it has one) the line, column, concept and attribute at fault. All are bad
// input (exit 2, src/errors.ts).
import { CodedError } from '../errors.ts';

export type NormsErrorCode =
  | 'MISSING_FILE'
  | 'NOT_A_FOLDER'
  | 'UNREADABLE_FILE'
  | 'FILE_TOO_LARGE'
  | 'INVALID_METADATA'
  | 'FIELD_TOO_LONG'
  | 'VALUE_OUT_OF_RANGE'
  | 'VALUE_OUT_OF_SCALE'
  | 'INVALID_CONTENT'
  | 'INVALID_UTF8'
  | 'UNSUPPORTED_ENCODING'
  | 'CSV_SYNTAX'
  | 'EMPTY_FILE'
  | 'MISSING_COLUMN'
  | 'DUPLICATE_COLUMN'
  | 'EMPTY_HEADER'
  | 'RAGGED_ROW'
  | 'EMPTY_CONCEPT'
  | 'DUPLICATE_CONCEPT'
  | 'INVALID_NAME'
  | 'EMPTY_ATTRIBUTE'
  | 'DUPLICATE_ATTRIBUTE'
  | 'EMPTY_GROUP'
  | 'NON_NUMERIC_VALUE'
  | 'ATTRIBUTE_MISMATCH'
  | 'CONCEPT_MISMATCH'
  | 'CATEGORY_MISMATCH'
  | 'NO_CONCEPTS'
  | 'NO_ATTRIBUTES'
  | 'MISSING_CITATION'
  | 'TOO_MANY_ERRORS';

export interface NormsErrorLocation {
  file: string;
  /** 1-based line of the file (the line where the record starts). */
  line?: number;
  /** 1-based column: the field number for CSV problems, the byte column for encoding problems, the character column for dataset.json. */
  column?: number;
  /** Header name of the column, when there is one. */
  columnName?: string;
  concept?: string;
  attribute?: string;
}

export class NormsValidationError extends CodedError<NormsErrorCode> {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly columnName: string | undefined;
  readonly concept: string | undefined;
  readonly attribute: string | undefined;
  /** The problem without its location prefix. */
  readonly detail: string;

  constructor(code: NormsErrorCode, location: NormsErrorLocation, detail: string) {
    super(code, 'bad-input', `${formatLocation(location)}: ${detail} [${code}]`);
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.columnName = location.columnName;
    this.concept = location.concept;
    this.attribute = location.attribute;
    this.detail = detail;
  }
}

/** `ratings.csv:12:4 (column "Bright")`, the form editors and terminals recognise. */
export function formatLocation(location: NormsErrorLocation): string {
  let text = location.file;
  if (location.line !== undefined) {
    text += `:${location.line}`;
    if (location.column !== undefined) text += `:${location.column}`;
  }
  if (location.columnName !== undefined) text += ` (column ${JSON.stringify(location.columnName)})`;
  return text;
}

/**
 * Thrown by the convenience entry points when a folder does not validate, and by the import when
 * content does not; carries every problem. `subject` reads "Norms folder data/x" or "Norms dataset \"x\"".
 */
export class NormsValidationFailure extends CodedError<'INVALID_NORMS'> {
  readonly errors: readonly NormsValidationError[];

  constructor(subject: string, errors: readonly NormsValidationError[]) {
    super('INVALID_NORMS', 'bad-input', `${subject} is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n` + errors.map((e) => `  - ${e.message}`).join('\n'));
    this.errors = errors;
  }
}

/** Caps how many problems one file reports, so a wholly wrong file gives a readable list. */
export const MAX_ERRORS_PER_FILE = 50;

export class ErrorCollector {
  readonly errors: NormsValidationError[] = [];
  private readonly perFile = new Map<string, number>();

  add(code: NormsErrorCode, location: NormsErrorLocation, detail: string): void {
    const count = (this.perFile.get(location.file) ?? 0) + 1;
    this.perFile.set(location.file, count);
    if (count <= MAX_ERRORS_PER_FILE) {
      this.errors.push(new NormsValidationError(code, location, detail));
    } else if (count === MAX_ERRORS_PER_FILE + 1) {
      this.errors.push(new NormsValidationError('TOO_MANY_ERRORS', { file: location.file }, `more than ${MAX_ERRORS_PER_FILE} problems; the rest are not listed`));
    }
  }

  countFor(file: string): number {
    return this.perFile.get(file) ?? 0;
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }
}
