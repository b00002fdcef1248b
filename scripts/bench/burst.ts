// npm run bench:burst — a burst of concurrent large grids against a real API process, and what it
// does to everyone else. Prints the server's peak RSS (VmHWM), how many grids were answered and how
// many refused (SERVER_BUSY, Retry-After), and the latency of a cheap catalogue query sent one after
// another meanwhile, against the same query on the idle server in the same run (the ratio). Issue 7
// saw 100 such grids run the heap out (the process died) and a cheap query wait 46 s.
// SYNTHETIC scores (scripts/bench/api/synthetic-load.ts) in a scratch database dropped at the end;
// loopback only. BENCH_BURST (concurrent grids, default 100); the server's GRAPHQL_* limits come
// from the environment as for `npm start`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createScratchDatabase } from './api/scratch-database.ts';
import { loadSyntheticScores, SYNTHETIC_LABEL } from './api/synthetic-load.ts';
import { BURST_GRID_QUERY, BURST_SIZE_QUERY, CHEAP_QUERY, LIMITS_QUERY } from './queries.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BURST = Number(process.env.BENCH_BURST ?? 100);
const IDLE_SAMPLES = 50;
const log = (line: string) => process.stdout.write(`${line}\n`);

const CHEAP_BODY = JSON.stringify({ query: CHEAP_QUERY });

/** Peak resident set size of a Linux process, in MiB (VmHWM), or null where /proc is not there. */
function peakRssMiB(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function rssMiB(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function timed(url: string, body: string): Promise<{ ms: number; status: number; code?: string; retryAfter: string | null }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(120_000) });
  const json = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { ms: performance.now() - started, status: response.status, code: json.errors?.[0]?.extensions?.code, retryAfter: response.headers.get('retry-after') };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function startServer(databaseUrl: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'burst/server.ts')], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`API process exited with ${code} before listening`)));
  });
  const { url, pid } = JSON.parse(first) as { url: string; pid: number };
  return {
    url,
    pid,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function main(): Promise<void> {
  log(`probe-atlas bench:burst — ${os.cpus().length} CPU(s), Node ${process.version}; ${BURST} concurrent large grids; loopback only`);
  const scratch = await createScratchDatabase(log);
  log(`scratch database: ${scratch.serverDescription}`);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const pool = new pg.Pool({ connectionString: scratch.url, max: 2 });
    pool.on('error', () => {});
    const load = await loadSyntheticScores(pool);
    // RUNNING: nothing is cached, every grid is computed (the worst case for the server).
    await pool.query(`UPDATE probe_run SET status = 'RUNNING', finished_at = NULL`);
    await pool.end();
    log(`SYNTHETIC LOAD "${SYNTHETIC_LABEL}" (generated numbers, not results): ${load.scoreCount.toLocaleString('en')} scores, loaded in ${load.seconds.toFixed(1)} s; probe runs set RUNNING (no cache)`);

    server = await startServer(scratch.url);
    const input = { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP', 'ATTRIBUTE'], filter: { componentKinds: ['UNET'], probeRunIds: [String(load.probeRunId)] } };
    const gridBody = JSON.stringify({ query: BURST_GRID_QUERY, variables: { input } });
    const limits = (await (await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: LIMITS_QUERY }) })).json()) as any;
    const single = await timed(server.url, gridBody);
    if (single.status !== 200) throw new Error(`a single grid failed: HTTP ${single.status} ${single.code}`);
    const { data } = (await (await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: BURST_SIZE_QUERY, variables: { input } }) })).json()) as any;
    log(`large grid: LAYER × TIMESTEP × ATTRIBUTE over the UNet = ${data.grid.cellCount.toLocaleString('en')} cells (server limits ${JSON.stringify(limits.data.apiLimits)}); one alone: ${single.ms.toFixed(0)} ms`);

    // The cheap query on the idle server.
    for (let i = 0; i < 5; i++) await timed(server.url, CHEAP_BODY);
    const idle: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) idle.push((await timed(server.url, CHEAP_BODY)).ms);
    const rssBefore = rssMiB(server.pid);

    // The burst, and the cheap query one after another until the burst is over.
    const started = performance.now();
    let done = false;
    const burst = Promise.all(Array.from({ length: BURST }, () => timed(server!.url, gridBody).catch((error: Error) => ({ ms: 0, status: -1, code: error.message, retryAfter: null }))));
    void burst.finally(() => (done = true));
    const during: number[] = [];
    const cheapFailures: string[] = [];
    while (!done) {
      const cheap = await timed(server.url, CHEAP_BODY);
      if (cheap.status === 200) during.push(cheap.ms);
      else cheapFailures.push(`${cheap.status} ${cheap.code}`);
    }
    const results = await burst;
    const burstSeconds = (performance.now() - started) / 1000;
    const answered = results.filter((r) => r.status === 200);
    const busy = results.filter((r) => r.status === 503 && r.code === 'SERVER_BUSY');
    const other = results.filter((r) => r.status !== 200 && !(r.status === 503 && r.code === 'SERVER_BUSY'));
    const peak = peakRssMiB(server.pid);
    const alive = (await fetch(new URL('/healthz', server.url))).status;

    log('');
    log(`burst of ${BURST} grids over ${burstSeconds.toFixed(1)} s: ${answered.length} answered (200), ${busy.length} refused SERVER_BUSY (503, Retry-After ${busy[0]?.retryAfter ?? '—'} s), ${other.length} other` +
      (other.length ? ` [${[...new Set(other.map((r) => `${r.status} ${r.code}`))].join(', ')}]` : ''));
    if (answered.length) log(`answered grids: latency p50 ${percentile(answered.map((r) => r.ms), 50).toFixed(0)} ms, p99 ${percentile(answered.map((r) => r.ms), 99).toFixed(0)} ms`);
    log(`server RSS: ${rssBefore?.toFixed(0) ?? '?'} MiB before the burst, peak (VmHWM, whole run) ${peak?.toFixed(0) ?? '?'} MiB; /healthz after: ${alive}`);
    const idleP50 = percentile(idle, 50);
    const idleP99 = percentile(idle, 99);
    log(`cheap query, idle server: p50 ${idleP50.toFixed(1)} ms, p99 ${idleP99.toFixed(1)} ms (${idle.length} samples)`);
    if (during.length) {
      const p50 = percentile(during, 50);
      const p99 = percentile(during, 99);
      log(`cheap query during the burst: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${during.length} samples${cheapFailures.length ? `, ${cheapFailures.length} failed: ${[...new Set(cheapFailures)].join(', ')}` : ''})`);
      log(`ratio during / idle: p50 ${(p50 / idleP50).toFixed(1)}×, p99 ${(p99 / idleP99).toFixed(1)}×`);
    } else {
      log(`cheap query during the burst: no sample answered${cheapFailures.length ? ` (${cheapFailures.join(', ')})` : ''}`);
    }
    log(`(load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')})`);
    if (alive !== 200 || other.length > 0 || cheapFailures.length > 0) process.exitCode = 1;
  } catch (error) {
    log(`bench:burst FAILED: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  } finally {
    await server?.stop().catch((error) => log(`stop failed: ${error}`));
    await scratch.drop();
    log('scratch database dropped');
  }
}

await main();
