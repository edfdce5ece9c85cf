// The generic format: release files under /generic, uploaded and downloaded with curl (or wget).
import type { Format } from '../format.ts';
import { genericRoutes, TYPE } from './routes.ts';

export const genericFormat: Format = {
  type: TYPE,
  prefix: '/generic',
  register: genericRoutes,
  describe(pkg, version, baseUrl, _tags, files) {
    const v = version ?? 'VERSION';
    const url = `${baseUrl}/generic/${pkg.owner_name}/${pkg.name}/${v}`;
    // Each file of the version, or the shape of one when the version (or its file list) is not known.
    const names = files?.length ? files : ['FILE'];
    // A package public on its own needs no credentials (one inheriting its repository's visibility may: keep them).
    const open = pkg.visibility === 'public' && (pkg.repository_id == null || !pkg.inherit_access);
    return {
      install: names.map((f) => `curl -fLO ${open ? '' : '-u USERNAME:$WHARF_TOKEN '}${url}/${f}`).join('\n'),
      setup:
        `# WHARF_TOKEN: a token with read:packages (public packages need none); wget works too:\n` +
        `#   wget --user USERNAME --password "$WHARF_TOKEN" ${url}/${names[0]}\n` +
        `# Upload a file (a token with write:packages; files are immutable, a new build is a new version):\n` +
        `curl -fT ./${names[0]} -u USERNAME:$WHARF_TOKEN ${url}/${names[0]}`,
    };
  },
  async versionFacts(core, _pkg, version) {
    const files = await core.packages.files(version.id);
    return { files: files.map((f) => ({ name: f.name, size: f.size, sha256: f.blob_digest.slice('sha256:'.length) })) };
  },
};
