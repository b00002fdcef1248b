// The peer: PostGraphile 5 with @graphile/pg-aggregates, answering the heatmap as a grouped
// aggregate over a SQL view that flattens the columns it needs (PostGraphile aggregates one
// table or view; it cannot group a probe_score connection by a joined component or group name).
// The view exists only in the scratch benchmark database.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { endPool, guardPool } from '../../../src/db/connection-errors.ts';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PgAggregatesPreset } from '@graphile/pg-aggregates';

// grafast 1.1 (under PostGraphile 5.1.5) calls Promise.withResolvers, which Node 20 lacks (22+ has
// it): without this polyfill some plans fail with "Cannot read properties of undefined".
(Promise as unknown as { withResolvers?: unknown }).withResolvers ??= function withResolvers<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

export const PEER_VIEW_SQL = `
CREATE VIEW bench_peer_score AS
SELECT ps.id AS score_id, pc.probe_run_id, c.kind::text AS component_kind, ag.name AS attribute_group,
       pc.layer_id, pc.timestep, ps.pearson_r
FROM probe_score ps
JOIN probe_cell pc ON pc.id = ps.cell_id
JOIN layer l ON l.id = pc.layer_id
JOIN component c ON c.id = l.component_id
JOIN attribute a ON a.id = ps.attribute_id
JOIN attribute_group ag ON ag.id = a.attribute_group_id`;

export const PEER_QUERY = `query Heatmap($probeRunId: Int!) {
  allBenchPeerScores(condition: { probeRunId: $probeRunId, componentKind: "UNET", attributeGroup: "Vision" }) {
    groupedAggregates(groupBy: [LAYER_ID, TIMESTEP]) {
      keys
      distinctCount { scoreId }
      average { pearsonR }
      stddevSample { pearsonR }
    }
  }
}`;

export interface RunningPeer {
  url: string;
  stop(): Promise<void>;
}

export async function startPeer(connectionString: string, maxConnections: number): Promise<RunningPeer> {
  const pool = guardPool(new pg.Pool({ connectionString, max: maxConnections }));
  const preset: GraphileConfig.Preset = {
    extends: [PostGraphileAmberPreset, PgAggregatesPreset],
    pgServices: [makePgService({ pool, schemas: ['public'] })],
    grafserv: { graphqlPath: '/graphql', graphiql: false },
    grafast: { explain: false },
  };
  const instance = postgraphile(preset);
  const serv = instance.createServ(grafserv);
  const server = createServer();
  serv.addTo(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await instance.release(); // releases the serv too
      await endPool(pool);
    },
  };
}
