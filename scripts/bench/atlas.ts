// npm run bench:atlas — the atlas page's budgets, measured in Debian's headless Chromium: the first
// render of the heatmap (navigation start to the heatmap drawn, cold browser cache) against 1 s on
// localhost, the JavaScript shipped (gzipped, as served) against 300 kB, and the requests one view
// costs (the first view, a group change) against their bounds. By default over a scratch database
// holding a real tiny-network probe run (12 concepts, 3 steps; dropped at the end); `-- --url
// http://localhost:4000` measures a running server instead (e.g. `npm start`'s demo). BENCH_RUNS
// (default 5) page loads; the median and the worst are reported. Exit 1 when a budget is exceeded.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { parseCliArguments, runCli } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase } from '../../src/db/client.ts';
import { createApiServer } from '../../src/graphql/server.ts';
import { createLogger } from '../../src/log.ts';
import { fillWithTinyProbeRun } from '../../test/web/tiny-probe-run.ts';
import { createScratchDatabase } from './api/scratch-database.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FIRST_RENDER_BUDGET_MS = 1000;
const JS_BUDGET_BYTES = 300 * 1024;
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const log = (line: string) => process.stdout.write(`${line}\n`);

interface PageLoad {
  firstRenderMs: number;
  readyMs: number;
  requests: number;
  graphqlRequests: Record<string, number>;
  /** Milliseconds of each GraphQL request (the first of each operation), as the page timed it. */
  operationMs: Record<string, number>;
  jsBytes: number;
}

/**
 * What the functions run in the page read (the root tsconfig has no DOM types). Functions, not
 * strings: a string predicate is eval'd in the page, which its Content-Security-Policy forbids.
 */
interface AtlasWindow {
  __atlas: { requests: Array<{ operation: string; ms: number }>; timings: { heatmapRenderedMs?: number } };
  document: { body: { dataset: Record<string, string | undefined> } };
  location: { search: string };
}

async function measureLoad(browser: Browser, origin: string): Promise<PageLoad> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  let requests = 0;
  let jsBytes = 0;
  page.on('request', () => void (requests += 1));
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return;
    // The bytes on the wire: the compressed body the server sent (Content-Length of the gzipped answer).
    void response.headerValue('content-length').then((length) => void (jsBytes += Number(length ?? 0)));
  });
  const started = Date.now();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => (globalThis as unknown as AtlasWindow).__atlas?.timings.heatmapRenderedMs !== undefined, undefined, { timeout: 60_000 });
  await page.waitForSelector('body[data-atlas="ready"]', { timeout: 60_000 });
  const readyMs = Date.now() - started;
  const atlas = await page.evaluate(() => {
    const { timings, requests } = (globalThis as unknown as AtlasWindow).__atlas;
    return { timings, requests };
  });
  const firstRenderMs = atlas.timings.heatmapRenderedMs!;
  const operations = atlas.requests;
  const graphqlRequests: Record<string, number> = {};
  const operationMs: Record<string, number> = {};
  for (const { operation, ms } of operations) {
    graphqlRequests[operation] = (graphqlRequests[operation] ?? 0) + 1;
    operationMs[operation] ??= ms;
  }
  await context.close();
  return { firstRenderMs, readyMs, requests, graphqlRequests, operationMs, jsBytes };
}

/** GraphQL requests a person's change costs once the page is open: another attribute group. */
async function measureGroupChange(browser: Browser, origin: string): Promise<Record<string, number>> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-atlas="ready"]', { timeout: 60_000 });
  const before = await page.evaluate(() => (globalThis as unknown as AtlasWindow).__atlas.requests.length);
  const groups = await Promise.all((await page.locator('#pick-group option').all()).map(async (option) => (await option.getAttribute('value')) ?? ''));
  const current = await page.inputValue('#pick-group');
  const other = groups.find((group) => group !== current);
  if (!other) return {};
  await page.selectOption('#pick-group', other);
  await page.waitForFunction(
    (group) => {
      const { document, location } = globalThis as unknown as AtlasWindow;
      return document.body.dataset.atlas === 'ready' && new URLSearchParams(location.search).get('group') === group;
    },
    other,
    { timeout: 60_000 },
  );
  const operations = await page.evaluate((from) => (globalThis as unknown as AtlasWindow).__atlas.requests.slice(from).map((r) => r.operation), before);
  await context.close();
  const counts: Record<string, number> = {};
  for (const operation of operations) counts[operation] = (counts[operation] ?? 0) + 1;
  return counts;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const describe = (counts: Record<string, number>) => Object.entries(counts).map(([op, n]) => `${op}×${n}`).join(', ');

