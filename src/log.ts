// Structured logs: one JSON object per line when stdout is not a terminal (CI, containers, log
// shippers), a short human line when it is. Warnings and errors are rate-limited per kind (level,
// message and the error's text): during an outage every request fails the same way, and the log
// must say so a few times and then count ("suppressed N similar"), not grow by megabytes a minute.
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface LogRateLimit {
  /** How many lines of one kind are written per interval; the rest are counted. */
  burst: number;
  intervalMs: number;
}

/** At most 5 identical warnings or errors per 10 s; then one summary line per interval with the count. */
export const DEFAULT_LOG_RATE_LIMIT: LogRateLimit = { burst: 5, intervalMs: 10_000 };
/** Kinds tracked at once; beyond it the oldest are forgotten (their counts summarised first). */
const MAX_KINDS = 1_000;

export interface LoggerOptions {
  rateLimit?: LogRateLimit;
  /** The clock (tests pass a fake one). */
  now?: () => number;
  /** Schedules a summary at a window's end; unref'd so a logger never keeps a process alive. */
  schedule?: (run: () => void, delayMs: number) => void;
}

interface Window {
  start: number;
  written: number;
  suppressed: number;
  level: string;
  message: string;
  scheduled: boolean;
}

function unrefTimer(run: () => void, delayMs: number): void {
  setTimeout(run, delayMs).unref();
}

export function createLogger(name: string, stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr, options: LoggerOptions = {}): Logger {
  const limit = options.rateLimit ?? DEFAULT_LOG_RATE_LIMIT;
  const now = options.now ?? Date.now;
  const schedule = options.schedule ?? unrefTimer;
  const windows = new Map<string, Window>();

  const write = (level: string, message: string, fields: LogFields = {}) => {
    if (stream.isTTY) {
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
      stream.write(`[${name}] ${level === 'info' ? '' : `${level.toUpperCase()}: `}${message}${extra}\n`);
    } else {
      stream.write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, name, message, ...fields })}\n`);
    }
  };

  /** Writes the count of a finished window's suppressed lines, and forgets the window. */
  const summarise = (key: string, window: Window) => {
    if (windows.get(key) === window) windows.delete(key);
    if (window.suppressed === 0) return;
    const seconds = Math.round((now() - window.start) / 1000);
    write(window.level, `${window.message} (suppressed ${window.suppressed} similar in the last ${seconds} s)`, { suppressed: window.suppressed });
    window.suppressed = 0;
  };

  const limited = (level: string, message: string, fields?: LogFields) => {
    const key = `${level}\u0000${message}\u0000${String(fields?.error ?? '')}`;
    const time = now();
    let window = windows.get(key);
    if (window && time - window.start >= limit.intervalMs) {
      summarise(key, window);
      window = undefined;
    }
    if (!window) {
      if (windows.size >= MAX_KINDS) {
        const [oldestKey, oldest] = windows.entries().next().value as [string, Window];
        summarise(oldestKey, oldest);
      }
      window = { start: time, written: 0, suppressed: 0, level, message, scheduled: false };
      windows.set(key, window);
    }
    if (window.written < limit.burst) {
      window.written++;
      return write(level, message, fields);
    }
    window.suppressed++;
    if (!window.scheduled) {
      window.scheduled = true;
      const current = window;
      schedule(() => summarise(key, current), Math.max(0, current.start + limit.intervalMs - time));
    }
  };

  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => limited('warn', message, fields),
    error: (message, fields) => limited('error', message, fields),
  };
}
