// Live progress without polling: ONE `LISTEN probe_atlas_runs` connection per API process, whatever
// the number of subscribers. The triggers of prisma/migrations/20261201160000_jobs announce every
// change of a job, a worker or a run's status/progress on commit, from whichever process wrote it;
// this fans each notice out to the subscribers of that run only, coalesced (at most one wake-up per
// run every MIN_PUSH_INTERVAL_MS, several changes in between are one), and the subscriber re-reads the
// run's state (sse.ts, resolvers/jobs.ts). The connection is opened with the first subscriber, opened
// again (with a doubling delay, logged) when it drops — every run is then woken, as notices sent
// meanwhile are lost — and closed by stop(), which also ends every subscription.
import pg from 'pg';
import { guardClient } from '../db/connection-errors.ts';
import type { Logger } from '../log.ts';

export const RUNS_CHANNEL = 'probe_atlas_runs';
/** At most 4 pushes a second per run. */
export const MIN_PUSH_INTERVAL_MS = 250;
/** application_name of the LISTEN connection (pg_stat_activity shows it; the tests find it by it). */
export const LIVE_APPLICATION_NAME = 'probe-atlas live';

const FIRST_RECONNECT_MS = 100;
const MAX_RECONNECT_MS = 5_000;

export type LiveRunKind = 'EXTRACT' | 'PROBE';

/** A notice's payload (the migration's probe_atlas_notify_run): a job's or run's change, or a worker's. */
interface Notice {
  table?: string;
  kind?: LiveRunKind;
  runId?: number;
}

interface Follower {
  /** Set when a change is to be sent; cleared by the wake-up that sends it. */
  dirty: boolean;
  wake: (() => void) | undefined;
  ended: boolean;
}

interface RunState {
  followers: Set<Follower>;
  timer: NodeJS.Timeout | undefined;
  lastPush: number;
}

export interface RunEventsOptions {
  minIntervalMs?: number;
}

export class RunEvents {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectMs = FIRST_RECONNECT_MS;
  private everConnected = false;
  private stopped = false;
  private readonly runs = new Map<string, RunState>();
  private readonly minIntervalMs: number;

  /** `connection`: how to reach the database (the API pool's options: pool.options). */
  constructor(private readonly connection: pg.ClientConfig, private readonly log: Logger, options: RunEventsOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? MIN_PUSH_INTERVAL_MS;
  }

  /**
   * The changes of one run: the first next() resolves once the channel listens (so the state read
   * then misses nothing), each later one after a (coalesced) change of the run. Ends on return() or stop().
   */
  follow(kind: LiveRunKind, runId: number): AsyncIterableIterator<void> {
    // After stop(): an iterator that has ended, registered nowhere.
    if (this.stopped) return (async function* () {})();
    const key = `${kind}:${runId}`;
    const follower: Follower = { dirty: false, wake: undefined, ended: false };
    let state = this.runs.get(key);
    if (!state) {
      state = { followers: new Set(), timer: undefined, lastPush: 0 };
      this.runs.set(key, state);
    }
    state.followers.add(follower);
    let first = true;
    const done: IteratorResult<void> = { value: undefined, done: true };
    const end = () => {
      if (follower.ended) return;
      follower.ended = true;
      const current = this.runs.get(key);
      current?.followers.delete(follower);
      if (current && current.followers.size === 0) {
        clearTimeout(current.timer);
        this.runs.delete(key);
      }
      follower.wake?.();
    };
    const iterator: AsyncIterableIterator<void> = {
      next: async () => {
        if (follower.ended) return done;
        if (first) {
          first = false;
          // A connection failure is logged and retried; the state is read and sent anyway.
          await this.listening().catch(() => {});
          return follower.ended ? done : { value: undefined, done: false };
        }
        if (!follower.dirty) await new Promise<void>((resolve) => (follower.wake = resolve));
        follower.wake = undefined;
        if (follower.ended) return done;
        follower.dirty = false;
        return { value: undefined, done: false };
      },
      return: async () => {
        end();
        return done;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Resolves once the channel is listening (opening it if needed); rejects when this attempt failed (a retry is scheduled). */
  listening(): Promise<void> {
    if (this.stopped || this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** Closes the channel and ends every subscription (their streams complete). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const state of this.runs.values()) {
      clearTimeout(state.timer);
      for (const follower of state.followers) {
        follower.ended = true;
        follower.wake?.();
      }
    }
    this.runs.clear();
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client: pg.Client = guardClient(
      new pg.Client({ ...this.connection, application_name: LIVE_APPLICATION_NAME, keepAlive: true }),
      (error) => this.dropped(client, error),
    );
    client.on('notification', (message) => this.notice(message.payload));
    client.once('end', () => this.dropped(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${RUNS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      this.log.warn(`live progress: cannot listen on ${RUNS_CHANNEL} (${(error as Error).message}); retrying in ${this.reconnectMs} ms`);
      this.scheduleReconnect();
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.reconnectMs = FIRST_RECONNECT_MS;
    if (this.everConnected) {
      this.log.info(`live progress: listening on ${RUNS_CHANNEL} again`);
      // Notices sent while the connection was down are lost: every followed run may have changed.
      for (const key of this.runs.keys()) this.schedule(key);
    }
    this.everConnected = true;
  }

  private dropped(client: pg.Client, error?: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    this.log.warn(`live progress: the ${RUNS_CHANNEL} connection dropped (${error?.message ?? 'closed'}); reconnecting in ${this.reconnectMs} ms`);
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.reconnectMs;
    this.reconnectMs = Math.min(this.reconnectMs * 2, MAX_RECONNECT_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.listening().catch(() => {}); // a failure schedules the next attempt itself
    }, delay);
    this.reconnectTimer.unref();
  }

  private notice(payload: string | undefined): void {
    let notice: Notice;
    try {
      notice = JSON.parse(payload ?? '') as Notice;
    } catch {
      return;
    }
    if (notice.table === 'worker') {
      // A worker started, stopped or was found lost: the runs it served show it among their workers.
      for (const key of this.runs.keys()) this.schedule(key);
    } else if ((notice.kind === 'EXTRACT' || notice.kind === 'PROBE') && Number.isInteger(notice.runId)) {
      this.schedule(`${notice.kind}:${notice.runId}`);
    }
  }

  /** Wakes the run's followers now, or when MIN_PUSH_INTERVAL_MS has passed since the last wake-up. */
  private schedule(key: string): void {
    const state = this.runs.get(key);
    if (!state || state.timer) return;
    const delay = Math.max(0, state.lastPush + this.minIntervalMs - Date.now());
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.lastPush = Date.now();
      for (const follower of state.followers) {
        follower.dirty = true;
        follower.wake?.();
      }
    }, delay);
  }
}
