// The playground's static files, served by the API itself from node_modules (no CDN): GraphiQL's,
// its explorer plugin's and React's UMD builds plus our start-up script. URLs carry a content hash, so they are cached forever.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ASSET_PREFIX = '/playground/assets/';

export interface Asset {
  name: string;
  contentType: string;
  body: Buffer;
  /** First 16 hex digits of the content's sha256; part of the URL and the ETag. */
  hash: string;
  url: string;
}

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const here = path.dirname(fileURLToPath(import.meta.url));

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Name → file; order is the order scripts must load in (React before ReactDOM before GraphiQL before its explorer plugin). */
const SOURCES: Array<{ name: string; file: () => string; contentType: string }> = [
  { name: 'graphiql.min.css', file: () => path.join(packageDir('graphiql'), 'graphiql.min.css'), contentType: CSS },
  { name: 'react.production.min.js', file: () => path.join(packageDir('react'), 'umd', 'react.production.min.js'), contentType: JS },
  {
    name: 'react-dom.production.min.js',
    file: () => path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'),
    contentType: JS,
  },
  { name: 'graphiql.min.js', file: () => path.join(packageDir('graphiql'), 'graphiql.min.js'), contentType: JS },
  // The explorer's UMD build reads the globals React, GraphiQL.React and GraphiQL.GraphQL.
  { name: 'plugin-explorer.css', file: () => path.join(packageDir('@graphiql/plugin-explorer'), 'dist', 'style.css'), contentType: CSS },
  { name: 'plugin-explorer.umd.js', file: () => path.join(packageDir('@graphiql/plugin-explorer'), 'dist', 'index.umd.js'), contentType: JS },
  { name: 'playground.js', file: () => path.join(here, 'client.js'), contentType: JS },
];

export interface AssetTable {
  byName: Map<string, Asset>;
  /** The asset at a request path (`/playground/assets/<hash>/<name>`), if the hash matches. */
  lookup(pathname: string): Asset | undefined;
}

let loading: Promise<AssetTable> | undefined;

/** Reads every asset once per process (about 2 MB), on the first playground request. */
export function loadAssets(): Promise<AssetTable> {
  loading ??= Promise.all(
    SOURCES.map(async ({ name, file, contentType }): Promise<Asset> => {
      const body = await readFile(file());
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
      return { name, contentType, body, hash, url: `${ASSET_PREFIX}${hash}/${name}` };
    }),
  ).then((assets) => {
    const byName = new Map(assets.map((asset) => [asset.name, asset]));
    const byUrl = new Map(assets.map((asset) => [asset.url, asset]));
    return { byName, lookup: (pathname) => byUrl.get(pathname) };
  });
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}
