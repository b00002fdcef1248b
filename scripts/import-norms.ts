// npm run import:norms -- <folder> [--name <dataset name>]
// Imports a norms folder (ratings.csv, attributes.csv, SOURCE.md, optional concepts.csv) as a new
// dataset version, or reports that the same content is already there. Exit 2 = bad input (every
// problem named by file:line:column or path), 1 = the run failed (e.g. the database); never a stack.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db/client.ts';
import { readNormsFolder } from '../src/norms/read-folder.ts';
import { importNormsDataset, isValidDatasetName, NormsImportArgumentError } from '../src/norms/import.ts';
import { NormsValidationFailure } from '../src/norms/errors.ts';

const USAGE = 'usage: npm run import:norms -- <folder> [--name <dataset name>]';

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  if (parsed.positionals.length !== 1) fail(`expected exactly one folder argument, got ${parsed.positionals.length}\n${USAGE}`);
  const folder = path.resolve(parsed.positionals[0]!);
  const name = parsed.values.name ?? path.basename(folder);
  if (!isValidDatasetName(name)) fail(`--name ${JSON.stringify(name)} is invalid: use 1–200 characters without control characters or "@".`);
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) fail('DATABASE_URL is not set: the import needs a PostgreSQL URL, e.g. DATABASE_URL=postgresql://user@localhost:5432/probe_atlas');

  let result;
  try {
    result = await readNormsFolder(folder);
  } catch (error) {
    // Not a wrong path (those are validation errors) but the file system failing: EIO, EMFILE…
    fail(`${folder}: could not be read: ${(error as Error).message}`, 1);
  }
  if (!result.ok) {
    fail(`${folder} is not a valid norms folder (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}):\n` +
      result.errors.map((e) => `  - ${e.message}`).join('\n'));
  }
  const db = connectDatabase(databaseUrl, { maxConnections: 2 });
  try {
    const imported = await importNormsDataset(db.prisma, result.dataset, { name });
    const { counts } = imported;
    console.log(imported.status === 'unchanged'
      ? `${name}: unchanged — this content is already version ${imported.version} (dataset id ${imported.datasetId}); nothing written.`
      : `${name}: imported version ${imported.version} (dataset id ${imported.datasetId}) in ${imported.seconds.toFixed(2)} s`);
    console.log(`  ${counts.concepts} concepts (${counts.newConcepts} new words), ${counts.attributes} attributes in ${counts.groups} groups, ${counts.ratings} ratings`);
    console.log(`  content sha256 ${imported.contentHash}`);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof NormsValidationFailure || error instanceof NormsImportArgumentError) fail(error.message, 2);
  // A failed run (the database unreachable, a statement refused): the message, not a stack.
  fail(`import failed: ${error instanceof Error ? error.message : String(error)}`, 1);
});
