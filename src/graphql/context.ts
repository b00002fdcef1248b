// What every resolver receives: the database, the configuration, this request's loaders, and the
// operation's scope (limits/operation.ts): its AbortSignal — aborted when the client disconnects —
// its grid-cell and response budget, and its heavy-operation slot; the request's Authorization header
// (the control mutations check it) and, over /graphql/stream, the live channel (live.ts).
import type { ServerResponse } from 'node:http';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { OperationScope } from './limits/operation.ts';
import { resolveLimits } from './limits/resolve.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import type { RunEvents } from './live.ts';

export interface ApiContext {
  db: Database;
  config: Config;
  /** This request's loaders; a subscription replaces them before each event (data changes between events). */
  loaders: Loaders;
  operation: OperationScope;
  /** The request's `Authorization` header, as sent (the control mutations compare its token). */
  authorization?: string;
  /** The process's live channel; set for operations served over /graphql/stream (subscriptions). */
  live?: RunEvents;
}

/** What a request adds to its context beyond the database and configuration. */
export interface RequestExtras {
  authorization?: string | undefined;
  live?: RunEvents;
}

/** `signal`: aborted when the client goes away before its response is sent (see http-handler.ts). */
export function createContext(db: Database, config: Config, signal?: AbortSignal, extras: RequestExtras = {}): ApiContext {
  return {
    db,
    config,
    loaders: createLoaders(db),
    operation: new OperationScope(resolveLimits(config.limits), signal),
    ...(extras.authorization !== undefined ? { authorization: extras.authorization } : {}),
    ...(extras.live ? { live: extras.live } : {}),
  };
}

/** Aborted when the connection closes before `response` has been sent in full (the client went away). */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
