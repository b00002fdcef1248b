// One error type for everything wrong with a bundle, with a code callers (CLI exit, API) can switch on.
// Every one is bad input (exit 2): the bundle folder, not the code, is at fault.
import { CodedError } from '../errors.ts';

export type BundleErrorCode =
  | 'MISSING_FILE'
  | 'BAD_JSON'
  | 'BAD_ONNX'
  | 'BAD_EXTERNAL_DATA'
  | 'BAD_SIGNATURE'
  | 'BAD_TOKENIZER'
  | 'BAD_SCHEDULER'
  | 'TAP_NOT_FOUND'
  | 'BAD_TAP_CONFIG';

export class BundleError extends CodedError<BundleErrorCode> {
  constructor(code: BundleErrorCode, message: string, options?: ErrorOptions) {
    super(code, 'bad-input', message, options);
  }
}
