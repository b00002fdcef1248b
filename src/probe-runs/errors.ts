// Failures of a probe run as values with codes; each code's kind sets the CLI's exit code (src/errors.ts).
// RUN_LOCKED and INTERRUPTED are the run lifecycle's, shared by every run kind (src/runs/errors.ts).
import { CodedError, type ErrorKind } from '../errors.ts';

export type ProbeRunErrorCode =
  | 'BAD_ARGUMENT'
  | 'EXTRACTION_RUN_NOT_FOUND'
  | 'EXTRACTION_RUN_NOT_COMPLETED'
  | 'DATASET_NOT_FOUND'
  | 'NO_CONCEPTS'
  | 'NO_ATTRIBUTES'
  | 'NO_CELLS';

const KINDS: Record<ProbeRunErrorCode, ErrorKind> = {
  BAD_ARGUMENT: 'bad-input',
  EXTRACTION_RUN_NOT_FOUND: 'not-found',
  DATASET_NOT_FOUND: 'not-found',
  EXTRACTION_RUN_NOT_COMPLETED: 'nothing-to-do',
  NO_CONCEPTS: 'nothing-to-do',
  NO_ATTRIBUTES: 'nothing-to-do',
  NO_CELLS: 'nothing-to-do',
};

export class ProbeRunError extends CodedError<ProbeRunErrorCode> {
  constructor(code: ProbeRunErrorCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}
