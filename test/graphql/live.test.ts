// Live progress over Server-Sent Events (graphql-sse at /graphql/stream), over real HTTP: a subscriber
// gets the run's current state at once and an update after a job row changes in another connection;
// two subscribers of different runs get only their own; the one LISTEN connection comes back after it
// is killed (and says so in the log); the docs' curl line works; queries are refused there and
// subscriptions on /graphql; stopping the server completes the streams.
import { spawn } from 'node:child_process';
import { LIVE_APPLICATION_NAME, RUNS_CHANNEL, RunEvents } from '../../src/graphql/live.ts';
import type { Logger } from '../../src/log.ts';
import { connectAdmin, createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedModel } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let runA: number;
let runB: number;
const warnings: string[] = [];
const infos: string[] = [];
const log: Logger = { info: (message) => infos.push(message), warn: (message) => warnings.push(message), error: (message) => warnings.push(message) };

const DEADLINE_MS = 30_000;

async function extractionRunWithJob(tag: string): Promise<number> {
  const model = await seedModel(db.prisma, { name: `model-${tag}`, components: 1, layers: 1 });
  const run = await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: `x-${tag}`, promptTemplate: '{concept}', seed: 0, stepCount: 0, device: 'cpu', settings: {}, status: 'RUNNING', plannedCount: 4 },
  });
  await db.pool.query(
    `INSERT INTO job (kind, extraction_run_id, position, task, spec, unit_count, max_attempts) VALUES ('EXTRACT', $1, 0, 'extract:cpu', '{"units": []}', 4, 3)`,
    [run.id],
  );
  return run.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  runA = await extractionRunWithJob('a');
  runB = await extractionRunWithJob('b');
  api = await startTestApi(db, {}, log);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const PROGRESS = `subscription ($id: ID!) { runProgress(extractionRunId: $id) {
  extractionRun { id } probeRun { id } status progress { doneCount plannedCount }
  jobs { jobCount queuedCount runningCount doneCount doneUnitCount jobs { nodes { status doneUnitCount } } }
} }`;

interface SseEvent {
  event: string;
  data: any;
}

