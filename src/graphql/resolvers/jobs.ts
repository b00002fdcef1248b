// The job queue through the API (schema/jobs.graphql): a run's jobs and workers (reads batched by
// the loaders over src/db/job-reads.ts), the workers, the live `runProgress` subscription (one event
// per coalesced change, live.ts) and the two control mutations, which need the control token
// (API_CONTROL_TOKEN) and call the queue core's src/jobs/control.ts.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isCodedError } from '../../errors.ts';
import { cancelRun, retryRun } from '../../jobs/control.ts';
import type { JobKind } from '../../jobs/types.ts';
import { listWorkers, type JobStatusValue, type RunRef } from '../../db/job-reads.ts';
import type { ExtractionRun, ProbeRun } from '../../generated/prisma/client.ts';
import type { ApiContext } from '../context.ts';
import { BadUserInputError, ControlOffError, NotFoundError, UnauthenticatedError } from '../errors.ts';
import { parseId } from '../ids.ts';
import { createLoaders } from '../loaders.ts';
import { toConnection } from '../pagination.ts';
import type { RunProgressParent } from '../parents.ts';
import { pageOf } from './lookup.ts';
import type {
  JobResolvers,
  MutationResolvers,
  QueryResolvers,
  Resolvers,
  RunJobsResolvers,
  RunProgressResolvers,
  SubscriptionResolvers,
  WorkerResolvers,
} from '../generated/resolvers-types.ts';

/** The arguments naming one run of either kind. */
interface RunArgs {
  extractionRunId?: string | null;
  probeRunId?: string | null;
}

/** Exactly one of extractionRunId and probeRunId, parsed. */
function runOf(args: RunArgs): RunRef & { argument: string; raw: string } {
  const { extractionRunId, probeRunId } = args;
  const hasExtraction = extractionRunId !== null && extractionRunId !== undefined;
  const hasProbe = probeRunId !== null && probeRunId !== undefined;
  if (hasExtraction && hasProbe) throw new BadUserInputError('extractionRunId', 'and `probeRunId` are both given: name exactly one run.');
  if (hasExtraction) return { kind: 'EXTRACT', runId: parseId(extractionRunId, 'extractionRunId'), argument: 'extractionRunId', raw: extractionRunId };
  if (hasProbe) return { kind: 'PROBE', runId: parseId(probeRunId, 'probeRunId'), argument: 'probeRunId', raw: probeRunId };
  throw new BadUserInputError('extractionRunId', 'is missing: name one run, by `extractionRunId` or `probeRunId`.');
}

const entityOf = (kind: JobKind) => (kind === 'EXTRACT' ? 'extraction run' : 'probe run');

