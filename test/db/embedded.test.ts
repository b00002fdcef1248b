// The embedded PostgreSQL (npm start without DATABASE_URL, the tests' last resort): as root in a
// private (0700) folder — a clone in `mktemp -d` or under /root — the `postgres` user that runs the
// server cannot reach the checkout, so the binaries and the data move where it can; a failing
// initdb is an EmbeddedPostgresError, never an uncaught 'error' event; no password file is left in
// the system temp folder, and the cluster's own password is random and private to its owner; a
// server orphaned by a SIGKILLed owner is stopped by the next start rather than blocking it.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { installedNativeDir, isRoot } from '../../src/db/embedded-placement.ts';

// Distinct from the tests' own fallback server (54331) and npm start's default (54329).
const PORT = 54337;
const secrets = () => readdirSync(os.tmpdir()).filter((name) => /^(pg-password-|probe-atlas-initdb-)/.test(name)).sort();

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-embedded-test-')); // 0700, as mktemp -d
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const rootOnly = isRoot() ? test : test.skip;
if (!isRoot()) console.log('test/db/embedded.test.ts: not running as root: the private-folder case (root runs the server as the postgres user) is skipped');

rootOnly('as root, a checkout and a data folder in a private 0700 folder start: both move where the postgres user can reach them', async () => {
  const checkout = path.join(work, 'private-checkout');
  cpSync(path.dirname(installedNativeDir()), path.join(checkout, 'pkg'), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  chmodSync(work, 0o700);
  const before = secrets();
  const lines: string[] = [];
  const db = await startEmbeddedPostgres({ dataDir: path.join(checkout, 'data'), port: PORT, database: 'probe_atlas', persistent: false, nativeDir: path.join(checkout, 'pkg', 'native'), log: (line) => lines.push(line) });
  try {
    expect(lines.join('\n')).toMatch(/postgres user cannot reach .*private-checkout\/pkg\/native: using a copy in /);
    expect(db.dataDir.startsWith(work)).toBe(false);
    expect(statSync(db.dataDir).uid).not.toBe(0); // owned by postgres
    expect((await query(db.url, 'SELECT current_database() AS db'))[0]).toEqual({ db: 'probe_atlas' });
    expect(secrets()).toEqual(before);
  } finally {
    await db.stop();
  }
  expect(existsSync(db.dataDir)).toBe(false); // persistent: false
});

test('the cluster password is random and private, and nothing secret is left in the temp folder', async () => {
  const open = path.join(work, 'open');
  chmodSync(work, 0o755); // reachable by anyone: nothing moves
  const before = secrets();
  const db = await startEmbeddedPostgres({ dataDir: path.join(open, 'data'), port: PORT, database: 'probe_atlas', persistent: false });
  try {
    const file = path.join(db.dataDir, 'probe-atlas-password');
    const password = readFileSync(file, 'utf8').trim();
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(new URL(db.url).password).toBe(password);
    expect(db.url).toContain('@127.0.0.1:');
    expect(secrets()).toEqual(before);
    await expect(query(db.url.replace(password, 'probe-atlas'), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  } finally {
    await db.stop();
  }
});

test('a failing initdb is an EmbeddedPostgresError with its output; no password file and no half-made cluster stay', async () => {
  chmodSync(work, 0o755);
  const broken = path.join(work, 'broken-native');
  for (const sub of ['lib', 'share', 'bin']) cpSync(path.join(installedNativeDir(), sub), path.join(broken, sub), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const initdb = path.join(broken, 'bin', 'initdb');
  writeFileSync(initdb, '#!/bin/sh\necho "initdb: simulated failure" >&2\nexit 3\n', { mode: 0o755 });
  utimesSync(initdb, 0, 0);
  const before = secrets();
  const dataDir = path.join(work, 'broken-data');
  const start = startEmbeddedPostgres({ dataDir, port: PORT, database: 'probe_atlas', nativeDir: broken });
  await expect(start).rejects.toThrow(EmbeddedPostgresError);
  await expect(start).rejects.toThrow(/initdb failed \(exit 3\)[^]*simulated failure/);
  expect(secrets()).toEqual(before);
  expect(existsSync(dataDir)).toBe(false);
});

test('a server left running by a start that was SIGKILLed is stopped by the next start, which then serves the same data', async () => {
  chmodSync(work, 0o755);
  const dataDir = path.join(work, 'orphan-data');
  // The owner: a separate Node process that starts the server detached (as npm start's supervisor
  // does), prints its pid and waits; SIGKILL leaves the server running without an owner.
  const owner = path.join(work, 'owner.mts');
  writeFileSync(owner, `import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve('src/db/embedded.ts'))};
const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${PORT}, database: 'probe_atlas', detached: true });
console.log('READY ' + db.pid);
setInterval(() => {}, 1000);
`);
  const child = spawn(process.execPath, ['--import', 'tsx', owner], { stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPid = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /READY (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the owner exited (${code}) before its server was ready: ${text}`)));
  });
  const ownerGone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await ownerGone;
  try {
    expect(() => process.kill(serverPid, 0)).not.toThrow(); // the orphan still runs
    const lines: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir, port: PORT, database: 'probe_atlas', persistent: false, log: (line) => lines.push(line) });
    try {
      expect(lines.join('\n')).toContain(`stopping the embedded PostgreSQL (pid ${serverPid}) that an earlier start left running`);
      expect(db.pid).not.toBe(serverPid);
      expect(() => process.kill(serverPid, 0)).toThrow();
      expect((await query(db.url, 'SELECT current_database() AS db'))[0]).toEqual({ db: 'probe_atlas' });
    } finally {
      await db.stop();
    }
  } finally {
    try {
      process.kill(serverPid, 'SIGINT'); // whatever failed, leave no server behind on this port
    } catch { /* already gone: the expected case */ }
  }
});
