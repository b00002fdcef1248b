// Starts GraphiQL (UMD globals React, ReactDOM, GraphiQL, GraphiQLPluginExplorer, all served by this
// server) with the saved example queries as tabs and the explorer plugin (build a query by ticking
// fields of the schema). Configuration comes from the JSON block in the page.
(function startPlayground() {
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var fetcher = GraphiQL.createFetcher({ url: new URL(config.endpoint, window.location.href).href });
  // A chart's "Open in playground" link on the atlas page (/graphql#query=…&variables=…) puts its query in the editor.
  var linked = new URLSearchParams(window.location.hash.slice(1));
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      query: linked.get('query') || undefined,
      variables: linked.get('variables') || undefined,
    }),
  );
})();
