// The RubyGems format: a gem source per owner under /rubygems/OWNER, and how to install a gem from it.
import type { Format } from '../format.ts';
import { rubygemsPromoter } from './promoter.ts';
import type { GemVersionMeta } from './documents.ts';
import { rubygemsRoutes } from './routes.ts';

export const rubygemsFormat: Format = {
  type: 'rubygems',
  prefix: '/rubygems',
  register: rubygemsRoutes,
  promoter: rubygemsPromoter,
  describe(pkg, version, baseUrl) {
    const src = `${baseUrl}/rubygems/${pkg.owner_name}`;
    const host = new URL(baseUrl).hostname.toUpperCase().replace(/\./g, '__').replace(/-/g, '___');
    const v = version ? version.replace(/-.*$/, '') : null;
    return {
      install: `gem install ${pkg.name}${v ? ` -v ${v}` : ''} --source ${src}/`,
      setup:
        `# Gemfile\nsource "${src}" do\n  gem "${pkg.name}"${v ? `, "${v}"` : ''}\nend\n` +
        `# private gems: bundle config set --global ${new URL(baseUrl).hostname} USERNAME:TOKEN  (or BUNDLE_${host}=USERNAME:TOKEN)\n` +
        `# push: GEM_HOST_API_KEY=TOKEN gem push NAME.gem --host ${src}`,
    };
  },
  versionMetadata(version) {
    const m = JSON.parse(version.metadata) as GemVersionMeta;
    return { rubygems: { version: m.version, platform: m.platform, sha256: m.sha256, dependencies: m.dependencies.filter((d) => d.type === 'runtime').map((d) => ({ name: d.name, requirement: d.requirement.map(([op, x]) => `${op} ${x}`).join(', ') })) } };
  },
};
