// Extraction runs and probe runs (both `Run`s): status, progress, settings, typed timings, the
// probed cells, and the run lists as connections.
import { significanceReach } from '../../probe-runs/significance.ts';
import { BadUserInputError } from '../errors.ts';
import { parseOptionalId } from '../ids.ts';
import { toConnection } from '../pagination.ts';
import { metricOfStored } from './enums.ts';
import { lookupById, pageOf, related, runPage } from './lookup.ts';
import { pipelineExtractionTimings, probeCellTimings, probeRunTimings, wordEmbeddingExtractionTimings } from './timings.ts';
import type {
  ExtractionRunResolvers as ExtractionRunFields,
  ProbeCellResolvers as ProbeCellFields,
  ProbeGroupScoreResolvers as ProbeGroupScoreFields,
  ProbeRunResolvers as ProbeRunFields,
  ProbeScoreResolvers as ProbeScoreFields,
  QueryResolvers,
  Resolvers,
  SkippedProbeCellResolvers as SkippedProbeCellFields,
} from '../generated/resolvers-types.ts';

interface RunTimes {
  doneCount: number;
  plannedCount: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Fields every run shares, derived from its columns. */
const runCommon = {
  progress: (run: RunTimes) => ({
    doneCount: run.doneCount,
    plannedCount: run.plannedCount,
    fraction: run.plannedCount > 0 ? Math.min(1, run.doneCount / run.plannedCount) : null,
  }),
  durationSeconds: (run: RunTimes) =>
    run.startedAt && run.finishedAt ? (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000 : null,
};

const NEWEST_FIRST = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

const Query = {
  extractionRuns: async (_parent, args, context) => {
    const page = pageOf(args, context);
    const where = { modelId: parseOptionalId(args.modelId, 'modelId'), status: args.status ?? undefined };
    const [runs, total] = await Promise.all([
      context.db.prisma.extractionRun.findMany({ where, orderBy: NEWEST_FIRST, skip: page.offset, take: page.limit }),
      context.db.prisma.extractionRun.count({ where }),
    ]);
    for (const run of runs) context.loaders.extractionRun.prime(run.id, run);
    return toConnection(runs, total, page);
  },
  extractionRun: lookupById((loaders) => loaders.extractionRun, 'extraction run'),
  probeRuns: async (_parent, args, context) => {
    const page = pageOf(args, context);
    const where = {
      extractionRunId: parseOptionalId(args.extractionRunId, 'extractionRunId'),
      normsDatasetId: parseOptionalId(args.normsDatasetId, 'normsDatasetId'),
      status: args.status ?? undefined,
    };
    const [runs, total] = await Promise.all([
      context.db.prisma.probeRun.findMany({ where, orderBy: NEWEST_FIRST, skip: page.offset, take: page.limit }),
      context.db.prisma.probeRun.count({ where }),
    ]);
    for (const run of runs) context.loaders.probeRun.prime(run.id, run);
    return toConnection(runs, total, page);
  },
  probeRun: lookupById((loaders) => loaders.probeRun, 'probe run'),
  probeCell: lookupById((loaders) => loaders.probeCell, 'probe cell'),
} satisfies QueryResolvers;

const ExtractionRunResolvers = {
  ...runCommon,
  model: (run, _args, { loaders }) => related(loaders.model, run.modelId, 'model'),
  timesteps: (run, _args, { loaders }) => loaders.timestepsByExtractionRun.load(run.id),
  probeRuns: (run, args, context) =>
    runPage(context, args, context.loaders.probeRunPagesByExtractionRun, run.id, context.loaders.probeRun),
  // The shape follows the model's kind: word embeddings are looked up, every other model runs a pipeline.
  timings: async (run, _args, { loaders }) => {
    const model = await related(loaders.model, run.modelId, 'model');
    return model.kind === 'WORD_EMBEDDING' ? wordEmbeddingExtractionTimings(run.timings) : pipelineExtractionTimings(run.timings);
  },
} satisfies ExtractionRunFields;

/** A run's permutations as its stored settings give them; null when they do not (rows written by hand). */
function storedPermutations(settings: unknown): number | null {
  const value = (settings as { permutations?: unknown } | null)?.permutations;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}

/** `--min-support` / `--min-variance` as stored with the run (null when not set, as before they existed). */
function storedSelection(settings: unknown): { minSupport: number | null; minVariance: number | null } {
  const stored = (settings ?? {}) as { minSupport?: unknown; minVariance?: unknown };
  return {
    minSupport: typeof stored.minSupport === 'number' ? stored.minSupport : null,
    minVariance: typeof stored.minVariance === 'number' ? stored.minVariance : null,
  };
}

const minimumPValue = (run: { settings: unknown }) => {
  const permutations = storedPermutations(run.settings);
  return permutations === null ? null : significanceReach(permutations, 0.05).minimumPValue;
};

const ProbeRunResolvers = {
  ...runCommon,
  extractionRun: (run, _args, { loaders }) => related(loaders.extractionRun, run.extractionRunId, 'extraction run'),
  normsDataset: (run, _args, { loaders }) => related(loaders.normsDataset, run.normsDatasetId, 'norms dataset'),
  timings: (run) => probeRunTimings(run.timings),
  attributeSelection: async (run, _args, context) => {
    const [excluded, datasetAttributeCount] = await Promise.all([
      context.db.prisma.excludedAttribute.findMany({
        where: { probeRunId: run.id }, include: { attribute: true }, orderBy: [{ attribute: { position: 'asc' } }, { attributeId: 'asc' }],
      }),
      context.db.prisma.attribute.count({ where: { normsDatasetId: run.normsDatasetId } }),
    ]);
    for (const row of excluded) context.loaders.attribute.prime(row.attribute.id, row.attribute);
    return {
      ...storedSelection(run.settings),
      attributeCount: datasetAttributeCount - excluded.length,
      excludedAttributeCount: excluded.length,
      excludedAttributes: excluded.map((row) => ({ attribute: row.attribute, reason: row.reason, supportCount: row.supportCount, variance: row.variance })),
    };
  },
  minimumPValue,
  // No q-value is below the family's smallest p (src/probe-runs/significance.ts).
  minimumQValue: minimumPValue,
  canReachSignificance: (run, { level }) => {
    if (!(level > 0 && level <= 1)) throw new BadUserInputError('level', `must be in (0, 1], got ${level}.`);
    const permutations = storedPermutations(run.settings);
    return permutations !== null && significanceReach(permutations, level).canReach;
  },
  probeCells: async (run, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.cellPagesByProbeRun(page).load(run.id);
    return toConnection(rows, total, page);
  },
} satisfies ProbeRunFields;

const ProbeCellResolvers = {
  probeRun: (cell, _args, { loaders }) => related(loaders.probeRun, cell.probeRunId, 'probe run'),
  layer: (cell, _args, { loaders }) => related(loaders.layer, cell.layerId, 'layer'),
  timings: (cell) => probeCellTimings(cell.timings),
  probeScores: async (cell, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.scorePagesByCell(page).load(cell.id);
    return toConnection(rows, total, page);
  },
  probeGroupScores: (cell, _args, { loaders }) => loaders.probeGroupScoresByCell.load(cell.id),
} satisfies ProbeCellFields;

const ProbeScoreResolvers = {
  attribute: (score, _args, { loaders }) => related(loaders.attribute, score.attributeId, 'attribute'),
} satisfies ProbeScoreFields;

const ProbeGroupScoreResolvers = {
  attributeGroup: (score, _args, { loaders }) => related(loaders.attributeGroup, score.attributeGroupId, 'attribute group'),
  metric: (score) => metricOfStored(score.metric),
} satisfies ProbeGroupScoreFields;

const SkippedProbeCellResolvers = {
  layer: (cell, _args, { loaders }) => related(loaders.layer, cell.layerId, 'layer'),
} satisfies SkippedProbeCellFields;

export const runsResolvers = {
  Query,
  Run: { __resolveType: (run) => ('cvScheme' in run ? 'ProbeRun' : 'ExtractionRun') },
  ExtractionRunTimings: { __resolveType: (timings) => timings.kind },
  ExtractionRun: ExtractionRunResolvers,
  ProbeRun: ProbeRunResolvers,
  ProbeCell: ProbeCellResolvers,
  ProbeScore: ProbeScoreResolvers,
  ProbeGroupScore: ProbeGroupScoreResolvers,
  SkippedProbeCell: SkippedProbeCellResolvers,
} satisfies Resolvers;
