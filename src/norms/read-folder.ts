// The file-system edge of the norms import: reads a folder's files as bytes and hands them to the
// pure parser.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { NormsValidationFailure } from './errors.ts';
import { parseNormsFiles, type NormsParseResult } from './parse.ts';
import { NORMS_FILES, type NormsDatasetContent, type NormsFiles } from './types.ts';

async function readOptional(file: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function readNormsFolder(folder: string): Promise<NormsParseResult> {
  const files: NormsFiles = {};
  for (const role of Object.keys(NORMS_FILES) as (keyof typeof NORMS_FILES)[]) {
    const content = await readOptional(path.join(folder, NORMS_FILES[role]));
    if (content !== undefined) files[role] = content;
  }
  const result = parseNormsFiles(files);
  // Without a provenance section, the folder's name is the best stable description of the source.
  if (result.ok && result.dataset.source === '') result.dataset.source = `folder ${path.basename(path.resolve(folder))}`;
  return result;
}

/** Like readNormsFolder, but throws a NormsValidationFailure listing every problem. */
export async function loadNormsFolder(folder: string): Promise<NormsDatasetContent> {
  const result = await readNormsFolder(folder);
  if (!result.ok) throw new NormsValidationFailure(folder, result.errors);
  return result.dataset;
}
