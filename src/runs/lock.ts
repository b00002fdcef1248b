// One process per run: a session-level PostgreSQL advisory lock on the run's identity (its settings
// hash), held on a dedicated connection from before the run's row is created or read until the run
// ends, and released even when it fails. A second process on the same identity gets RUN_LOCKED at
// once and leaves the run untouched, instead of interleaving writes. Every run kind takes it here.
// (`hashtext` is 32 bits: two different runs very rarely share a lock; the second then reports busy.)
// Queue workers (src/jobs/worker.ts) hold the same lock SHARED while they run a job of the run: many
// workers at once, but never together with an in-process run of the same identity.
import type pg from 'pg';
import { runLockedError } from './errors.ts';

const toError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

/** Runs `work` while holding the run's lock (exclusive, or shared among queue workers); needs a pool of at least 2 connections (one holds the lock). */
export async function withRunLock<T>(pool: pg.Pool, settingsHash: string, subject: string, work: () => Promise<T>, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<T> {
  const suffix = mode === 'shared' ? '_shared' : '';
  const client = await pool.connect();
  // A checked-out client has no 'error' listener: a connection dropped meanwhile would be uncaught.
  const swallow = () => undefined;
  client.on('error', swallow);
  let broken: Error | undefined;
  try {
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock${suffix}(hashtext($1)) AS locked`, [settingsHash]).catch((error: unknown) => {
      broken = toError(error);
      throw error;
    });
    if (!rows[0]?.locked) throw runLockedError(subject, settingsHash);
    try {
      return await work();
    } finally {
      await client.query(`SELECT pg_advisory_unlock${suffix}(hashtext($1))`, [settingsHash]).catch((error: unknown) => {
        broken = toError(error);
      });
    }
  } finally {
    client.removeListener('error', swallow);
    // A connection whose unlock failed may still hold the lock: discard it rather than pool it.
    client.release(broken ?? undefined);
  }
}
