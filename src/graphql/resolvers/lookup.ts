// Shared shapes of resolver work: lookups by id that end in NOT_FOUND, relations that must exist,
// and connection arguments checked against the configured page size.
import type DataLoader from 'dataloader';
import { NotFoundError } from '../errors.ts';
import { parseId } from '../ids.ts';
import { parsePageArgs, type Page } from '../pagination.ts';
import type { ApiContext } from '../context.ts';
import type { Loaders } from '../loaders.ts';
import type { ConnectionArgs, IdArgs, Resolver } from './types.ts';

/** The row with id `raw` (argument `argument`), or NOT_FOUND naming the entity. */
export async function findById<T>(loader: DataLoader<number, T | null>, raw: string, entity: string, argument = 'id'): Promise<T> {
  const row = await loader.load(parseId(raw, argument));
  if (!row) throw new NotFoundError(entity, argument, raw);
  return row;
}

/** A to-one relation backed by a foreign key: absence is a broken database, not user error. */
export async function related<T>(loader: DataLoader<number, T | null>, id: number, entity: string): Promise<T> {
  const row = await loader.load(id);
  if (!row) throw new Error(`Dangling reference: ${entity} ${id} does not exist.`);
  return row;
}

export function pageOf(args: ConnectionArgs, context: ApiContext): Page {
  return parsePageArgs(args, context.config.limits.maxPageSize);
}

/** A `Query.x(id: ID!)` resolver: the row, or NOT_FOUND naming the entity. */
export function lookupById<T>(pick: (loaders: Loaders) => DataLoader<number, T | null>, entity: string): Resolver<unknown, IdArgs, Promise<T>> {
  return (_parent, { id }, { loaders }) => findById(pick(loaders), id, entity);
}
