// The playground in a real headless Chromium with networking to other hosts disabled: GraphiQL must
// mount from this server's own assets (under its Content-Security-Policy) and show the saved tabs.
// Skipped, saying so, on machines without Chromium (`apt-get install chromium`).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const browserTest = CHROMIUM ? test : test.skip;
if (!CHROMIUM) console.warn('playground-browser.test.ts skipped: no Chromium binary at /usr/bin/chromium.');

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  // A CORS list without this server: the playground is same-origin and must work regardless.
  api = await startTestApi(db, { corsOrigins: ['http://elsewhere.example'] });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

browserTest('GraphiQL mounts offline with the Catalogue, Heatmap and Comparison tabs and the explorer plugin, and introspects this server', async () => {
  const netLog = path.join(mkdtempSync(path.join(tmpdir(), 'probe-atlas-chromium-')), 'net-log.json');
  const { stdout } = await promisify(execFile)(
    CHROMIUM!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--virtual-time-budget=8000',
      `--log-net-log=${netLog}`,
      '--net-log-capture-mode=IncludeSensitive',
      '--dump-dom',
      api.url,
    ],
    { timeout: 45_000, maxBuffer: 16 * 1024 * 1024 },
  );
  expect(stdout).toContain('graphiql-container');
  const tabs = [...stdout.matchAll(/class="[^"]*graphiql-tab-button"[^>]*>([^<]+)</g)].map((match) => match[1]!.trim());
  expect(tabs).toEqual(['Catalogue', 'Heatmap', 'Comparison']);
  // The explorer plugin (served locally too) has its button in GraphiQL's sidebar.
  expect(stdout).toMatch(/<button[^>]*aria-label="Show GraphiQL Explorer"/);
  // GraphiQL's schema fetch reached the endpoint, and the page loaded its scripts from this server.
  const log = readFileSync(netLog, 'utf8');
  rmSync(path.dirname(netLog), { recursive: true, force: true });
  expect(log).toContain('POST /graphql HTTP/1.1');
  expect(log).not.toContain('HTTP/1.1 403');
  expect(log).toContain(`${api.origin}/playground/assets/`);
}, 60_000);
