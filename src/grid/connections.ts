// How grid statements get a connection: from a bounded share of the pool (so heavy statements,
// however many aliases an operation has, always leave connections for cheap catalogue queries),
// with a wait that an AbortSignal ends, and a running statement that the signal CANCELS on the
// server: `pg_cancel_backend(pid)` from a separate short-lived connection (the pool may be full).
// A connection whose statement was cancelled is destroyed, not returned to the pool, so a cancel
// that arrives late can never hit the next statement run on that backend.
import pg from 'pg';

/** Connections grid statements may hold at once: the pool's size less a third kept for everything else. */
export function gridShareOf(poolSize: number): number {
  return Math.max(1, poolSize - Math.ceil(poolSize / 3));
}

class Share {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }
}

const shares = new WeakMap<pg.Pool, Share>();

function shareOf(pool: pg.Pool): Share {
  let share = shares.get(pool);
  if (!share) shares.set(pool, (share = new Share(gridShareOf(pool.options.max ?? 10))));
  return share;
}

/** Asks the server to cancel whatever backend `pid` is running; never throws (the statement timeout is the backstop). */
async function cancelBackend(pool: pg.Pool, pid: number): Promise<void> {
  const client = new pg.Client(pool.options);
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // Unreachable server: nothing to cancel there either.
  } finally {
    await client.end().catch(() => {});
  }
}

/** A pool connection, or the signal's reason as soon as it aborts (a connection that comes later goes straight back). */
function connect(pool: pg.Pool, signal: AbortSignal): Promise<pg.PoolClient> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const connecting = pool.connect();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    connecting.then(
      (client) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) {
          // Rejected already (or now): this connection goes straight back.
          client.release();
          reject(signal.reason);
        } else resolve(client);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Runs one statement on the pool; `signal` gives up the wait for a connection, or cancels the running statement. */
export async function queryWithSignal<R extends pg.QueryResultRow>(pool: pg.Pool, config: pg.QueryConfig, signal: AbortSignal): Promise<pg.QueryResult<R>> {
  const share = shareOf(pool);
  await share.acquire(signal);
  try {
    const client = await connect(pool, signal);
    let cancelled: Promise<void> | undefined;
    const onAbort = () => {
      cancelled = cancelBackend(pool, (client as unknown as { processID: number }).processID);
    };
    try {
      signal.throwIfAborted();
      signal.addEventListener('abort', onAbort, { once: true });
      const result = await client.query<R>(config).finally(() => signal.removeEventListener('abort', onAbort));
      signal.throwIfAborted();
      return result;
    } catch (error) {
      // A cancelled statement fails with 57014 (query_canceled): report why it was cancelled instead.
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      if (cancelled) await cancelled;
      client.release(cancelled ? true : undefined);
    }
  } finally {
    share.release();
  }
}
