// The run modules take a whole Database; a seed step only holds the shared prisma + pool, which it
// must not close (start.ts owns them).
import type { Database } from '../../db/client.ts';
import type { SeedDatabase } from '../seed-step.ts';

export function borrowedDatabase(db: SeedDatabase): Database {
  return {
    prisma: db.prisma,
    pool: db.pool,
    close: () => Promise.reject(new Error('The demo pipeline borrows the server\'s database connection and may not close it.')),
  };
}
