// How a grid statement runs: compiled from its fragments, as a named prepared statement for the
// first few hundred distinct texts (parsed and planned once per connection), and through the grid's
// share of the pool when a signal may cancel it (connections.ts). Every grid, comparison and
// best-cell statement goes through `run`.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { compile, type SqlFragment } from './sql.ts';
import { queryWithSignal } from './connections.ts';

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * Runs a statement as a named prepared statement (parsed and planned once per connection), for
 * the first few hundred distinct statement texts; rarer shapes run unnamed so that a client
 * sending ever-new shapes cannot grow every connection's prepared-statement cache without bound.
 */
const MAX_PREPARED_SHAPES = 256;
const preparedNames = new Map<string, string>();

export function run<R extends pg.QueryResultRow>(db: Queryable, statement: SqlFragment, signal?: AbortSignal): Promise<pg.QueryResult<R>> {
  const { text, values } = compile(statement);
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED_SHAPES) {
    name = `grid_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  const config = name === undefined ? { text, values } : { name, text, values };
  return signal && isPool(db) ? queryWithSignal<R>(db, config, signal) : db.query<R>(config);
}

function isPool(db: Queryable): db is pg.Pool {
  return typeof (db as Partial<pg.Pool>).connect === 'function' && typeof (db as Partial<pg.Pool>).options === 'object';
}
