// npm's error format: JSON `{ "error": message }` with the HTTP status npm expects. The npm CLI prints `error`.
//   NotFound 404 · Unauthorized 401 + WWW-Authenticate: Bearer (npm then tells the person to `npm login`)
//   Forbidden 403 · Invalid 400 · Conflict 409 (EPUBLISHCONFLICT) · TooLarge 413 · Unsupported 415 · else 500
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';

export function npmErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  if (isWharfError(err)) {
    if (err.kind === 'Unauthorized') reply.header('www-authenticate', 'Bearer realm="Wharf"');
    return reply.code(err.status).send({ error: err.message, ...(err.code ? { code: err.code } : {}) });
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
  req.log.error({ err }, 'npm request failed');
  return reply.code(500).send({ error: 'internal server error' });
}
