// What the end-to-end tests that spawn probe-atlas processes (test/e2e/replicas.test.ts,
// test/e2e/start.test.ts) share: a child's JSON log lines (src/log.ts writes one per line on stderr)
// collected as they come, and a wait for the first line a test is after — already seen or still to
// come — that fails, with the log so far, when the process ends first, instead of hanging to the
// test's timeout. A line that is not JSON (a crash's stack trace) is kept as { message: text }.
import type { ChildProcess } from 'node:child_process';

export type LogLine = Record<string, any>;
export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface ChildLines {
  /** Every line so far, in order. */
  lines: LogLine[];
  /** When the process has exited. */
  exited: Promise<Exit>;
  /** The first line from index `after` on that `match` accepts (waits for it; rejects if the process ends first). */
  next(match: (line: LogLine) => boolean, after?: number): Promise<LogLine>;
}

/** Reads `child`'s stderr (spawned with stdio 'pipe') as JSON lines; stdout is drained and dropped. `name` is for failure messages. */
export function childLines(child: ChildProcess, name: string): ChildLines {
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let buffered = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text);
      } catch {
        line = { message: text };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const next = (match: (line: LogLine) => boolean, after = 0) => {
    const seen = lines.slice(after).find(match);
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<LogLine>((resolve) => waiters.push({ match, resolve })),
      exited.then(({ code, signal }): never => {
        throw new Error(`${name} ended (code ${code}, signal ${signal}) before the awaited line; its log:\n${lines.map((l) => l.message).join('\n')}`);
      }),
    ]);
  };
  return { lines, exited, next };
}
