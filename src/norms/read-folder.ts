// The file-system edge of the norms import: reads a folder's files as bytes and hands them to the
// pure parser. Every way a path can be wrong (missing, a file instead of a folder, a directory
// instead of a file, a symlink loop, no permission, a FIFO, too large) becomes a validation error
// that names the path, never a raw stack: these are bad input, not a failed run.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCollector, NormsValidationFailure } from './errors.ts';
import { MAX_FILE_BYTES } from './limits.ts';
import { parseNormsFiles, type NormsParseResult } from './parse.ts';
import { NORMS_FILES, type NormsDatasetContent, type NormsFiles } from './types.ts';

/** File-system error codes that mean "this path is wrong", with the words for them. */
const BAD_PATH: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'has a file where a folder should be',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'is a symbolic link loop (too many levels of symbolic links)',
  EACCES: 'cannot be read: permission denied',
  EPERM: 'cannot be read: operation not permitted',
  ENAMETOOLONG: 'is too long a path',
};

function badPath(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? undefined : BAD_PATH[code] && `${BAD_PATH[code]} (${code})`;
}

type Read = { ok: true; bytes: Uint8Array } | { ok: false; missing: boolean; reason: string };

async function readRegularFile(file: string): Promise<Read> {
  try {
    // stat first: a FIFO or a device would block or never end; a 10 GB file would exhaust memory.
    const info = await stat(file);
    if (info.isDirectory()) return { ok: false, missing: false, reason: 'is a folder, not a file (EISDIR)' };
    if (!info.isFile()) return { ok: false, missing: false, reason: 'is not a regular file (a FIFO, socket or device)' };
    if (info.size > MAX_FILE_BYTES) return { ok: false, missing: false, reason: `is ${info.size} bytes; files are limited to ${MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)` };
    const handle = await open(file, 'r');
    try {
      return { ok: true, bytes: await handle.readFile() };
    } finally {
      await handle.close();
    }
  } catch (error) {
    const reason = badPath(error);
    if (reason === undefined) throw error;
    return { ok: false, missing: (error as NodeJS.ErrnoException).code === 'ENOENT', reason };
  }
}

export async function readNormsFolder(folder: string): Promise<NormsParseResult> {
  const errors = new ErrorCollector();
  try {
    const info = await stat(folder);
    if (!info.isDirectory()) errors.add('NOT_A_FOLDER', { file: folder }, 'is a file, not a norms folder (ENOTDIR)');
  } catch (error) {
    const reason = badPath(error);
    if (reason === undefined) throw error;
    errors.add('NOT_A_FOLDER', { file: folder }, `${reason}: expected a norms folder`);
  }
  if (!errors.ok) return { ok: false, errors: errors.errors };

  const files: NormsFiles = {};
  for (const role of Object.keys(NORMS_FILES) as (keyof typeof NORMS_FILES)[]) {
    const file = path.join(folder, NORMS_FILES[role]);
    const read = await readRegularFile(file);
    if (read.ok) files[role] = read.bytes;
    else if (!read.missing) errors.add(read.reason.includes('MAX_FILE_BYTES') ? 'FILE_TOO_LARGE' : 'UNREADABLE_FILE', { file: NORMS_FILES[role] }, `${file} ${read.reason}`);
  }
  if (!errors.ok) return { ok: false, errors: errors.errors };
  const result = parseNormsFiles(files);
  // Without a provenance section, the folder's name is the best stable description of the source.
  if (result.ok && result.dataset.source === '') result.dataset.source = `folder ${path.basename(path.resolve(folder))}`;
  return result;
}

/** Like readNormsFolder, but throws a NormsValidationFailure listing every problem. */
export async function loadNormsFolder(folder: string): Promise<NormsDatasetContent> {
  const result = await readNormsFolder(folder);
  if (!result.ok) throw new NormsValidationFailure(`Norms folder ${folder}`, result.errors);
  return result.dataset;
}
