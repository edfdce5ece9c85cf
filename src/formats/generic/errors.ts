// The generic format's error format: a status and a one-line text/plain message, which `curl` prints as it
// stands and `curl -f`/`wget` report by status; and every error the generic routes answer with, as data.
// Handlers throw the core's errors (answered by their kind) or `genericError(NAME, message)`.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';
import { ENTRY_BY_KIND, errorTable } from '../error-table.ts';

/** Sent with a 401: wget (and curl --anyauth) send Basic credentials only after this challenge. */
export const CHALLENGE = 'Basic realm="Wharf"';

interface GenericErrorSpec {
  status: number;
  message: string;
  challenge?: string;
}

const row = (status: number, message: string, challenge?: string): GenericErrorSpec => ({ status, message, ...(challenge ? { challenge } : {}) });

/** Every error the generic routes send. */
export const GENERIC_ERRORS = {
  NOT_FOUND: row(404, 'not found'),
  UNAUTHORIZED: row(401, 'authentication required', CHALLENGE),
  FORBIDDEN: row(403, 'forbidden'),
  /** A bad owner, name, version or file name; a checksum header the body does not match. */
  INVALID: row(400, 'bad request'),
  /** The file is already in the version (files are immutable), or the version was deleted. */
  CONFLICT: row(409, 'the file already exists'),
  TOO_LARGE: row(413, 'content exceeds the size limit'),
  UNSUPPORTED: row(415, 'unsupported media type'),
  TOO_MANY_REQUESTS: row(429, 'too many requests'),
  BAD_GATEWAY: row(502, 'bad gateway'),
  UNKNOWN: row(500, 'internal server error'),
} satisfies Record<string, GenericErrorSpec>;

const table = errorTable(GENERIC_ERRORS, ENTRY_BY_KIND);

/** An error the generic routes answer with `name`'s status; `message` defaults to the table's. */
export const genericError = table.error;

/** Renders every error of the generic routes from the table (no body to a HEAD). */
export function genericErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  const head = req.method === 'HEAD';
  const send = (status: number, message: string) => reply.code(status).type('text/plain; charset=utf-8').send(head ? undefined : `${message}\n`);
  if (isWharfError(err)) {
    const e = table.entryOf(err);
    if (e.challenge) reply.header('www-authenticate', e.challenge);
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return send(e.status, err.message);
  }
  // Fastify's own refusals (a body over its limit, a malformed request): their status and message.
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return send(status, err.message);
  req.log.error({ err }, 'generic request failed');
  return send(500, GENERIC_ERRORS.UNKNOWN.message);
}
