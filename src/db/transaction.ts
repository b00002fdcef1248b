// One transaction on a dedicated pool client: BEGIN, work, COMMIT; ROLLBACK on error.
import type pg from 'pg';

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out pg client has no 'error' listener: a connection dropped between two queries would
  // otherwise be an uncaught 'error' event. The failure surfaces through the next query instead.
  const swallow = () => undefined;
  client.on('error', swallow);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.removeListener('error', swallow);
    client.release();
    return result;
  } catch (error) {
    // A failing ROLLBACK (dead connection) must not hide the original error; release(error) discards
    // the connection instead of returning a possibly broken one to the pool.
    await client.query('ROLLBACK').catch(() => undefined);
    client.removeListener('error', swallow);
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}
