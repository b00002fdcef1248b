/** @jest-environment ./test/bundles/onnx-environment.cjs */
// The atlas page in Debian's headless Chromium (playwright-core), served by the real API over a test
// database holding a real probe run of the tiny test network: it loads with no console error and
// no request leaving this server; the heatmap has one cell per grid cell with the API's values;
// changing the group redraws; the CSV export is the grid; the URL restores a view; and an empty
// database, a running run and an API error each get their message. Screenshots of every view go to
// test-artifacts/ (git-ignored). Skipped, saying so, without /usr/bin/chromium.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { fillWithTinyProbeRun, type TinyProbeRun } from './tiny-probe-run.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const browserTest = CHROMIUM ? test : test.skip;
if (!CHROMIUM) console.warn('atlas.test.ts skipped: no Chromium binary at /usr/bin/chromium (apt-get install chromium).');

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');
const READY_TIMEOUT = 60_000;

let db: TestDatabase;
let api: TestApi;
let browser: Browser;
let run: TinyProbeRun;

beforeAll(async () => {
  if (!CHROMIUM) return;
  // The page as built from today's sources (a no-op when web/dist is current).
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build-web.ts', '--if-stale'], { cwd: PROJECT_ROOT, timeout: 180_000 });
  db = await createTestDatabase();
  run = await fillWithTinyProbeRun(db);
  api = await startTestApi(db);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await db?.drop();
});

/**
 * What the functions run in the page read (the root tsconfig has no DOM types). Functions, not
 * strings: a string predicate is eval'd in the page, which its Content-Security-Policy forbids.
 */
interface PageGlobals {
  document: { body: { dataset: Record<string, string | undefined> }; querySelector(selector: string): { textContent: string | null } | null };
  location: { search: string };
  __atlas: { requests: Array<{ operation: string }> };
}

interface OpenedPage {
  page: Page;
  context: BrowserContext;
  consoleErrors: string[];
  requests: string[];
}

async function open(origin: string, search = '', waitFor = 'ready'): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(`${origin}/${search}`);
  await page.waitForSelector(`body[data-atlas="${waitFor}"]`, { timeout: READY_TIMEOUT });
  return { page, context, consoleErrors, requests };
}

/** Waits until the page has drawn the state whose URL parameter `key` is `value`. */
async function waitForView(page: Page, key: string, value: string): Promise<void> {
  await page.waitForFunction(
    ([k, v]) => {
      const { document, location } = globalThis as unknown as PageGlobals;
      return document.body.dataset.atlas === 'ready' && new URLSearchParams(location.search).get(k!) === v;
    },
    [key, value],
    { timeout: READY_TIMEOUT },
  );
}

function urlState(page: Page): Record<string, string> {
  return Object.fromEntries(new URL(page.url()).searchParams);
}

interface GridAnswer {
  cellCount: number;
  axes: Array<{ dimension: string; values: Array<{ index: number; label: string; id: string | null }> }>;
  cells: Array<{ coordinates: number[]; mean: number | null; sd: number | null; scoreCount: number; ciLow: number | null; ciHigh: number | null }>;
}

/** The heatmap the URL's state asks for, straight from the API (not through the page's code). */
async function apiHeatmap(state: Record<string, string>): Promise<GridAnswer> {
  const response = await api.graphql<{ grid: GridAnswer }>(
    `query ($input: GridInput!) { grid(input: $input) {
      cellCount axes { dimension values { index label id } } cells { coordinates mean sd scoreCount ciLow ciHigh }
    } }`,
    {
      input: {
        metric: state.metric,
        groupBy: ['LAYER', 'TIMESTEP'],
        filter: { probeRunIds: [state.probeRun], componentIds: [state.component], poolings: [state.pooling], attributeGroupIds: [state.group] },
      },
    },
  );
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.grid;
}

/** The grid as the CSV's rows would hold it: layer and timestep labels, the numbers as strings. */
function gridRows(grid: GridAnswer): string[][] {
  const [layers, timesteps] = grid.axes;
  return grid.cells.map((cell) => [
    layers!.values[cell.coordinates[0]!]!.label,
    layers!.values[cell.coordinates[0]!]!.id ?? '',
    timesteps!.values[cell.coordinates[1]!]!.label,
    ...[cell.mean, cell.sd, cell.scoreCount, cell.ciLow, cell.ciHigh].map((value) => (value === null ? '' : String(value))),
  ]);
}

/** An attribute of every element a locator matches, in document order. */
async function attributes(locator: Locator, name: string): Promise<string[]> {
  return Promise.all((await locator.all()).map(async (element) => (await element.getAttribute(name)) ?? ''));
}

