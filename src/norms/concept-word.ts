// The word a concept key stands for. Feature norms key homonyms by sense — `bat_(animal)`,
// `bat_(baseball)`, `board_(wood)` (McRae et al. 2005 and the norms built on them) — and the key is
// the join key of every rating and activation, so it is kept exactly as written. A prompt, a word
// vector lookup or a chart label wants the word (`bat`): that is `conceptWord(key)`, one rule for
// extraction, the GloVe baseline and the API.
//
// The rule: a trailing sense in parentheses, with an optional `_` or space before it, is dropped
// (`bat_(animal)` → `bat`, `tank (army)` → `tank`), and the remaining underscores are spaces
// (`fire_truck` → `fire truck`). A key that would leave nothing (`(x)`, `_`) is its own word.

const TRAILING_SENSE = /[_ ]?\([^()]*\)$/u;

export function conceptWord(key: string): string {
  const word = key.replace(TRAILING_SENSE, '').replace(/_+/gu, ' ').trim().replace(/ {2,}/gu, ' ');
  return word.length > 0 ? word : key;
}

/** The sense in parentheses (`bat_(animal)` → `animal`), or null when the key has none. */
export function conceptSense(key: string): string | null {
  const match = TRAILING_SENSE.exec(key);
  if (!match) return null;
  const sense = match[0].replace(/^[_ ]?\(/u, '').replace(/\)$/u, '').trim();
  return sense.length > 0 && conceptWord(key) !== key ? sense : null;
}
