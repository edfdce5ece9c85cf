// The NuGet format: a v3 source per owner at /nuget/OWNER/index.json (and a v2 OData feed at /nuget/OWNER/api/v2),
// and how to install a package from it.
import type { Format } from '../format.ts';
import { nugetPromoter } from './promoter.ts';
import type { NuGetVersionMeta } from './documents.ts';
import { nugetRoutes } from './routes.ts';

export const nugetFormat: Format = {
  type: 'nuget',
  prefix: '/nuget',
  register: nugetRoutes,
  promoter: nugetPromoter,
  describe(pkg, version, baseUrl) {
    const src = `${baseUrl}/nuget/${pkg.owner_name}/index.json`;
    return {
      install: `dotnet add package ${pkg.name}${version ? ` --version ${version}` : ''} --source ${src}`,
      setup:
        `dotnet nuget add source ${src} --name wharf --username USERNAME --password TOKEN --store-password-in-clear-text\n` +
        `# push: dotnet nuget push NAME.nupkg --source ${src} --api-key TOKEN\n` +
        `# nuget.exe: nuget install ${pkg.name}${version ? ` -Version ${version}` : ''} -Source ${src}\n` +
        `# nuget.exe 2.x, PowerShellGet (v2 feed): -Source ${baseUrl}/nuget/${pkg.owner_name}/api/v2 (signed in: ${baseUrl}/nuget/${pkg.owner_name}/auth/api/v2)`,
    };
  },
  versionMetadata(version) {
    const m = JSON.parse(version.metadata) as NuGetVersionMeta;
    return { nuget: { id: m.id, version: m.version, listed: m.listed, authors: m.authors, frameworks: m.frameworks, dependencyGroups: m.dependencyGroups } };
  },
};
