// Migrations run through the real Prisma CLI (`prisma migrate deploy`), backed by the WASM schema
// engine shim, so the server, the tests and a user at a terminal all apply them the same way. The job
// queue's schema (graphile_worker, src/jobs/queue.ts) is graphile-worker's own and migrated by it,
// right after, so one call leaves every schema the code needs in place.
import { spawn } from 'node:child_process';
import { Logger, runMigrations } from 'graphile-worker';
import { createRequire } from 'node:module';
import { PROJECT_ROOT } from '../config.ts';
import { CodedError } from '../errors.ts';

const require = createRequire(import.meta.url);

export class MigrationError extends CodedError<'MIGRATION_FAILED'> {
  constructor(readonly output: string, exitCode: number | null) {
    super('MIGRATION_FAILED', 'failed', `prisma migrate deploy failed (exit ${exitCode}):\n${output.trim()}`);
  }
}

export async function applyMigrations(databaseUrl: string): Promise<void> {
  const cli = require.resolve('prisma/build/index.js');
  const child = spawn(process.execPath, [cli, 'migrate', 'deploy'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  // The CLI can exit 0 when the engine process dies; the closing line is the real signal.
  if (exitCode !== 0 || !/(applied|No pending migrations)/i.test(output)) throw new MigrationError(output, exitCode);
  // Quiet: graphile-worker logs each migration it applies at info level.
  await runMigrations({ connectionString: databaseUrl, logger: new Logger(() => () => {}) });
}
