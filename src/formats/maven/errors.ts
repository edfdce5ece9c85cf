// Maven's error format, a status and a one-line text/plain message (Maven and Gradle read the status and print the
// reason), and every error the Maven routes answer with, as data: a name, the HTTP status and the default message.
// Handlers throw `mavenError(NAME, message)`; the core's errors are answered by their kind (DEFAULT_BY_KIND).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';
import { ENTRY_BY_KIND, errorTable, reasonPhrase } from '../error-table.ts';

export const CHALLENGE = 'Basic realm="Wharf"';

interface MavenErrorSpec {
  status: number;
  message: string;
  /** Sent as WWW-Authenticate: Maven and Gradle send credentials on GET only after this challenge. */
  challenge?: string;
}

const row = (status: number, message: string, challenge?: string): MavenErrorSpec => ({ status, message, ...(challenge ? { challenge } : {}) });

/** Every error the Maven routes send. */
export const MAVEN_ERRORS = {
  NOT_FOUND: row(404, 'not found'),
  UNAUTHORIZED: row(401, 'authentication required', CHALLENGE),
  FORBIDDEN: row(403, 'forbidden'),
  /** Bad coordinates, a POM not matching its path, a checksum mismatch. */
  INVALID: row(400, 'bad request'),
  /** A release redeployed (published content is immutable). */
  CONFLICT: row(409, 'the artifact already exists'),
  TOO_LARGE: row(413, 'content exceeds the size limit'),
  UNSUPPORTED: row(415, 'unsupported media type'),
  /** The sign-in lockout; Retry-After says when to try again. */
  TOO_MANY_REQUESTS: row(429, 'too many requests'),
  /** A proxy's upstream failed (core/proxy). */
  BAD_GATEWAY: row(502, 'bad gateway: the upstream registry failed'),
  UNKNOWN: row(500, 'internal server error'),
} satisfies Record<string, MavenErrorSpec>;

export type MavenErrorName = keyof typeof MAVEN_ERRORS;

// The core's errors are answered by the shared entry names (ENTRY_BY_KIND): this table has each of them.
const table = errorTable(MAVEN_ERRORS, ENTRY_BY_KIND);

/** An error the Maven routes answer with `name`'s status; `message` defaults to the table's. */
export const mavenError = table.error;

/** The table entry an error is answered with. */
export const mavenErrorOf = table.entryOf;

/** Renders every error of the Maven routes from the table (no body to a HEAD). */
export function mavenErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  const head = req.method === 'HEAD';
  const send = (status: number, message: string) => {
    reasonPhrase(reply, status, message);
    return reply.code(status).type('text/plain; charset=utf-8').send(head ? undefined : `${message}\n`);
  };
  if (isWharfError(err)) {
    const e = mavenErrorOf(err);
    if (e.challenge) reply.header('www-authenticate', e.challenge);
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return send(e.status, err.message);
  }
  // Fastify's own refusals (a body over its limit, a malformed request): their status and message.
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return send(status, err.message);
  req.log.error({ err }, 'maven request failed');
  return send(500, MAVEN_ERRORS.UNKNOWN.message);
}
