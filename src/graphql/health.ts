// GET /healthz: 200 when the server can reach its database, 503 otherwise (for load balancers).
// It answers within HEALTH_TIMEOUT_MS whatever the database does (a frozen server included), and
// says no more than "unavailable": the database's own message goes to the log, not to anyone who asks.
import type { Database } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { databaseFailure } from '../db/unavailable.ts';
import { RETRY_AFTER_SECONDS } from './database-unavailable.ts';

/** The longest /healthz waits for `SELECT 1` (a free connection included). */
export const HEALTH_TIMEOUT_MS = 5_000;

export interface Health {
  status: number;
  headers: Record<string, string>;
  body: { status: 'ok' | 'unavailable'; database: 'ok' | 'unavailable' | 'timeout' };
}

class HealthTimeout extends Error {
  constructor() {
    super(`SELECT 1 did not answer within ${HEALTH_TIMEOUT_MS} ms`);
  }
}

export async function checkHealth(db: Database, log?: Logger): Promise<Health> {
  const timeoutMs = Math.min(db.timeouts?.queryMs ?? HEALTH_TIMEOUT_MS, HEALTH_TIMEOUT_MS);
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HealthTimeout()), HEALTH_TIMEOUT_MS);
    });
    const probe = db.pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as { text: string });
    probe.catch(() => {}); // when the deadline wins, the probe's own failure comes later and is not news
    await Promise.race([probe, deadline]);
    return { status: 200, headers: {}, body: { status: 'ok', database: 'ok' } };
  } catch (error) {
    const timedOut = error instanceof HealthTimeout || databaseFailure(error) === 'timeout';
    log?.warn('health check: database unavailable', { error: error instanceof Error ? error.message : String(error) });
    return {
      status: 503,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      body: { status: 'unavailable', database: timedOut ? 'timeout' : 'unavailable' },
    };
  } finally {
    clearTimeout(timer);
  }
}
