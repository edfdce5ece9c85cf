// The Maven repository protocol over HTTP, with hostile inputs: deploy and resolve in the standard layout,
// maven-metadata.xml and checksums derived by Wharf, immutable releases, snapshot builds, access, on every dialect.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { mavenRoutes } from '../../src/formats/maven/routes.ts';
import { installAuthentication } from '../../src/http/actor.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const hex = (algo: string, b: Buffer | string) => createHash(algo).update(b).digest('hex');
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

export function pom(g: string, a: string, v: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${g}</groupId>
  <artifactId>${a}</artifactId>
  <version>${v}</version>
  <packaging>jar</packaging>
  <name>Hello</name>
  <description>says hello</description>
  <url>https://example.com/hello</url>
  <licenses><license><name>MIT</name><url>https://opensource.org/licenses/MIT</url></license></licenses>
  ${extra}
</project>
`;
}

for (const dialect of dialects()) {
  describe(`Maven repository over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string; // token
    let bob: string;
    let aliceAuth: string;
    let bobAuth: string;

    before(async () => {
      s = await startWharf({ dialect });
      alice = await s.userWithToken('alice', undefined, { password: 'alice-pw' });
      bob = await s.userWithToken('bob');
      aliceAuth = basic('alice', alice);
      bobAuth = basic('bob', bob);
      await s.core.identity.createRepo(systemActor, 'alice', 'lib', 'public');
      await s.core.identity.createRepo(systemActor, 'alice', 'secret', 'private');
      await s.core.identity.createRepo(systemActor, 'alice', 'other', 'public');
    });
    after(() => s.stop());

    const req = (method: string, p: string, auth?: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`${s.url}${p}`, { method, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body), headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
    const put = (p: string, body: string | Buffer, auth = aliceAuth, headers: Record<string, string> = {}) => req('PUT', p, auth, body, headers);
    const get = (p: string, auth?: string) => req('GET', p, auth);
    const text = async (p: string, auth?: string) => {
      const r = await get(p, auth);
      assert.equal(r.status, 200, `GET ${p} → ${r.status} ${await r.clone().text()}`);
      return r.text();
    };
    /** Deploys files as Maven does: each file, then its .sha1 and .md5. */
    async function deploy(base: string, files: Record<string, string | Buffer>, auth = aliceAuth) {
      for (const [name, body] of Object.entries(files)) {
        const b = Buffer.from(body);
        const r = await put(`${base}/${name}`, b, auth);
        assert.equal(r.status, 201, `PUT ${name} → ${r.status} ${await r.text()}`);
        for (const algo of ['sha1', 'md5']) assert.equal((await put(`${base}/${name}.${algo}`, hex(algo, b), auth)).status, 201);
      }
    }

    const REL = '/maven/alice/lib/com/example/hello/1.0';
    const jar = Buffer.from('PK\x03\x04 not really a jar, but bytes');

    test('PUT pom, jar and their checksums → 201; GET returns the bytes, HEAD the headers', async () => {
      await deploy(REL, { 'hello-1.0.pom': pom('com.example', 'hello', '1.0'), 'hello-1.0.jar': jar, 'hello-1.0-sources.jar': 'sources' });
      const r = await get(`${REL}/hello-1.0.jar`);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), jar);
      assert.equal(r.headers.get('x-checksum-sha1'), hex('sha1', jar));
      const h = await req('HEAD', `${REL}/hello-1.0.jar`);
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(jar.length));
      assert.equal(await h.text(), '');
      assert.match(await text(`${REL}/hello-1.0.pom`), /<artifactId>hello<\/artifactId>/);
    });

    test('checksums .md5 .sha1 .sha256 .sha512 are computed for every file', async () => {
      for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) {
        assert.equal(await text(`${REL}/hello-1.0.jar.${algo}`), hex(algo, jar));
      }
      const asc = '-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n';
      await deploy(REL, { 'hello-1.0.jar.asc': asc });
      assert.equal(await text(`${REL}/hello-1.0.jar.asc.sha256`), hex('sha256', asc));
    });

    test('artifact maven-metadata.xml is derived from the model; client metadata is checked and dropped', async () => {
      const clientDoc = '<?xml version="1.0"?><metadata><groupId>com.example</groupId><artifactId>hello</artifactId><versioning><versions><version>9.9</version></versions></versioning></metadata>';
      assert.equal((await put('/maven/alice/lib/com/example/hello/maven-metadata.xml', clientDoc)).status, 201);
      assert.equal((await put('/maven/alice/lib/com/example/hello/maven-metadata.xml.sha1', hex('sha1', clientDoc))).status, 201);
      const doc = await text('/maven/alice/lib/com/example/hello/maven-metadata.xml');
      assert.match(doc, /<latest>1\.0<\/latest>/);
      assert.match(doc, /<release>1\.0<\/release>/);
      assert.match(doc, /<versions>\s*<version>1\.0<\/version>\s*<\/versions>/);
      assert.match(doc, /<lastUpdated>\d{14}<\/lastUpdated>/);
      assert.doesNotMatch(doc, /9\.9/);
      assert.equal(await text('/maven/alice/lib/com/example/hello/maven-metadata.xml.sha1'), hex('sha1', doc));
      assert.equal(await text('/maven/alice/lib/com/example/hello/maven-metadata.xml.sha512'), hex('sha512', doc));
      // Metadata about another artifact, or with a DOCTYPE, is refused.
      const other = clientDoc.replace('<artifactId>hello', '<artifactId>evil');
      assert.equal((await put('/maven/alice/lib/com/example/hello/maven-metadata.xml', other)).status, 400);
      const xxe = '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><metadata><groupId>&x;</groupId></metadata>';
      assert.equal((await put('/maven/alice/lib/com/example/hello/maven-metadata.xml', xxe)).status, 400);
    });

    test('redeploying a release file → 409 with a clear message; a new version is fine', async () => {
      const r = await put(`${REL}/hello-1.0.jar`, 'other bytes');
      assert.equal(r.status, 409);
      assert.match(await r.text(), /release versions are immutable/);
      assert.deepEqual(Buffer.from(await (await get(`${REL}/hello-1.0.jar`)).arrayBuffer()), jar);
      await deploy('/maven/alice/lib/com/example/hello/1.1', { 'hello-1.1.pom': pom('com.example', 'hello', '1.1') });
      const doc = await text('/maven/alice/lib/com/example/hello/maven-metadata.xml');
      assert.match(doc, /<version>1\.0<\/version>\s*<version>1\.1<\/version>/);
      assert.match(doc, /<release>1\.1<\/release>/);
    });

    test('an uploaded checksum that does not match → 400, and the file is not kept', async () => {
      const base = '/maven/alice/lib/com/example/hello/2.0';
      assert.equal((await put(`${base}/hello-2.0.jar`, 'two')).status, 201);
      const r = await put(`${base}/hello-2.0.jar.sha1`, hex('sha1', 'something else'));
      assert.equal(r.status, 400);
      assert.match(await r.text(), /checksum mismatch/);
      assert.equal((await get(`${base}/hello-2.0.jar`)).status, 404);
      assert.doesNotMatch(await text('/maven/alice/lib/com/example/hello/maven-metadata.xml'), /2\.0/);
      // The same file with the right checksum can then be deployed.
      await deploy(base, { 'hello-2.0.jar': 'two' });
      assert.equal((await put(`${base}/hello-2.0.jar.sha256`, `${hex('sha256', 'two')}  hello-2.0.jar\n`)).status, 201);
      // Malformed checksums and checksums of files never uploaded are refused.
      assert.equal((await put(`${base}/hello-2.0.jar.sha1`, 'zz')).status, 400);
      assert.equal((await put(`${base}/hello-2.0-tests.jar.sha1`, hex('sha1', 'x'))).status, 400);
      // A checksum header on the PUT itself is checked too.
      const bad = await put(`${base}/hello-2.0-javadoc.jar`, 'docs', aliceAuth, { 'x-checksum-sha1': hex('sha1', 'nope') });
      assert.equal(bad.status, 400);
      assert.equal((await get(`${base}/hello-2.0-javadoc.jar`)).status, 404);
    });

    test('SNAPSHOT: timestamped builds, version-level metadata with the newest build number, redeploy allowed', async () => {
      const base = '/maven/alice/lib/com/example/hello/1.2-SNAPSHOT';
      assert.equal((await get(`${base}/maven-metadata.xml`, aliceAuth)).status, 404);
      await deploy(base, { 'hello-1.2-20261122.193812-1.pom': pom('com.example', 'hello', '1.2-SNAPSHOT'), 'hello-1.2-20261122.193812-1.jar': 'build one' });
      let doc = await text(`${base}/maven-metadata.xml`);
      assert.match(doc, /<timestamp>20261122\.193812<\/timestamp>\s*<buildNumber>1<\/buildNumber>/);
      await deploy(base, {
        'hello-1.2-20261122.200000-2.pom': pom('com.example', 'hello', '1.2-SNAPSHOT'),
        'hello-1.2-20261122.200000-2.jar': 'build two',
        'hello-1.2-20261122.200000-2-sources.jar': 'sources two',
      });
      doc = await text(`${base}/maven-metadata.xml`);
      assert.match(doc, /<version>1\.2-SNAPSHOT<\/version>/);
      assert.match(doc, /<buildNumber>2<\/buildNumber>/);
      assert.match(doc, /<extension>jar<\/extension>\s*<value>1\.2-20261122\.200000-2<\/value>\s*<updated>20261122200000<\/updated>/);
      assert.match(doc, /<classifier>sources<\/classifier>\s*<extension>jar<\/extension>\s*<value>1\.2-20261122\.200000-2<\/value>/);
      assert.equal(await text(`${base}/maven-metadata.xml.md5`), hex('md5', doc));
      // Snapshots may be redeployed.
      assert.equal((await put(`${base}/hello-1.2-20261122.200000-2.jar`, 'build two again')).status, 201);
      assert.equal(await text(`${base}/hello-1.2-20261122.200000-2.jar`), 'build two again');
      const art = await text('/maven/alice/lib/com/example/hello/maven-metadata.xml');
      assert.match(art, /<latest>1\.2-SNAPSHOT<\/latest>/);
      assert.match(art, /<release>2\.0<\/release>/);
      // Release versions have no version-level metadata.
      assert.equal((await get(`${REL}/maven-metadata.xml`)).status, 404);
    });

    test('POM must agree with its path; DOCTYPE and entities are refused; nothing is stored', async () => {
      const base = '/maven/alice/lib/com/example/hello/3.0';
      for (const body of [
        pom('com.example', 'hello', '3.1'),
        pom('com.evil', 'hello', '3.0'),
        pom('com.example', 'other', '3.0'),
        `<?xml version="1.0"?><!DOCTYPE project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><project><artifactId>&b;</artifactId></project>`,
        '<project><artifactId>hello</unclosed>',
        'not xml at all',
      ]) {
        const r = await put(`${base}/hello-3.0.pom`, body);
        assert.equal(r.status, 400, body);
      }
      assert.equal((await get(`${base}/hello-3.0.pom`)).status, 404);
      const big = pom('com.example', 'hello', '3.0', `<!-- ${'x'.repeat(3 * 1024 * 1024)} -->`);
      assert.equal((await put(`${base}/hello-3.0.pom`, big)).status, 413);
      // A parent's groupId and version count.
      const child = `<project><parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>3.0</version></parent><artifactId>hello</artifactId></project>`;
      assert.equal((await put(`${base}/hello-3.0.pom`, child)).status, 201);
    });

    test('hostile paths → 400 (traversal, escapes, empty segments, names that are not the artifact\'s)', async () => {
      for (const p of [
        '/maven/alice/lib/com/example/hello/1.0/..%2F..%2Fx.jar',
        '/maven/alice/lib/com/example/hello/1.0/%2e%2e',
        '/maven/alice/lib/com//hello/1.0/hello-1.0.jar',
        '/maven/alice/lib/com/example/hello/1.0/other-1.0.jar',
        '/maven/alice/lib/com/example/hello/1.0/hello-1.1.jar',
        '/maven/alice/lib/com/exa$mple/hello/1.0/hello-1.0.jar',
        '/maven/alice/lib/com/example/hello/1.0/hello-1.0',
        '/maven/alice/lib/com/example/hello/1.0-SNAPSHOT/hello-1.0-2026.1-1.jar',
        '/maven/alice/lib/com/example/hello/.hidden/hello-.hidden.jar',
      ]) {
        const r = await put(p, 'x');
        assert.equal(r.status, 400, `PUT ${p} → ${r.status}`);
      }
      // Raw dot segments (not normalized by the client) are refused too.
      const raw = await new Promise<string>((resolve, reject) => {
        const c = net.connect(s.port, '127.0.0.1', () => c.end(`GET /maven/alice/lib/com/../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let out = '';
        c.on('data', (d) => (out += d));
        c.on('end', () => resolve(out));
        c.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 400/);
      assert.equal((await get('/maven/alice/lib/com/example/hello/1.0/hello-1.0.jar%00.pom')).status, 400);
    });

    test('public packages resolve anonymously; anonymous deploys get the Basic challenge', async () => {
      assert.equal((await get(`${REL}/hello-1.0.jar`)).status, 200);
      assert.equal((await get('/maven/alice/lib/com/example/hello/maven-metadata.xml')).status, 200);
      // Below a public repository's root, what is missing is a clean 404, so clients move on to their next repository.
      assert.equal((await get('/maven/alice/lib/org/junit/junit/4.13/junit-4.13.pom')).status, 404);
      const r = await put(`${REL}/hello-1.0-extra.jar`, 'x', '');
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      const wrong = await put(`${REL}/hello-1.0-extra.jar`, 'x', basic('alice', 'wrong-password'));
      assert.equal(wrong.status, 401);
    });

    test('private packages: anonymous → 401 challenge, other users → 404, the owner (token or password) → 200', async () => {
      const base = '/maven/alice/secret/com/example/private/1.0';
      await deploy(base, { 'private-1.0.pom': pom('com.example', 'private', '1.0'), 'private-1.0.jar': 'secret bytes' });
      const anon = await get(`${base}/private-1.0.jar`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      // A missing artifact looks the same to anonymous clients.
      const missing = await get('/maven/alice/secret/com/example/nothing/1.0/nothing-1.0.jar');
      assert.equal(missing.status, 401);
      assert.equal((await get(`${base}/private-1.0.jar`, bobAuth)).status, 404);
      assert.equal((await get('/maven/alice/secret/com/example/private/maven-metadata.xml', bobAuth)).status, 404);
      assert.equal(await text(`${base}/private-1.0.jar`, aliceAuth), 'secret bytes');
      assert.equal(await text(`${base}/private-1.0.jar`, basic('alice', 'alice-pw')), 'secret bytes');
      assert.equal(await text(`${base}/private-1.0.jar`, `Bearer ${alice}`), 'secret bytes');
      // bob may not deploy into alice's package, nor create packages under alice: the package he cannot see is
      // refused exactly as a new one in the same repository.
      const hidden = await put(`${base}/private-1.0-x.jar`, 'x', bobAuth);
      const fresh = await put('/maven/alice/secret/com/example/nothing/1.0/nothing-1.0.jar', 'x', bobAuth);
      assert.equal(hidden.status, fresh.status);
      assert.equal(await hidden.text(), await fresh.text());
      assert.equal(hidden.status, 404);
      assert.equal((await put('/maven/alice/lib/com/bob/thing/1.0/thing-1.0.jar', 'x', bobAuth)).status, 403);
      // Granting bob read on the repository lets him resolve.
      await s.core.identity.grantRepo(systemActor, 'alice/secret', 'bob', 'read');
      assert.equal(await text(`${base}/private-1.0.jar`, bobAuth), 'secret bytes');
      assert.equal((await put(`${base}/private-1.0-x.jar`, 'x', bobAuth)).status, 403);
      // A read-only token may not deploy.
      const ro = (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages' })).token;
      assert.equal((await put(`${base}/private-1.0-x.jar`, 'x', basic('alice', ro))).status, 403);
    });

    test('owner-wide root /maven/OWNER/ serves every package the actor may read; a repository root only its own', async () => {
      assert.equal(await text('/maven/alice/com/example/private/1.0/private-1.0.jar', aliceAuth), 'secret bytes');
      assert.equal((await get('/maven/alice/com/example/hello/1.0/hello-1.0.jar')).status, 200);
      assert.equal((await get('/maven/alice/com/example/private/1.0/private-1.0.jar')).status, 401);
      assert.match(await text('/maven/alice/com/example/hello/maven-metadata.xml'), /<version>1\.0<\/version>/);
      // alice/other is not hello's repository.
      assert.equal((await get('/maven/alice/other/com/example/hello/1.0/hello-1.0.jar', aliceAuth)).status, 404);
      const r = await put('/maven/alice/other/com/example/hello/4.0/hello-4.0.jar', 'x');
      assert.equal(r.status, 409);
      assert.match(await r.text(), /linked to alice\/lib/);
      // New packages are deployed below a repository root; the owner-wide root deploys only to existing ones.
      const typo = await put('/maven/alice/lbi/com/example/typo/1.0/typo-1.0.jar', 'x');
      assert.equal(typo.status, 404);
      assert.match(await typo.text(), /no repository named alice\/lbi/);
      assert.equal((await put('/maven/alice/com/example/hello/5.0/hello-5.0.jar', 'five')).status, 201);
      assert.equal(await text('/maven/alice/lib/com/example/hello/5.0/hello-5.0.jar'), 'five');
      // Unknown owners and repositories: clean 404s for signed-in users.
      assert.equal((await get('/maven/nobody/com/example/hello/1.0/hello-1.0.jar', aliceAuth)).status, 404);
    });

    test('the package: groupId:artifactId, linked to the repository of the URL, with the POM\'s facts', async () => {
      const pkg = await s.core.packages.find('alice', 'maven', 'com.example:hello');
      assert.ok(pkg);
      const repo = await s.core.identity.findRepo('alice', 'lib');
      assert.equal(pkg.repository_id, repo!.id);
      const r = await get(`/api/v1/users/alice/packages/maven/${encodeURIComponent('com.example:hello')}`, `Bearer ${alice}`);
      assert.equal(r.status, 200);
      const body = await r.json();
      assert.match(body.install.install, /<artifactId>hello<\/artifactId>/);
      assert.match(body.install.setup, /\/maven\/alice/);
    });

    test('a job token deploys packages linked to its repository, and nowhere else', async () => {
      const job = (await s.core.tokens.createJob(systemActor, 'alice/other')).token;
      const jobAuth = basic('x-access-token', job);
      assert.equal((await put('/maven/alice/other/com/example/ci/1.0/ci-1.0.jar', 'ci', jobAuth)).status, 201);
      assert.equal((await put('/maven/alice/lib/com/example/ci2/1.0/ci2-1.0.jar', 'ci', jobAuth)).status, 403);
      assert.equal((await put('/maven/alice/lib/com/example/hello/6.0/hello-6.0.jar', 'ci', jobAuth)).status, 403);
      const pkg = await s.core.packages.find('alice', 'maven', 'com.example:ci');
      assert.equal(pkg!.repository_id, (await s.core.identity.findRepo('alice', 'other'))!.id);
    });

    test('REST: a version carries the POM\'s name, description, URL and licenses', async () => {
      const api = `/api/v1/users/alice/packages/maven/${encodeURIComponent('com.example:hello')}`;
      const versions = (await (await get(`${api}/versions`, `Bearer ${alice}`)).json()) as { name: string; metadata: { maven?: Record<string, unknown> } }[];
      const v = versions.find((x) => x.name === '1.0')!;
      assert.equal(v.metadata.maven?.description, 'says hello');
      assert.equal(v.metadata.maven?.url, 'https://example.com/hello');
      assert.deepEqual(v.metadata.maven?.licenses, [{ name: 'MIT', url: 'https://opensource.org/licenses/MIT' }]);
    });

    test('current Gradle maven-publish: .module, .sha256 and .sha512 uploads', async () => {
      const base = '/maven/alice/lib/org/gradle/demo/lib/1.0';
      const module = JSON.stringify({ formatVersion: '1.1', component: { group: 'org.gradle.demo', module: 'lib', version: '1.0' } });
      const files = { 'lib-1.0.jar': 'gradle jar', 'lib-1.0.module': module, 'lib-1.0.pom': pom('org.gradle.demo', 'lib', '1.0') };
      for (const [name, body] of Object.entries(files)) {
        assert.equal((await put(`${base}/${name}`, body)).status, 201);
        for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) assert.equal((await put(`${base}/${name}.${algo}`, hex(algo, body))).status, 201, `${name}.${algo}`);
      }
      for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) {
        assert.equal((await put(`/maven/alice/lib/org/gradle/demo/lib/maven-metadata.xml.${algo}`, hex(algo, 'whatever'))).status, 201);
      }
      assert.equal(await text(`${base}/lib-1.0.module`), module);
      assert.equal(await text(`${base}/lib-1.0.module.sha512`), hex('sha512', module));
    });

    test('deleting a version (REST) removes it from maven-metadata.xml; restoring puts it back', async () => {
      const api = `/api/v1/users/alice/packages/maven/${encodeURIComponent('com.example:hello')}`;
      const versions = (await (await get(`${api}/versions`, `Bearer ${alice}`)).json()) as { id: number; name: string }[];
      const v11 = versions.find((v) => v.name === '1.1')!;
      assert.ok(v11);
      assert.equal((await req('DELETE', `${api}/versions/${v11.id}`, `Bearer ${alice}`)).status, 204);
      let doc = await text('/maven/alice/lib/com/example/hello/maven-metadata.xml');
      assert.doesNotMatch(doc, /<version>1\.1<\/version>/);
      assert.equal((await get('/maven/alice/lib/com/example/hello/1.1/hello-1.1.pom')).status, 404);
      assert.match((await put('/maven/alice/lib/com/example/hello/1.1/hello-1.1.jar', 'x')).status.toString(), /409/);
      assert.equal((await req('POST', `${api}/versions/${v11.id}/restore`, `Bearer ${alice}`)).status, 204);
      doc = await text('/maven/alice/lib/com/example/hello/maven-metadata.xml');
      assert.match(doc, /<version>1\.1<\/version>/);
    });

    test('snapshot builds beyond the configured number are pruned', async () => {
      // The same core behind a Maven context configured to keep 2 builds.
      const app = Fastify({ forceCloseConnections: true });
      installAuthentication(app, s.core);
      const core = { ...s.core, config: { ...s.core.config, mavenSnapshotKeep: 2 } };
      await app.register((scope) => mavenRoutes(scope, core), { prefix: '/maven' });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
      try {
        const base = '/maven/alice/lib/com/example/pruned/1.0-SNAPSHOT';
        for (let n = 1; n <= 4; n++) {
          const r = await fetch(`${url}${base}/pruned-1.0-20261122.10000${n}-${n}.jar`, { method: 'PUT', body: `build ${n}`, headers: { authorization: aliceAuth } });
          assert.equal(r.status, 201);
        }
        const doc = await (await fetch(`${url}${base}/maven-metadata.xml`)).text();
        assert.match(doc, /<buildNumber>4<\/buildNumber>/);
        const st = async (n: number) => (await fetch(`${url}${base}/pruned-1.0-20261122.10000${n}-${n}.jar`)).status;
        assert.deepEqual([await st(1), await st(2), await st(3), await st(4)], [404, 404, 200, 200]);
      } finally {
        await app.close();
      }
    });
  });
}
