// Extraction runs and probe runs: status, progress, settings, timings, and the probed cells.
import type { ExtractionRun, ProbeGroupScore, ProbeRun, RunStatus } from '../../generated/prisma/client.ts';
import type { ProbeCellRow, ProbeScoreRow } from '../../db/catalogue.ts';
import { parseOptionalId } from '../ids.ts';
import { toConnection } from '../pagination.ts';
import { lookupById, pageOf, related } from './lookup.ts';
import type { ConnectionArgs, Resolver, TypeResolvers } from './types.ts';

interface RunTimes {
  progressDone: number;
  progressTotal: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Fields every run shares, derived from its columns. */
const runCommon = {
  progress: (run: RunTimes) => ({
    done: run.progressDone,
    total: run.progressTotal,
    fraction: run.progressTotal > 0 ? Math.min(1, run.progressDone / run.progressTotal) : null,
  }),
  durationSeconds: (run: RunTimes) =>
    run.startedAt && run.finishedAt ? (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000 : null,
};

const Query = {
  extractionRuns: (async (_parent, args, { db, loaders }) => {
    const runs = await db.prisma.extractionRun.findMany({
      where: { modelId: parseOptionalId(args.modelId, 'modelId'), status: args.status ?? undefined },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    for (const run of runs) loaders.extractionRun.prime(run.id, run);
    return runs;
  }) satisfies Resolver<unknown, { modelId?: string | null; status?: RunStatus | null }, Promise<ExtractionRun[]>>,
  extractionRun: lookupById((loaders) => loaders.extractionRun, 'extraction run'),
  probeRuns: (async (_parent, args, { db, loaders }) => {
    const runs = await db.prisma.probeRun.findMany({
      where: {
        extractionRunId: parseOptionalId(args.extractionRunId, 'extractionRunId'),
        datasetId: parseOptionalId(args.datasetId, 'datasetId'),
        status: args.status ?? undefined,
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    for (const run of runs) loaders.probeRun.prime(run.id, run);
    return runs;
  }) satisfies Resolver<
    unknown,
    { extractionRunId?: string | null; datasetId?: string | null; status?: RunStatus | null },
    Promise<ProbeRun[]>
  >,
  probeRun: lookupById((loaders) => loaders.probeRun, 'probe run'),
  probeCell: lookupById((loaders) => loaders.probeCell, 'probe cell'),
};

const ExtractionRunResolvers = {
  ...runCommon,
  model: (run, _args, { loaders }) => related(loaders.model, run.modelId, 'model'),
  timesteps: (run, _args, { loaders }) => loaders.timestepsByExtractionRun.load(run.id),
  probeRuns: (run, _args, { loaders }) => loaders.probeRunsByExtractionRun.load(run.id),
} satisfies TypeResolvers<ExtractionRun>;

const ProbeRunResolvers = {
  ...runCommon,
  extractionRun: (run, _args, { loaders }) => related(loaders.extractionRun, run.extractionRunId, 'extraction run'),
  dataset: (run, _args, { loaders }) => related(loaders.dataset, run.datasetId, 'norms dataset'),
  cells: async (run, args: ConnectionArgs, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.cellPagesByProbeRun(page).load(run.id);
    return toConnection(rows, total, page);
  },
} satisfies TypeResolvers<ProbeRun>;

const ProbeCellResolvers = {
  probeRun: (cell, _args, { loaders }) => related(loaders.probeRun, cell.probeRunId, 'probe run'),
  layer: (cell, _args, { loaders }) => related(loaders.layer, cell.layerId, 'layer'),
  scores: async (cell, args: ConnectionArgs, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.scorePagesByCell(page).load(cell.id);
    return toConnection(rows, total, page);
  },
  groupScores: (cell, _args, { loaders }) => loaders.groupScoresByCell.load(cell.id),
} satisfies TypeResolvers<ProbeCellRow>;

const ProbeScoreResolvers = {
  attribute: (score, _args, { loaders }) => related(loaders.attribute, score.attributeId, 'attribute'),
} satisfies TypeResolvers<ProbeScoreRow>;

const ProbeGroupScoreResolvers = {
  group: (score, _args, { loaders }) => related(loaders.group, score.groupId, 'attribute group'),
} satisfies TypeResolvers<ProbeGroupScore>;

export const runsResolvers = {
  Query,
  ExtractionRun: ExtractionRunResolvers,
  ProbeRun: ProbeRunResolvers,
  ProbeCell: ProbeCellResolvers,
  ProbeScore: ProbeScoreResolvers,
  ProbeGroupScore: ProbeGroupScoreResolvers,
};
