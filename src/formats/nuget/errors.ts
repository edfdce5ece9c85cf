// NuGet's error formats and every error the NuGet routes answer with, as data: a name, the HTTP status, the default
// message and the code the v2 OData error document carries. Clients print the HTTP status and reason: the v3 API
// and pushes answer with a plain-text body (nuget.exe shows it), the v2 feed's reads with OData's XML error
// document. Handlers throw `nugetError(NAME, message)`; the core's errors are answered by their kind (DEFAULT_BY_KIND).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';
import { ENTRY_BY_KIND, errorTable, reasonPhrase } from '../error-table.ts';
import { errorDocument } from './v2-atom.ts';

const CHALLENGE = 'Basic realm="Wharf"';

interface NugetErrorSpec {
  status: number;
  message: string;
  /** The v2 document's `<m:code>`: the core's name for the error. */
  odataCode: string;
  /** Sent as WWW-Authenticate: NuGet sends the source's credentials only after this challenge. */
  challenge?: string;
}

const row = (status: number, odataCode: string, message: string, challenge?: string): NugetErrorSpec => ({ status, message, odataCode, ...(challenge ? { challenge } : {}) });

/** Every error the NuGet routes send (v3 and v2 alike). */
export const NUGET_ERRORS = {
  NOT_FOUND: row(404, 'NotFound', 'not found'),
  UNAUTHORIZED: row(401, 'Unauthorized', 'authentication required', CHALLENGE),
  FORBIDDEN: row(403, 'Forbidden', 'forbidden'),
  INVALID: row(400, 'Invalid', 'bad request'),
  /** A version pushed twice, symbols pushed twice. */
  CONFLICT: row(409, 'Conflict', 'the package version already exists'),
  TOO_LARGE: row(413, 'TooLarge', 'content exceeds the size limit'),
  UNSUPPORTED: row(415, 'Unsupported', 'unsupported media type'),
  /** The sign-in lockout; Retry-After says when to try again. */
  TOO_MANY_REQUESTS: row(429, 'TooManyRequests', 'too many requests'),
  /** A proxy's upstream failed (core/proxy). */
  BAD_GATEWAY: row(502, 'BadGateway', 'bad gateway: the upstream registry failed'),
  /** Anything else, with no detail (the detail goes to the log). */
  UNKNOWN: row(500, '', 'internal server error'),
} satisfies Record<string, NugetErrorSpec>;

export type NugetErrorName = keyof typeof NUGET_ERRORS;

// The core's errors are answered by the shared entry names (ENTRY_BY_KIND): this table has each of them.
const table = errorTable(NUGET_ERRORS, ENTRY_BY_KIND);

/** An error the NuGet routes answer with `name`'s status; `message` defaults to the table's. */
export const nugetError = table.error;

/** The table entry an error is answered with. */
export const nugetErrorOf = table.entryOf;

/** The status, message and table entry of any error: Fastify's own 4xx keep their status and have no code. */
function resolve(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply, what: string): { status: number; message: string; odataCode: string } {
  if (isWharfError(err)) {
    const e = nugetErrorOf(err);
    if (e.challenge) reply.header('www-authenticate', e.challenge);
    if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
    return { status: e.status, message: err.message, odataCode: e.odataCode };
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return { status, message: err.message, odataCode: '' };
  req.log.error({ err }, what);
  return NUGET_ERRORS.UNKNOWN;
}

/** Renders every error of the v3 API and pushes from the table, as plain text. */
export function nugetErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  reply.type('text/plain; charset=utf-8');
  const { status, message } = resolve(err, req, reply, 'nuget request failed');
  reasonPhrase(reply, status, message);
  return reply.code(status).send(message + '\n');
}

/**
 * The v2 OData feed's reads answer errors in OData's XML error document (`<m:error><m:message>`), with the same
 * statuses and the same Basic challenge; nuget.exe 2.x and PowerShellGet read the status, browsers the message.
 */
export function odataErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  reply.type('application/xml;charset=utf-8');
  const { status, message, odataCode } = resolve(err, req, reply, 'nuget v2 request failed');
  return reply.code(status).send(errorDocument(message, odataCode));
}