/** The heatmap's drawn cells: one rect per grid cell (filled or empty), each labelled with its value. */
async function drawnCells(page: Page): Promise<{ count: number; labels: string[] }> {
  const filled = page.locator('#heatmap .heatmap-cell rect');
  const empty = page.locator('#heatmap .heatmap-empty rect');
  const labels = await attributes(filled, 'aria-label');
  return { count: (await filled.count()) + (await empty.count()), labels };
}

function expectedLabels(grid: GridAnswer): string[] {
  const [layers, timesteps] = grid.axes;
  return grid.cells
    .filter((cell) => cell.mean !== null)
    .map((cell) => `${layers!.values[cell.coordinates[0]!]!.label} · timestep ${timesteps!.values[cell.coordinates[1]!]!.label}: mean ${cell.mean!.toFixed(3)}, n ${cell.scoreCount}`);
}

async function download(page: Page, selector: string): Promise<Buffer> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return readFileSync((await file.path())!);
}

browserTest('the page loads every view with no console error, every request to this server, the heatmap holds the API grid, and its query opens in the playground', async () => {
  const { page, context, consoleErrors, requests } = await open(api.origin);
  try {
    const state = urlState(page);
    expect(state).toMatchObject({ probeRun: String(run.probeRunId), metric: 'PEARSON_R', pooling: 'SPATIAL_MEAN' });
    for (const id of ['heatmap', 'curves', 'bars', 'disentanglement']) {
      expect(await page.getAttribute(`#${id}`, 'data-state')).toBe('ready');
    }
    // The matrix view: drawn where the cell stores matrices, else it says why (never left loading).
    expect(['ready', 'empty', 'unsupported']).toContain(await page.getAttribute('#matrix', 'data-state'));

    const grid = await apiHeatmap(state);
    expect(grid.cellCount).toBeGreaterThan(1);
    const drawn = await drawnCells(page);
    expect(drawn.count).toBe(grid.cellCount);
    expect(drawn.labels.map((label) => label.replace(/, 95%.*|, no interval.*/, ''))).toEqual(expectedLabels(grid));
    // Chance is drawn on the charts that have an axis for it.
    for (const id of ['curves', 'bars', 'disentanglement']) expect(await page.locator(`#${id} .chance-line`).count()).toBeGreaterThan(0);
    expect(await page.textContent('#heatmap [data-role=caption]')).toMatch(/chance/);
    // Every chart offers its query in the playground.
    const playground = await page.getAttribute('#heatmap [data-action=playground]', 'href');
    expect(playground).toMatch(/^\/graphql#query=/);
    expect(new URLSearchParams(playground!.split('#')[1]).get('query')).toContain('query AtlasHeatmap');

    await page.screenshot({ path: path.join(ARTIFACTS, 'atlas-page.png'), fullPage: true });
    for (const id of ['heatmap', 'curves', 'bars', 'disentanglement', 'matrix']) {
      await page.locator(`#${id}`).screenshot({ path: path.join(ARTIFACTS, `atlas-${id}.png`) });
    }
    expect(consoleErrors).toEqual([]);
    const origins = new Set(requests.map((url) => new URL(url).origin));
    expect([...origins]).toEqual([api.origin]);

    // The playground link puts the chart's query in GraphiQL's editor.
    await page.goto(`${api.origin}${playground}`);
    await page.waitForFunction(
      () => ((globalThis as unknown as PageGlobals).document.querySelector('.graphiql-query-editor')?.textContent ?? '').includes('query AtlasHeatmap'),
      undefined,
      { timeout: READY_TIMEOUT },
    );
  } finally {
    await context.close();
  }
}, 120_000);

browserTest('changing the attribute group redraws the heatmap with that group, and its CSV export is the grid', async () => {
  const { page, context } = await open(api.origin);
  try {
    const before = urlState(page);
    const options = page.locator('#pick-group option');
    const values = await attributes(options, 'value');
    const labels = await options.allTextContents();
    const groups = values.map((value, i) => ({ value, label: labels[i] }));
    const other = groups.find((group) => group.value !== before.group)!;
    expect(other).toBeDefined();
    const beforeLabels = (await drawnCells(page)).labels;

    await page.selectOption('#pick-group', other.value);
    await waitForView(page, 'group', other.value);
    const state = urlState(page);
    expect(state.group).toBe(other.value);
    expect(await page.textContent('#heatmap [data-role=caption]')).toContain(other.label!);
    const grid = await apiHeatmap(state);
    const drawn = await drawnCells(page);
    expect(drawn.count).toBe(grid.cellCount);
    expect(drawn.labels.map((label) => label.replace(/, 95%.*|, no interval.*/, ''))).toEqual(expectedLabels(grid));
    expect(drawn.labels).not.toEqual(beforeLabels);

    const csv = parse(await download(page, '#heatmap [data-action=csv]'), { relaxColumnCount: false }) as string[][];
    expect(csv[0]).toEqual(['layer', 'layerId', 'timestep', 'mean', 'sd', 'scoreCount', 'ciLow', 'ciHigh']);
    expect(csv.slice(1)).toEqual(gridRows(grid));

    const svg = (await download(page, '#heatmap [data-action=svg]')).toString('utf8');
    expect(svg).toMatch(/^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<rect/g)!.length).toBeGreaterThanOrEqual(grid.cellCount);
    const png = await download(page, '#heatmap [data-action=png]');
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  } finally {
    await context.close();
  }
}, 120_000);

