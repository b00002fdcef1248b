// Failures of a probe run as values with codes, so the CLI can map them to exit codes and messages.

export type ProbeRunErrorCode =
  | 'BAD_ARGUMENT'
  | 'EXTRACTION_RUN_NOT_FOUND'
  | 'EXTRACTION_RUN_NOT_COMPLETED'
  | 'DATASET_NOT_FOUND'
  | 'NO_CONCEPTS'
  | 'NO_CELLS'
  | 'RUN_LOCKED'
  | 'INTERRUPTED';

export class ProbeRunError extends Error {
  constructor(readonly code: ProbeRunErrorCode, message: string) {
    super(message);
    this.name = 'ProbeRunError';
  }
}