/** One SSE subscription read event by event; `next(predicate)` waits (with a deadline) for the first event satisfying it. */
async function subscribe(query: string, variables: Record<string, unknown>, path = '/graphql/stream') {
  const controller = new AbortController();
  const response = await fetch(`${api.origin}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: SseEvent[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let split: number;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const lines = block.split('\n');
          const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim();
          const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
          if (event) events.push({ event, data: data ? JSON.parse(data) : null });
        }
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true;
    }
  })();
  let read = 0;
  return {
    response,
    /** Events received so far. */
    events,
    get ended() {
      return ended;
    },
    /** The next unread event satisfying `predicate` (events before it are consumed). */
    async next(predicate: (event: SseEvent) => boolean = () => true): Promise<SseEvent> {
      const deadline = Date.now() + DEADLINE_MS;
      for (;;) {
        while (read < events.length) {
          const event = events[read++]!;
          if (predicate(event)) return event;
        }
        if (ended) throw new Error(`stream ended; events: ${JSON.stringify(events)}`);
        if (Date.now() > deadline) throw new Error(`no matching event within ${DEADLINE_MS} ms; events: ${JSON.stringify(events)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    /** The number of events not yet read. */
    unread: () => events.length - read,
    async close() {
      controller.abort();
      await pump;
    },
    pump,
  };
}

const progressOf = (event: SseEvent) => event.data?.data?.runProgress;

async function setJob(runId: number, status: string, unitsDone: number) {
  await db.pool.query(`UPDATE job SET status = $2, units_done = $3 WHERE extraction_run_id = $1`, [runId, status, unitsDone]);
}

async function waitFor(condition: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function liveBackends(): Promise<number[]> {
  const admin = await connectAdmin();
  try {
    const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, [db.name, LIVE_APPLICATION_NAME]);
    return rows.map((row) => row.pid);
  } finally {
    await admin.end();
  }
}

test('a subscriber gets the current state at once, then an update after a job row changes elsewhere', async () => {
  const stream = await subscribe(PROGRESS, { id: String(runA) });
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toContain('text/event-stream');
  const first = await stream.next((event) => event.event === 'next');
  expect(first.data.errors).toBeUndefined();
  expect(progressOf(first)).toEqual({
    extractionRun: { id: String(runA) }, probeRun: null, status: 'RUNNING', progress: { doneCount: 0, plannedCount: 4 },
    jobs: { jobCount: 1, queuedCount: 1, runningCount: 0, doneCount: 0, doneUnitCount: 0, jobs: { nodes: [{ status: 'QUEUED', doneUnitCount: 0 }] } },
  });
  await setJob(runA, 'RUNNING', 2);
  const running = await stream.next((event) => event.event === 'next' && progressOf(event)?.jobs.runningCount === 1);
  expect(progressOf(running).jobs).toMatchObject({ queuedCount: 0, doneUnitCount: 2, jobs: { nodes: [{ status: 'RUNNING', doneUnitCount: 2 }] } });
  // The run row's own progress is announced too (its trigger).
  await db.pool.query(`UPDATE extraction_run SET done_count = 3 WHERE id = $1`, [runA]);
  await stream.next((event) => event.event === 'next' && progressOf(event)?.progress.doneCount === 3);
  await stream.close();
  // Only one LISTEN connection serves the process.
  expect(await liveBackends()).toHaveLength(1);
}, 60_000);

test('two subscribers on different runs each get only their own run', async () => {
  const a = await subscribe(PROGRESS, { id: String(runA) });
  const b = await subscribe(PROGRESS, { id: String(runB) });
  const firstA = progressOf(await a.next((event) => event.event === 'next'));
  const firstB = progressOf(await b.next((event) => event.event === 'next'));
  expect(firstA.extractionRun.id).toBe(String(runA));
  expect(firstB).toMatchObject({ extractionRun: { id: String(runB) }, jobs: { queuedCount: 1 } });
  await setJob(runA, 'DONE', 4);
  await a.next((event) => event.event === 'next' && progressOf(event)?.jobs.doneCount === 1);
  // b was not woken by a's change: its next event is the one its own change causes, showing it.
  await setJob(runB, 'FAILED', 1);
  const nextB = await b.next();
  expect(nextB.event).toBe('next');
  expect(progressOf(nextB)).toMatchObject({ extractionRun: { id: String(runB) }, jobs: { queuedCount: 0, doneUnitCount: 1, jobs: { nodes: [{ status: 'FAILED' }] } } });
  expect(a.events.every((event) => event.event !== 'next' || progressOf(event).extractionRun.id === String(runA))).toBe(true);
  await Promise.all([a.close(), b.close()]);
}, 60_000);

test('the LISTEN connection comes back after it is killed, and subscribers see changes made after', async () => {
  const stream = await subscribe(PROGRESS, { id: String(runB) });
  await stream.next((event) => event.event === 'next');
  const [pid] = await liveBackends();
  expect(pid).toBeDefined();
  const admin = await connectAdmin();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
  await waitFor(async () => {
    const pids = await liveBackends();
    return pids.length === 1 && pids[0] !== pid;
  }, 'a new LISTEN connection');
  expect(warnings.some((message) => message.includes('probe_atlas_runs connection dropped'))).toBe(true);
  await setJob(runB, 'RUNNING', 3);
  await stream.next((event) => event.event === 'next' && progressOf(event)?.jobs.doneUnitCount === 3);
  await stream.close();
}, 60_000);

test("the docs' curl line streams the current state", async () => {
  const body = JSON.stringify({ query: `subscription { runProgress(extractionRunId: "${runA}") { status jobs { doneCount jobCount } } }` });
  const curl = spawn('curl', ['-sN', '-H', 'Accept: text/event-stream', '-H', 'Content-Type: application/json', '-d', body, `${api.origin}/graphql/stream`]);
  let output = '';
  curl.stdout.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => curl.once('exit', resolve));
  try {
    await waitFor(async () => output.includes('\n\n') && output.includes('event: next'), 'curl to print the first event');
  } finally {
    curl.kill();
    await exited;
  }
  expect(output).toContain('event: next');
  expect(output).toContain(`"runProgress":{"status":"RUNNING","jobs":{"doneCount":1,"jobCount":1}}`);
}, 60_000);

test("the docs' EventSource form: a GET with the query in the URL and Accept: text/event-stream", async () => {
  const query = 'subscription ($id: ID) { runProgress(extractionRunId: $id) { status progress { fraction } jobs { runningCount etaSeconds } } }';
  const url = `${api.origin}/graphql/stream?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ id: String(runA) }))}`;
  const controller = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  let text = '';
  const deadline = Date.now() + DEADLINE_MS;
  // graphql-sse opens with a comment (`:`); read until the first event is whole.
  while (!/event: next\ndata: .*\n\n/.test(text) && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value ?? new Uint8Array());
  controller.abort();
  expect(text).toContain('event: next');
  const data = JSON.parse(/event: next\ndata: (.*)\n\n/.exec(text)![1]!);
  expect(Object.keys(data.data.runProgress)).toEqual(['status', 'progress', 'jobs']);
  expect(data.data.runProgress).toMatchObject({ status: 'RUNNING', progress: { fraction: expect.any(Number) }, jobs: { runningCount: expect.any(Number), etaSeconds: null } });
});

