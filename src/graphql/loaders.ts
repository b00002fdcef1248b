// Per-request DataLoaders: every parent → children hop of a query becomes one batched statement,
// and nothing is cached beyond the request (the data changes under the API as runs progress).
import DataLoader from 'dataloader';
import { readCellMatrices, type CellMatrix, type CellMatrixMeasure } from '../db/cell-matrices.ts';
import type { Database } from '../db/client.ts';
import type {
  Attribute,
  AttributeGroup,
  Component,
  DatasetConcept,
  ExtractionRun,
  Layer,
  Model,
  NormsDataset,
  ProbeCell,
  ProbeGroupScore,
  ProbeRun,
  Concept,
} from '../generated/prisma/client.ts';
import {
  cellPagesByProbeRun,
  conceptPagesByNormsDataset,
  extractionRunPagesByModel,
  probeRunPagesByExtractionRun,
  ratingPagesByAttribute,
  ratingPagesByConcept,
  scorePagesByCell,
  timestepsByExtractionRun,
  type ChildPage,
  type RatingRow,
  type PageWindow,
} from '../db/catalogue.ts';
import {
  jobCountsByRun,
  jobPagesByRun,
  jobPagesByWorker,
  recentWorkersByRun,
  runKey,
  workersById,
  type JobRecord,
  type JobStatusValue,
  type RunJobCounts,
  type RunRef,
  type WorkerRecord,
} from '../db/job-reads.ts';

/**
 * Dispatch a batch on the next macrotask rather than DataLoader's default microtask tick: sibling
 * branches of a query reach the same level a few promise hops apart (Prisma resolves asynchronously),
 * and waiting one setImmediate gathers them into one statement.
 */
const options = { batchScheduleFn: (dispatch: () => void) => void setImmediate(dispatch) };

/** Loads rows by key, null where none exists, in key order. */
function byKey<K, T>(fetch: (keys: K[]) => Promise<T[]>, keyOf: (row: T) => K): DataLoader<K, T | null> {
  return new DataLoader(async (keys) => {
    const rows = new Map((await fetch([...keys])).map((row) => [keyOf(row), row]));
    return keys.map((key) => rows.get(key) ?? null);
  }, options);
}

/** Loads the (already ordered) children of each parent key. */
function groupedBy<K, T>(fetch: (keys: K[]) => Promise<T[]>, parentOf: (row: T) => K): DataLoader<K, T[]> {
  return new DataLoader(async (keys) => {
    const groups = new Map<K, T[]>(keys.map((key) => [key, []]));
    for (const row of await fetch([...keys])) groups.get(parentOf(row))?.push(row);
    return keys.map((key) => groups.get(key)!);
  }, options);
}

/** One loader per distinct page window (and filter) requested, all keyed by parent id. */
function pagedBy<Row, Extra extends string | number | null = null>(
  fetch: (parentIds: readonly number[], window: PageWindow, extra: Extra) => Promise<Map<number, ChildPage<Row>>>,
) {
  const loaders = new Map<string, DataLoader<number, ChildPage<Row>>>();
  return (window: PageWindow, extra: Extra = null as Extra): DataLoader<number, ChildPage<Row>> => {
    const cacheKey = `${window.offset}:${window.limit}:${extra}`;
    let loader = loaders.get(cacheKey);
    if (!loader) {
      loader = new DataLoader(async (ids) => {
        const pages = await fetch(ids, window, extra);
        return ids.map((id) => pages.get(id)!);
      }, options);
      loaders.set(cacheKey, loader);
    }
    return loader;
  };
}

/** pagedBy for parents that are not plain ids (a run of either kind, a worker): `keyOf` is each parent's key in the fetched map. */
function pagedByKey<Parent, Row, Extra extends string | number | null>(
  keyOf: (parent: Parent) => string,
  fetch: (parents: readonly Parent[], window: PageWindow, extra: Extra) => Promise<Map<string, ChildPage<Row>>>,
) {
  const loaders = new Map<string, DataLoader<Parent, ChildPage<Row>, string>>();
  return (window: PageWindow, extra: Extra): DataLoader<Parent, ChildPage<Row>, string> => {
    const cacheKey = `${window.offset}:${window.limit}:${extra}`;
    let loader = loaders.get(cacheKey);
    if (!loader) {
      loader = new DataLoader(async (parents) => {
        const pages = await fetch(parents, window, extra);
        return parents.map((parent) => pages.get(keyOf(parent))!);
      }, { ...options, cacheKeyFn: keyOf });
      loaders.set(cacheKey, loader);
    }
    return loader;
  };
}

const id = (row: { id: number }) => row.id;

/** A cell's stored matrix of one measure (src/db/cell-matrices.ts), null when it has none: one loader per measure, keyed by cell id. */
function cellMatricesByMeasure(pool: Database['pool']) {
  const loaders = new Map<CellMatrixMeasure, DataLoader<number, CellMatrix | null>>();
  return (measure: CellMatrixMeasure): DataLoader<number, CellMatrix | null> => {
    let loader = loaders.get(measure);
    if (!loader) {
      loader = new DataLoader(async (ids) => {
        const found = await readCellMatrices(pool, ids, measure);
        return ids.map((cellId) => found.get(cellId) ?? null);
      }, options);
      loaders.set(measure, loader);
    }
    return loader;
  };
}

