// The npm format: registry routes under /npm, and how to install a package for the REST API and UI.
import type { Format } from '../format.ts';
import { npmRoutes } from './routes.ts';

export const npmFormat: Format = {
  type: 'npm',
  prefix: '/npm',
  register: npmRoutes,
  describe(pkg, version, baseUrl) {
    const scope = pkg.owner_name.toLowerCase();
    const host = baseUrl.replace(/^https?:/, '');
    return {
      install: `npm install @${scope}/${pkg.name}${version ? `@${version}` : ''}`,
      setup: `@${scope}:registry=${baseUrl}/npm/\n${host}/npm/:_authToken=\${WHARF_TOKEN}`,
    };
  },
};
