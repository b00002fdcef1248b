// npm run import:norms -- <folder> [--name <dataset name>]
// Imports a norms folder (ratings.csv, attributes.csv, SOURCE.md, optional concepts.csv) as a new
// dataset version, or reports that the same content is already there, with the norms' sparsity (zero
// and empty cells, attributes under common --min-support K: docs/norms.md). Exit 2 = bad input (every
// problem named by file:line:column or path), 1 = the run failed (the database, the file system:
// EIO, EMFILE… with its message; a stack only for a bug), src/errors.ts.
import path from 'node:path';
import { parseCliArguments, runCli } from '../src/cli.ts';
import { loadConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db/client.ts';
import { ArgumentError } from '../src/errors.ts';
import { loadNormsFolder } from '../src/norms/read-folder.ts';
import { importNormsDataset, isValidDatasetName } from '../src/norms/import.ts';
import { describeSparsity } from '../src/norms/sparsity.ts';

const USAGE = 'usage: npm run import:norms -- <folder> [--name <dataset name>]';

async function main(): Promise<void> {
  const parsed = parseCliArguments({ allowPositionals: true, options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }, USAGE);
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  if (parsed.positionals.length !== 1) throw new ArgumentError(`expected exactly one folder argument, got ${parsed.positionals.length}\n${USAGE}`);
  const folder = path.resolve(parsed.positionals[0]!);
  const name = parsed.values.name ?? path.basename(folder);
  if (!isValidDatasetName(name)) throw new ArgumentError(`--name ${JSON.stringify(name)} is invalid: use 1–200 characters without control characters or "@".`);
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: the import needs a PostgreSQL URL, e.g. DATABASE_URL=postgresql://user@localhost:5432/probe_atlas');

  // Every problem of the folder (a NormsValidationFailure, bad input) before the database is touched.
  const dataset = await loadNormsFolder(folder);
  const db = connectDatabase(databaseUrl, { maxConnections: 2 });
  try {
    const imported = await importNormsDataset(db.prisma, dataset, { name });
    const { counts } = imported;
    console.log(imported.status === 'unchanged'
      ? `${name}: unchanged — this content is already version ${imported.version} (dataset id ${imported.datasetId}); nothing written.`
      : `${name}: imported version ${imported.version} (dataset id ${imported.datasetId}) in ${imported.seconds.toFixed(2)} s`);
    console.log(`  ${counts.concepts} concepts (${counts.newConcepts} new words), ${counts.attributes} attributes in ${counts.groups} groups, ${counts.ratings} ratings`);
    for (const line of describeSparsity(imported.sparsity, counts.attributes)) console.log(`  ${line}`);
    console.log(`  content sha256 ${imported.contentHash}`);
  } finally {
    await db.close();
  }
}

runCli('import-norms', main, { kinds: ['bad-input'] });
