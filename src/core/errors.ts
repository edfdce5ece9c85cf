// The core's typed errors. Each format renders them in its protocol's own error format.

export type ErrorKind = 'NotFound' | 'Unauthorized' | 'Forbidden' | 'Invalid' | 'Conflict' | 'TooLarge' | 'Unsupported' | 'TooManyRequests' | 'Upstream';

const statusOf: Record<ErrorKind, number> = {
  NotFound: 404,
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 400,
  Conflict: 409,
  TooLarge: 413,
  Unsupported: 415,
  TooManyRequests: 429,
  /** A proxy's upstream failed, timed out or sent what cannot be kept (and nothing was cached to serve instead). */
  Upstream: 502,
};

export class WharfError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** A machine-readable detail some protocols carry (e.g. EPUBLISHCONFLICT). */
  readonly code: string | undefined;
  /** TooManyRequests: seconds until trying again may succeed (the Retry-After header). */
  retryAfter?: number;
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
/** 502: what a proxy's upstream answered (or did not) cannot be served. */
export const upstreamError = (what: string, code?: string) => new WharfError('Upstream', what, code);
export const tooLarge = (what: string) => new WharfError('TooLarge', what);

/** 429: refused until `retryAfterSeconds` have passed (sign-in lockout). The code is OCI's TOOMANYREQUESTS. */
export function tooManyRequests(what: string, retryAfterSeconds: number): WharfError {
  const e = new WharfError('TooManyRequests', what, 'TOOMANYREQUESTS');
  e.retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return e;
}

/** The kind answered with `status` (Invalid for any other): a protocol's table row thrown as a core error. */
export function kindOfStatus(status: number): ErrorKind {
  return (Object.keys(statusOf) as ErrorKind[]).find((k) => statusOf[k] === status) ?? 'Invalid';
}

export function isWharfError(e: unknown): e is WharfError {
  return e instanceof WharfError;
}
