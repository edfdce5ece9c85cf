// NuGet's error format: clients print the HTTP status and reason, and nuget.exe shows a plain-text body.
//   NotFound 404 · Unauthorized 401 + `WWW-Authenticate: Basic realm="Wharf"` (NuGet sends the source's
//   credentials only after this challenge) · Forbidden 403 · Invalid 400 · Conflict 409 (a version pushed
//   twice) · TooLarge 413 · Unsupported 415 · anything else 500 with no detail (the detail goes to the log).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';
import { errorDocument } from './v2-atom.ts';

export function nugetErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  reply.type('text/plain; charset=utf-8');
  if (isWharfError(err)) {
    if (err.kind === 'Unauthorized') reply.header('www-authenticate', 'Basic realm="Wharf"');
    return reply.code(err.status).send(err.message + '\n');
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send(err.message + '\n');
  req.log.error({ err }, 'nuget request failed');
  return reply.code(500).send('internal server error\n');
}

/**
 * The v2 OData feed's reads answer errors in OData's XML error document (`<m:error><m:message>`), with the same
 * statuses and the same Basic challenge; nuget.exe 2.x and PowerShellGet read the status, browsers the message.
 */
export function odataErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  reply.type('application/xml;charset=utf-8');
  if (isWharfError(err)) {
    if (err.kind === 'Unauthorized') reply.header('www-authenticate', 'Basic realm="Wharf"');
    return reply.code(err.status).send(errorDocument(err.message, err.kind));
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send(errorDocument(err.message));
  req.log.error({ err }, 'nuget v2 request failed');
  return reply.code(500).send(errorDocument('internal server error'));
}
