// What every resource file of the /v2 API shares: the shape of its route table, and request helpers.
// A resource is a path (matched from its end, since repository names contain slashes) and, per method, the
// access the route needs and its handler. The dispatcher (../routes.ts) checks the access before the handler
// runs and hands it the repository's package (as distribution's handlers get an App context per request).
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../../core/core.ts';
import type { PackageRow } from '../../../core/model/packages.ts';
import type { Access, OciAccess } from '../access.ts';
import type { OciName } from '../names.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** What a handler gets: the repository name, its package (access already checked) and the path's other parts. */
export interface Target {
  n: OciName;
  pkg: PackageRow;
  /** The path's capture groups after the repository name (a digest, a reference, an upload id). */
  params: string[];
}

export interface OciRoute {
  access: OciAccess;
  /** A push that may create the repository (starting an upload, a manifest); other routes need it to exist. */
  creates?: true;
  handler: (req: FastifyRequest, reply: FastifyReply, t: Target) => Promise<unknown>;
}

export interface OciResource {
  /** The path under /v2/; the first capture group is the repository name. */
  path: RegExp;
  methods: Partial<Record<Method, OciRoute>>;
}

/** What the resource files are built from. */
export interface OciContext {
  core: Core;
  access: Access;
}

/** A parsed query string. */
export type Q = Record<string, string | undefined>;

/** The request body as a stream that an early error does not destroy, so the error response still reaches the client. */
export function body(req: FastifyRequest): Readable {
  const raw = req.body as Readable | undefined;
  return raw ? Readable.from(raw.iterator({ destroyOnReturn: false }), { objectMode: false }) : Readable.from([]);
}

/** Whether the request carries a body (a declared length, or a chunked one). */
export const hasBody = (req: FastifyRequest) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

/** Where a blob of the repository is pulled from (the Location of a finished upload). */
export const blobLocation = (n: OciName, digest: string) => `/v2/${n.full}/blobs/${digest}`;
