// Shared shapes of resolver work: lookups by id that end in NOT_FOUND, relations that must exist,
// connection arguments checked against the configured page size, and pages of runs.
import type DataLoader from 'dataloader';
import { NotFoundError } from '../errors.ts';
import { parseId } from '../ids.ts';
import type { ChildPage, PageWindow, RunIdRow } from '../../db/catalogue.ts';
import { parsePageArgs, toConnection, type Connection, type Page } from '../pagination.ts';
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

/**
 * One page of a parent's runs: the page's ids in one statement for all parents (catalogue.ts), then
 * the rows through the by-id loader (one more statement, shared with every other run lookup).
 */
export async function runPage<T>(
  context: ApiContext,
  args: ConnectionArgs,
  pages: (window: PageWindow) => DataLoader<number, ChildPage<RunIdRow>>,
  parentId: number,
  rows: DataLoader<number, T | null>,
): Promise<Connection<T>> {
  const page = pageOf(args, context);
  const { rows: ids, total } = await pages(page).load(parentId);
  const runs = await Promise.all(ids.map(({ id }) => related(rows, id, 'run')));
  return toConnection(runs, total, page);
}
