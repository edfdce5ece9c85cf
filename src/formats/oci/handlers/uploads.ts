// Blob uploads: POST starts one (or mounts a blob from another repository, or takes the whole blob at once),
// PATCH appends a chunk, PUT closes it with the digest, GET tells how far it is, DELETE cancels it. A finished
// upload is held by the repository until a manifest names it (or, unnamed, until garbage collection's grace
// period is over: see core/blobs/gc.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WharfError } from '../../../core/errors.ts';
import { formatSize, quotaExceeded } from '../../../core/usage.ts';
import { ociError } from '../errors.ts';
import { checkDigest, type OciName } from '../names.ts';
import { blobLocation, body, hasBody, type OciContext, type OciResource, type OciRoute, type Q, type Target } from './route.ts';

const uploadLocation = (n: OciName, id: string) => `/v2/${n.full}/blobs/uploads/${id}`;
const rangeOf = (size: number) => `0-${Math.max(size - 1, 0)}`;

/** The upload resources: `<name>/blobs/uploads/` and `<name>/blobs/uploads/<id>`. */
export function uploadResources({ core, access }: OciContext): OciResource[] {
  async function startUpload(req: FastifyRequest, reply: FastifyReply, { n, pkg }: Target) {
    const q = req.query as Q;
    if (q.mount) {
      const digest = checkDigest(q.mount);
      // Mount only from a repository the actor may read and that holds the blob; otherwise a normal upload.
      const from = q.from ? await access.pullSource(req.actor, q.from) : undefined;
      const held = from ? await core.packages.heldBlob(from.id, digest) : undefined;
      if (held) {
        await core.publisher.attachBlob(pkg.id, { digest, size: held.size });
        return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
      }
    }
    if (q.digest !== undefined) {
      // Monolithic upload: the whole blob in this request.
      const digest = checkDigest(q.digest);
      await withinQuota(req, pkg);
      const limit = await undeclaredLimit(req, pkg);
      const staged = await quotaBound(limit, () => core.blobs.put(body(req), { maxSize: Math.min(core.config.maxBlobSize, limit) }));
      if (staged.digest !== digest) {
        await staged.cancel();
        throw ociError('DIGEST_INVALID', `content digest ${staged.digest} does not match ${digest}`);
      }
      checkLength(req, staged.size);
      await core.publisher.attachBlob(pkg.id, staged);
      return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
    }
    if (hasBody(req)) await withinQuota(req, pkg);
    const limit = hasBody(req) ? await undeclaredLimit(req, pkg) : Infinity;
    const { id } = await core.uploads.create(pkg.id);
    if (hasBody(req)) await quotaBound(limit, () => core.uploads.append(id, pkg.id, body(req), 0, limit));
    return reply
      .code(202)
      .header('location', uploadLocation(n, id))
      .header('docker-upload-uuid', id)
      .header('range', '0-0')
      .header('content-length', 0)
      .send();
  }

  /**
   * Refuses a body that would take the owner over its storage quota, before it is stored: what the upload holds
   * already plus the declared Content-Length (a chunked body without one is decided when its manifest is pushed).
   */
  async function withinQuota(req: FastifyRequest, pkg: Target['pkg'], sofar = 0) {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 0 || sofar > 0) await core.publisher.checkQuota(pkg.owner_id, { bytes: sofar + declared });
  }

  /**
   * The most an upload may hold when its body's size is not declared (a chunked PATCH, as docker and containerd
   * send one): what the owner's storage quota leaves, so a streamed body is cut off there rather than checked only
   * at its manifest. Infinity when the size is declared (withinQuota decided) or no quota applies.
   */
  async function undeclaredLimit(req: FastifyRequest, pkg: Target['pkg']): Promise<number> {
    if (req.headers['content-length'] !== undefined) return Infinity;
    return (await core.publisher.quotaHeadroom(pkg.owner_id)) ?? Infinity;
  }

  /** Runs a write bounded by `limit`: going past a bound that the quota set is the quota's refusal (DENIED). */
  async function quotaBound<T>(limit: number, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (limit < core.config.maxBlobSize && e instanceof WharfError && e.kind === 'TooLarge' && e.code !== 'QUOTA_EXCEEDED') {
        throw quotaExceeded(`storage quota exceeded: this upload goes past the ${formatSize(limit)} its owner's quota leaves`);
      }
      throw e;
    }
  }

  function checkLength(req: FastifyRequest, size: number) {
    const declared = req.headers['content-length'];
    if (declared !== undefined && req.headers['transfer-encoding'] === undefined && Number(declared) !== size) {
      throw ociError('SIZE_INVALID', `received ${size} bytes, Content-Length said ${declared}`);
    }
  }

  /** `Content-Range: start-end` of a chunk, or null when absent (a streamed chunk goes at the end). */
  function chunkStart(req: FastifyRequest): number | null {
    const h = req.headers['content-range'];
    if (!h) return null;
    const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(String(h));
    if (!m || Number(m[2]) < Number(m[1])) throw ociError('RANGE', `invalid Content-Range "${h}"`);
    // The range is inclusive on both ends and must describe exactly the bytes sent.
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) !== Number(m[2]) - Number(m[1]) + 1) {
      throw ociError('RANGE', `Content-Range ${h} does not match Content-Length ${length}`);
    }
    return Number(m[1]);
  }

  async function patchUpload(req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [id] }: Target) {
    const start = chunkStart(req);
    await withinQuota(req, pkg, (await core.uploads.get(id, pkg.id)).size);
    const limit = await undeclaredLimit(req, pkg);
    const size = await quotaBound(limit, () => core.uploads.append(id, pkg.id, body(req), start, limit));
    return reply.code(202).header('location', uploadLocation(n, id)).header('docker-upload-uuid', id).header('range', rangeOf(size)).header('content-length', 0).send();
  }

  async function finishUpload(req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [id] }: Target) {
    const digest = checkDigest((req.query as Q).digest);
    await core.uploads.get(id, pkg.id).catch(() => {
      throw ociError('BLOB_UPLOAD_UNKNOWN', 'upload not found');
    });
    if (hasBody(req)) {
      await withinQuota(req, pkg, (await core.uploads.get(id, pkg.id)).size);
      const limit = await undeclaredLimit(req, pkg);
      await quotaBound(limit, () => core.uploads.append(id, pkg.id, body(req), chunkStart(req), limit));
    }
    const staged = await core.uploads.finish(id, pkg.id, digest);
    await core.publisher.attachBlob(pkg.id, staged);
    return reply.code(201).header('location', blobLocation(n, digest)).header('docker-content-digest', digest).header('content-length', 0).send();
  }

  async function uploadStatus(_req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [id] }: Target) {
    const s = await core.uploads.get(id, pkg.id);
    return reply.code(204).header('location', uploadLocation(n, id)).header('docker-upload-uuid', id).header('range', rangeOf(s.size)).send();
  }

  async function cancelUpload(_req: FastifyRequest, reply: FastifyReply, { pkg, params: [id] }: Target) {
    await core.uploads.cancel(id, pkg.id);
    return reply.code(204).send();
  }

  /** A route on an upload session: a malformed id, or one the core does not find here, is BLOB_UPLOAD_UNKNOWN. */
  const session = (handler: OciRoute['handler']): OciRoute => ({
    access: 'push',
    handler: async (req, reply, t) => {
      if (!/^[0-9a-f-]{36}$/.test(t.params[0])) throw ociError('BLOB_UPLOAD_UNKNOWN', 'upload not found');
      try {
        return await handler(req, reply, t);
      } catch (e) {
        if (e instanceof WharfError && e.kind === 'NotFound' && !e.code) throw ociError('BLOB_UPLOAD_UNKNOWN', 'upload not found');
        throw e;
      }
    },
  });

  return [
    { path: /^(.+)\/blobs\/uploads\/?$/, methods: { POST: { access: 'push', creates: true, handler: startUpload } } },
    {
      path: /^(.+)\/blobs\/uploads\/([^/]+)$/,
      // Every step of an upload is part of a push: reading its progress too (it is the pusher's session).
      methods: { PATCH: session(patchUpload), PUT: session(finishUpload), GET: session(uploadStatus), DELETE: session(cancelUpload) },
    },
  ];
}
