// Server-wide admission of heavy operations (grid, compareGrid, bestCells): at most `maxRunning` at
// once, at most `maxQueued` waiting (first come, first served, each for at most `timeoutMs`), and
// beyond that an immediate SERVER_BUSY (HTTP 503, Retry-After). Cheap operations never come here,
// so they never wait behind heavy ones; with per-operation budgets (operation.ts) this bounds the
// heap by maxRunning × one operation's budget. A waiter whose client leaves is dropped from the queue.
import { ServerBusyError } from '../errors.ts';

interface Waiter {
  grant(): void;
}

export interface AdmissionOptions {
  maxRunning: number;
  maxQueued: number;
  timeoutMs: number;
  /** Told to refused clients (Retry-After). */
  retryAfterSeconds?: number;
}

export class AdmissionGate {
  private running = 0;
  private readonly queue: Waiter[] = [];
  readonly retryAfterSeconds: number;

  constructor(readonly options: AdmissionOptions) {
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }

  get stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /** Resolves with the slot's release function (call it once), or rejects: SERVER_BUSY, or the signal's reason. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.running < this.options.maxRunning && this.queue.length === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(
        new ServerBusyError(
          `${this.running} heavy operations running (GRAPHQL_MAX_HEAVY_OPERATIONS=${this.options.maxRunning}) and ` +
            `${this.queue.length} waiting (GRAPHQL_MAX_QUEUED_HEAVY_OPERATIONS=${this.options.maxQueued})`,
          this.retryAfterSeconds,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const leave = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        leave();
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          leave();
          resolve(this.releaser());
        },
      };
      const timer = setTimeout(() => {
        leave();
        reject(new ServerBusyError(`waited ${this.options.timeoutMs} ms for a heavy-operation slot (GRAPHQL_HEAVY_QUEUE_TIMEOUT_MS)`, this.retryAfterSeconds));
      }, this.options.timeoutMs);
      timer.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue[0];
      // The slot passes straight to the next waiter: `running` stays as it is.
      if (next) next.grant();
      else this.running--;
    };
  }
}
