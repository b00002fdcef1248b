// The size limits of a norms folder, in one place: each one keeps a field or a file that no norms
// set needs from reaching the database (a concept word must fit a btree index row; a 50 MB digit
// string is not a rating) and is named in the error that enforces it.

/** Concept, category, attribute and group names, in characters (Unicode code points). 200 × 4 bytes fits a btree index row (2,704 bytes). */
export const MAX_NAME_LENGTH = 200;
/** The text of one rating value, in characters: 17 significant digits, a sign, a point and an exponent need 25. */
export const MAX_VALUE_LENGTH = 64;
/** Descriptions and extra metadata cells, in characters. */
export const MAX_TEXT_LENGTH = 10_000;
/** One file of the folder, in bytes (256 MiB): far beyond any published norms set, well inside memory. */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Length in code points, without building an array for a 50 MB string. */
export function codePointLength(text: string, stopAfter = Infinity): number {
  let count = 0;
  for (let i = 0; i < text.length && count <= stopAfter; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
