// The one reading of an entity id sent by a client: the database's integer keys as canonical
// decimal strings (GraphQL `ID`), so an id has exactly one spelling ("7", never "007" or " 7") and
// the API's arguments and the grid filters accept and refuse the same ids.

/** Largest PostgreSQL `integer` (int4): every key of the schema is one. */
export const MAX_ID = 2_147_483_647;

/** The key an id spells, or null when it is not a positive int4 in canonical decimal form. */
export function idValue(value: unknown): number | null {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const id = Number(text);
  return id <= MAX_ID ? id : null;
}

/** What a refused id is told, after the argument's name. */
export function idProblem(value: unknown): string {
  return `must be a positive integer id in decimal without leading zeros or spaces (1 to ${MAX_ID}), got ${JSON.stringify(value)}.`;
}
