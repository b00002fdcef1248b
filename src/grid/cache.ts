// A small in-process cache of grid aggregation rows. An entry is reused only while the probe runs
// it was computed from are unchanged and all COMPLETED: a probe run's identity is its settings hash,
// and a completed run's scores are final (re-running it resets its status and finish time, which
// changes the fingerprint). A hit is checked against the fingerprint from the axes statement every
// request runs anyway (no extra round trip); rows are stored with the fingerprint the aggregation
// statement computed in its own snapshot, so they never pair with a newer run state. Entries also expire after `maxAgeMs`, bounding
// staleness should a completed run's rows ever be edited in place.
// Bounded twice, least recently used out first: at most `maxEntries` entries and at most `maxBytes`
// of their estimated heap size (`weigh`), so the cache never holds more than a fixed share of memory
// however large the grids; a value heavier than `maxBytes` on its own is not stored.

export interface RunFingerprint {
  /** Ids, settings hashes, statuses and finish times of the probe runs a request selects. */
  key: string;
  /** True when every selected run is COMPLETED (and there is at least one). */
  cacheable: boolean;
}

interface Entry<V> {
  fingerprint: string;
  storedAt: number;
  value: V;
  bytes: number;
}

/** Default bound on a cache's estimated heap size. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export interface CacheBounds<V> {
  maxBytes?: number;
  /** Estimated heap bytes of one value (default: 0, i.e. only `maxEntries` bounds the cache). */
  weigh?: (value: V) => number;
}

export class GridResultCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private totalBytes = 0;
  hits = 0;
  misses = 0;
  readonly maxBytes: number;
  private readonly weigh: (value: V) => number;

  constructor(
    readonly maxEntries = 256,
    readonly maxAgeMs = 5 * 60_000,
    private readonly now: () => number = () => Date.now(),
    bounds: CacheBounds<V> = {},
  ) {
    this.maxBytes = bounds.maxBytes ?? DEFAULT_CACHE_BYTES;
    this.weigh = bounds.weigh ?? (() => 0);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  get(key: string, fingerprint: RunFingerprint): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || !fingerprint.cacheable || entry.fingerprint !== fingerprint.key || this.now() - entry.storedAt > this.maxAgeMs) {
      if (entry) this.remove(key);
      this.misses++;
      return undefined;
    }
    // Least recently used first: re-insert on every hit.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry.value;
  }

  /** The value stored under `key`, valid or not: the caller must then check it with `get`. */
  peek(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Whether an entry exists for `key`, valid or not (the caller then checks its fingerprint). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, fingerprint: RunFingerprint, value: V): void {
    if (!fingerprint.cacheable) return;
    this.remove(key);
    const bytes = this.weigh(value);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { fingerprint: fingerprint.key, storedAt: this.now(), value, bytes });
    this.totalBytes += bytes;
    while (this.entries.size > this.maxEntries || this.totalBytes > this.maxBytes) this.remove(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated heap bytes of the values held. */
  get bytes(): number {
    return this.totalBytes;
  }
}
