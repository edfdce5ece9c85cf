// The npm format: registry routes under /npm, and how to install a package for the REST API and UI.
import { npmPurl, verifyProvenance } from '../../core/signing/provenance.ts';
import { MAX_BUNDLE_BYTES } from '../../core/signing/sigstore.ts';
import { readSmallBody } from '../../http/body.ts';
import type { Format } from '../format.ts';
import { npmDisplayName } from './names.ts';
import { npmPromoter } from './promoter.ts';
import { npmRoutes, provenanceName } from './routes.ts';
import { npmRootRoutes } from './oidc.ts';

export const npmFormat: Format = {
  type: 'npm',
  prefix: '/npm',
  register: npmRoutes,
  rootRoutes: npmRootRoutes,
  promoter: npmPromoter,
  displayName: npmDisplayName,
  describe(pkg, version, baseUrl) {
    const scope = pkg.owner_name.toLowerCase();
    const host = baseUrl.replace(/^https?:/, '');
    if (pkg.proxied) {
      return {
        install: `npm install ${pkg.name}${version ? `@${version}` : ''}`,
        setup: `registry=${baseUrl}/npm/${scope}/\n${host}/npm/:_authToken=\${WHARF_TOKEN}`,
      };
    }
    return {
      install: `npm install ${npmFormat.displayName!(pkg)}${version ? `@${version}` : ''}`,
      setup: `@${scope}:registry=${baseUrl}/npm/\n${host}/npm/:_authToken=\${WHARF_TOKEN}`,
    };
  },
  /** A version published with provenance: who built it, verified against the trusted root (or why it is not). */
  async versionFacts(core, pkg, version) {
    const file = await core.packages.file(pkg.id, version.version, provenanceName({ name: pkg.name }, version.version));
    const sha512 = (JSON.parse(version.metadata) as { dist?: { integrity?: string } }).dist?.integrity?.replace(/^sha512-/, '');
    if (!file || !sha512) return {};
    const bytes = await readSmallBody(await core.blobs.open(file.blob_digest), MAX_BUNDLE_BYTES);
    const full = npmFormat.displayName!(pkg);
    const p = verifyProvenance(core.signing.sigstore, bytes, npmPurl(full, version.version), Buffer.from(sha512, 'base64').toString('hex'));
    if (p.state !== 'verified') return { provenance: p };
    const { summary, identity, issuer, time, run } = p;
    return { provenance: { state: p.state, summary, identity, issuer, signed_at: time, ...(run ? { run } : {}) } };
  },
};
