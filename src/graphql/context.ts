// What every resolver receives: the database, the configuration and this request's loaders.
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface ApiContext {
  db: Database;
  config: Config;
  loaders: Loaders;
}

export function createContext(db: Database, config: Config): ApiContext {
  return { db, config, loaders: createLoaders(db) };
}
