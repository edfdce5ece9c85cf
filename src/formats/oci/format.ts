// The container format: the OCI distribution API under /v2, and how to pull an image.
import type { Format } from '../format.ts';
import { ociRoutes } from './routes.ts';

export const ociFormat: Format = {
  type: 'container',
  prefix: '/v2',
  register: ociRoutes,
  describe(pkg, version, baseUrl) {
    const host = baseUrl.replace(/^https?:\/\//, '');
    const ref = `${host}/${pkg.owner_name.toLowerCase()}/${pkg.name}${version ? `@${version}` : ':latest'}`;
    return { install: `docker pull ${ref}`, setup: `docker login ${host} -u USERNAME --password-stdin   # a token with read:packages\npodman pull ${ref}` };
  },
};
