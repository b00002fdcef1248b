// The floor: the heatmap's aggregation as one raw SQL statement through pg, behind a minimal
// node:http endpoint that reads a JSON POST body and answers JSON, so the HTTP and JSON costs are
// comparable with the GraphQL servers. No validation, no axes, no dense assembly: the least a
// server can do to answer the same question.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { CompiledSql } from '../../../src/grid/sql.ts';

export interface RunningFloor {
  url: string;
  stop(): Promise<void>;
}

export async function startFloor(pool: pg.Pool, statement: CompiledSql): Promise<RunningFloor> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      pool.query(statement).then(
        (result) => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ rows: result.rows }));
        },
        (error: Error) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: error.message }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/floor`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
