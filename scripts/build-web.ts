// Builds the atlas page (web/ → web/dist) with Vite, for src/graphql/atlas-site.ts to serve at `/`.
// `npm install` runs it (postinstall), so a fresh clone's `npm start` shows the page; the browser
// tests and the bench run it with --if-stale, which skips when web/dist/.source-hash matches the
// sources (web/ and package-lock.json). Prints one line per step (JSON lines off a terminal).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCliArguments, runCli } from '../src/cli.ts';
import { ATLAS_DIST_DIR, ATLAS_SOURCE_DIR, ATLAS_STAMP_FILE, atlasBuildState, atlasSourceHash } from '../src/graphql/atlas-site.ts';
import { createLogger } from '../src/log.ts';

const USAGE = 'usage: npm run build:web [-- --if-stale]';

runCli('build:web', async () => {
  const { values } = parseCliArguments({ options: { 'if-stale': { type: 'boolean', default: false } } }, USAGE);
  const log = createLogger('build:web');
  if (values['if-stale'] && atlasBuildState().current) {
    log.info('the atlas page is up to date', { dist: path.relative(process.cwd(), ATLAS_DIST_DIR) });
    return 0;
  }
  const hash = atlasSourceHash();
  const started = performance.now();
  log.info('building the atlas page with Vite…', { source: path.relative(process.cwd(), ATLAS_SOURCE_DIR) });
  const { build } = await import('vite');
  await build({ configFile: path.join(ATLAS_SOURCE_DIR, 'vite.config.ts'), logLevel: 'warn' });
  writeFileSync(path.join(ATLAS_DIST_DIR, ATLAS_STAMP_FILE), `${hash}\n`);
  log.info(`built the atlas page in ${((performance.now() - started) / 1000).toFixed(1)} s`, { dist: path.relative(process.cwd(), ATLAS_DIST_DIR) });
  return 0;
});
