// Every error tidekv throws or rejects with is a TidekvError with a stable
// `code`. The native layer reports a numeric status (native/common/status.h);
// this file is the only place that maps it to the string codes users match on.

export type TidekvErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_INVALID_ARG'
  | 'ERR_CORRUPTION'
  | 'ERR_IO'
  | 'ERR_LOCKED'
  | 'ERR_CLOSED'
  | 'ERR_VERSION_NOT_FOUND'
  | 'ERR_UNSUPPORTED'
  | 'ERR_TYPE_MISMATCH'
  | 'ERR_OVERFLOW'
  | 'ERR_BUSY'
  | 'ERR_LIMIT'
  | 'ERR_INTERNAL';

// Index = native StatusCode (status.h). Do not reorder.
const CODE_BY_STATUS: readonly TidekvErrorCode[] = [
  'ERR_INTERNAL', // kOk never reaches JS as an error
  'ERR_NOT_FOUND',
  'ERR_INVALID_ARG',
  'ERR_CORRUPTION',
  'ERR_IO',
  'ERR_LOCKED',
  'ERR_CLOSED',
  'ERR_VERSION_NOT_FOUND',
  'ERR_UNSUPPORTED',
  'ERR_TYPE_MISMATCH',
  'ERR_OVERFLOW',
  'ERR_BUSY',
  'ERR_LIMIT',
];

export class TidekvError extends Error {
  readonly code: TidekvErrorCode;

  constructor(code: TidekvErrorCode, message: string) {
    super(message);
    this.name = 'TidekvError';
    this.code = code;
  }
}

/** Maps a native status number to its error (used by the addon's error factory). */
export function errorFromStatus(status: number, message: string): TidekvError {
  return new TidekvError(CODE_BY_STATUS[status] ?? 'ERR_INTERNAL', message);
}

/** The number of native status codes this file knows (checked against the addon in tests). */
export const knownStatusCount = CODE_BY_STATUS.length;

export function invalidArgument(message: string): TidekvError {
  return new TidekvError('ERR_INVALID_ARG', message);
}
