// Blobs: GET/HEAD (pull, with byte ranges) and DELETE of a repository's blob.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseRange, sendBlob } from '../../../http/blob-reply.ts';
import { ociError } from '../errors.ts';
import { checkDigest } from '../names.ts';
import type { OciContext, OciResource, Target } from './route.ts';

export { parseRange };

/** The blob resource: `<name>/blobs/<digest>`. */
export function blobResources({ core }: OciContext): OciResource[] {
  async function getBlob(req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [digestParam] }: Target) {
    const head = req.method === 'HEAD';
    const digest = checkDigest(digestParam);
    const held = await core.packages.heldBlob(pkg.id, digest);
    if (!held) throw ociError('BLOB_UNKNOWN', `blob ${digest} not found in ${n.full}`);
    reply.header('docker-content-digest', digest).header('etag', `"${digest}"`).header('accept-ranges', 'bytes').type('application/octet-stream');
    const range = parseRange(req.headers.range, held.size);
    if (range === 'invalid') return reply.code(416).header('content-range', `bytes */${held.size}`).send();
    if (head) return reply.code(200).header('content-length', held.size).send();
    // docker, containerd, skopeo and podman follow a 307 to the store (distribution's `redirect` option).
    return sendBlob(core, reply, { digest, size: held.size }, { range, redirect: true });
  }

  async function deleteBlob(_req: FastifyRequest, reply: FastifyReply, { n, pkg, params: [digestParam] }: Target) {
    const digest = checkDigest(digestParam);
    if (!(await core.publisher.detachBlob(pkg.id, digest))) throw ociError('BLOB_UNKNOWN', `blob ${digest} not found in ${n.full}`);
    return reply.code(202).header('content-length', 0).send();
  }

  return [
    {
      path: /^(.+)\/blobs\/([^/]+)$/,
      methods: {
        GET: { access: 'pull', handler: getBlob },
        HEAD: { access: 'pull', handler: getBlob },
        DELETE: { access: 'delete', handler: deleteBlob },
      },
    },
  ];
}
