// API replicas answer alike: nothing a client sees depends on which API process answered. Two
// separate `scripts/serve.ts` processes on two ports over one test database give byte-identical
// grid, catalogue and runs answers and /grid.csv, the same ETags, and a 304 from one for an ETag
// the other issued; automatic persisted queries are the one per-process store, and a replica that
// lacks a hash answers PERSISTED_QUERY_NOT_FOUND until the client resends the document (Apollo's
// protocol). Then `npm start` with API_PROCESSES=2 (the supervisor, node:cluster) over the same
// database: two children with distinct pids, the second started once the first was ready and serving
// only; answers over fresh connections (round-robin over both) are identical; each child, SIGKILLed,
// leaves the port answering while it restarts; a Ctrl-C (SIGINT to the group) stops both through the
// supervisor; a SIGKILLed supervisor leaves children that stop by themselves, gracefully.
// Every request opens its own connection (agent: false): a kept-alive socket would pin one process
// and outlive a killed child.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { API_ROLE_VARIABLE } from '../../src/supervisor/supervise.ts';
import { childLines, type ChildLines } from '../support/child-lines.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/free-port.ts';
import { insertGridFixture, type GridFixture } from '../grid/fixture.ts';
import { seedBinder } from '../graphql/fixtures.ts';

let db: TestDatabase;
let fx: GridFixture;

