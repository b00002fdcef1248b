// The rule for names (concept keys above all, also categories, attributes and groups): what is
// stored, what is refused, and which two names count as the same. A concept key is a prompt and the
// join key of every activation, so two keys that look alike must not both exist in one dataset, and
// a key must not hide characters that no reader can see.
//
// - Stored form: trimmed and Unicode NFC; the case is kept as written (authors' spelling, and
//   case-sensitive text encoders such as T5 see "TV" and "tv" differently).
// - Refused characters: controls (Cc), format and invisible characters (Cf: zero-width space,
//   word joiner, BOM, soft hyphen, bidi controls…), line/paragraph separators, surrogates, private
//   use and unassigned code points, the Hangul fillers, and any space other than U+0020 (no-break,
//   ideographic, thin…) or two spaces in a row. ZWNJ and ZWJ (U+200C, U+200D) are kept where
//   writing systems need them: between two letters or marks neither of which is Latin, Greek or
//   Cyrillic (Persian, Indic scripts).
// - Sameness: two names are the same when their keys `foldName()` are equal: NFKC, then full case
//   folding approximated by upper- then lower-casing ("Straße" = "STRASSE", "Ａccordion" = "accordion").
import { MAX_NAME_LENGTH, codePointLength } from './limits.ts';

// Zs minus U+0020 is spelled out: the `v` flag's set subtraction needs an ES2024 target.
const REFUSED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]|  /u;
const JOINER_NEIGHBOUR = /^[\p{L}\p{M}]$/u;
const JOINER_FORBIDDEN_SCRIPT = /^[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]$/u;

export function cleanName(raw: string): string {
  return raw.trim().normalize('NFC');
}

export function foldName(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

function describe(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

function joinerAllowed(chars: readonly string[], index: number): boolean {
  const before = chars[index - 1];
  const after = chars[index + 1];
  return [before, after].every((c) => c !== undefined && JOINER_NEIGHBOUR.test(c) && !JOINER_FORBIDDEN_SCRIPT.test(c));
}

/**
 * Why a cleaned name cannot be stored, or undefined when it can. Positions are 1-based characters
 * (code points) of the cleaned name.
 */
export function nameProblem(name: string): { code: 'FIELD_TOO_LONG' | 'INVALID_NAME'; detail: string } | undefined {
  const length = codePointLength(name, MAX_NAME_LENGTH);
  if (length > MAX_NAME_LENGTH) {
    return { code: 'FIELD_TOO_LONG', detail: `is ${codePointLength(name)} characters long; names are limited to ${MAX_NAME_LENGTH} characters (MAX_NAME_LENGTH)` };
  }
  if (!REFUSED.test(name)) return undefined;
  const chars = [...name];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!;
    const codePoint = char.codePointAt(0)!;
    if (char === ' ' && chars[i + 1] === ' ') return { code: 'INVALID_NAME', detail: `has two spaces in a row at character ${i + 1}` };
    if (!REFUSED.test(char)) continue;
    if ((codePoint === 0x200c || codePoint === 0x200d) && joinerAllowed(chars, i)) continue;
    return { code: 'INVALID_NAME', detail: `contains the invisible or control character ${describe(codePoint)} at character ${i + 1}; remove it (names may not hide characters)` };
  }
  return undefined;
}
