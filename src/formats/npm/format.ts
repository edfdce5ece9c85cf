// The npm format: registry routes under /npm, and how to install a package for the REST API and UI.
import type { Format } from '../format.ts';
import { npmRootRoutes } from './oidc.ts';
import { npmRoutes } from './routes.ts';

export const npmFormat: Format = {
  type: 'npm',
  prefix: '/npm',
  register: npmRoutes,
  rootRoutes: npmRootRoutes,
  // npm knows a Wharf package only by its scoped name: the owner is the scope, always lower case.
  displayName: (pkg) => `@${pkg.owner_name.toLowerCase()}/${pkg.name}`,
  describe(pkg, version, baseUrl) {
    const scope = pkg.owner_name.toLowerCase();
    const host = baseUrl.replace(/^https?:/, '');
    return {
      install: `npm install ${npmFormat.displayName!(pkg)}${version ? `@${version}` : ''}`,
      setup: `@${scope}:registry=${baseUrl}/npm/\n${host}/npm/:_authToken=\${WHARF_TOKEN}`,
    };
  },
};
