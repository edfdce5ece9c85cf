// The OCI distribution error format, `{"errors":[{"code","message","detail"}]}`, and every error the registry
// answers with, as data (as distribution's errcode registry): a name, the spec's code sent on the wire, the HTTP
// status and the default message. Handlers throw `ociError(NAME, message)`; the core's errors, which carry no
// OCI code, are answered by their kind (DEFAULT_BY_KIND). A few names share a spec code with another status,
// because the spec's list of codes is closed ("the code field MUST be one of the following").
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { WharfError, isWharfError, type ErrorKind } from '../../core/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The repository and actions a request needs, for the Bearer challenge of a 401. */
    ociScope?: { name: string; actions: string };
  }
}

/** The spec's error codes (distribution-spec "Error Codes"). */
type SpecCode =
  | 'BLOB_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'BLOB_UPLOAD_UNKNOWN' | 'DIGEST_INVALID' | 'MANIFEST_BLOB_UNKNOWN' | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN' | 'NAME_INVALID' | 'NAME_UNKNOWN' | 'SIZE_INVALID' | 'UNAUTHORIZED' | 'DENIED' | 'UNSUPPORTED' | 'TOOMANYREQUESTS';

interface OciErrorSpec {
  code: SpecCode | 'UNKNOWN';
  status: number;
  message: string;
}

const row = (code: OciErrorSpec['code'], status: number, message: string): OciErrorSpec => ({ code, status, message });

/** Every error the registry sends. The key is what handlers throw; `code` is what the client reads. */
export const OCI_ERRORS = {
  BLOB_UNKNOWN: row('BLOB_UNKNOWN', 404, 'blob unknown to registry'),
  BLOB_UPLOAD_INVALID: row('BLOB_UPLOAD_INVALID', 400, 'blob upload invalid'),
  /** A chunk that does not start where the upload is, or a bad Content-Range (the core's code `RANGE`). */
  RANGE: row('BLOB_UPLOAD_INVALID', 416, 'requested range not satisfiable'),
  BLOB_UPLOAD_UNKNOWN: row('BLOB_UPLOAD_UNKNOWN', 404, 'blob upload unknown to registry'),
  DIGEST_INVALID: row('DIGEST_INVALID', 400, 'provided digest did not match uploaded content'),
  MANIFEST_BLOB_UNKNOWN: row('MANIFEST_BLOB_UNKNOWN', 400, 'manifest references a manifest or blob unknown to registry'),
  MANIFEST_INVALID: row('MANIFEST_INVALID', 400, 'manifest invalid'),
  MANIFEST_UNKNOWN: row('MANIFEST_UNKNOWN', 404, 'manifest unknown'),
  NAME_INVALID: row('NAME_INVALID', 400, 'invalid repository name'),
  NAME_UNKNOWN: row('NAME_UNKNOWN', 404, 'repository name not known to registry'),
  SIZE_INVALID: row('SIZE_INVALID', 400, 'provided length did not match content length'),
  /** Content over a configured limit (a blob, a manifest): the spec's size code with 413. */
  TOO_LARGE: row('SIZE_INVALID', 413, 'content exceeds the size limit'),
  UNAUTHORIZED: row('UNAUTHORIZED', 401, 'authentication required'),
  DENIED: row('DENIED', 403, 'requested access to the resource is denied'),
  /** A push over its owner's quota (core/usage.ts): clients show DENIED with the message naming limit and usage. */
  QUOTA_EXCEEDED: row('DENIED', 403, 'quota exceeded'),
  /** Writes that conflict with what is stored (the core's Conflict). */
  CONFLICT: row('DENIED', 409, 'the request conflicts with the repository'),
  UNSUPPORTED: row('UNSUPPORTED', 415, 'the operation is unsupported'),
  /** A method the endpoint does not have. */
  METHOD_UNSUPPORTED: row('UNSUPPORTED', 405, 'the method is not supported on this endpoint'),
  /** `?n=` that is not a count (distribution's PAGINATION_NUMBER_INVALID, which is not a spec code). */
  PAGINATION_NUMBER_INVALID: row('UNSUPPORTED', 400, 'invalid number of results requested'),
  TOOMANYREQUESTS: row('TOOMANYREQUESTS', 429, 'too many requests'),
  /** A proxy's upstream failed (core/proxy): distribution answers its proxy failures with UNKNOWN. */
  BAD_GATEWAY: row('UNKNOWN', 502, 'the upstream registry failed'),
  UNKNOWN: row('UNKNOWN', 500, 'internal server error'),
} satisfies Record<string, OciErrorSpec>;

