// Package content is served so that it cannot run in Wharf's origin (issue 17, finding 4): every response has
// nosniff; every response outside the web UI (files, protocol documents, the REST API, errors) has a sandboxing
// CSP and, unless it is plain text or JSON, Content-Disposition: attachment; the Content-Types the clients
// read stay as they were.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { MAVEN_BASE, mavenFiles, NUSPEC_PATH, publishHostileFiles } from '../helpers/hostile-files.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, blob, imageManifest, pushImage } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const SANDBOX = "default-src 'none'; sandbox";

for (const dialect of dialects()) {
  describe(`package content is inert in a browser on ${dialect}`, () => {
    let s: TestServer;
    let token: string;

    before(async () => {
      s = await startWharf({ dialect });
      ({ token } = await publishHostileFiles(s, 'mallory password'));
    });
    after(() => s.stop());

    const get = (p: string, method = 'GET', headers: Record<string, string> = {}) => fetch(`${s.url}${p}`, { method, headers });

    /** The response is data: nosniff, the sandbox, and a download unless `inline`; its type is `type`. */
    async function assertInert(p: string, opts: { type?: RegExp; inline?: boolean; status?: number; method?: string; headers?: Record<string, string> } = {}) {
      const r = await get(p, opts.method, opts.headers);
      await r.arrayBuffer();
      const label = `${opts.method ?? 'GET'} ${p}`;
      assert.equal(r.status, opts.status ?? 200, label);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', label);
      assert.equal(r.headers.get('content-security-policy'), SANDBOX, label);
      if (opts.type) assert.match(r.headers.get('content-type') ?? '', opts.type, label);
      if (opts.inline) assert.equal(r.headers.get('content-disposition'), null, label);
      else assert.match(r.headers.get('content-disposition') ?? '', /^attachment\b/, label);
      return r;
    }

    test('GET and HEAD of a Maven .pom and .xml holding an XHTML <script> → application/xml, nosniff, CSP sandbox, attachment', async () => {
      for (const method of ['GET', 'HEAD']) {
        await assertInert(`${MAVEN_BASE}/tool-1.0.pom`, { type: /^application\/xml/, method });
        await assertInert(`${MAVEN_BASE}/tool-1.0-evil.xml`, { type: /^application\/xml/, method });
      }
      // The bytes are served as uploaded: Maven reads them.
      assert.match(await (await get(`${MAVEN_BASE}/tool-1.0.pom`)).text(), /<script xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    });

    test('Maven .svg, .xhtml, .html, .js and a jar → never a renderable type; sandboxed downloads', async () => {
      for (const name of Object.keys(mavenFiles)) {
        const r = await assertInert(`${MAVEN_BASE}/${name}`);
        assert.doesNotMatch(r.headers.get('content-type') ?? '', /html|svg|javascript/, name);
      }
    });

    test('maven-metadata.xml and checksums: documents with user strings are inert too', async () => {
      await assertInert('/maven/mallory/tools/com/evil/tool/maven-metadata.xml', { type: /^application\/xml/ });
      await assertInert(`${MAVEN_BASE}/tool-1.0.pom.sha1`, { type: /^text\/plain/, inline: true });
    });

    test('NuGet: the .nuspec holding an XHTML <script> → application/xml, nosniff, CSP sandbox, attachment; the .nupkg too', async () => {
      await assertInert(NUSPEC_PATH, { type: /^application\/xml/ });
      assert.match(await (await get(NUSPEC_PATH)).text(), /<script xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
      await assertInert(NUSPEC_PATH.replace(/evil\.tool\.nuspec$/, 'evil.tool.1.0.0.nupkg'), { type: /^application\/octet-stream/ });
      await assertInert('/nuget/mallory/v3/registration/evil.tool/index.json', { type: /json/, inline: true });
    });

    test('NuGet v2: Atom feeds, $metadata and the v2 download are inert; the download keeps its file name', async () => {
      await assertInert("/nuget/mallory/api/v2/FindPackagesById()?id='Evil.Tool'", { type: /^application\/atom\+xml/ });
      await assertInert("/nuget/mallory/api/v2/Packages(Id='Evil.Tool',Version='1.0.0')", { type: /^application\/atom\+xml/ });
      await assertInert('/nuget/mallory/api/v2/$metadata', { type: /^application\/xml/ });
      await assertInert('/nuget/mallory/api/v2', { type: /^application\/atomsvc\+xml/ });
      const r = await assertInert('/nuget/mallory/api/v2/package/Evil.Tool/1.0.0', { type: /^application\/zip/ });
      assert.match(r.headers.get('content-disposition')!, /filename="Evil\.Tool\.1\.0\.0\.nupkg"/);
    });

    test('npm tarballs, RubyGems gems, OCI blobs are sandboxed downloads; packuments and manifests are JSON, sandboxed', async () => {
      assert.equal((await publish(s.url, token, '@mallory/page', '1.0.0')).status, 201);
      await assertInert('/npm/@mallory/page', { type: /json/, inline: true, headers: { authorization: `Bearer ${token}` } });
      await assertInert('/npm/@mallory/page/-/page-1.0.0.tgz', { type: /^application\/octet-stream/, headers: { authorization: `Bearer ${token}` } });

      const gem = await buildGem({ name: 'page', version: '1.0.0' });
      const pushed = await fetch(`${s.url}/rubygems/mallory/api/v1/gems`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', authorization: token }, body: new Uint8Array(gem) });
      assert.equal(pushed.status, 200, await pushed.text());
      await assertInert('/rubygems/mallory/gems/page-1.0.0.gem', { headers: { authorization: token } });

      const auth = basic('mallory', token);
      const layer = blob(Buffer.from('<html><script>alert(1)</script></html>'));
      const image = await pushImage(s.url, 'mallory/page', 'latest', imageManifest({ layers: [layer] }), auth);
      await assertInert(`/v2/mallory/page/blobs/${layer.digest}`, { type: /^application\/octet-stream/, headers: { authorization: auth } });
      await assertInert('/v2/mallory/page/manifests/latest', { type: /^application\/vnd\.oci\.image\.manifest\.v1\+json$/, inline: true, headers: { authorization: auth, accept: image.mediaType } });
    });

    test('errors, the REST API and health are sandboxed; an XML error is a download', async () => {
      await assertInert(`${MAVEN_BASE}/tool-1.0-missing.jar`, { status: 404, inline: true });
      await assertInert('/api/v1/user', { status: 401, type: /json/, inline: true });
      await assertInert('/healthz', { type: /json/, inline: true });
      // OData errors quote what the client asked for.
      const r = await assertInert("/nuget/mallory/api/v2/Packages(Id='%3Cscript%3E',Version='1.0.0')", { status: 404, type: /^application\/xml/ });
      assert.equal(r.headers.get('content-security-policy'), SANDBOX);
    });

    test('web pages keep their own policy (scripts from self), are shown, not downloaded, and have nosniff', async () => {
      const r = await get('/-/login');
      await r.text();
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.doesNotMatch(r.headers.get('content-security-policy') ?? '', /sandbox/);
      assert.equal(r.headers.get('content-disposition'), null);
    });
  });
}
