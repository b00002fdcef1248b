// Ids are the database's integer keys, sent as decimal strings (GraphQL `ID`); src/db/ids.ts says
// which strings are ids, for these arguments and for the grid filters alike.
import { idProblem, idValue } from '../db/ids.ts';
import { BadUserInputError } from './errors.ts';

/** Parses an `ID` argument; anything but a canonical positive 32-bit integer is bad input naming `argument`. */
export function parseId(value: string | number, argument: string): number {
  const id = idValue(value);
  if (id === null) throw new BadUserInputError(argument, idProblem(value));
  return id;
}

export function parseIds(values: readonly (string | number)[], argument: string): number[] {
  return values.map((value, index) => parseId(value, `${argument}[${index}]`));
}

export function parseOptionalId(value: string | number | null | undefined, argument: string): number | undefined {
  return value === null || value === undefined ? undefined : parseId(value, argument);
}
