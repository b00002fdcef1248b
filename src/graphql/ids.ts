// Ids are the database's integer keys, sent as decimal strings (GraphQL `ID`).
import { BadUserInputError } from './errors.ts';

const MAX_INT4 = 2_147_483_647;

/** Parses an `ID` argument; anything but a positive 32-bit integer is bad input naming `argument`. */
export function parseId(value: string | number, argument: string): number {
  const text = String(value).trim();
  const id = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(id) || id < 1 || id > MAX_INT4) {
    throw new BadUserInputError(argument, `must be a positive integer id, got ${JSON.stringify(value)}.`);
  }
  return id;
}

export function parseIds(values: readonly (string | number)[], argument: string): number[] {
  return values.map((value, index) => parseId(value, `${argument}[${index}]`));
}

export function parseOptionalId(value: string | number | null | undefined, argument: string): number | undefined {
  return value === null || value === undefined ? undefined : parseId(value, argument);
}