test('the stream serves subscriptions only, and /graphql refuses them pointing at the stream', async () => {
  const query = await subscribe('{ workers { id } }', {});
  const refused = await query.next((event) => event.event === 'next');
  expect(refused.data.errors?.[0]?.message).toBe('/graphql/stream serves subscriptions only; send a query to /graphql.');
  expect(refused.data.data).toBeUndefined();
  await query.close();
  const plain = await api.graphql(PROGRESS, { id: String(runA) });
  expect(plain.body.errors?.[0]?.message).toContain('/graphql/stream');
  expect(plain.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
});

test("the stream enforces /graphql's limits: cost, depth and tokens", async () => {
  const costly = await subscribe(`subscription ($id: ID) { runProgress(extractionRunId: $id) { jobs {
    workers { jobs(first: 500) { nodes { worker { jobs(first: 500) { nodes { id } } } } } }
  } } }`, { id: String(runA) });
  const cost = await costly.next((event) => event.event === 'next');
  expect(cost.data.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COSTLY');
  expect(cost.data.data).toBeUndefined();
  await costly.close();
  const nested = 'jobs(first: 1) { nodes { worker { '.repeat(6) + 'id' + ' } } }'.repeat(6);
  const deep = await subscribe(`subscription { runProgress(extractionRunId: "${runA}") { jobs { ${nested} } } }`, {});
  expect((await deep.next((event) => event.event === 'next')).data.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
  await deep.close();
  const long = await subscribe(`subscription { runProgress(extractionRunId: "${runA}") { ${'status '.repeat(api.config.limits.maxTokens ?? 20_000)} } }`, {});
  expect((await long.next((event) => event.event === 'next')).data.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_LARGE');
  await long.close();
});

test('an unknown run is NOT_FOUND, and a run must be named', async () => {
  const unknown = await subscribe(PROGRESS, { id: '999999' });
  const event = await unknown.next((e) => e.event === 'next');
  expect(event.data.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  await unknown.close();
  const neither = await subscribe('subscription { runProgress { status } }', {});
  const refused = await neither.next((e) => e.event === 'next');
  expect(refused.data.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  await neither.close();
});

test('coalescing: a change within the push interval waits for it, and notices of other runs wake only theirs', async () => {
  // An interval of an hour: the second change of run 1 must not wake it before stop(). Asserted by
  // order, not time: notices arrive in order on the one connection, so once run 2 has woken, run 1's
  // second notice has been handled too.
  const events = new RunEvents(db.pool.options, log, { minIntervalMs: 3_600_000 });
  const notify = (kind: string, runId: number) => db.pool.query('SELECT pg_notify($1, $2)', [RUNS_CHANNEL, JSON.stringify({ table: 'job', kind, runId, jobId: 1, status: 'RUNNING' })]);
  try {
    const one = events.follow('EXTRACT', 1);
    const two = events.follow('EXTRACT', 2);
    const probeOne = events.follow('PROBE', 1);
    expect(await one.next()).toEqual({ value: undefined, done: false }); // the initial state
    await two.next();
    await probeOne.next();
    await notify('EXTRACT', 1);
    expect((await one.next()).done).toBe(false); // the first change: at once
    let woken = false;
    const pending = one.next().then((result) => ((woken = true), result));
    await notify('EXTRACT', 1); // within the interval: deferred
    let probeWoken = false;
    void probeOne.next().then(() => (probeWoken = true));
    await notify('EXTRACT', 2);
    expect((await two.next()).done).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(false);
    expect(probeWoken).toBe(false); // same id, other kind: another run
    await events.stop();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(woken).toBe(true);
    expect((await events.follow('EXTRACT', 1).next()).done).toBe(true); // after stop()
  } finally {
    await events.stop();
  }
});

test('stopping the server completes open streams', async () => {
  const stream = await subscribe(PROGRESS, { id: String(runA) });
  await stream.next((event) => event.event === 'next');
  await api.stop();
  await stream.next((event) => event.event === 'complete');
  await stream.pump;
  expect(stream.ended).toBe(true);
  expect(await liveBackends()).toEqual([]);
}, 60_000);
