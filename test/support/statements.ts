// Statement counting for the N+1 and "one statement per request" tests: every client the pool hands
// out is wrapped once, and while `recording` is on the text of each statement it runs is kept.
import type pg from 'pg';

export interface StatementRecorder {
  /** Statement texts run while `recording` was on, in order. */
  readonly statements: string[];
  recording: boolean;
}

export function recordStatements(pool: pg.Pool): StatementRecorder {
  const recorder: StatementRecorder = { statements: [], recording: false };
  const wrapped = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text: string };
      if (recorder.recording) recorder.statements.push(typeof first === 'string' ? first : first.text);
      return original(...args);
    };
  });
  return recorder;
}
