// The job kinds a worker can run, each with its handler: the one registry scripts/worker.ts and the
// tests start workers from.
import { extractJobHandler } from './extract-job.ts';
import { probeJobHandler } from './probe-job.ts';
import type { JobHandler, JobKind } from './types.ts';

export const JOB_HANDLERS: Readonly<Record<JobKind, JobHandler>> = {
  EXTRACT: extractJobHandler as JobHandler,
  PROBE: probeJobHandler as JobHandler,
};
