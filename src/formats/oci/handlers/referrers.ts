// Referrers (OCI 1.1): the manifests of a repository whose `subject` is a digest, as an image index,
// optionally filtered by artifactType.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MEDIA, type Descriptor, type VersionMeta } from '../manifests.ts';
import { checkDigest } from '../names.ts';
import type { OciContext, OciResource, Q, Target } from './route.ts';

/** The referrers resource: `<name>/referrers/<digest>`. */
export function referrerResources({ core }: OciContext): OciResource[] {
  async function referrers(req: FastifyRequest, reply: FastifyReply, { pkg, params: [digestParam] }: Target) {
    const digest = checkDigest(digestParam);
    const artifactType = (req.query as Q).artifactType;
    const manifests: Descriptor[] = [];
    for (const v of await core.packages.versionsWithProperty(pkg.id, 'oci.subject', digest)) {
      const meta = JSON.parse(v.metadata) as VersionMeta;
      // An image manifest without artifactType is typed by its config; an index without one has none.
      const type = meta.artifactType ?? meta.config?.mediaType;
      if (artifactType && type !== artifactType) continue;
      manifests.push({ mediaType: meta.mediaType, digest: v.version, size: meta.size, ...(type ? { artifactType: type } : {}), ...(meta.annotations ? { annotations: meta.annotations } : {}) });
    }
    if (artifactType) reply.header('oci-filters-applied', 'artifactType');
    // Serialized here so the Content-Type carries no charset parameter (the spec names the exact type).
    return reply.header('content-type', MEDIA.ociIndex).send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })));
  }

  return [{ path: /^(.+)\/referrers\/([^/]+)$/, methods: { GET: { access: 'pull', handler: referrers } } }];
}
