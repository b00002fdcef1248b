// Identity of runs: one spelling per value, so equal settings hash equally whatever their key order.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level (arrays keep their order; undefined members dropped). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 hex of canonicalJson(value). */
export function identityHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
