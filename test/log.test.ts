// The logger's rate limit, on a fake clock: during an outage the same warning or error is written a
// few times per interval and then counted ("suppressed N similar"), so the log cannot grow by
// megabytes a minute; other kinds and info lines are unaffected.
import { createLogger, DEFAULT_LOG_RATE_LIMIT } from '../src/log.ts';

function harness() {
  const lines: any[] = [];
  const timers: { at: number; run: () => void }[] = [];
  let time = Date.parse('2026-12-01T00:00:00Z');
  const log = createLogger('test', { isTTY: false, write: (line: string) => void lines.push(JSON.parse(line)) } as any, {
    now: () => time,
    schedule: (run, delayMs) => void timers.push({ at: time + delayMs, run }),
  });
  /** Moves the clock forward, running the summaries that fall due. */
  const advance = (ms: number) => {
    time += ms;
    for (const timer of timers.splice(0).sort((a, b) => a.at - b.at)) {
      if (timer.at <= time) timer.run();
      else timers.push(timer);
    }
  };
  return { lines, log, advance };
}

test('the default: 5 lines per kind per 10 s', () => {
  expect(DEFAULT_LOG_RATE_LIMIT).toEqual({ burst: 5, intervalMs: 10_000 });
});

test('1,000 identical errors in one interval write 5 lines, then one summary with the count when it ends', () => {
  const { lines, log, advance } = harness();
  for (let i = 0; i < 1000; i++) log.warn('database unavailable', { reason: 'timeout', error: 'Query read timeout' });
  expect(lines).toHaveLength(5);
  expect(lines.every((line) => line.message === 'database unavailable' && line.error === 'Query read timeout')).toBe(true);
  advance(DEFAULT_LOG_RATE_LIMIT.intervalMs);
  expect(lines).toHaveLength(6);
  expect(lines[5]).toMatchObject({ level: 'warn', message: 'database unavailable (suppressed 995 similar in the last 10 s)', suppressed: 995 });
  // The next interval starts afresh.
  log.warn('database unavailable', { reason: 'timeout', error: 'Query read timeout' });
  expect(lines).toHaveLength(7);
  expect(lines[6].message).toBe('database unavailable');
});

test('an outage of 60 s at 100 failures a second writes a bounded number of lines', () => {
  const { lines, log, advance } = harness();
  for (let second = 0; second < 60; second++) {
    for (let i = 0; i < 100; i++) log.error('GraphQL request failed unexpectedly', { error: 'Connection terminated unexpectedly', stack: `Error\n at line ${i}` });
    advance(1000);
  }
  advance(DEFAULT_LOG_RATE_LIMIT.intervalMs);
  // 6 intervals × (5 lines + 1 summary), instead of 6,000 lines.
  expect(lines).toHaveLength(36);
  const suppressed = lines.reduce((sum, line) => sum + (line.suppressed ?? 0), 0);
  expect(suppressed + lines.filter((line) => line.suppressed === undefined).length).toBe(6000);
});

test('different errors, levels and info lines are limited separately; nothing is summarised when nothing was suppressed', () => {
  const { lines, log, advance } = harness();
  for (let i = 0; i < 7; i++) {
    log.error('query failed', { error: 'A' });
    log.error('query failed', { error: 'B' });
    log.warn('query failed', { error: 'A' });
    log.info('progress', { done: i });
  }
  expect(lines.filter((line) => line.level === 'error' && line.error === 'A')).toHaveLength(5);
  expect(lines.filter((line) => line.level === 'error' && line.error === 'B')).toHaveLength(5);
  expect(lines.filter((line) => line.level === 'warn')).toHaveLength(5);
  expect(lines.filter((line) => line.level === 'info')).toHaveLength(7);
  advance(DEFAULT_LOG_RATE_LIMIT.intervalMs);
  expect(lines.filter((line) => line.suppressed === 2)).toHaveLength(3);
  const before = lines.length;
  log.warn('once', {});
  advance(DEFAULT_LOG_RATE_LIMIT.intervalMs);
  expect(lines.length).toBe(before + 1);
});
