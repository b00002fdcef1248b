// The failures every run kind shares (extraction, probe, GloVe baseline, and a later job queue), defined
// once: another process holds the run (RUN_LOCKED), or the run was asked to stop and is left resumable
// (INTERRUPTED). The run modules throw these; each CLI maps their kind to its exit code (src/errors.ts).
import { CodedError, type ErrorKind } from '../errors.ts';

export type RunErrorCode = 'RUN_LOCKED' | 'INTERRUPTED';

const KINDS: Readonly<Record<RunErrorCode, ErrorKind>> = { RUN_LOCKED: 'locked', INTERRUPTED: 'interrupted' };

/** What an interrupted run stores as its error, and the message it throws: the same command resumes it. */
export const INTERRUPTED_MESSAGE = 'interrupted; re-run to resume';

export class RunError extends CodedError<RunErrorCode> {
  constructor(code: RunErrorCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}

/** `subject` names the run for a reader, e.g. "Extraction run" or "The probe run for extraction run 7 with these settings". */
export function runLockedError(subject: string, settingsHash: string): RunError {
  return new RunError('RUN_LOCKED', `${subject} (settings hash ${settingsHash.slice(0, 12)}…) is being written by another process; wait for it to finish (or stop it) and re-run to resume.`);
}

export function interruptedError(): RunError {
  return new RunError('INTERRUPTED', INTERRUPTED_MESSAGE);
}

export function isInterrupted(error: unknown): boolean {
  return error instanceof RunError && error.code === 'INTERRUPTED';
}
