// npm run bench:cache — how fast a repeated heatmap request is answered once its answer is known:
// (a) a 200 from the grid response cache (one catalogue statement, no execution, serialised once),
// (b) a 304 for If-None-Match naming the current ETag (one catalogue statement, no GraphQL at all),
// against a floor measured in the same run: /healthz (one `SELECT 1`-sized statement through the same
// HTTP handler). Target: the 304 at ≥ 2,000 requests/s on the 2-core development machine (the cached
// 200 was ~750/s). SYNTHETIC scores (scripts/bench/api/synthetic-load.ts) in a scratch database,
// dropped at the end; the API runs in this process, the load generator (autocannon) in a child.
// BENCH_DURATION (seconds per measurement, default 5), BENCH_WARMUP (default 1), BENCH_CONNECTIONS (default 32).
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { createApiServer } from '../../src/graphql/server.ts';
import type { LoadResult, LoadSpec } from './api/load.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { loadSyntheticScores, SYNTHETIC_LABEL } from './api/synthetic-load.ts';
import { HEATMAP_COLUMNS_QUERY } from './queries.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const log = (line: string) => process.stdout.write(`${line}\n`);

function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'api/load.ts'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code !== 0 ? reject(new Error(`load generator exited with ${code}`)) : resolve(JSON.parse(output.trim().split('\n').pop()!) as LoadResult)));
  });
}

async function main(): Promise<void> {
  log(`probe-atlas bench:cache — ${os.cpus().length} CPU(s), Node ${process.version}; loopback only; ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s each`);
  const scratch = await createScratchDatabase(log);
  let db: Database | undefined;
  const stops: (() => Promise<void>)[] = [];
  try {
    db = connectDatabase(scratch.url, { maxConnections: 10 });
    const load = await loadSyntheticScores(db.pool);
    log(`SYNTHETIC LOAD "${SYNTHETIC_LABEL}" (generated numbers, not results): ${load.scoreCount.toLocaleString('en')} scores`);
    await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED', finished_at = now()`);
    const config = loadConfig({ NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', SEED_ON_START: 'false' });
    const api = await createApiServer({ db, config });
    stops.push(() => api.stop());

    const input = { metric: 'PEARSON_R', groupBy: ['LAYER', 'TIMESTEP'], filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(load.probeRunId)] } };
    const body = JSON.stringify({ query: HEATMAP_COLUMNS_QUERY, variables: { input } });
    const first = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const firstText = await first.text();
    const etag = first.headers.get('etag');
    if (!first.ok || !etag || JSON.parse(firstText).errors) throw new Error(`the heatmap did not answer with an ETag: ${first.status} ${firstText.slice(0, 300)}`);
    const check = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', 'if-none-match': etag }, body });
    if (check.status !== 304) throw new Error(`If-None-Match ${etag} answered ${check.status}, not 304`);
    log(`heatmap: ${firstText.length.toLocaleString('en')} bytes of JSON, ETag ${etag}`);

    const healthz = new URL('/healthz', api.url).href;
    const targets: { name: string; spec: LoadSpec; expect: string }[] = [
      { name: 'floor: GET /healthz (one statement, same handler)', spec: { url: healthz, method: 'GET', body: '', connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: WARMUP }, expect: '200' },
      { name: 'heatmap 200 from the response cache', spec: { url: api.url, body, connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: WARMUP }, expect: '200' },
      { name: 'heatmap 304 (If-None-Match)', spec: { url: api.url, body, headers: { 'if-none-match': etag }, connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: WARMUP }, expect: '304' },
    ];
    const results: { name: string; result: LoadResult; expect: string }[] = [];
    for (const target of targets) {
      log(`measuring ${target.name}…`);
      results.push({ name: target.name, result: await runLoad(target.spec), expect: target.expect });
    }
    log('');
    log('| target | req/s | p50 ms | p99 ms | responses by status |');
    log('| --- | ---: | ---: | ---: | --- |');
    for (const { name, result } of results) {
      log(`| ${name} | ${result.requestsPerSecond.toFixed(0)} | ${result.p50} | ${result.p99} | ${Object.entries(result.statusCodes).map(([code, count]) => `${code}: ${count}`).join(', ')} |`);
    }
    for (const { name, result, expect } of results) {
      const other = Object.entries(result.statusCodes).filter(([code]) => code !== expect).reduce((sum, [, count]) => sum + count, 0) + result.errors;
      if (other > 0) log(`WARNING: ${name}: ${other} responses other than ${expect}`);
    }
    const [floor, cached, revalidated] = results.map((r) => r.result.requestsPerSecond) as [number, number, number];
    log('');
    log(`304: ${revalidated.toFixed(0)} req/s (≥ 2,000 ${revalidated >= 2000 ? 'MET' : 'MISSED'}); ${(revalidated / floor).toFixed(2)} × the /healthz floor, ${(revalidated / cached).toFixed(2)} × the cached 200`);
    log(`(load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}; the load generator shares the machine's cores)`);
  } catch (error) {
    log(`bench:cache FAILED: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error) => log(`stop failed: ${error}`));
    await db?.close().catch(() => {});
    await scratch.drop();
    log('scratch database dropped');
  }
}

await main();
