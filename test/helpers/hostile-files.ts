// Package files that would run script in Wharf's origin if a browser rendered them (issue 17, finding 4): a POM,
// a Maven .xml, .svg and .html, and a nuspec, each holding an XHTML or SVG <script>. The script marks the page
// (document.title), reads the token page of whoever opened it and reports to /-/pwned, so a test can tell, from
// the page and from the requests the browser made, whether it ran.
import { createHash } from 'node:crypto';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildNupkg } from '../../src/formats/nuget/nupkg-fixture.ts';
import type { TestServer } from './wharf.ts';

export const PWNED_TITLE = 'pwned';
const JS = `document.title = '${PWNED_TITLE}'; fetch('/-/settings/tokens').then(function (r) { return r.text(); }).then(function (t) { return fetch('/-/pwned?' + t.length); });`;
const XHTML_SCRIPT = `<script xmlns="http://www.w3.org/1999/xhtml">${JS}</script>`;

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const hex = (algo: string, b: string) => createHash(algo).update(b).digest('hex');

export const MAVEN_BASE = '/maven/mallory/tools/com/evil/tool/1.0';
export const NUGET_ID = 'Evil.Tool';

/** The hostile files as `path → content`, below `MAVEN_BASE`. */
export const mavenFiles: Record<string, string> = {
  'tool-1.0.pom': `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.evil</groupId><artifactId>tool</artifactId><version>1.0</version>
  ${XHTML_SCRIPT}
</project>
`,
  'tool-1.0-evil.xml': `<?xml version="1.0"?><doc>${XHTML_SCRIPT}</doc>`,
  'tool-1.0-evil.xhtml': `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>${XHTML_SCRIPT}</body></html>`,
  'tool-1.0-evil.svg': `<svg xmlns="http://www.w3.org/2000/svg"><script>${JS}</script></svg>`,
  'tool-1.0-evil.html': `<!doctype html><html><body><script>${JS}</script></body></html>`,
  'tool-1.0-evil.js': JS,
};

/** The nuspec inside the hostile .nupkg. */
export const nuspecExtra = XHTML_SCRIPT;

/** Creates mallory (with a token and `password`), and deploys the hostile Maven files and NuGet package, public. */
export async function publishHostileFiles(s: TestServer, password: string): Promise<{ token: string }> {
  const token = await s.userWithToken('mallory', undefined, { password });
  await s.core.identity.createRepo(systemActor, 'mallory', 'tools', 'public');
  const auth = basic('mallory', token);
  for (const [name, body] of Object.entries(mavenFiles)) {
    for (const [p, b] of [[name, body], [`${name}.sha1`, hex('sha1', body)]]) {
      const r = await fetch(`${s.url}${MAVEN_BASE}/${p}`, { method: 'PUT', headers: { authorization: auth }, body: b });
      if (r.status !== 201) throw new Error(`PUT ${p} → ${r.status} ${await r.text()}`);
    }
  }
  const nupkg = buildNupkg({ id: NUGET_ID, version: '1.0.0', description: '&lt;script&gt;alert(1)&lt;/script&gt;', extra: nuspecExtra });
  const b = 'b0undary';
  const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="package"; filename="package.nupkg"\r\nContent-Type: application/octet-stream\r\n\r\n`), nupkg, Buffer.from(`\r\n--${b}--\r\n`)]);
  const r = await fetch(`${s.url}/nuget/mallory/api/v2/package/`, { method: 'PUT', headers: { 'x-nuget-apikey': token, 'content-type': `multipart/form-data; boundary=${b}` }, body: new Uint8Array(body) });
  if (r.status !== 201) throw new Error(`NuGet push → ${r.status} ${await r.text()}`);
  const pkg = (await s.core.packages.find('mallory', 'nuget', NUGET_ID))!;
  await s.core.publisher.updateSettings(pkg.id, { visibility: 'public' }, systemActor);
  return { token };
}

/** The URL path of the hostile nuspec in the flat container. */
export const NUSPEC_PATH = `/nuget/mallory/v3/flat/${NUGET_ID.toLowerCase()}/1.0.0/${NUGET_ID.toLowerCase()}.nuspec`;