export type OciErrorName = keyof typeof OCI_ERRORS;

/** The entry for a core error that carries no OCI code. */
const DEFAULT_BY_KIND: Record<ErrorKind, OciErrorName> = {
  NotFound: 'NAME_UNKNOWN',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'DENIED',
  Invalid: 'BLOB_UPLOAD_INVALID',
  Conflict: 'CONFLICT',
  TooLarge: 'TOO_LARGE',
  Unsupported: 'UNSUPPORTED',
  TooManyRequests: 'TOOMANYREQUESTS',
  Upstream: 'BAD_GATEWAY',
};

/** The core's default messages say nothing a client can use: the table's message is sent instead. */
const BARE_MESSAGES = new Set(['not found', 'authentication required', 'forbidden']);

const kindOf = (status: number): ErrorKind =>
  status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'NotFound' : status === 409 ? 'Conflict' : status === 413 ? 'TooLarge' : status === 405 || status === 415 ? 'Unsupported' : status === 429 ? 'TooManyRequests' : 'Invalid';

/** An error the registry answers with `name`'s code and status; `message` defaults to the table's. */
export function ociError(name: OciErrorName, message?: string): WharfError {
  const e = OCI_ERRORS[name];
  return new WharfError(kindOf(e.status), message ?? e.message, name);
}

/** The table entry an error is answered with. */
export function ociErrorOf(err: WharfError): OciErrorSpec {
  const name = err.code !== undefined && Object.hasOwn(OCI_ERRORS, err.code) ? (err.code as OciErrorName) : DEFAULT_BY_KIND[err.kind];
  return OCI_ERRORS[name];
}

/** `Bearer realm=…,service=…,scope=…` for the token endpoint of this server. */
export function challenge(base: string, host: string, scope?: { name: string; actions: string }): string {
  return `Bearer realm="${base}/v2/token",service="${host}"${scope ? `,scope="repository:${scope.name}:${scope.actions}"` : ''}`;
}

/** Renders every error of the /v2 routes in the spec's format; a 401 carries the Bearer challenge. */
export function ociErrorHandler(base: (req: FastifyRequest) => string, service: (req: FastifyRequest) => string = (req) => req.headers.host ?? 'wharf') {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    if (!req.raw.complete) reply.header('connection', 'close');
    reply.header('docker-distribution-api-version', 'registry/2.0');
    let spec: OciErrorSpec;
    let status: number;
    let message: string;
    if (isWharfError(err)) {
      spec = ociErrorOf(err);
      status = spec.status;
      message = BARE_MESSAGES.has(err.message) ? spec.message : err.message;
      // A proxy's upstream failing (refused credentials, a 5xx): clients show only "502 Bad Gateway", so the reason
      // is in the server's log for whoever runs it.
      if (err.kind === 'Upstream') req.log.warn({ url: req.url, reason: err.message }, 'registry: the upstream of a proxy failed');
    } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! >= 400 && (err as FastifyError).statusCode! < 500) {
      // Fastify's own refusals (a body over its limit, a malformed request): their status, the nearest code.
      status = (err as FastifyError).statusCode!;
      spec = status === 413 ? OCI_ERRORS.TOO_LARGE : OCI_ERRORS.UNSUPPORTED;
      message = err.message;
    } else {
      req.log.error({ err }, 'registry request failed');
      spec = OCI_ERRORS.UNKNOWN;
      status = spec.status;
      message = spec.message;
    }
    if (status === 401) reply.header('www-authenticate', challenge(base(req), service(req), req.ociScope));
    return reply.code(status).send({ errors: [{ code: spec.code, message, detail: null }] });
  };
}
