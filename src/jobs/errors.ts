// What the job queue refuses, by code (src/errors.ts convention): a run that does not exist, a retry
// with nothing to retry, a worker option that does not parse, a job a worker cannot run as planned.
import { CodedError, type ErrorKind } from '../errors.ts';

export type JobErrorCode = 'RUN_NOT_FOUND' | 'NOTHING_TO_RETRY' | 'NOTHING_TO_CANCEL' | 'BAD_JOB' | 'WORKER_MISMATCH';

const KINDS: Readonly<Record<JobErrorCode, ErrorKind>> = {
  RUN_NOT_FOUND: 'not-found',
  NOTHING_TO_RETRY: 'nothing-to-do',
  NOTHING_TO_CANCEL: 'nothing-to-do',
  BAD_JOB: 'bad-input',
  WORKER_MISMATCH: 'failed',
};

export class JobError extends CodedError<JobErrorCode> {
  constructor(code: JobErrorCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}
