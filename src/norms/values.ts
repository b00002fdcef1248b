// The rule for a rating's text: a plain decimal that a float64 holds as written. "1e999" would
// become Infinity (and NULL in PostgreSQL), "1e-400" silently 0 and "1e-310" a subnormal that kept
// a few bits of the value, so each is refused rather than stored as something else.
import { MAX_VALUE_LENGTH } from './limits.ts';

// Plain decimal numbers only: "na", "Infinity", "0x1F" or "1,5" are errors, not silently NaN or 31.
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
/** The smallest positive normal float64 (2^-1022). */
export const MIN_NORMAL = 2.2250738585072014e-308;

export type ValueParse = { ok: true; value: number } | { ok: false; reason: 'not-a-number' | 'too-long' | 'overflow' | 'underflow'; detail: string };

export function parseRatingValue(raw: string): ValueParse {
  if (raw.length > MAX_VALUE_LENGTH) {
    return { ok: false, reason: 'too-long', detail: `is ${raw.length} characters long; values are limited to ${MAX_VALUE_LENGTH} characters (MAX_VALUE_LENGTH)` };
  }
  if (!DECIMAL.test(raw)) return { ok: false, reason: 'not-a-number', detail: 'is not a number (leave the cell empty for a missing rating)' };
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    return { ok: false, reason: 'overflow', detail: `is too large for a float64 (it would be stored as ${value > 0 ? '' : '-'}Infinity)` };
  }
  const mantissa = raw.split(/[eE]/)[0]!;
  if (/[1-9]/.test(mantissa) && Math.abs(value) < MIN_NORMAL) {
    return { ok: false, reason: 'underflow', detail: `is too close to zero for a float64 (it would be stored as ${value === 0 ? '0' : `the imprecise ${value}`}); write 0 or a value of magnitude at least ${MIN_NORMAL}` };
  }
  return { ok: true, value: value === 0 ? 0 : value }; // -0 is stored as 0
}
