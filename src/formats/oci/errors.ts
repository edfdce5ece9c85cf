// The OCI distribution error format: `{"errors":[{"code","message","detail"}]}`, with the spec's codes:
//   BLOB_UNKNOWN 404 · BLOB_UPLOAD_INVALID 400 (416 for a chunk out of order) · BLOB_UPLOAD_UNKNOWN 404 ·
//   DIGEST_INVALID 400 · MANIFEST_BLOB_UNKNOWN 400 · MANIFEST_INVALID 400 · MANIFEST_UNKNOWN 404 ·
//   NAME_INVALID 400 · NAME_UNKNOWN 404 · SIZE_INVALID 400 (413 when too large) · UNAUTHORIZED 401 (+ a Bearer
//   challenge naming the scope) · DENIED 403 · UNSUPPORTED 415 · TOOMANYREQUESTS 429.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError } from '../../core/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The repository and actions a request needs, for the Bearer challenge of a 401. */
    ociScope?: { name: string; actions: string };
  }
}

const DEFAULT_CODE: Record<string, string> = {
  NotFound: 'NAME_UNKNOWN',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'DENIED',
  Invalid: 'BLOB_UPLOAD_INVALID',
  Conflict: 'DENIED',
  TooLarge: 'SIZE_INVALID',
  Unsupported: 'UNSUPPORTED',
};

/** `Bearer realm=…,service=…,scope=…` for the token endpoint of this server. */
export function challenge(base: string, host: string, scope?: { name: string; actions: string }): string {
  return `Bearer realm="${base}/v2/token",service="${host}"${scope ? `,scope="repository:${scope.name}:${scope.actions}"` : ''}`;
}

export function ociErrorHandler(base: (req: FastifyRequest) => string) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    if (!req.raw.complete) reply.header('connection', 'close');
    reply.header('docker-distribution-api-version', 'registry/2.0');
    if (isWharfError(err)) {
      let code = err.code ?? DEFAULT_CODE[err.kind];
      let status = err.status;
      if (err.kind === 'Unauthorized') {
        code = 'UNAUTHORIZED';
        reply.header('www-authenticate', challenge(base(req), req.headers.host ?? 'wharf', req.ociScope));
      }
      if (code === 'RANGE') {
        code = 'BLOB_UPLOAD_INVALID';
        status = 416;
      }
      const message = err.kind === 'NotFound' && err.message === 'not found' ? messageOf(code) : err.message;
      return reply.code(status).send({ errors: [{ code, message, detail: null }] });
    }
    const e = err as FastifyError;
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ errors: [{ code: 'UNSUPPORTED', message: e.message, detail: null }] });
    req.log.error({ err }, 'registry request failed');
    return reply.code(500).send({ errors: [{ code: 'UNKNOWN', message: 'internal server error', detail: null }] });
  };
}

function messageOf(code: string): string {
  return ({ NAME_UNKNOWN: 'repository name not known to registry', BLOB_UNKNOWN: 'blob unknown to registry', MANIFEST_UNKNOWN: 'manifest unknown', BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry' } as Record<string, string>)[code] ?? 'not found';
}
