// The core's typed errors. Each format renders them in its protocol's own error format.

export type ErrorKind = 'NotFound' | 'Unauthorized' | 'Forbidden' | 'Invalid' | 'Conflict' | 'TooLarge' | 'Unsupported';

const statusOf: Record<ErrorKind, number> = {
  NotFound: 404,
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 400,
  Conflict: 409,
  TooLarge: 413,
  Unsupported: 415,
};

export class WharfError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** A machine-readable detail some protocols carry (e.g. EPUBLISHCONFLICT). */
  readonly code: string | undefined;
  constructor(kind: ErrorKind, message: string, code?: string) {
    super(message);
    this.name = 'WharfError';
    this.kind = kind;
    this.status = statusOf[kind];
    this.code = code;
  }
}

export const notFound = (what = 'not found') => new WharfError('NotFound', what);
export const unauthorized = (what = 'authentication required') => new WharfError('Unauthorized', what);
export const forbidden = (what = 'forbidden') => new WharfError('Forbidden', what);
export const invalid = (what: string, code?: string) => new WharfError('Invalid', what, code);
export const conflict = (what: string, code?: string) => new WharfError('Conflict', what, code);
export const tooLarge = (what: string) => new WharfError('TooLarge', what);

export function isWharfError(e: unknown): e is WharfError {
  return e instanceof WharfError;
}
