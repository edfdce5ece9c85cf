// The container format: the OCI distribution API under /v2, and how to pull an image.
import type { Format } from '../format.ts';
import { parseOciName } from './names.ts';
import { uniqueBlobs, type VersionMeta } from './manifests.ts';
import { ociPromoter } from './promoter.ts';
import { ociRoutes } from './routes.ts';
import { verifyImage } from './signatures.ts';

export const ociFormat: Format = {
  type: 'container',
  prefix: '/v2',
  signing: { what: 'images' },
  register: ociRoutes,
  promoter: ociPromoter,
  describe(pkg, version, baseUrl, tags) {
    const host = baseUrl.replace(/^https?:\/\//, '');
    // A tag reads better than a digest (`docker pull host/alice/app:1`); a digest pins an untagged version.
    const tag = tags?.find((t) => !/^sha256-[a-f0-9]{64}(\.\w+)?$/.test(t));
    const ref = `${host}/${pkg.owner_name.toLowerCase()}/${pkg.name}${tag ? `:${tag}` : version ? `@${version}` : ':latest'}`;
    return { install: `docker pull ${ref}`, setup: `docker login ${host} -u USERNAME --password-stdin   # a token with read:packages\npodman pull ${ref}` };
  },
  async versionFacts(core, pkg, version) {
    const signature = await verifyImage(core, pkg, parseOciName(`${pkg.owner_name.toLowerCase()}/${pkg.name}`), version.version);
    return { container: { signature } };
  },
  versionMetadata(version, tags) {
    const m = JSON.parse(version.metadata) as VersionMeta;
    return {
      container: { tags },
      media_type: m.mediaType,
      // Stored size: a blob the manifest names twice (a repeated layer, the empty descriptor) is stored once.
      size: m.size + uniqueBlobs([...(m.config ? [m.config] : []), ...(m.layers ?? [])]).reduce((n, l) => n + l.size, 0),
      ...(m.artifactType ? { artifact_type: m.artifactType } : {}),
      ...(m.subject ? { subject: m.subject } : {}),
      ...(m.manifests ? { platforms: m.manifests.map((c) => ({ digest: c.digest, ...(c.platform ?? {}) })) } : {}),
      ...(m.layers ? { layers: m.layers.map((l) => ({ digest: l.digest, size: l.size, media_type: l.mediaType })) } : {}),
    };
  },
};
