// The contract of one first-start seed step (src/demo/seed.ts runs them in order).
import type { Database } from '../db/client.ts';

export type SeedDatabase = Pick<Database, 'prisma' | 'pool'>;

/** Reports progress within a step, e.g. (3, 10, 'extracting "hammer"'). */
export type SeedProgress = (done: number, total: number, message?: string) => void;

export interface SeedStep {
  /** Unique, stable, kebab-case: shown in logs and used to place later steps. */
  name: string;
  /** Whether the step's result is already in the database (then `run` is not called). */
  isDone(db: SeedDatabase): Promise<boolean>;
  /** Does the work; must be idempotent itself too (another process may have seeded meanwhile). May return a summary line. */
  run(db: SeedDatabase, progress: SeedProgress): Promise<string | void>;
}
