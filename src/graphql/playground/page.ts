// The playground's HTML: GraphiQL mounted from assets served by this server; no external URL.
import type { AssetTable } from './assets.ts';
import type { ExampleQuery } from './examples.ts';

/** JSON safe inside a <script> element: `<` can never close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function renderPlaygroundPage(options: { endpoint: string; assets: AssetTable; examples: ExampleQuery[] }): string {
  const url = (name: string) => options.assets.byName.get(name)!.url;
  const config = {
    endpoint: options.endpoint,
    tabs: options.examples.map((example) => ({ query: example.query, variables: example.variables })),
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>probe-atlas · GraphQL playground</title>
<link rel="stylesheet" href="${url('graphiql.min.css')}">
<link rel="stylesheet" href="${url('plugin-explorer.css')}">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the GraphQL playground…</div>
<script type="application/json" id="playground-config">${scriptJson(config)}</script>
<script src="${url('react.production.min.js')}"></script>
<script src="${url('react-dom.production.min.js')}"></script>
<script src="${url('graphiql.min.js')}"></script>
<script src="${url('plugin-explorer.umd.js')}"></script>
<script src="${url('playground.js')}"></script>
</body>
</html>
`;
}

/** Only this server's own files: scripts, styles and requests stay on this origin. */
export const PLAYGROUND_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'";
