// CSV downloads of `grid` and `compareGrid` (issue 11): a link a spreadsheet, R or pandas can open,
// with the same arguments as the GraphQL field — `GET /grid.csv?input=<GridInput as JSON>` and
// `GET /compare-grid.csv?input=<CompareInput as JSON>`. A URL and not `Accept: text/csv` because a
// download link cannot set headers.
//
// The request runs through Apollo like any other (the generated document below, as a POST): depth,
// cost and operation budgets, admission control, the grid response cache and the ETag all apply
// unchanged (so `/grid.csv` has the grid's ETag and 304; a comparison has no ETag). The columns are
// the grid's own fields: one per axis (the value's label), then every scalar field of the cell type
// in SDL order (read from the schema, so a new cell field appears here without a change), one row
// per cell, row-major as `cells`. Numbers are written as JavaScript
// prints them (shortest round-trip form); null is an empty field.
import { getNamedType, isListType, isNonNullType, isScalarType, isEnumType, isObjectType, type GraphQLSchema } from 'graphql';

export const CSV_PATHS = { '/grid.csv': 'grid', '/compare-grid.csv': 'compareGrid' } as const;
export type CsvField = (typeof CSV_PATHS)[keyof typeof CSV_PATHS];

/** The cell fields that are not data columns: the position is already given by the axis columns. */
const POSITION_FIELDS = new Set(['index', 'coordinates']);

export interface CsvDocument {
  field: CsvField;
  query: string;
  /** Scalar cell fields, in SDL order: the data columns. */
  columns: string[];
}

/** The document a CSV download runs: axes, and every scalar cell field. */
export function csvDocument(schema: GraphQLSchema, field: CsvField): CsvDocument {
  const root = schema.getQueryType()?.getFields()[field];
  if (!root) throw new Error(`csv: Query.${field} is not in the schema.`);
  const resultType = getNamedType(root.type);
  if (!isObjectType(resultType)) throw new Error(`csv: Query.${field} does not return an object type.`);
  const cellsField = resultType.getFields().cells;
  const cellType = cellsField && getNamedType(cellsField.type);
  if (!cellType || !isObjectType(cellType)) throw new Error(`csv: ${resultType.name}.cells is not a list of objects.`);
  const columns = Object.values(cellType.getFields())
    .filter((f) => {
      const type = isNonNullType(f.type) ? f.type.ofType : f.type;
      return !isListType(type) && (isScalarType(type) || isEnumType(type)) && f.args.length === 0 && !POSITION_FIELDS.has(f.name);
    })
    .map((f) => f.name);
  const inputType = root.args.find((a) => a.name === 'input')?.type.toString();
  if (!inputType) throw new Error(`csv: Query.${field} has no input argument.`);
  const operation = field === 'grid' ? 'GridCsv' : 'CompareGridCsv';
  const query = `query ${operation}($input: ${inputType}) { ${field}(input: $input) { axes { dimension values { label } } cells { coordinates ${columns.join(' ')} } } }`;
  return { field, query, columns };
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

interface CsvResult {
  axes: { dimension: string; values: { label: string }[] }[];
  cells: ({ coordinates: number[] } & Record<string, unknown>)[];
}

/** The CSV text of a grid or comparison answer (CRLF line ends, as RFC 4180 has them). */
export function toCsv(document: CsvDocument, result: CsvResult): string {
  const header = [...result.axes.map((axis) => axis.dimension.toLowerCase()), ...document.columns];
  const lines = [header.map(csvField).join(',')];
  for (const cell of result.cells) {
    const labels = cell.coordinates.map((position, axis) => result.axes[axis]!.values[position]!.label);
    lines.push([...labels, ...document.columns.map((column) => cell[column])].map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The CSV's ETag from the JSON answer's: the same answer, another representation, so another tag. */
export function csvEtag(jsonEtag: string | undefined): string | undefined {
  return jsonEtag?.replace(/^"g/, '"c');
}
