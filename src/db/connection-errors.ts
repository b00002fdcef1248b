// A pg Pool or Client with no 'error' listener turns one terminated idle backend (a PostgreSQL
// restart, pg_terminate_backend, DROP DATABASE … WITH (FORCE), an embedded server stopping) into an
// uncaught exception that kills the whole process. Every pool and client the project opens goes
// through here: an idle connection's error is reported to `onError` (or ignored) and the pool
// replaces the connection on its next checkout. `endPool` also closes the other half of the race:
// `pool.end()` resolves as soon as it has *asked* each idle connection to close, not when the
// sockets are closed, so a database dropped right after it can still kill a backend that is
// talking to us; `endPool` waits for every socket.
import type pg from 'pg';

export type ConnectionErrorHandler = (error: Error) => void;

const ignore: ConnectionErrorHandler = () => {};

/** Every client a guarded pool has connected and not yet seen closed. */
const openClients = new WeakMap<pg.Pool, Set<pg.PoolClient>>();

/** Handles the pool's idle-connection errors and tracks its sockets for `endPool`. Returns the pool. */
export function guardPool<P extends pg.Pool>(pool: P, onError: ConnectionErrorHandler = ignore): P {
  if (openClients.has(pool)) return pool;
  const clients = new Set<pg.PoolClient>();
  openClients.set(pool, clients);
  pool.on('error', (error) => onError(error));
  pool.on('connect', (client) => {
    clients.add(client);
    // A checked-out client's own error is its query's rejection; a late one (after the pool has
    // dropped it) must not be fatal either.
    client.on('error', () => {});
    client.once('end', () => clients.delete(client));
  });
  return pool;
}

/** Handles a standalone client's errors (its queries still reject). Returns the client. */
export function guardClient<C extends pg.Client>(client: C, onError: ConnectionErrorHandler = ignore): C {
  client.on('error', (error) => onError(error));
  return client;
}

/**
 * Ends the pool (once; later calls wait for the same end) and resolves when every connection's
 * socket is closed, so nothing of this pool is connected to the server any more.
 */
export async function endPool(pool: pg.Pool): Promise<void> {
  if (!(pool as { ending?: boolean }).ending) await pool.end();
  const clients = openClients.get(pool);
  if (!clients) return;
  await Promise.all([...clients].map((client) =>
    (client as unknown as { _ended?: boolean })._ended ? undefined : new Promise<void>((resolve) => client.once('end', () => resolve()))));
}
