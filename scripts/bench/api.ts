// npm run bench:api — latency and throughput of the layer × timestep heatmap (Vision attributes,
// UNet) through our GraphQL API, against (a) the floor: the same aggregation as one raw pg
// statement behind a minimal node:http endpoint, and (b) the peer: PostGraphile 5 +
// @graphile/pg-aggregates answering the equivalent grouped aggregate over a view.
// Everything runs on loopback against a scratch database loaded with SYNTHETIC scores, dropped at
// the end. BENCH_DURATION (seconds per measurement, default 10) and BENCH_WARMUP (default 2).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase, type Database } from '../../src/db/client.ts';
import { endPool, guardPool } from '../../src/db/connection-errors.ts';
import { gridStatement } from '../../src/grid/grid.ts';
import { parseGridInput, type RawGridInput } from '../../src/grid/input.ts';
import { compile } from '../../src/grid/sql.ts';
import { createApiServer } from '../../src/graphql/server.ts';
import { startFloor } from './api/floor.ts';
import type { LoadResult, LoadSpec } from './api/load.ts';
import { PEER_QUERY, PEER_VIEW_SQL, startPeer } from './api/peer.ts';
import { createScratchDatabase } from './api/scratch-database.ts';
import { LAYERS_PER_COMPONENT, loadSyntheticScores, SYNTHETIC_LABEL, TIMESTEPS } from './api/synthetic-load.ts';
import { HEATMAP_COLUMNS_QUERY, HEATMAP_QUERY } from './queries.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const POOL_SIZE = 10;
const CONCURRENCY = [1, 32];
const log = (line: string) => process.stdout.write(`${line}\n`);
const VERBOSE = process.env.BENCH_VERBOSE === '1';

/** BENCH_VERBOSE=1: the floor statement's plan, run twice so the second shows a warm cache. */
async function explainFloor(pool: pg.Pool, statement: { text: string; values: unknown[] }): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values);
    if (i === 1) {
      log('floor statement plan (EXPLAIN ANALYZE, BUFFERS; warm):');
      for (const row of rows) log(`  ${row['QUERY PLAN']}`);
    }
  }
}

function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'api/load.ts'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else resolve(JSON.parse(output.trim().split('\n').pop()!) as LoadResult);
    });
  });
}

async function post(url: string, body: string): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await response.json()) as any;
  if (!response.ok || json.errors) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

type Target = { name: string; url: string; body: string; prepare?: () => Promise<void> };

