// One error type for everything wrong with a bundle, with a code callers (CLI exit, API) can switch on.
export type BundleErrorCode =
  | 'MISSING_FILE'
  | 'BAD_JSON'
  | 'BAD_ONNX'
  | 'BAD_EXTERNAL_DATA'
  | 'BAD_SIGNATURE'
  | 'BAD_TOKENIZER'
  | 'BAD_SCHEDULER'
  | 'TAP_NOT_FOUND'
  | 'BAD_TAP_CONFIG'
  | 'EMPTY_CONCEPT';

export class BundleError extends Error {
  constructor(readonly code: BundleErrorCode, message: string) {
    super(message);
    this.name = 'BundleError';
  }
}
