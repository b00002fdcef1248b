// When npm start's supervisor restarts a crashed API process, and when it gives up: pure
// bookkeeping over crash times (the caller passes the clock), so the rule is tested without timers.
// Each crash within the window doubles the wait before the restart (from baseDelayMs up to
// maxDelayMs); the maxCrashes-th crash within windowMs gives up, since a process that keeps dying
// at once is a fault to report, not load to ride out.

export interface RestartPolicyOptions {
  maxCrashes: number;
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { maxCrashes: 5, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 8_000 };

export type RestartDecision =
  | { action: 'restart'; delayMs: number; crashesInWindow: number }
  | { action: 'give-up'; crashesInWindow: number };

export class RestartPolicy {
  private readonly crashes: number[] = [];
  readonly options: RestartPolicyOptions;

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.options = { ...DEFAULT_RESTART_POLICY, ...options };
    const { maxCrashes, windowMs, baseDelayMs, maxDelayMs } = this.options;
    if (!(Number.isInteger(maxCrashes) && maxCrashes >= 1)) throw new RangeError(`RestartPolicy: maxCrashes must be an integer ≥ 1, got ${maxCrashes}`);
    for (const [name, value] of Object.entries({ windowMs, baseDelayMs, maxDelayMs })) {
      if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`RestartPolicy: ${name} must be a finite number ≥ 0, got ${value}`);
    }
  }

  /** Records a crash at `nowMs` and says what to do. */
  recordCrash(nowMs: number): RestartDecision {
    this.crashes.push(nowMs);
    while (this.crashes.length > 0 && this.crashes[0]! <= nowMs - this.options.windowMs) this.crashes.shift();
    const crashesInWindow = this.crashes.length;
    if (crashesInWindow >= this.options.maxCrashes) return { action: 'give-up', crashesInWindow };
    const delayMs = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (crashesInWindow - 1));
    return { action: 'restart', delayMs, crashesInWindow };
  }
}

/** How a process ended, in words for the log. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGABRT') return 'signal SIGABRT (V8 aborts so when the heap limit is reached: see API_MAX_HEAP_MB)';
  if (signal === 'SIGKILL') return 'signal SIGKILL (killed, e.g. by the kernel when memory ran out)';
  if (signal) return `signal ${signal}`;
  if (code === 134) return 'exit code 134 (an abort, e.g. out of memory: see API_MAX_HEAP_MB)';
  return `exit code ${code}`;
}