runCli('bench:atlas', async () => {
  const { values } = parseCliArguments({ options: { url: { type: 'string' } } }, 'usage: npm run bench:atlas [-- --url http://localhost:4000]');
  if (!CHROMIUM) {
    log('bench:atlas needs Chromium at /usr/bin/chromium (apt-get install chromium).');
    return 1;
  }
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-web.ts', '--if-stale'], { stdio: 'inherit' });
  const stops: Array<() => Promise<void>> = [];
  let origin = values.url?.replace(/\/+$/, '');
  try {
    if (!origin) {
      const scratch = await createScratchDatabase(log);
      stops.push(() => scratch.drop());
      log(`scratch database: ${scratch.serverDescription}; filling it with a tiny-network probe run…`);
      const db = connectDatabase(scratch.url);
      stops.push(() => db.close());
      const filled = Date.now();
      await fillWithTinyProbeRun(db);
      log(`probe run stored in ${((Date.now() - filled) / 1000).toFixed(1)} s`);
      const config = { ...loadConfig({}), databaseUrl: scratch.url, host: '127.0.0.1', port: 0, seedOnStart: false, demoPipeline: false };
      const server = await createApiServer({ db, config, log: createLogger('api', process.stderr) });
      stops.push(() => server.stop());
      origin = new URL(server.url).origin;
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    stops.push(() => browser.close());
    await measureLoad(browser, origin); // warm-up: the server's first grid statements and Chromium's start
    const loads: PageLoad[] = [];
    for (let i = 0; i < RUNS; i++) loads.push(await measureLoad(browser, origin));
    const change = await measureGroupChange(browser, origin);

    const first = loads.map((load) => load.firstRenderMs);
    const js = Math.max(...loads.map((load) => load.jsBytes));
    const view = loads[0]!;
    const cellPages = view.graphqlRequests.AtlasProbeCells ?? 0;
    // Bounds: catalogue 1, probe-cell pages, heatmap, curves, cell scores, matrix (1 each).
    const viewBound = 1 + Math.max(1, cellPages) + 4;
    const changeBound = 4;
    log(`atlas page at ${origin}, ${RUNS} cold loads (after one warm-up), Chromium headless, load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
    log(`first render of the heatmap: median ${median(first).toFixed(0)} ms, worst ${Math.max(...first).toFixed(0)} ms (budget ${FIRST_RENDER_BUDGET_MS} ms, navigation start to drawn)`);
    const chain = ['AtlasCatalogue', 'AtlasProbeCells', 'AtlasHeatmap'];
    log(`  of which the three requests before it (catalogue → probe cells → heatmap): ${chain.map((op) => `${op} ${median(loads.map((l) => l.operationMs[op] ?? 0)).toFixed(0)} ms`).join(', ')}`);
    log(`every chart drawn: median ${median(loads.map((l) => l.readyMs)).toFixed(0)} ms`);
    log(`JavaScript shipped: ${(js / 1024).toFixed(1)} kB gzipped (budget ${JS_BUDGET_BYTES / 1024} kB)`);
    log(`requests for the first view: ${view.requests} in all (page, assets, GraphQL); GraphQL ${total(view.graphqlRequests)} (${describe(view.graphqlRequests)}; bound ${viewBound})`);
    log(`requests for a group change: GraphQL ${total(change)} (${describe(change)}; bound ${changeBound})`);
    const failures = [
      median(first) > FIRST_RENDER_BUDGET_MS ? 'first render over budget' : '',
      js > JS_BUDGET_BYTES ? 'JavaScript over budget' : '',
      total(view.graphqlRequests) > viewBound ? 'too many requests for the first view' : '',
      total(change) > changeBound ? 'too many requests for a group change' : '',
    ].filter(Boolean);
    log(failures.length ? `OVER BUDGET: ${failures.join('; ')}` : 'all budgets met');
    return failures.length ? 1 : 0;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: Error) => log(`cleanup: ${error.message}`));
  }
});
