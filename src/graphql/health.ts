// GET /healthz: 200 when the server can reach its database, 503 otherwise (for load balancers).
import type { Database } from '../db/client.ts';

export async function checkHealth(db: Database): Promise<{ status: number; body: { status: 'ok' | 'unavailable'; database: string } }> {
  try {
    await db.pool.query('SELECT 1');
    return { status: 200, body: { status: 'ok', database: 'ok' } };
  } catch (error) {
    return { status: 503, body: { status: 'unavailable', database: (error as Error).message } };
  }
}
