// Maven's error format: Maven and Gradle read the HTTP status and print the reason, so errors are a status and a
// one-line text/plain message.
//   NotFound 404 · Unauthorized 401 + `WWW-Authenticate: Basic realm="Wharf"` (Maven and Gradle send
//   credentials on GET only after this challenge) · Forbidden 403 · Invalid 400 (bad coordinates, POM not
//   matching its path, checksum mismatch) · Conflict 409 (release redeploy) · TooLarge 413 · else 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';

export const CHALLENGE = 'Basic realm="Wharf"';

export function mavenErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  // A refused upload is not read to its end: close the connection after answering, so it is not reused mid-body.
  if (!req.raw.complete) reply.header('connection', 'close');
  const head = req.method === 'HEAD';
  const send = (status: number, message: string) => reply.code(status).type('text/plain; charset=utf-8').send(head ? undefined : `${message}\n`);
  if (isWharfError(err)) {
    if (err.kind === 'Unauthorized') reply.header('www-authenticate', CHALLENGE);
    return send(err.status, err.message);
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return send(status, err.message);
  req.log.error({ err }, 'maven request failed');
  return send(500, 'internal server error');
}