browserTest('a shared URL restores the view: metric, group and cell come back as they were chosen', async () => {
  const first = await open(api.origin);
  let search: string;
  let chosen: Record<string, string>;
  try {
    const { page } = first;
    await page.selectOption('#pick-metric', 'TWO_VS_TWO');
    await waitForView(page, 'metric', 'TWO_VS_TWO');
    const groups = await attributes(page.locator('#pick-group option'), 'value');
    await page.selectOption('#pick-group', groups[groups.length - 1]!);
    await waitForView(page, 'group', groups[groups.length - 1]!);
    const timesteps = await attributes(page.locator('#pick-timestep option'), 'value');
    await page.selectOption('#pick-timestep', timesteps[timesteps.length - 1]!);
    await waitForView(page, 'timestep', timesteps[timesteps.length - 1]!);
    chosen = urlState(page);
    search = new URL(page.url()).search;
  } finally {
    await first.context.close();
  }
  const { page, context } = await open(api.origin, search);
  try {
    expect(urlState(page)).toEqual(chosen);
    expect(await page.inputValue('#pick-metric')).toBe('TWO_VS_TWO');
    expect(await page.inputValue('#pick-group')).toBe(chosen.group);
    expect(await page.inputValue('#pick-timestep')).toBe(chosen.timestep);
    expect(await page.textContent('#bars [data-role=caption]')).toContain(`timestep ${chosen.timestep}`);
    const grid = await apiHeatmap(chosen);
    expect((await drawnCells(page)).labels.map((label) => label.replace(/, 95%.*|, no interval.*/, ''))).toEqual(expectedLabels(grid));
  } finally {
    await context.close();
  }
}, 120_000);

browserTest('an API error is shown on the chart it broke, with its code, and the other charts still draw', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    // The server answering the heatmap's query as it does when overloaded.
    await page.route('**/graphql', async (route) => {
      if (route.request().postData()?.includes('AtlasHeatmap')) {
        return route.fulfill({
          status: 503,
          contentType: 'application/json',
          headers: { 'Retry-After': '1' },
          body: JSON.stringify({ errors: [{ message: 'Too many heavy operations are running.', extensions: { code: 'SERVER_BUSY' } }] }),
        });
      }
      return route.continue();
    });
    await page.goto(`${api.origin}/`);
    await page.waitForSelector('body[data-atlas="error"]', { timeout: READY_TIMEOUT });
    expect(await page.getAttribute('#heatmap', 'data-state')).toBe('error');
    expect(await page.textContent('#heatmap [data-role=status]')).toContain('SERVER_BUSY');
    expect(await page.getAttribute('#heatmap [data-role=status]', 'role')).toBe('alert');
    expect(await page.getAttribute('#curves', 'data-state')).toBe('ready');
    await page.screenshot({ path: path.join(ARTIFACTS, 'atlas-api-error.png') });
  } finally {
    await context.close();
  }
}, 120_000);

browserTest('a running probe run is announced, and the page refreshes while it runs', async () => {
  await db.pool.query(`UPDATE probe_run SET status = 'RUNNING' WHERE id = $1`, [run.probeRunId]);
  try {
    const { page, context } = await open(api.origin);
    try {
      expect(await page.textContent('#atlas-status')).toMatch(new RegExp(`in progress: probe run #${run.probeRunId} running`));
      // The next refresh asks the catalogue again (the page polls only while a run is active).
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).__atlas.requests.filter((r) => r.operation === 'AtlasCatalogue').length >= 2,
        undefined,
        { timeout: READY_TIMEOUT },
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'atlas-running.png') });
    } finally {
      await context.close();
    }
  } finally {
    await db.pool.query(`UPDATE probe_run SET status = 'COMPLETED' WHERE id = $1`, [run.probeRunId]);
  }
}, 120_000);

browserTest('an empty database says so instead of drawing empty charts', async () => {
  const empty = await createTestDatabase();
  const emptyApi = await startTestApi(empty);
  try {
    const { page, context, consoleErrors } = await open(emptyApi.origin, '', 'empty');
    try {
      expect(await page.textContent('#atlas-status')).toContain('holds no probe runs yet');
      expect(await page.getAttribute('#heatmap', 'data-state')).toBe('empty');
      expect(consoleErrors).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, 'atlas-empty.png') });
    } finally {
      await context.close();
    }
  } finally {
    await emptyApi.stop();
    await empty.drop();
  }
}, 120_000);
