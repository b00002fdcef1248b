// Stopping a run cleanly: the caller aborts an AbortSignal (Ctrl-C, SIGTERM, a server shutting down),
// the run checks it between units of work (after a concept or a cell has been committed), throws
// INTERRUPTED, and the lifecycle marks the run FAILED with INTERRUPTED_MESSAGE and releases its lock,
// so a stop never leaves half a unit behind and the same command resumes.
import { interruptedError } from './errors.ts';

export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw interruptedError();
}

/** What a failed run stores as its error: the message (an interrupt's is INTERRUPTED_MESSAGE). */
export function storedError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
