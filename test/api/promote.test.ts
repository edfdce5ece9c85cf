// Promotion to another owner of the same Wharf (core/promote.ts), over the REST API and the CLI: the copy serves
// the same bytes to its clients, the source version records where it went (REST, webhook `promoted`, audit), and
// every refusal (no admin, no right on the target owner, a name inside the content, a target that refuses, an
// address promotions may not reach) leaves nothing recorded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, cosignSignature, multiPlatform, pushImage, pushIndex } from '../helpers/oci.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

const sha512 = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

for (const dialect of dialects()) {
  describe(`promotion to another owner on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    let mallory: string;
    const hooks: any[] = [];
    let receiver: http.Server;
    const api = (token: string, path: string, init: RequestInit = {}) =>
      fetch(`${s.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const versionId = async (owner: string, type: string, name: string, version: string) => {
      const r = await api(alice, `/users/${owner}/packages/${type}/${encodeURIComponent(name)}/versions`);
      return ((await r.json()) as { id: number; name: string }[]).find((v) => v.name === version)!.id;
    };
    const promotions = (type: string, name: string, id: number) => `/users/alice/packages/${type}/${encodeURIComponent(name)}/versions/${id}/promotions`;

    before(async () => {
      receiver = http.createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        hooks.push(JSON.parse(body));
        res.end('ok');
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
      s = await startWharf({ dialect, env: { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
      alice = await s.userWithToken('alice', EVERY_SCOPE);
      bob = await s.userWithToken('bob', EVERY_SCOPE);
      mallory = await s.userWithToken('mallory', EVERY_SCOPE);
      await s.core.identity.createOrg(systemActor, 'acme', 'alice');
      const hook = await api(alice, '/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, content_type: 'json' }, events: ['package'] }) });
      assert.equal(hook.status, 201, await hook.clone().text());
      assert.equal((await publish(s.url, alice, '@alice/hello', '1.0.0')).status, 201);
      const pkg = (await s.core.packages.find('alice', 'npm', 'hello'))!;
      await s.core.publisher.grant(pkg.id, { userId: (await s.core.identity.requireUser('bob')).id }, 'write', systemActor);
    });
    after(async () => {
      await s.stop();
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    });

    test('npm: POST …/promotions {to_owner} → 201; @acme/hello installs the same tarball bytes', async () => {
      const id = await versionId('alice', 'npm', 'hello', '1.0.0');
      const r = await api(alice, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify({ to_owner: 'acme' }) });
      assert.equal(r.status, 201, await r.clone().text());
      const body = (await r.json()) as { target: string; checked: { file: string; digest: string }[]; promoted_by: string };
      assert.equal(body.target, 'acme/hello');
      assert.equal(body.promoted_by, 'alice');
      assert.equal(body.checked.length, 1);

      const src = (await (await fetch(`${s.url}/npm/@alice%2fhello`, { headers: { authorization: `Bearer ${alice}` } })).json()) as any;
      const dst = (await (await fetch(`${s.url}/npm/@acme%2fhello`, { headers: { authorization: `Bearer ${alice}` } })).json()) as any;
      assert.equal(dst.name, '@acme/hello');
      assert.equal(dst['dist-tags'].latest, '1.0.0');
      assert.equal(dst.versions['1.0.0'].dist.integrity, src.versions['1.0.0'].dist.integrity);
      const a = Buffer.from(await (await fetch(src.versions['1.0.0'].dist.tarball, { headers: { authorization: `Bearer ${alice}` } })).arrayBuffer());
      const tar = await fetch(dst.versions['1.0.0'].dist.tarball, { headers: { authorization: `Bearer ${alice}` } });
      assert.equal(tar.status, 200);
      const b = Buffer.from(await tar.arrayBuffer());
      assert.ok(a.equals(b), 'the promoted tarball is byte for byte the source');
      assert.equal(sha512(b), src.versions['1.0.0'].dist.integrity);

      // Recorded on the source version: REST detail, the promotions list, the webhook and the audit log.
      const detail = (await (await api(alice, `/users/alice/packages/npm/hello/versions/${id}`)).json()) as { promotions: { target: string }[] };
      assert.deepEqual(detail.promotions.map((p) => p.target), ['acme/hello']);
      const list = (await (await api(alice, promotions('npm', 'hello', id))).json()) as unknown[];
      assert.equal(list.length, 1);
      const deadline = Date.now() + 8000;
      while (!hooks.some((h) => h.action === 'promoted') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const promoted = hooks.find((h) => h.action === 'promoted');
      assert.ok(promoted, 'a promoted webhook was delivered');
      assert.equal(promoted.package.name, 'hello');
      assert.equal(promoted.package.package_version.version, '1.0.0');
      assert.deepEqual(promoted.package.package_version.promoted_to, { target: 'acme/hello', url: null });
      const audit = await s.core.db.selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'package_version.promote').execute();
      assert.equal(audit.length, 1);
      assert.equal(JSON.parse(audit[0].details).to, 'acme/hello');
    });

    test('the same version promoted there again → 409, and no second promotion is recorded', async () => {
      const id = await versionId('alice', 'npm', 'hello', '1.0.0');
      const r = await api(alice, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify({ to_owner: 'acme' }) });
      assert.equal(r.status, 409);
      assert.equal(((await (await api(alice, promotions('npm', 'hello', id))).json()) as unknown[]).length, 1);
    });

    test('refusals: a writer without admin → 403, a stranger → 404, admin without rights on the target owner → 403', async () => {
      assert.equal((await publish(s.url, alice, '@alice/hello', '1.1.0')).status, 201);
      const id = await versionId('alice', 'npm', 'hello', '1.1.0');
      const post = (token: string, body: unknown) => api(token, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify(body) });
      assert.equal((await post(bob, { to_owner: 'acme' })).status, 403);
      assert.equal((await post(mallory, { to_owner: 'acme' })).status, 404);
      // bob becomes admin of the package, but is no member of acme: he may not create packages there.
      const pkg = (await s.core.packages.find('alice', 'npm', 'hello'))!;
      await s.core.publisher.grant(pkg.id, { userId: (await s.core.identity.requireUser('bob')).id }, 'admin', systemActor);
      assert.equal((await post(bob, { to_owner: 'acme', name: 'other' })).status, 403);
      assert.equal(await s.core.packages.find('acme', 'npm', 'other'), undefined);
      // Promoting to one's own namespace is fine for him.
      const mine = await post(bob, { to_owner: 'bob', name: 'hello-copy' });
      assert.equal(mine.status, 201, await mine.clone().text());
      const dst = (await (await fetch(`${s.url}/npm/@bob%2fhello-copy`, { headers: { authorization: `Bearer ${bob}` } })).json()) as any;
      assert.equal(dst.versions['1.1.0'].name, '@bob/hello-copy');
      assert.equal(((await (await api(alice, promotions('npm', 'hello', id))).json()) as unknown[]).length, 1);
    });

    test('a new name meets the format\'s rules; an org\'s package promotes over /orgs/…; a hidden package there is refused as a new one', async () => {
      assert.equal((await publish(s.url, alice, '@alice/hello', '1.3.0')).status, 201);
      const id = await versionId('alice', 'npm', 'hello', '1.3.0');
      const post = (token: string, body: unknown, path = promotions('npm', 'hello', id)) => api(token, path, { method: 'POST', body: JSON.stringify(body) });
      for (const name of ['esc\u001b]0;pwned\u0007', '../../etc', 'UPPER', 'a b<script>', '']) {
        const r = await post(alice, { to_owner: 'acme', name });
        assert.equal(r.status, 400, `${JSON.stringify(name)}: ${await r.clone().text()}`);
      }
      assert.equal((await s.core.db.selectFrom('packages').select('name').where('name', 'like', '%pwned%').execute()).length, 0);
      // An organization's package: its promotions route (it was a 404 for every org).
      const r = await post(alice, { to_owner: 'acme', name: 'org-src' });
      assert.equal(r.status, 201, await r.clone().text());
      const orgId = ((await (await api(alice, '/orgs/acme/packages/npm/org-src/versions')).json()) as { id: number }[])[0].id;
      const fromOrg = await post(alice, { to_owner: 'alice', name: 'back' }, `/orgs/acme/packages/npm/org-src/versions/${orgId}/promotions`);
      assert.equal(fromOrg.status, 201, await fromOrg.clone().text());
      assert.equal((await api(alice, `/orgs/acme/packages/npm/org-src/versions/${orgId}/promotions`)).status, 200);
      // mallory promotes her own package into alice's namespace: the hidden `hello` and a missing name answer alike.
      assert.equal((await publish(s.url, mallory, '@mallory/mine', '1.0.0')).status, 201);
      const mid = ((await (await api(mallory, '/users/mallory/packages/npm/mine/versions')).json()) as { id: number }[])[0].id;
      const into = (name: string) => api(mallory, `/users/mallory/packages/npm/mine/versions/${mid}/promotions`, { method: 'POST', body: JSON.stringify({ to_owner: 'alice', name }) });
      const hidden = await into('hello');
      const missing = await into('nothere');
      assert.equal(hidden.status, 403);
      assert.equal(missing.status, 403);
      assert.equal(await hidden.text(), await missing.text());
    });

    test('a target registry that refuses → 502 with its answer, nothing recorded; an address not allowed → 400', async () => {
      const refusing = http.createServer((_req, res) => {
        res.statusCode = 403;
        res.end('{"error":"you shall not publish"}');
      });
      await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', () => r()));
      try {
        const id = await versionId('alice', 'npm', 'hello', '1.1.0');
        const r = await api(alice, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify({ to: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/`, token: 't' }) });
        assert.equal(r.status, 502);
        assert.match(((await r.json()) as { message: string }).message, /refused.*403.*you shall not publish/);
        const meta = await api(alice, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify({ to: 'http://169.254.169.254/', token: 't' }) });
        assert.equal(meta.status, 400);
        const rows = (await (await api(alice, promotions('npm', 'hello', id))).json()) as { target: string }[];
        assert.deepEqual(rows.map((p) => p.target), ['bob/hello-copy']);
      } finally {
        refusing.closeAllConnections();
        await new Promise((r) => refusing.close(r));
      }
    });

    test('a target whose answers never end: its refusal and its packument are read only so far (502), nothing recorded', async () => {
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const endless = http.createServer((req, res) => {
        // The publish is taken; the packument shown after it, and a refusal's body, never end.
        if (req.method === 'PUT') return void req.resume().on('end', () => res.end('{"ok":true}'));
        res.writeHead(req.url?.includes('refuse') ? 403 : 200, { 'content-type': 'application/json' });
        const pump = () => {
          while (!res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });
      await new Promise<void>((r) => endless.listen(0, '127.0.0.1', () => r()));
      try {
        const id = await versionId('alice', 'npm', 'hello', '1.1.0');
        const before = ((await (await api(alice, promotions('npm', 'hello', id))).json()) as unknown[]).length;
        const port = (endless.address() as AddressInfo).port;
        const r = await api(alice, promotions('npm', 'hello', id), { method: 'POST', body: JSON.stringify({ to: `http://127.0.0.1:${port}/`, token: 't' }) });
        assert.equal(r.status, 502);
        assert.match(((await r.json()) as { message: string }).message, /larger than/);
        assert.ok(sent < 256 * 1024 * 1024, `the target wrote ${sent} bytes`);
        const after = ((await (await api(alice, promotions('npm', 'hello', id))).json()) as unknown[]).length;
        assert.equal(after, before, 'nothing recorded');
      } finally {
        endless.closeAllConnections();
        await new Promise((r) => endless.close(r));
      }
    });

    test('container: an index with its platforms and its cosign signature travels whole; the same digests there', async () => {
      const auth = basic('alice', alice);
      const image = multiPlatform();
      await pushIndex(s.url, 'alice/app', '1.0', image, auth);
      const sig = cosignSignature(`127.0.0.1/alice/app`, image.index.digest);
      await pushImage(s.url, 'alice/app', `${image.index.digest.replace(':', '-')}.sig`, sig, auth);
      // Promoted by tag from the CLI (the operator), under a new name.
      const out = await s.cli(['promote', 'docker', 'alice/app@1.0', '--to-owner', 'acme', '--name', 'app-release']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /promoted container alice\/app@sha256:[a-f0-9]+ to acme\/app-release/);
      for (const ref of ['1.0', image.index.digest, image.amd64.digest, image.arm64.digest, `${image.index.digest.replace(':', '-')}.sig`]) {
        const r = await fetch(`${s.url}/v2/acme/app-release/manifests/${ref}`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(r.status, 200, `${ref}: ${r.status}`);
        await r.arrayBuffer();
      }
      const tagged = await fetch(`${s.url}/v2/acme/app-release/manifests/1.0`, { method: 'HEAD', headers: { authorization: auth, accept: 'application/vnd.oci.image.index.v1+json' } });
      assert.equal(tagged.headers.get('docker-content-digest'), image.index.digest);
      const layer = image.amd64.blobs.at(-1)!;
      const b = await fetch(`${s.url}/v2/acme/app-release/blobs/${layer.digest}`, { headers: { authorization: auth } });
      assert.ok(Buffer.from(await b.arrayBuffer()).equals(layer.bytes));
    });

    test('maven and rubygems to another owner: the same files served there; --name for a maven artifact → 400', async () => {
      const auth = { authorization: basic('alice', alice) };
      await s.core.identity.createRepo(systemActor, 'alice', 'libs', 'private');
      const jar = Buffer.from('a jar, byte for byte');
      assert.equal((await fetch(`${s.url}/maven/alice/libs/com/example/lib/1.0/lib-1.0.jar`, { method: 'PUT', headers: auth, body: new Uint8Array(jar) })).status, 201);
      const gem = await buildGem({ name: 'moved', version: '1.0.0' });
      assert.equal((await fetch(`${s.url}/rubygems/alice/api/v1/gems`, { method: 'POST', headers: { authorization: alice }, body: new Uint8Array(gem) })).status, 200);
      const renamed = await s.cli(['promote', 'maven', 'alice/com.example:lib@1.0', '--to-owner', 'acme', '--name', 'com.example:other']);
      assert.equal(renamed.code, 1);
      assert.match(renamed.stderr, /keeps its name/);
      assert.equal(await s.core.packages.find('acme', 'maven', 'com.example:other'), undefined);
      assert.equal((await s.cli(['promote', 'maven', 'alice/com.example:lib@1.0', '--to-owner', 'acme'])).code, 0);
      assert.equal((await s.cli(['promote', 'rubygems', 'alice/moved@1.0.0', '--to-owner', 'acme'])).code, 0);
      const j = await fetch(`${s.url}/maven/acme/com/example/lib/1.0/lib-1.0.jar`, { headers: auth });
      assert.equal(j.status, 200);
      assert.ok(Buffer.from(await j.arrayBuffer()).equals(jar));
      const g = await fetch(`${s.url}/rubygems/acme/gems/moved-1.0.0.gem`, { headers: auth });
      assert.equal(g.status, 200);
      assert.ok(Buffer.from(await g.arrayBuffer()).equals(gem));
    });

    test('maven to a bare file server: every file and its .sha1, then maven-metadata.xml with the version added to its own', async () => {
      const auth = { authorization: basic('alice', alice) };
      const jar = Buffer.from('the jar for a file server');
      assert.equal((await fetch(`${s.url}/maven/alice/libs/org/example/plain/2.0/plain-2.0.jar`, { method: 'PUT', headers: auth, body: new Uint8Array(jar) })).status, 201);
      // A plain HTTP file server, as a bare Maven repository is: PUT stores, GET serves; it already holds 1.0.
      const files = new Map<string, Buffer>();
      files.set('/repo/org/example/plain/maven-metadata.xml', Buffer.from('<?xml version="1.0"?><metadata><groupId>org.example</groupId><artifactId>plain</artifactId><versioning><release>1.0</release><versions><version>1.0</version></versions></versioning></metadata>'));
      const server = http.createServer(async (req, res) => {
        if (req.method === 'PUT') {
          const chunks: Buffer[] = [];
          for await (const c of req) chunks.push(c as Buffer);
          files.set(req.url!, Buffer.concat(chunks));
          res.statusCode = 201;
          return res.end();
        }
        const f = files.get(req.url!);
        res.statusCode = f ? 200 : 404;
        res.end(f ?? 'not found');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      try {
        const to = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo/`;
        const r = await s.cli(['promote', 'maven', 'alice/org.example:plain@2.0', '--to', to, '--token', 't']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(files.get('/repo/org/example/plain/2.0/plain-2.0.jar')!.equals(jar));
        assert.equal(files.get('/repo/org/example/plain/2.0/plain-2.0.jar.sha1')!.toString(), createHash('sha1').update(jar).digest('hex'));
        const xml = files.get('/repo/org/example/plain/maven-metadata.xml')!.toString();
        assert.match(xml, /<versions>\s*<version>1\.0<\/version>\s*<version>2\.0<\/version>\s*<\/versions>/, xml);
        assert.match(xml, /<release>2\.0<\/release>/);
        assert.equal(files.get('/repo/org/example/plain/maven-metadata.xml.sha1')!.toString(), createHash('sha1').update(xml).digest('hex'));
        assert.equal(files.get('/repo/org/example/plain/maven-metadata.xml.md5')!.toString(), createHash('md5').update(xml).digest('hex'));
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });

    test('CLI: a version already there → exit 1 with the reason; no @VERSION → usage error (exit 2)', async () => {
      const r = await s.cli(['promote', 'npm', '@alice/hello@1.0.0', '--to-owner', 'acme']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already exists/);
      const usage = await s.cli(['promote', 'npm', 'alice/hello', '--to-owner', 'acme']);
      assert.equal(usage.code, 2);
    });
  });
}
