// What every resolver receives: the database, the configuration and this request's loaders.
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface ApiContext {
  db: Database;
  config: Config;
  loaders: Loaders;
  /** The request's `Authorization` header, for the admin check of any future write. */
  authorization?: string;
}

export function createContext(db: Database, config: Config, authorization?: string): ApiContext {
  return { db, config, loaders: createLoaders(db), authorization };
}
