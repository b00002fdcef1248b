// Stopping the demo pipeline cleanly: the background runner aborts a signal, and each step checks it
// between units of work (after a concept or a cell has been committed), so a stop never leaves half
// a unit behind and the next start resumes from what is stored.
import { CodedError } from '../../errors.ts';

export class DemoPipelineStopped extends CodedError<'DEMO_PIPELINE_STOPPED'> {
  constructor(message = 'stopped: the server is shutting down; the next start resumes from what is stored') {
    super('DEMO_PIPELINE_STOPPED', 'interrupted', message);
  }
}

export function throwIfStopped(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof Error ? signal.reason : new DemoPipelineStopped();
}

export function isStop(error: unknown): boolean {
  return error instanceof DemoPipelineStopped;
}
