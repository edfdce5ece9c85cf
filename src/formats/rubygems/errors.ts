// RubyGems' error format, a plain-text body (`gem push`/`gem yank` print it as is) and the HTTP status, and every
// error the RubyGems routes answer with, as data: a name, the HTTP status and the default message. Handlers throw
// `rubygemsError(NAME, message)`; the core's errors are answered by their kind (DEFAULT_BY_KIND).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';
import { ENTRY_BY_KIND, errorTable } from '../error-table.ts';

interface RubygemsErrorSpec {
  status: number;
  message: string;
  /** Sent as WWW-Authenticate: Bundler then asks for BUNDLE_HOST credentials (gem sends URL credentials preemptively). */
  challenge?: string;
}

const row = (status: number, message: string, challenge?: string): RubygemsErrorSpec => ({ status, message, ...(challenge ? { challenge } : {}) });

/** Every error the RubyGems routes send. */
export const RUBYGEMS_ERRORS = {
  NOT_FOUND: row(404, 'not found'),
  UNAUTHORIZED: row(401, 'authentication required', 'Basic realm="Wharf RubyGems"'),
  FORBIDDEN: row(403, 'forbidden'),
  INVALID: row(400, 'bad request'),
  /** A version pushed twice. */
  CONFLICT: row(409, 'the gem version already exists'),
  TOO_LARGE: row(413, 'content exceeds the size limit'),
  UNSUPPORTED: row(415, 'unsupported media type'),
  /** The sign-in lockout; Retry-After says when to try again. */
  TOO_MANY_REQUESTS: row(429, 'too many requests'),
  /** A proxy's upstream failed (core/proxy). */
  BAD_GATEWAY: row(502, 'bad gateway: the upstream registry failed'),
  /** Anything else, with no detail (the detail goes to the log). */
  UNKNOWN: row(500, 'internal server error'),
} satisfies Record<string, RubygemsErrorSpec>;

export type RubygemsErrorName = keyof typeof RUBYGEMS_ERRORS;

// The core's errors are answered by the shared entry names (ENTRY_BY_KIND): this table has each of them.
const table = errorTable(RUBYGEMS_ERRORS, ENTRY_BY_KIND);

/** An error the Rubygems routes answer with `name`'s status; `message` defaults to the table's. */
export const rubygemsError = table.error;

/** The table entry an error is answered with. */
export const rubygemsErrorOf = table.entryOf;

/** Renders every error of the RubyGems routes from the table, as plain text. */
export function rubygemsErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  reply.type('text/plain; charset=utf-8');
  if (isWharfError(err)) {
    const e = rubygemsErrorOf(err);
    if (e.challenge) reply.header('www-authenticate', e.challenge);
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return reply.code(e.status).send(err.message + '\n');
  }
  // Fastify's own refusals (a body over its limit, a malformed request): their status and message.
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send(err.message + '\n');
  req.log.error({ err }, 'rubygems request failed');
  return reply.code(500).send(RUBYGEMS_ERRORS.UNKNOWN.message + '\n');
}