beforeAll(async () => {
  db = await createTestDatabase();
  fx = await insertGridFixture(db.prisma);
  await seedBinder(db.prisma, { concepts: 8, groups: ['Vision'], name: 'binder-replicas' });
  await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now()`);
});
afterAll(async () => {
  await db?.drop();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a connection of its own. */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const sent = http.request(url, {
      method: options.method ?? (payload ? 'POST' : 'GET'),
      agent: false,
      headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...options.headers },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(payload);
  });
}

/** Whether a process with this id runs: exists (signal 0) and is no zombie (an orphan's may wait for a reaper; Linux's /proc says). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: signal 0 is all there is
  }
}

/** A spawned process whose JSON log lines (stderr) are collected and can be waited for. */
interface Spawned extends ChildLines {
  child: ChildProcess;
  /** When its stdout and stderr have closed: its own and those of any child that inherited them. */
  closed: Promise<void>;
  stop(): Promise<void>;
}

/** `detached`: in a process group of its own, as a terminal's foreground job (signalled as a group). */
function spawnScript(script: string, env: Record<string, string>, detached = false): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, script)], {
    cwd: PROJECT_ROOT,
    detached,
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', SEED_ON_START: 'false', DEMO_PIPELINE: 'false', DATABASE_URL: db.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { lines, exited, next } = childLines(child, script);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { child, lines, exited, closed, next, stop };
}

const HEATMAP = 'query Heatmap($input: GridInput!) { grid(input: $input) { cellCount cells { coordinates mean scoreCount } } }';
const gridInput = () => ({ metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { probeRunIds: [String(fx.probeRunId)] } });
const CATALOGUE = `{
  models { id name kind components { name position layers { id index name shape } } }
  normsDatasets { id name version contentHash attributeGroups { id name attributes { id name } } }
  concepts(first: 3) { totalCount edges { cursor node { id word } } pageInfo { endCursor hasNextPage } }
}`;
const NEXT_CONCEPTS = 'query($after: String) { concepts(first: 3, after: $after) { edges { cursor node { id word } } } }';
const RUNS = '{ extractionRuns { nodes { id status settingsHash createdAt } } probeRuns { totalCount nodes { id status settingsHash finishedAt progress { doneCount plannedCount } } } }';

/** Every request the replicas must answer alike, as (name, url path, request). */
function requests(origin: string) {
  const csv = `${origin}/grid.csv?input=${encodeURIComponent(JSON.stringify(gridInput()))}`;
  return {
    grid: { url: `${origin}/graphql`, body: { query: HEATMAP, variables: { input: gridInput() } } },
    catalogue: { url: `${origin}/graphql`, body: { query: CATALOGUE } },
    runs: { url: `${origin}/graphql`, body: { query: RUNS } },
    csv: { url: csv, body: undefined },
  };
}

async function waitHealthy(origin: string, spawned: Spawned): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (spawned.child.exitCode !== null) throw new Error(`the API process ended before it served; its log:\n${spawned.lines.map((l) => l.message).join('\n')}`);
    try {
      if ((await request(`${origin}/healthz`)).status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${origin}/healthz never answered 200`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('two serve.ts processes on one database answer byte-identically, with the same ETags, and 304 for each other\'s ETags', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = spawnScript('scripts/serve.ts', { PORT: String(portA) });
  // Started as the supervisor starts its replicas: serving only.
  const b = spawnScript('scripts/serve.ts', { PORT: String(portB), [API_ROLE_VARIABLE]: 'replica' });
  try {
    const [originA, originB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    await Promise.all([waitHealthy(originA, a), waitHealthy(originB, b)]);
    expect(b.lines.some((l) => /^serving only: migrations, seed and demo pipeline/.test(l.message))).toBe(true);
    expect(b.lines.some((l) => l.message === 'migrations applied')).toBe(false);
    expect(a.lines.some((l) => l.message === 'migrations applied')).toBe(true);

    const fromA = requests(originA);
    const fromB = requests(originB);
    // The grid from A first; B is asked with A's ETag before it has answered that request itself
    // (the tag is unknown to B's own index): it executes and still answers 304.
    const gridA = await request(fromA.grid.url, { body: fromA.grid.body });
    expect(gridA.status).toBe(200);
    expect(JSON.parse(gridA.body).data.grid.cellCount).toBeGreaterThan(0);
    const etag = gridA.headers.etag!;
    expect(etag).toMatch(/^"g[A-Za-z0-9_-]{32}"$/);
    const revalidatedByB = await request(fromB.grid.url, { body: fromB.grid.body, headers: { 'if-none-match': etag } });
    expect(revalidatedByB.status).toBe(304);
    expect(revalidatedByB.body).toBe('');
    expect(revalidatedByB.headers.etag).toBe(etag);

    for (const name of ['grid', 'catalogue', 'runs', 'csv'] as const) {
      const answerA = await request(fromA[name].url, { body: fromA[name].body });
      const answerB = await request(fromB[name].url, { body: fromB[name].body });
      expect([name, answerA.status]).toEqual([name, 200]);
      if (name !== 'csv') expect(JSON.parse(answerA.body).errors).toBeUndefined();
      expect([name, answerB.body]).toEqual([name, answerA.body]);
      expect([name, answerB.headers.etag]).toEqual([name, answerA.headers.etag]);
      expect([name, answerB.headers['cache-control']]).toEqual([name, answerA.headers['cache-control']]);
    }
    // The atlas page (built or not) and the health check: the same bytes, the same validators.
    for (const pathname of ['/', '/healthz']) {
      const [pageA, pageB] = [await request(`${originA}${pathname}`), await request(`${originB}${pathname}`)];
      expect([pathname, pageA.status]).toEqual([pathname, 200]);
      expect([pathname, pageB.body]).toEqual([pathname, pageA.body]);
      expect([pathname, pageB.headers.etag]).toEqual([pathname, pageA.headers.etag]);
    }
    // The CSV has its own tag; each process answers 304 for the other's.
    const csvA = await request(fromA.csv.url);
    expect(csvA.headers.etag).toBeTruthy();
    expect((await request(fromB.csv.url, { headers: { 'if-none-match': csvA.headers.etag! } })).status).toBe(304);
    const csvB = await request(fromB.csv.url);
    expect((await request(fromA.csv.url, { headers: { 'if-none-match': csvB.headers.etag! } })).status).toBe(304);
    // And the other way for the grid: B's tag revalidated by A.
    const gridB = await request(fromB.grid.url, { body: fromB.grid.body });
    expect((await request(fromA.grid.url, { body: fromA.grid.body, headers: { 'if-none-match': gridB.headers.etag! } })).status).toBe(304);

    // Cursors are process-independent: A's endCursor continues on B as on A.
    const page = JSON.parse((await request(fromA.catalogue.url, { body: fromA.catalogue.body })).body).data.concepts;
    expect(page.pageInfo.hasNextPage).toBe(true);
    const nextBody = { query: NEXT_CONCEPTS, variables: { after: page.pageInfo.endCursor } };
    const nextA = await request(fromA.grid.url, { body: nextBody });
    const nextB = await request(fromB.grid.url, { body: nextBody });
    expect(JSON.parse(nextA.body).data.concepts.edges).toHaveLength(3);
    expect(nextB.body).toBe(nextA.body);

    // Persisted queries are per process: registered on A, unknown on B until the client resends the document.
    const sha256Hash = createHash('sha256').update(HEATMAP).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const registered = await request(fromA.grid.url, { body: { query: HEATMAP, variables: { input: gridInput() }, extensions } });
    expect(registered.status).toBe(200);
    expect((await request(fromA.grid.url, { body: { variables: { input: gridInput() }, extensions } })).body).toBe(gridA.body);
    const unknown = await request(fromB.grid.url, { body: { variables: { input: gridInput() }, extensions } });
    expect(JSON.parse(unknown.body).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const resent = await request(fromB.grid.url, { body: { query: HEATMAP, variables: { input: gridInput() }, extensions } });
    expect(resent.body).toBe(gridA.body);
    const byHash = await request(fromB.grid.url, { body: { variables: { input: gridInput() }, extensions } });
    expect(byHash.body).toBe(gridA.body);
    expect(byHash.headers.etag).toBe(etag);

    for (const spawned of [a, b]) spawned.child.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect([...a.lines, ...b.lines].filter((l) => l.level === 'error').map((l) => l.message)).toEqual([]);
  } finally {
    await a.stop();
    await b.stop();
  }
}, 240_000);

test('npm start with API_PROCESSES=2: two children on one port answer alike; each, SIGKILLed, leaves the port answering while it restarts', async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const supervisor = spawnScript('scripts/start.ts', { PORT: String(port), API_PROCESSES: '2' }, true);
  const pids: number[] = [];
  const servesAt = (pid?: number) => (l: Record<string, any>) => /^API process \d+ serves at /.test(l.message) && (pid === undefined || l.apiPid === pid);
  try {
    const all = await supervisor.next((l) => /^all 2 API processes serve at /.test(l.message));
    const [first, second] = all.apiPids as number[];
    pids.push(first!, second!);
    expect(first).not.toBe(second);
    expect(alive(first!) && alive(second!)).toBe(true);
    expect(all.url).toBe(`${origin}/graphql`);
    // The second started only once the first served, and only serves: one migration, no second.
    const lines = supervisor.lines;
    const firstServes = lines.findIndex(servesAt(first));
    const secondStarted = lines.findIndex((l) => l.message.startsWith('API process started') && l.apiPid === second);
    expect(lines[secondStarted]!.message).toMatch(/, 2 of 2, serves only/);
    expect(firstServes).toBeGreaterThanOrEqual(0);
    expect(secondStarted).toBeGreaterThan(firstServes);
    expect(lines.filter((l) => l.message === 'migrations applied')).toHaveLength(1);
    expect(lines.filter((l) => /^serving only: /.test(l.message))).toHaveLength(1);

    // Fresh connections go round-robin over both children: every answer the same bytes and ETag.
    const asked = requests(origin);
    const reference = await request(asked.grid.url, { body: asked.grid.body });
    expect(reference.status).toBe(200);
    for (let i = 0; i < 6; i++) {
      const again = await request(asked.grid.url, { body: asked.grid.body });
      expect(again.body).toBe(reference.body);
      expect(again.headers.etag).toBe(reference.headers.etag);
      expect((await request(asked.grid.url, { body: asked.grid.body, headers: { 'if-none-match': reference.headers.etag! } })).status).toBe(304);
    }
    const csv = await request(asked.csv.url);
    for (let i = 0; i < 3; i++) expect((await request(asked.csv.url)).body).toBe(csv.body);

    // Each child in turn: SIGKILLed, the port still answers (the other child), then it is back.
    const restarted: number[] = [];
    for (const [slot, victim] of [[1, first!], [2, second!]] as const) {
      const mark = supervisor.lines.length;
      process.kill(victim, 'SIGKILL');
      const crash = await supervisor.next((l) => /ended unexpectedly/.test(l.message) && l.apiPid === victim, mark);
      expect(crash.message).toMatch(new RegExp(`^API process ${slot} of 2 ended unexpectedly \\(signal SIGKILL.*\\); restarting it in \\d+ ms \\(crash 1 of 5 within 60 s\\) while 1 other serves$`));
      const health = await request(`${origin}/healthz`);
      const during = await request(asked.grid.url, { body: asked.grid.body });
      // Answered before the replacement said it serves: by the surviving child.
      const replacementServed = supervisor.lines.slice(mark).some((l) => servesAt()(l) && l.apiPid !== victim);
      expect(replacementServed).toBe(false);
      expect(health.status).toBe(200);
      expect(during.body).toBe(reference.body);
      expect(during.headers.etag).toBe(reference.headers.etag);
      const back = await supervisor.next((l) => servesAt()(l) && !pids.includes(l.apiPid), mark);
      pids.push(back.apiPid);
      restarted.push(back.apiPid);
      expect(alive(back.apiPid)).toBe(true);
    }
    expect(new Set(pids).size).toBe(4);
    // The restarted first child migrates again (a no-op); the restarted second still only serves.
    expect(supervisor.lines.find((l) => l.message.startsWith('API process started') && l.apiPid === restarted[1])!.message).toMatch(/serves only/);
    expect((await request(asked.grid.url, { body: asked.grid.body })).body).toBe(reference.body);

    // Ctrl-C in a terminal signals the whole group, children included (cluster workers share the
    // supervisor's): they leave it to the supervisor, which stops each with SIGTERM.
    const mark = supervisor.lines.length;
    process.kill(-supervisor.child.pid!, 'SIGINT');
    expect(await supervisor.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(supervisor.lines.slice(mark).map((l) => l.message).filter((m) => /stopping/.test(m))).toEqual([
      'SIGINT: stopping the API processes, then PostgreSQL', 'SIGTERM: stopping', 'SIGTERM: stopping',
    ]);
    expect(supervisor.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringMatching(/^API process 1 of 2 ended unexpectedly/),
      expect.stringMatching(/^API process 2 of 2 ended unexpectedly/),
    ]);
  } finally {
    await supervisor.stop();
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}, 240_000);

test('npm start with API_PROCESSES=2, its supervisor SIGKILLed: both children stop by themselves, gracefully', async () => {
  const port = await freePort();
  const supervisor = spawnScript('scripts/start.ts', { PORT: String(port), API_PROCESSES: '2' });
  let pids: number[] = [];
  try {
    const all = await supervisor.next((l) => /^all 2 API processes serve at /.test(l.message));
    pids = all.apiPids as number[];
    const mark = supervisor.lines.length;
    supervisor.child.kill('SIGKILL');
    // The children hold the stderr the supervisor passed them: it closes when both have exited.
    await supervisor.closed;
    expect(pids.filter(alive)).toEqual([]);
    expect(supervisor.lines.slice(mark).filter((l) => l.message === 'the supervisor is gone: stopping')).toHaveLength(2);
    expect(supervisor.lines.filter((l) => l.level === 'error')).toEqual([]);
  } finally {
    await supervisor.stop();
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}, 240_000);
