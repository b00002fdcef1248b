// A LARGE dense grid for the hostile-traffic tests, built from the API fixtures (fixtures.ts): the
// 65 Binder attributes (real norms) and a test network of 3 components × 55 layers, one probe run
// with one cell per layer and a score per attribute. Grouped by [LAYER, ATTRIBUTE] it is
// 165 × 65 = 10,725 cells, the grid of issue 7's alias attack. Also a lock that holds every grid
// aggregation inside PostgreSQL (it reads probe_score) for as long as a test needs, while catalogue
// queries and the grid's axes statement (which never read probe_score) go on.
import pg from 'pg';
import type { TestDatabase } from '../support/database.ts';
import { seedBinder, seedModel } from './fixtures.ts';

export const LARGE_GRID_CELLS = 165 * 65;

export interface LargeGrid {
  probeRunId: number;
  /** GridInput of the 10,725-cell grid. */
  input: { metric: 'PEARSON_R'; groupBy: ['LAYER', 'ATTRIBUTE']; filter: { probeRunIds: string[] } };
}

export async function insertLargeGrid(db: TestDatabase): Promise<LargeGrid> {
  const dataset = await seedBinder(db.prisma, { concepts: 2 });
  const model = await seedModel(db.prisma, { name: 'hostile-grid-model', components: 3, layers: 55 });
  const extraction = await db.prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: 'hostile-extraction', promptTemplate: 'a photo of a {concept}', seed: 0, stepCount: 2, device: 'cpu', settings: {} },
  });
  const probe = await db.prisma.probeRun.create({
    data: { extractionRunId: extraction.id, normsDatasetId: dataset.id, settingsHash: 'hostile-probe', method: 'ridge', settings: {}, cvScheme: 'test', status: 'RUNNING' },
  });
  const layerIds = model.components.flatMap((component) => component.layers.map((layer) => layer.id));
  await db.pool.query(
    `WITH cells AS (
       INSERT INTO probe_cell (probe_run_id, layer_id, timestep, pooling, concept_count)
       SELECT $1, layer_id, NULL, 'mean', 2 FROM unnest($2::int[]) AS l(layer_id) RETURNING id)
     INSERT INTO probe_score (cell_id, attribute_id, pearson_r, r2, two_vs_two, alpha)
     SELECT cells.id, a.id, 0.5, 0.25, 0.7, 1 FROM cells CROSS JOIN unnest($3::int[]) AS a(id)`,
    [probe.id, layerIds, dataset.attributes.map((attribute) => attribute.id)],
  );
  return { probeRunId: probe.id, input: { metric: 'PEARSON_R', groupBy: ['LAYER', 'ATTRIBUTE'], filter: { probeRunIds: [String(probe.id)] } } };
}

/** Holds ACCESS EXCLUSIVE on probe_score in an open transaction until `release()`. */
export async function lockScores(url: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE probe_score IN ACCESS EXCLUSIVE MODE');
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= client.query('COMMIT').then(() => client.end(), () => client.end());
      return released;
    },
  };
}

/** Grid statements of this database waiting on the lock (or running), as pg_stat_activity shows them. */
export async function activeGridStatements(url: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%FROM probe_score ps%'`,
      [database],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** Polls `check` every 50 ms until it returns true, or fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