/** The run's row through this request's loaders; null when there is none. */
async function loadRun(context: ApiContext, run: RunRef): Promise<ExtractionRun | ProbeRun | null> {
  return run.kind === 'EXTRACT' ? context.loaders.extractionRun.load(run.runId) : context.loaders.probeRun.load(run.runId);
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Refuses a control mutation unless the request carries the configured token. The comparison is in
 * constant time (of equal-length digests, so the token's length does not show either).
 */
function requireControl(context: ApiContext, field: string): void {
  const expected = context.config.controlToken;
  if (!expected) throw new ControlOffError(field);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(context.authorization ?? '');
  if (!match) throw new UnauthenticatedError(field, 'missing');
  if (!timingSafeEqual(digest(match[1]!), digest(expected))) throw new UnauthenticatedError(field, 'wrong');
}

/** Runs a control operation on `run`, mapping the queue's refusals to the API's codes; returns the run as it is after. */
async function control(context: ApiContext, field: string, args: RunArgs, operation: (kind: JobKind, runId: number) => Promise<unknown>) {
  requireControl(context, field);
  const run = runOf(args);
  try {
    await operation(run.kind, run.runId);
  } catch (error) {
    if (!isCodedError(error)) throw error;
    if (error.code === 'RUN_NOT_FOUND') throw new NotFoundError(entityOf(run.kind), run.argument, run.raw);
    if (error.code === 'NOTHING_TO_RETRY' || error.code === 'NOTHING_TO_CANCEL') throw new BadUserInputError(run.argument, `names a run with nothing to do: ${error.message}`);
    throw error;
  }
  const row = run.kind === 'EXTRACT'
    ? await context.db.prisma.extractionRun.findUnique({ where: { id: run.runId } })
    : await context.db.prisma.probeRun.findUnique({ where: { id: run.runId } });
  if (!row) throw new NotFoundError(entityOf(run.kind), run.argument, run.raw);
  return row;
}

const Query = {
  workers: (_parent, { aliveOnly }, context) => listWorkers(context.db.pool, aliveOnly ?? true),
} satisfies QueryResolvers;

const Mutation = {
  cancelRun: (_parent, args, context) => control(context, 'cancelRun', args, (kind, runId) => cancelRun(context.db.pool, kind, runId)),
  retryRun: (_parent, args, context) => control(context, 'retryRun', args, (kind, runId) => retryRun(context.db.pool, kind, runId)),
} satisfies MutationResolvers;

/**
 * A subscription's context lives as long as its stream, so before each event it gets fresh loaders
 * (the per-request cache would otherwise answer every event with the first one's rows). graphql-js
 * resolves one event before it asks for the next, so the swap never races an event being resolved.
 * A plain iterator rather than an async generator: a generator's return() waits behind its pending
 * next(), so a client that leaves would stay subscribed until the run's next change.
 */
function progressEvents(context: ApiContext, run: RunRef): AsyncIterableIterator<RunProgressParent> {
  const live = context.live;
  if (!live) throw new Error('runProgress is served over Server-Sent Events (/graphql/stream), where the live channel is set.');
  const changes = live.follow(run.kind, run.runId);
  const done: IteratorResult<RunProgressParent> = { value: undefined, done: true };
  const iterator: AsyncIterableIterator<RunProgressParent> = {
    async next() {
      if ((await changes.next()).done) return done;
      context.loaders = createLoaders(context.db);
      const row = await loadRun(context, run);
      if (!row) {
        await changes.return?.(); // the run was deleted: nothing more to follow
        return done;
      }
      return { value: run.kind === 'EXTRACT' ? { extractionRun: row as ExtractionRun, probeRun: null } : { extractionRun: null, probeRun: row as ProbeRun }, done: false };
    },
    async return() {
      await changes.return?.();
      return done;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

const Subscription = {
  runProgress: {
    subscribe: async (_parent, args, context) => {
      const run = runOf(args);
      // Refused before the stream starts: graphql-sse answers it as the operation's only result.
      if (!(await loadRun(context, run))) throw new NotFoundError(entityOf(run.kind), run.argument, run.argument === 'extractionRunId' ? args.extractionRunId! : args.probeRunId!);
      return progressEvents(context, run);
    },
    resolve: (event: RunProgressParent) => event,
  },
} satisfies SubscriptionResolvers;

const runOfProgress = (event: RunProgressParent) => (event.extractionRun ?? event.probeRun)!;

const RunProgress = {
  status: (event) => runOfProgress(event).status,
  progress: (event) => {
    const { doneCount, plannedCount } = runOfProgress(event);
    return { doneCount, plannedCount, fraction: plannedCount > 0 ? Math.min(1, doneCount / plannedCount) : null };
  },
  jobs: (event) => (event.extractionRun ? { kind: 'EXTRACT', runId: event.extractionRun.id } : { kind: 'PROBE', runId: event.probeRun!.id }),
} satisfies RunProgressResolvers;

const RunJobs = {
  jobCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).jobCount,
  queuedCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).queuedCount,
  runningCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).runningCount,
  doneCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).doneCount,
  failedCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).failedCount,
  cancelledCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).cancelledCount,
  unitCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).unitCount,
  doneUnitCount: async (run, _args, { loaders }) => (await loaders.jobCountsByRun.load(run)).unitsDone,
  unitsPerSecond: async (run, _args, { loaders }) => unitsPerSecond(await loaders.jobCountsByRun.load(run)),
  etaSeconds: async (run, _args, { loaders }) => {
    const counts = await loaders.jobCountsByRun.load(run);
    const rate = unitsPerSecond(counts);
    return rate === null ? null : Math.max(0, counts.unitCount - counts.unitsDone) / rate;
  },
  workers: (run, _args, { loaders }) => loaders.recentWorkersByRun.load(run),
  jobs: async (run, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.jobPagesByRun(page, (args.status ?? null) as JobStatusValue | null).load(run);
    return toConnection(rows, total, page);
  },
} satisfies RunJobsResolvers;

/** The SDL's definition: units of jobs DONE in the window over the window's elapsed seconds; null without any. */
function unitsPerSecond(counts: { recentUnits: number; recentSeconds: number | null }): number | null {
  if (counts.recentUnits === 0 || counts.recentSeconds === null) return null;
  // A job that started and finished within the same millisecond: count one millisecond.
  return counts.recentUnits / Math.max(counts.recentSeconds, 0.001);
}

const Job = {
  attemptCount: (job) => job.attempts,
  maxAttemptCount: (job) => job.maxAttempts,
  doneUnitCount: (job) => job.unitsDone,
  writtenRowCount: (job) => job.rowsWritten,
  worker: (job, _args, { loaders }) => (job.workerId === null ? null : loaders.worker.load(job.workerId)),
} satisfies JobResolvers;

const Worker = {
  jobs: async (worker, args, context) => {
    const page = pageOf(args, context);
    const { rows, total } = await context.loaders.jobPagesByWorker(page, (args.status ?? null) as JobStatusValue | null).load(worker.id);
    return toConnection(rows, total, page);
  },
} satisfies WorkerResolvers;

export const jobsResolvers = {
  Query,
  Mutation,
  Subscription,
  RunProgress,
  RunJobs,
  Job,
  Worker,
  ExtractionRun: { jobs: (run) => ({ kind: 'EXTRACT', runId: run.id }) },
  ProbeRun: { jobs: (run) => ({ kind: 'PROBE', runId: run.id }) },
} satisfies Resolvers;
