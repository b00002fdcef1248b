// Every limit with its value: the configured one, else its default (configs built in code, e.g. by
// tests, may leave the request budgets out).
import type { Config } from '../../config.ts';
import { DEFAULT_MAX_GRID_CELLS } from '../../grid/input.ts';
import { DEFAULT_REQUEST_LIMITS } from './defaults.ts';

export type RequestLimits = Required<Config['limits']>;

export function resolveLimits(limits: Config['limits']): RequestLimits {
  return {
    ...DEFAULT_REQUEST_LIMITS,
    maxGridCells: DEFAULT_MAX_GRID_CELLS,
    ...Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)),
  } as RequestLimits;
}
