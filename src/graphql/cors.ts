// CORS for browser front ends on other origins: allowed origins (config.corsOrigins, or `*`) get the
// headers; a refused origin gets 403 (preflight or not), so a misconfiguration is loud, not silent.
import type { Config } from '../config.ts';

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'Content-Type, Authorization, Apollo-Require-Preflight, X-Apollo-Operation-Name';

export type CorsDecision =
  | { kind: 'no-origin' }
  | { kind: 'allowed'; headers: Record<string, string> }
  | { kind: 'refused'; origin: string };

/** Same-origin when the Origin's host is the Host the request was sent to (browsers send Origin on same-origin POSTs). */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** `host` is the request's Host header: the playground served by this server always reaches it. */
export function decideCors(origin: string | undefined, allowed: Config['corsOrigins'], host?: string): CorsDecision {
  if (!origin || isSameOrigin(origin, host)) return { kind: 'no-origin' };
  if (allowed !== '*' && !allowed.includes(origin)) return { kind: 'refused', origin };
  return {
    kind: 'allowed',
    headers: {
      'Access-Control-Allow-Origin': allowed === '*' ? '*' : origin,
      ...(allowed === '*' ? {} : { Vary: 'Origin' }),
    },
  };
}

/** Headers answering a preflight (OPTIONS with Access-Control-Request-Method) from an allowed origin. */
export function preflightHeaders(): Record<string, string> {
  return {
    'Access-Control-Allow-Methods': ALLOWED_METHODS,
    'Access-Control-Allow-Headers': ALLOWED_HEADERS,
    'Access-Control-Max-Age': '600',
  };
}
