// What a proxy keeps is its upstream's, byte for byte, under the upstream's own names:
// - upstream names are case-sensitive (npm's old mixed-case packages, Maven coordinates, gems), while Wharf holds
//   one package per name whatever its case: two upstream packages whose names differ only in case never share a
//   kept package (the second is refused, 409), and nobody gets one's bytes under the other's name;
// - nobody publishes into a proxy's organization, site admins included: a version published there would be
//   served in place of the upstream's.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { publish } from '../helpers/npm-body.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

const sha = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');

/** An npm and Maven upstream holding `Padder` and `padder`, `com.Example:lib` and `com.example:lib`, each with its own bytes. */
class CaseUpstream {
  private server!: http.Server;
  origin = '';
  readonly files = new Map<string, Buffer>();

  async start() {
    this.server = http.createServer((req, res) => {
      const path = decodeURIComponent(req.url!.split('?')[0]);
      const body = this.files.get(path) ?? this.packument(path.slice(1));
      if (!body) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    for (const name of ['Padder', 'padder']) this.files.set(`/${name}/-/${name}-1.0.0.tgz`, Buffer.from(`the tarball of ${name}`));
    for (const group of ['Example', 'example']) {
      const jar = Buffer.from(`the jar of com.${group}:lib`);
      this.files.set(`/maven/com/${group}/lib/1.0/lib-1.0.jar`, jar);
      this.files.set(`/maven/com/${group}/lib/1.0/lib-1.0.jar.sha1`, Buffer.from(sha('sha1', jar)));
    }
  }

  private packument(name: string): Buffer | undefined {
    const tgz = this.files.get(`/${name}/-/${name}-1.0.0.tgz`);
    if (!tgz) return undefined;
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    return Buffer.from(JSON.stringify({
      name, 'dist-tags': { latest: '1.0.0' },
      versions: { '1.0.0': { name, version: '1.0.0', dist: { tarball: `${this.origin}/${name}/-/${name}-1.0.0.tgz`, integrity, shasum: sha('sha1', tgz) } } },
    }));
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('proxies keep upstream names exactly', () => {
  let server: TestServer;
  const upstream = new CaseUpstream();

  before(async () => {
    await upstream.start();
    server = await startWharf({ env: { WHARF_NPM_PREFETCH: 'off' } });
    await server.core.proxies.create(systemActor, 'npmup', { format: 'npm', upstream: upstream.origin, visibility: 'public' });
    await server.core.proxies.create(systemActor, 'mvn', { format: 'maven', upstream: `${upstream.origin}/maven`, visibility: 'public' });
  });
  after(async () => {
    await server?.stop();
    await upstream.stop();
  });

  const get = async (path: string) => {
    const r = await fetch(`${server.url}${path}`);
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };

  test('npm: Padder is kept; padder, which differs only in case, is refused, never served Padder\'s tarball', async () => {
    const first = await get('/npm/npmup/Padder/-/Padder-1.0.0.tgz');
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), 'the tarball of Padder');
    for (const path of ['/npm/npmup/padder/-/padder-1.0.0.tgz', '/npm/npmup/padder']) {
      const r = await get(path);
      assert.equal(r.status, 409, `${path}: ${r.body.toString().slice(0, 200)}`);
      assert.match(r.body.toString(), /differs from padder only in case/);
      assert.ok(!r.body.toString().includes('the tarball of Padder'));
    }
    // Padder itself is still served, from what was kept.
    assert.equal((await get('/npm/npmup/Padder/-/Padder-1.0.0.tgz')).body.toString(), 'the tarball of Padder');
  });

  test('nobody publishes into a proxy\'s organization, a site admin neither; the proxy keeps what it fetches', async () => {
    const admin = await server.userWithToken('root', EVERY_SCOPE, { admin: true });
    for (const name of ['@npmup/padder', '@npmup/fresh']) {
      const r = await publish(server.url, admin, name, '9.9.9');
      assert.equal(r.status, 403, `${name}: ${await r.text()}`);
    }
    const jar = await fetch(`${server.url}/maven/mvn/com/Example/lib/9.9/lib-9.9.jar`, { method: 'PUT', body: 'evil', headers: { authorization: `Bearer ${admin}` } });
    assert.ok([403, 404, 405].includes(jar.status), `maven deploy into a proxy: ${jar.status}`);
    const kept = (await server.core.packages.find('npmup', 'npm', 'Padder'))!;
    await assert.rejects(server.core.authz.authorize({ ...(await server.core.authn.fromAuthorization(`Bearer ${admin}`, {}))!, via: undefined } as never, 'write', kept), /pull-through proxy/);
    // The proxy itself still keeps what it fetches (the system actor), and an admin may still delete a cached version.
    assert.equal((await get('/npm/npmup/Padder/-/Padder-1.0.0.tgz')).body.toString(), 'the tarball of Padder');
    const versions = await (await fetch(`${server.url}/api/v1/orgs/npmup/packages/npm/Padder/versions`, { headers: { authorization: `Bearer ${admin}` } })).json();
    const del = await fetch(`${server.url}/api/v1/orgs/npmup/packages/npm/Padder/versions/${versions[0].id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(del.status, 204);
  });

  test('Maven: com.Example:lib is kept; com.example:lib is refused, and its checksum is never the other jar\'s', async () => {
    const jar = await get('/maven/mvn/com/Example/lib/1.0/lib-1.0.jar');
    assert.equal(jar.status, 200);
    assert.equal(jar.body.toString(), 'the jar of com.Example:lib');
    for (const path of ['/maven/mvn/com/example/lib/1.0/lib-1.0.jar', '/maven/mvn/com/example/lib/1.0/lib-1.0.jar.sha1']) {
      const r = await get(path);
      assert.equal(r.status, 409, `${path}: ${r.body.toString().slice(0, 200)}`);
      assert.notEqual(r.body.toString(), sha('sha1', Buffer.from('the jar of com.Example:lib')));
    }
  });
});
