// Failures of the demo pipeline's own (not a run's): a bundle folder holding something other than the
// tiny test network, or a step whose prerequisite an earlier step should have made.
import { CodedError, type ErrorKind } from '../../errors.ts';

export type DemoPipelineErrorCode = 'NOT_A_TINY_BUNDLE' | 'MISSING_PREREQUISITE';

const KINDS: Readonly<Record<DemoPipelineErrorCode, ErrorKind>> = { NOT_A_TINY_BUNDLE: 'bad-input', MISSING_PREREQUISITE: 'failed' };

export class DemoPipelineError extends CodedError<DemoPipelineErrorCode> {
  constructor(code: DemoPipelineErrorCode, message: string, options?: ErrorOptions) {
    super(code, KINDS[code], message, options);
  }
}
