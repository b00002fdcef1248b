// Content hashes (sha256) of big files — a UNet's external weights run to gigabytes — computed once
// per file version and reused while the file's (device, inode, size, mtime in ns) stay the same, so a
// bundle's identity and the tap cache can cover every weight byte without re-reading gigabytes on
// every start. Remembered in memory for the process and, when a cache folder is given, in
// `<cacheDir>/digests.json`. A file written so recently that a later write could keep its mtime
// (coarse-clock filesystems) is hashed but not remembered: it is hashed again next time.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface FileDigest {
  /** The file's real path (symlinks resolved). */
  file: string;
  size: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string. */
  mtimeNs: string;
  sha256: string;
}

interface Entry {
  dev: string;
  ino: string;
  size: number;
  mtimeNs: string;
  sha256: string;
}

/** A file whose mtime is this close to the hashing time may still change without moving its mtime. */
const RACY_NS = 3_000_000_000n;
const CHUNK = 8 << 20;

/** Streams the file through sha256 in fixed-size chunks (constant memory for multi-GB weights). */
export function sha256OfFile(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export class DigestCache {
  private readonly entries = new Map<string, Entry>();
  private dirty = false;
  /** Files actually read and hashed by this cache (not answered from a remembered entry). */
  hashed = 0;

  /** `file`: where the cache is persisted (`<cacheDir>/digests.json`), or undefined for memory only. */
  constructor(private readonly file?: string) {
    if (!file || !existsSync(file)) return;
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; files?: Record<string, Entry> };
      if (stored.version !== 1 || !stored.files || typeof stored.files !== 'object') return;
      for (const [name, entry] of Object.entries(stored.files)) {
        if (entry && typeof entry.sha256 === 'string' && /^[0-9a-f]{64}$/.test(entry.sha256) && typeof entry.size === 'number'
          && typeof entry.mtimeNs === 'string' && typeof entry.ino === 'string' && typeof entry.dev === 'string') this.entries.set(name, entry);
      }
    } catch {
      // A damaged cache only costs re-hashing: start empty and overwrite it on save.
    }
  }

  /** The cache persisted in a tap-cache folder. */
  static inFolder(cacheDir: string): DigestCache {
    return new DigestCache(path.join(cacheDir, 'digests.json'));
  }

  /** sha256 of the file's current content: remembered when (dev, ino, size, mtime) are unchanged, else read. */
  digest(fileArgument: string): FileDigest {
    const file = realpathSync(fileArgument);
    const stat = statSync(file, { bigint: true });
    const key = { dev: String(stat.dev), ino: String(stat.ino), size: Number(stat.size), mtimeNs: String(stat.mtimeNs) };
    const known = this.entries.get(file) ?? MEMORY.get(file);
    if (known && known.dev === key.dev && known.ino === key.ino && known.size === key.size && known.mtimeNs === key.mtimeNs) {
      return { file, size: key.size, mtimeNs: key.mtimeNs, sha256: known.sha256 };
    }
    const sha256 = sha256OfFile(file);
    this.hashed += 1;
    const after = statSync(file, { bigint: true });
    const settled = after.size === stat.size && after.mtimeNs === stat.mtimeNs &&
      BigInt(Date.now()) * 1_000_000n - stat.mtimeNs > RACY_NS;
    if (settled) {
      const entry = { ...key, sha256 };
      this.entries.set(file, entry);
      MEMORY.set(file, entry);
      this.dirty = true;
    } else {
      this.entries.delete(file);
      MEMORY.delete(file);
    }
    return { file, size: key.size, mtimeNs: key.mtimeNs, sha256 };
  }

  /** Writes the remembered digests (write then rename, so readers never see half a file). Best effort. */
  save(): void {
    if (!this.file || !this.dirty) return;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const temporary = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify({ version: 1, files: Object.fromEntries(this.entries) })}\n`);
      renameSync(temporary, this.file);
      this.dirty = false;
    } catch {
      // Not being able to remember a digest only costs hashing the file again next time.
    }
  }
}

/** Process-wide memory shared by every DigestCache, so a second load in one process reads no weights again. */
const MEMORY = new Map<string, Entry>();
