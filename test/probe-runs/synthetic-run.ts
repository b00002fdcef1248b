// The synthetic COMPLETED extraction run that the probe-run tests (test/probe-runs/run.test.ts,
// test/jobs/probe-job.test.ts, test/graphql/grid-paired.test.ts) probe: real Binder (2016) norms for
// the first N concepts, and activation summaries that are honest stand-ins for a model's (no model
// runs): a fixed random projection of each concept's z-scored ratings plus Gaussian noise (a cell that
// carries the ratings), or noise alone (a cell that carries nothing). One module, so the callers seed
// the same rows in the same order from the same random stream (seed 42) and cannot drift apart.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { writeSummaries, type SummaryRow } from '../../src/db/summaries.ts';
import { PROJECT_ROOT } from '../../src/config.ts';
import { seededRandom } from '../../src/probes/random.ts';
import type { TestDatabase } from '../support/database.ts';
import { gaussianSampler } from '../probes/reference.ts';

/** One (layer, timestep) cell of summaries: `dim` features, noise of this sd, with or without the ratings' signal. */
export interface SyntheticCell {
  layer: 'text' | 'unet';
  timestep: number | null;
  dim: number;
  noise: number;
  signal: boolean;
  /** Only the first this many concepts get a summary (a cell with too few concepts); all by default. */
  concepts?: number;
}

/** The three cells every caller probes: the text layer carries the ratings, UNet t=900 a noisier copy, t=100 nothing. */
export const SYNTHETIC_CELLS: readonly SyntheticCell[] = [
  { layer: 'text', timestep: null, dim: 48, noise: 0.3, signal: true },
  { layer: 'unet', timestep: 900, dim: 32, noise: 1.5, signal: true },
  { layer: 'unet', timestep: 100, dim: 32, noise: 1, signal: false },
];

export interface SyntheticRunOptions {
  /** How many of Binder's concepts (in file order) are rated and summarised; 60 by default. */
  concepts?: number;
  /** The norms dataset's content hash; 'test-subset' by default. */
  contentHash?: string;
  /** The model's description (which test made it). */
  description: string;
  /** The extraction run's settings hash; 'synthetic' by default. */
  settingsHash?: string;
  /** The cells, in this order (the order the random stream is drawn in); SYNTHETIC_CELLS by default. */
  cells?: readonly SyntheticCell[];
}

export interface SyntheticRun {
  extractionRunId: number;
  /** Attribute count (Binder: 65) and the attribute groups, by position. */
  attributeCount: number;
  groups: { id: number; name: string }[];
  /** Concepts not in the excluded 'group' category (those a probe with excludeCategories ['group'] fits on). */
  eligibleConcepts: number;
  textLayerId: number;
  unetLayerId: number;
}

function readCsv(file: string): Record<string, string>[] {
  return parse(readFileSync(path.join(PROJECT_ROOT, 'data/norms/binder2016', file), 'utf8'), { columns: true, skip_empty_lines: true });
}

/** Inserts the norms, the model and the completed run with its summaries (same order every time, so ids match across fresh databases). */
export async function seedSyntheticRun(db: Pick<TestDatabase, 'prisma' | 'pool'>, options: SyntheticRunOptions): Promise<SyntheticRun> {
  const { prisma } = db;
  const count = options.concepts ?? 60;
  const attributes = readCsv('attributes.csv');
  const ratings = readCsv('ratings.csv').slice(0, count);
  const dataset = await prisma.normsDataset.create({
    data: { name: 'binder2016', version: 1, contentHash: options.contentHash ?? 'test-subset', citation: 'Binder et al. 2016', source: `data/norms/binder2016 (first ${count} concepts)` },
  });
  const groupIds = new Map<string, number>();
  for (const [position, name] of [...new Set(attributes.map((a) => a.group!))].entries()) {
    groupIds.set(name, (await prisma.attributeGroup.create({ data: { normsDatasetId: dataset.id, name, position } })).id);
  }
  const attributeIds = new Map<string, number>();
  for (const [position, a] of attributes.entries()) {
    attributeIds.set(a.attribute!, (await prisma.attribute.create({ data: { normsDatasetId: dataset.id, attributeGroupId: groupIds.get(a.group!)!, name: a.attribute!, description: a.description!, position } })).id);
  }
  const conceptIds: number[] = [];
  for (const [position, row] of ratings.entries()) {
    const concept = await prisma.concept.create({ data: { word: row.concept! } });
    conceptIds.push(concept.id);
    await prisma.datasetConcept.create({ data: { normsDatasetId: dataset.id, conceptId: concept.id, category: row.category!, position } });
    await prisma.rating.createMany({ data: attributes.map((a) => ({ attributeId: attributeIds.get(a.attribute!)!, conceptId: concept.id, value: Number(row[a.attribute!]) })) });
  }

  const model = await prisma.model.create({ data: { name: 'synthetic', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test', description: options.description } });
  const text = await prisma.component.create({ data: { modelId: model.id, kind: 'TEXT_ENCODER', name: 'text_encoder', position: 0, hasTimesteps: false } });
  const unet = await prisma.component.create({ data: { modelId: model.id, kind: 'UNET', name: 'unet', position: 1, hasTimesteps: true } });
  const textLayerId = (await prisma.layer.create({ data: { componentId: text.id, index: 0, name: 'text.0', shape: [77, 48] } })).id;
  const unetLayerId = (await prisma.layer.create({ data: { componentId: unet.id, index: 0, name: 'unet.0', shape: [32, 4, 4] } })).id;
  const run = await prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: options.settingsHash ?? 'synthetic', promptTemplate: '{concept}', seed: 0, stepCount: 2, device: 'cpu', settings: {}, status: 'COMPLETED', finishedAt: new Date('2026-01-01T00:00:00Z') },
  });

  // Features = z(ratings) · R + noise, R a fixed random m×dim projection, or noise alone.
  const normal = gaussianSampler(seededRandom(42));
  const m = attributes.length;
  const values = ratings.map((row) => attributes.map((a) => Number(row[a.attribute!])));
  const means = attributes.map((_, a) => values.reduce((s, v) => s + v[a]!, 0) / values.length);
  const sds = attributes.map((_, a) => Math.sqrt(values.reduce((s, v) => s + (v[a]! - means[a]!) ** 2, 0) / values.length) || 1);
  const project = (dim: number, noise: number, signal: boolean) => {
    const r = Float64Array.from({ length: m * dim }, () => normal());
    return values.map((v) => Float32Array.from({ length: dim }, (_, j) => {
      let s = 0;
      if (signal) for (let a = 0; a < m; a++) s += ((v[a]! - means[a]!) / sds[a]!) * r[a * dim + j]!;
      return s / Math.sqrt(m) + noise * normal();
    }));
  };
  const rows: SummaryRow[] = [];
  for (const cell of options.cells ?? SYNTHETIC_CELLS) {
    // Every concept's vector is drawn (the stream advances alike), then cut to the cell's concepts.
    const vectors = project(cell.dim, cell.noise, cell.signal).slice(0, cell.concepts ?? count);
    const layerId = cell.layer === 'text' ? textLayerId : unetLayerId;
    vectors.forEach((vector, i) => rows.push({ runId: run.id, conceptId: conceptIds[i]!, layerId, timestep: cell.timestep, pooling: 'mean', vector }));
  }
  await writeSummaries(db.pool, rows);

  return {
    extractionRunId: run.id,
    attributeCount: attributes.length,
    groups: [...groupIds].map(([name, id]) => ({ id, name })),
    eligibleConcepts: ratings.filter((row) => row.category !== 'group').length,
    textLayerId,
    unetLayerId,
  };
}
