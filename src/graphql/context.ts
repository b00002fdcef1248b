// What every resolver receives: the database, the configuration, this request's loaders, and the
// operation's scope (limits/operation.ts): its AbortSignal — aborted when the client disconnects —
// its grid-cell and response budget, and its heavy-operation slot.
import type { ServerResponse } from 'node:http';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { OperationScope } from './limits/operation.ts';
import { resolveLimits } from './limits/resolve.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface ApiContext {
  db: Database;
  config: Config;
  loaders: Loaders;
  operation: OperationScope;
}

/** `signal`: aborted when the client goes away before its response is sent (see http-handler.ts). */
export function createContext(db: Database, config: Config, signal?: AbortSignal): ApiContext {
  return { db, config, loaders: createLoaders(db), operation: new OperationScope(resolveLimits(config.limits), signal) };
}

/** Aborted when the connection closes before `response` has been sent in full (the client went away). */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
