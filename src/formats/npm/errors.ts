// npm's error format, JSON `{ "error": message, "code"?: code }`, and every error the npm routes answer with, as
// data: a name, the HTTP status, the `code` sent (if any) and the default message. The npm CLI prints `error`.
// Handlers throw `npmError(NAME, message)` or the core's errors with a code named here; other core errors are
// answered by their kind (DEFAULT_BY_KIND).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { WharfError, isWharfError, kindOfStatus, type ErrorKind } from '../../core/errors.ts';

interface NpmErrorSpec {
  status: number;
  /** The body's `code`; none for the plain statuses, which npm names itself (`E${status}`, e.g. E404). */
  code?: string;
  message: string;
  /** Sent as WWW-Authenticate: npm then tells the person to `npm login`. */
  challenge?: string;
}

const row = (status: number, message: string, code?: string, challenge?: string): NpmErrorSpec => ({ status, message, ...(code ? { code } : {}), ...(challenge ? { challenge } : {}) });

/** Every error the npm routes send. The key is what handlers throw (a core error's code); `code` is what npm reads. */
export const NPM_ERRORS = {
  E400: row(400, 'bad request'),
  E401: row(401, 'authentication required', undefined, 'Bearer realm="Wharf"'),
  E403: row(403, 'forbidden'),
  E404: row(404, 'not found'),
  E409: row(409, 'conflict'),
  E413: row(413, 'content exceeds the size limit'),
  E415: row(415, 'unsupported media type'),
  /** The sign-in lockout (Retry-After says when); its code is the one the core gives it on every protocol. */
  E429: row(429, 'too many requests', 'TOOMANYREQUESTS'),
  /** A proxy's upstream failed, timed out or sent a document or tarball that cannot be kept (core/proxy). */
  E502: row(502, 'bad gateway: the upstream registry failed'),
  EINVALIDNAME: row(400, 'invalid package name', 'EINVALIDNAME'),
  EINVALIDVERSION: row(400, 'invalid version: it must be a valid semver version', 'EINVALIDVERSION'),
  EINVALIDTAGNAME: row(400, 'invalid dist-tag', 'EINVALIDTAGNAME'),
  /** The tarball's integrity or shasum is not what the manifest declares. */
  EINTEGRITY: row(400, 'integrity mismatch', 'EINTEGRITY'),
  /** A version published twice. */
  EPUBLISHCONFLICT: row(409, 'cannot publish over the previously published versions', 'EPUBLISHCONFLICT'),
  EFILECONFLICT: row(409, 'the version already has a file of that name', 'EFILECONFLICT'),
  UNKNOWN: row(500, 'internal server error'),
} satisfies Record<string, NpmErrorSpec>;

export type NpmErrorName = keyof typeof NPM_ERRORS;

/** The entry for a core error that carries no npm code. */
const DEFAULT_BY_KIND: Record<ErrorKind, NpmErrorName> = {
  Invalid: 'E400',
  Unauthorized: 'E401',
  Forbidden: 'E403',
  NotFound: 'E404',
  Conflict: 'E409',
  TooLarge: 'E413',
  Unsupported: 'E415',
  TooManyRequests: 'E429',
  Upstream: 'E502',
};

/** An error the npm routes answer with `name`'s status and code; `message` defaults to the table's. */
export function npmError(name: Exclude<NpmErrorName, 'UNKNOWN'>, message?: string): WharfError {
  const e = NPM_ERRORS[name];
  return new WharfError(kindOfStatus(e.status), message ?? e.message, e.code);
}

/** The table entry an error is answered with. */
export function npmErrorOf(err: WharfError): NpmErrorSpec {
  if (err.code !== undefined) {
    const byCode = Object.values(NPM_ERRORS).find((e: NpmErrorSpec) => e.code === err.code);
    if (byCode) return byCode;
  }
  return NPM_ERRORS[DEFAULT_BY_KIND[err.kind]];
}

/** Renders every error of the npm routes from the table. */
export function npmErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  if (isWharfError(err)) {
    const e = npmErrorOf(err);
    if (e.challenge) reply.header('www-authenticate', e.challenge);
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return reply.code(e.status).send({ error: err.message, ...(e.code ? { code: e.code } : {}) });
  }
  // Fastify's own refusals (a body over its limit, malformed JSON): their status and message.
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
  req.log.error({ err }, 'npm request failed');
  return reply.code(500).send({ error: NPM_ERRORS.UNKNOWN.message });
}
