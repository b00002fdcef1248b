// Bytes → text for norms files: UTF-8 only. A leading UTF-8 BOM is dropped (spreadsheet exports add
// one); UTF-16 and invalid UTF-8 are rejected with the byte offset, line and column of the bad bytes,
// because a silently replaced character would become a different concept word.
import type { ErrorCollector } from './errors.ts';

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** Byte offsets where an invalid UTF-8 sequence starts (at most `limit`). */
export function findInvalidUtf8(bytes: Uint8Array, limit = Infinity): number[] {
  const bad: number[] = [];
  let i = 0;
  while (i < bytes.length && bad.length < limit) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) { i++; continue; }
    else if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; }
    else { bad.push(i); i++; continue; }
    let codePoint = b & (0x3f >> need);
    let ok = i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) ok = false;
      else codePoint = (codePoint << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if (ok && (codePoint < min || (codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > 0x10ffff)) ok = false;
    if (!ok) { bad.push(i); i++; continue; }
    i += need + 1;
  }
  return bad;
}

/** 1-based line and byte column of a byte offset. */
export function lineAndColumnOfByte(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < bytes.length; i++) {
    if (bytes[i] === 0x0a) { line++; lineStart = i + 1; }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Decodes a file's bytes, or records why it cannot be read as UTF-8 and returns undefined. */
export function decodeUtf8File(file: string, content: Uint8Array | string, errors: ErrorCollector): string | undefined {
  if (typeof content === 'string') {
    // Text handed over as a string skipped the byte checks: NUL and lone surrogates would reach
    // PostgreSQL as an error or as a silent U+FFFD.
    const bad = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(content);
    if (bad) {
      const before = content.slice(0, bad.index);
      const line = before.split('\n').length;
      errors.add('UNSUPPORTED_ENCODING', { file, line, column: bad.index - before.lastIndexOf('\n') },
        `${bad[0] === '\u0000' ? 'a NUL character' : 'a lone UTF-16 surrogate'} at character offset ${bad.index}: the text cannot be stored as UTF-8`);
      return undefined;
    }
    return content.startsWith('\uFEFF') ? content.slice(1) : content;
  }
  const bytes = content;
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    errors.add('UNSUPPORTED_ENCODING', { file, line: 1, column: 1 }, 'the file starts with a UTF-16 byte-order mark; save it as UTF-8');
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    errors.add('UNSUPPORTED_ENCODING', { file, ...lineAndColumnOfByte(bytes, nul) }, `NUL byte at byte offset ${nul}: the file looks like UTF-16 or binary; save it as UTF-8`);
    return undefined;
  }
  const start = UTF8_BOM.every((b, i) => bytes[i] === b) ? 3 : 0;
  const invalid = findInvalidUtf8(bytes.subarray(start), 20).map((offset) => offset + start);
  if (invalid.length > 0) {
    for (const offset of invalid) {
      errors.add('INVALID_UTF8', { file, ...lineAndColumnOfByte(bytes, offset) },
        `invalid UTF-8 byte 0x${bytes[offset]!.toString(16).padStart(2, '0')} at byte offset ${offset}; the file must be UTF-8 (was it saved as Latin-1/Windows-1252?)`);
    }
    return undefined;
  }
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start));
}
