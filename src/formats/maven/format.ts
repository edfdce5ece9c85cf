// The Maven format: a Maven repository under /maven (per repository and per owner), and how to depend on a package.
import type { Format } from '../format.ts';
import { mavenPromoter } from './promoter.ts';
import { splitPackageName } from './coordinates.ts';
import { mavenRoutes } from './routes.ts';

export const mavenFormat: Format = {
  type: 'maven',
  prefix: '/maven',
  register: mavenRoutes,
  promoter: mavenPromoter,
  describe(pkg, version, baseUrl) {
    const { groupId, artifactId } = splitPackageName(pkg.name);
    const v = version ?? 'VERSION';
    const url = `${baseUrl}/maven/${pkg.owner_name}`;
    return {
      install:
        `<dependency>\n  <groupId>${groupId}</groupId>\n  <artifactId>${artifactId}</artifactId>\n  <version>${v}</version>\n</dependency>\n\n` +
        `// Gradle\nimplementation '${groupId}:${artifactId}:${v}'`,
      setup:
        `<!-- pom.xml (credentials: a <server> with id "wharf" in ~/.m2/settings.xml, password = a token with read:packages) -->\n` +
        `<repositories>\n  <repository>\n    <id>wharf</id>\n    <url>${url}</url>\n  </repository>\n</repositories>\n\n` +
        `// build.gradle\nrepositories {\n  maven {\n    url '${url}'\n    credentials { username = 'USERNAME'; password = System.getenv('WHARF_TOKEN') }\n  }\n}`,
    };
  },
  versionMetadata(version) {
    const m = JSON.parse(version.metadata) as { pom?: Record<string, unknown> };
    return m.pom ? { maven: m.pom } : {};
  },
};