export function createLoaders(db: Database) {
  const { prisma, pool } = db;
  return {
    model: byKey<number, Model>((ids) => prisma.model.findMany({ where: { id: { in: ids } } }), id),
    component: byKey<number, Component>((ids) => prisma.component.findMany({ where: { id: { in: ids } } }), id),
    layer: byKey<number, Layer>((ids) => prisma.layer.findMany({ where: { id: { in: ids } } }), id),
    normsDataset: byKey<number, NormsDataset>((ids) => prisma.normsDataset.findMany({ where: { id: { in: ids } } }), id),
    attributeGroup: byKey<number, AttributeGroup>((ids) => prisma.attributeGroup.findMany({ where: { id: { in: ids } } }), id),
    attribute: byKey<number, Attribute>((ids) => prisma.attribute.findMany({ where: { id: { in: ids } } }), id),
    concept: byKey<number, Concept>((ids) => prisma.concept.findMany({ where: { id: { in: ids } } }), id),
    conceptByWord: byKey<string, Concept>((words) => prisma.concept.findMany({ where: { word: { in: words } } }), (c) => c.word),
    extractionRun: byKey<number, ExtractionRun>((ids) => prisma.extractionRun.findMany({ where: { id: { in: ids } } }), id),
    probeRun: byKey<number, ProbeRun>((ids) => prisma.probeRun.findMany({ where: { id: { in: ids } } }), id),
    probeCell: byKey<number, ProbeCell>((ids) => prisma.probeCell.findMany({ where: { id: { in: ids } } }), id),

    componentsByModel: groupedBy<number, Component>(
      (ids) => prisma.component.findMany({ where: { modelId: { in: ids } }, orderBy: [{ position: 'asc' }, { id: 'asc' }] }),
      (row) => row.modelId,
    ),
    layersByComponent: groupedBy<number, Layer>(
      (ids) => prisma.layer.findMany({ where: { componentId: { in: ids } }, orderBy: { index: 'asc' } }),
      (row) => row.componentId,
    ),
    normsDatasetVersionsByName: groupedBy<string, NormsDataset>(
      (names) => prisma.normsDataset.findMany({ where: { name: { in: names } }, orderBy: { version: 'asc' } }),
      (row) => row.name,
    ),
    attributeGroupsByNormsDataset: groupedBy<number, AttributeGroup>(
      (ids) => prisma.attributeGroup.findMany({ where: { normsDatasetId: { in: ids } }, orderBy: [{ position: 'asc' }, { id: 'asc' }] }),
      (row) => row.normsDatasetId,
    ),
    attributesByAttributeGroup: groupedBy<number, Attribute>(
      (ids) => prisma.attribute.findMany({ where: { attributeGroupId: { in: ids } }, orderBy: [{ position: 'asc' }, { id: 'asc' }] }),
      (row) => row.attributeGroupId,
    ),
    attributesByNormsDataset: groupedBy<number, Attribute>(
      (ids) => prisma.attribute.findMany({ where: { normsDatasetId: { in: ids } }, orderBy: [{ position: 'asc' }, { id: 'asc' }] }),
      (row) => row.normsDatasetId,
    ),
    membershipsByConcept: groupedBy<number, DatasetConcept>(
      (ids) =>
        prisma.datasetConcept.findMany({
          where: { conceptId: { in: ids } },
          orderBy: [{ normsDataset: { name: 'asc' } }, { normsDataset: { version: 'asc' } }],
        }),
      (row) => row.conceptId,
    ),
    probeGroupScoresByCell: groupedBy<number, ProbeGroupScore>(
      (ids) =>
        prisma.probeGroupScore.findMany({
          where: { cellId: { in: ids } },
          orderBy: [{ attributeGroup: { position: 'asc' } }, { metric: 'asc' }],
        }),
      (row) => row.cellId,
    ),
    timestepsByExtractionRun: new DataLoader<number, number[]>(async (ids) => {
      const timesteps = await timestepsByExtractionRun(pool, ids);
      return ids.map((runId) => timesteps.get(runId) ?? []);
    }, options),

    conceptPagesByNormsDataset: pagedBy((ids, window) => conceptPagesByNormsDataset(pool, ids, window)),
    ratingPagesByConcept: pagedBy<RatingRow, number | null>((ids, window, normsDatasetId) =>
      ratingPagesByConcept(pool, ids, window, normsDatasetId),
    ),
    extractionRunPagesByModel: pagedBy((ids, window) => extractionRunPagesByModel(pool, ids, window)),
    probeRunPagesByExtractionRun: pagedBy((ids, window) => probeRunPagesByExtractionRun(pool, ids, window)),
    ratingPagesByAttribute: pagedBy((ids, window) => ratingPagesByAttribute(pool, ids, window)),
    cellPagesByProbeRun: pagedBy((ids, window) => cellPagesByProbeRun(pool, ids, window)),
    scorePagesByCell: pagedBy((ids, window) => scorePagesByCell(pool, ids, window)),
    cellMatrix: cellMatricesByMeasure(pool),

    // The job queue's tables (src/db/job-reads.ts): runs keyed by kind and id, workers by their text id.
    jobCountsByRun: new DataLoader<RunRef, RunJobCounts, string>(async (runs) => {
      const counts = await jobCountsByRun(pool, runs);
      return runs.map((run) => counts.get(runKey(run))!);
    }, { ...options, cacheKeyFn: runKey }),
    recentWorkersByRun: new DataLoader<RunRef, WorkerRecord[], string>(async (runs) => {
      const workers = await recentWorkersByRun(pool, runs);
      return runs.map((run) => workers.get(runKey(run))!);
    }, { ...options, cacheKeyFn: runKey }),
    worker: byKey<string, WorkerRecord>((ids) => workersById(pool, ids), (row) => row.id),
    jobPagesByRun: pagedByKey<RunRef, JobRecord, JobStatusValue | null>(runKey, (runs, window, status) => jobPagesByRun(pool, runs, window, status)),
    jobPagesByWorker: pagedByKey<string, JobRecord, JobStatusValue | null>(String, (ids, window, status) => jobPagesByWorker(pool, ids, window, status)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