async function main(): Promise<void> {
  log(`probe-atlas bench:api — ${os.cpus().length} CPU(s), Node ${process.version}; loopback only`);
  const scratch = await createScratchDatabase(log);
  log(`scratch database: ${scratch.serverDescription}`);
  let db: Database | undefined;
  const stops: (() => Promise<void>)[] = [];
  try {
    db = connectDatabase(scratch.url, { maxConnections: POOL_SIZE });
    const load = await loadSyntheticScores(db.pool);
    log(`SYNTHETIC LOAD "${SYNTHETIC_LABEL}" (generated numbers, not results): ${load.scoreCount.toLocaleString('en')} scores — ` +
      `2 probe runs × ${load.attributeCount} Binder attributes (${load.groupCount} groups) × (${LAYERS_PER_COMPONENT} text-encoder layers + ` +
      `${LAYERS_PER_COMPONENT} UNet layers × ${TIMESTEPS.length} timesteps + ${LAYERS_PER_COMPONENT} VAE-decoder layers × ${TIMESTEPS.length} timesteps), loaded in ${load.seconds.toFixed(1)} s`);

    const input: RawGridInput = {
      metric: 'PEARSON_R',
      groupBy: ['LAYER', 'TIMESTEP'],
      filter: { componentKinds: ['UNET'], attributeGroupNames: ['Vision'], probeRunIds: [String(load.probeRunId)] },
    };
    const ourBody = JSON.stringify({ query: HEATMAP_QUERY, variables: { input } });
    const ourColumnsBody = JSON.stringify({ query: HEATMAP_COLUMNS_QUERY, variables: { input } });

    const config = loadConfig({ NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', SEED_ON_START: 'false' });
    const api = await createApiServer({ db, config });
    stops.push(() => api.stop());

    const floorPool = guardPool(new pg.Pool({ connectionString: scratch.url, max: POOL_SIZE }));
    stops.push(() => endPool(floorPool));
    const floorStatement = compile(gridStatement(parseGridInput(input)));
    const floor = await startFloor(floorPool, floorStatement);
    stops.push(() => floor.stop());
    if (VERBOSE) await explainFloor(db.pool, floorStatement);

    // Our API twice: with the probe run RUNNING nothing is cached (one aggregation per request,
    // like the floor: the apples-to-apples comparison); once COMPLETED, the grid response cache
    // answers a repeated request after one catalogue statement (never compared with the floor).
    const setRunStatus = (status: string) => async () => {
      await db!.pool.query(`UPDATE probe_run SET status = $1::"RunStatus", finished_at = CASE WHEN $1 = 'COMPLETED' THEN now() END WHERE id = $2`, [status, load.probeRunId]);
    };
    const targets: Target[] = [
      { name: 'ours: cells, uncached (run RUNNING)', url: api.url, body: ourBody, prepare: setRunStatus('RUNNING') },
      { name: 'ours: columns, uncached (run RUNNING)', url: api.url, body: ourColumnsBody, prepare: setRunStatus('RUNNING') },
      { name: 'ours: cells, CACHED (run COMPLETED)', url: api.url, body: ourBody, prepare: setRunStatus('COMPLETED') },
      { name: 'ours: columns, CACHED (run COMPLETED)', url: api.url, body: ourColumnsBody, prepare: setRunStatus('COMPLETED') },
      { name: 'floor: raw pg + node:http', url: floor.url, body: ourBody },
    ];
    const OURS = [0, 1, 2, 3];
    const CACHED = [2, 3];
    const FLOOR = 4;
    const PEER = 5;
    let peerProblem: string | undefined;
    try {
      await db.pool.query(PEER_VIEW_SQL);
      const peer = await startPeer(scratch.url, POOL_SIZE);
      stops.push(() => peer.stop());
      targets.push({ name: 'peer: PostGraphile 5 + pg-aggregates', url: peer.url, body: JSON.stringify({ query: PEER_QUERY, variables: { probeRunId: load.probeRunId } }) });
    } catch (error) {
      peerProblem = (error as Error).stack ?? String(error);
      log(`PEER NOT MEASURED: PostGraphile 5 failed to start: ${peerProblem}`);
    }

    // The three must answer the same question: same cell count, same n and mean per (layer, timestep).
    const ours = (await post(api.url, ourBody)).data.grid;
    const floorRows = (await post(floor.url, ourBody)).rows as { k0: number; k1: number | null; total: boolean; n: number; mean: number }[];
    const cellsWithScores = ours.cells.filter((cell: { scoreCount: number }) => cell.scoreCount > 0);
    const floorCells = floorRows.filter((row) => !row.total);
    if (ours.cells.length !== LAYERS_PER_COMPONENT * TIMESTEPS.length || cellsWithScores.length !== floorCells.length) {
      throw new Error(`answers differ: API ${ours.cells.length} cells (${cellsWithScores.length} with scores), floor ${floorCells.length} groups`);
    }
    const ourMeans = new Map<string, number>();
    ours.cells.forEach((cell: { mean: number }, index: number) => {
      const layer = ours.axes[0].values[Math.floor(index / TIMESTEPS.length)].key;
      const timestep = ours.axes[1].values[index % TIMESTEPS.length].key;
      ourMeans.set(`${layer}:${timestep}`, cell.mean);
    });
    for (const row of floorCells) {
      if (Math.abs(ourMeans.get(`${row.k0}:${row.k1}`)! - row.mean) > 1e-9) throw new Error(`API and floor disagree at layer ${row.k0}, t=${row.k1}`);
    }
    if (!peerProblem) {
      const peerGroups = (await post(targets[PEER]!.url, targets[PEER]!.body)).data.allBenchPeerScores.groupedAggregates as { keys: string[]; average: { pearsonR: number } }[];
      if (peerGroups.length !== floorCells.length) throw new Error(`peer answered ${peerGroups.length} groups, floor ${floorCells.length}`);
      for (const group of peerGroups) {
        if (Math.abs(ourMeans.get(`${group.keys[0]}:${group.keys[1]}`)! - Number(group.average.pearsonR)) > 1e-9) throw new Error(`API and peer disagree at ${group.keys}`);
      }
    }
    log(`answers checked: ${floorCells.length} (layer, timestep) cells, same n and mean from every target`);

    const results: { target: string; connections: number; result: LoadResult }[] = [];
    for (const target of targets) {
      await target.prepare?.();
      for (const connections of CONCURRENCY) {
        log(`measuring ${target.name} at ${connections} connection(s): ${WARMUP} s warm-up + ${DURATION} s…`);
        const result = await runLoad({ url: target.url, body: target.body, connections, durationSeconds: DURATION, warmupSeconds: WARMUP });
        if (result.non2xx > 0 || result.errors > 0) log(`  WARNING: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
        results.push({ target: target.name, connections, result });
      }
    }

    // Load from other processes drifts over a run of minutes; for the latency ratio, interleave
    // short 1-client slices of the floor and each uncached variant and take the median of the
    // per-round ratios of mean latencies (autocannon's p50 has whole-millisecond resolution).
    const PAIRED_ROUNDS = Number(process.env.BENCH_PAIRED_ROUNDS ?? 5);
    const paired = new Map<number, number[]>([[0, []], [1, []]]);
    if (PAIRED_ROUNDS > 0) {
      log(`paired 1-client rounds: ${PAIRED_ROUNDS} × (floor, cells, columns), 2 s each…`);
      await targets[0]!.prepare?.();
      for (let round = 0; round < PAIRED_ROUNDS; round++) {
        const slice = (target: Target) => runLoad({ url: target.url, body: target.body, connections: 1, durationSeconds: 2, warmupSeconds: 0 });
        const floorSlice = await slice(targets[FLOOR]!);
        for (const index of [0, 1]) paired.get(index)!.push((await slice(targets[index]!)).mean / floorSlice.mean);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

    log('');
    log('| target | clients | p50 ms | p99 ms | mean ms | req/s | errors |');
    log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const { target, connections, result } of results) {
      log(`| ${target} | ${connections} | ${result.p50} | ${result.p99} | ${result.mean.toFixed(2)} | ${result.requestsPerSecond.toFixed(0)} | ${result.non2xx + result.errors} |`);
    }
    const find = (index: number, connections: number) => results.find((r) => r.target === targets[index]?.name && r.connections === connections)?.result;
    const floor1 = find(FLOOR, 1)!;
    const peer32 = find(PEER, 32);
    log('');
    for (const index of OURS) {
      const label = targets[index]!.name;
      const ours1 = find(index, 1)!;
      const ours32 = find(index, 32)!;
      const cached = CACHED.includes(index);
      const latencyRatio = ours1.p50 / floor1.p50;
      // A cached answer is not the same work as the floor's aggregation: no like-for-like ratio.
      const parts = cached
        ? [`CACHED, not compared with the uncached floor; p50 ${ours1.p50} ms at 1 client`]
        : [`p50 / floor p50 at 1 client ${latencyRatio.toFixed(2)} (means ${(ours1.mean / floor1.mean).toFixed(2)}; ≤ 1.5 ${latencyRatio <= 1.5 ? 'MET' : 'MISSED'})`];
      const rounds = paired.get(index);
      if (rounds?.length) {
        const ratio = median(rounds);
        parts.push(`paired median of mean-latency ratios ${ratio.toFixed(2)} over ${rounds.length} rounds [${rounds.map((r) => r.toFixed(2)).join(', ')}] (≤ 1.5 ${ratio <= 1.5 ? 'MET' : 'MISSED'})`);
      }
      if (peer32) {
        const throughputRatio = ours32.requestsPerSecond / peer32.requestsPerSecond;
        parts.push(`req/s / peer req/s at 32 clients ${throughputRatio.toFixed(2)} (≥ 1 ${throughputRatio >= 1 ? 'MET' : 'MISSED'})`);
      } else {
        parts.push(`peer not measured (${peerProblem?.split('\n')[0]})`);
      }
      const best = Math.max(ours1.requestsPerSecond, ours32.requestsPerSecond);
      parts.push(`${best.toFixed(0)} req/s (≥ 1,000 ${best >= 1000 ? 'MET' : 'MISSED'})`);
      log(`${label}: ${parts.join('; ')}`);
    }
    const floorBest = Math.max(floor1.requestsPerSecond, find(FLOOR, 32)!.requestsPerSecond);
    log(`(the floor itself reaches ${floorBest.toFixed(0)} req/s here; NODE_ENV=${process.env.NODE_ENV ?? 'unset'}; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')})`);
    log(`(p50/p99 are autocannon's whole-millisecond histogram values; the mean is finer.)`);
  } catch (error) {
    log(`bench:api FAILED: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error) => log(`stop failed: ${error}`));
    await db?.close().catch(() => {});
    await scratch.drop();
    log('scratch database dropped');
  }
}

await main();
