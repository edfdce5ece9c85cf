// Promotion to a hostile target registry (fast-check, seeded, see property.ts): whatever the target answers to each
// request of a push (any status, any body, any headers a registry sends: Location, WWW-Authenticate,
// Docker-Content-Digest), for every format, the REST answer is a refusal Wharf explains (400, 502), never a 500,
// and never a recorded promotion. Redirects to an address promotions may not reach are refused before connecting.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildNupkg } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, pushImage, imageManifest } from '../helpers/oci.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';
import { params } from './property.ts';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 201, 202, 204, 301, 302, 307, 400, 401, 403, 404, 409, 500, 503),
  body: fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.constantFrom('{"versions":{"1.0.0":{"dist":{"tarball":"http://169.254.169.254/x","integrity":"sha512-AAAA"}}}}', '{"resources":[{"@id":"http://127.0.0.1:1/p","@type":"PackagePublish/2.0.0"}]}', '{"token":"t"}', ''),
  ),
  headers: fc.dictionary(
    fc.constantFrom('location', 'www-authenticate', 'docker-content-digest', 'content-type'),
    fc.constantFrom('http://169.254.169.254/latest/meta-data', '/elsewhere', 'Bearer realm="http://127.0.0.2/token",service="x"', 'Basic realm="r"', 'sha256:' + '0'.repeat(64), 'application/json', '%%%', ''),
  ),
});

describe('promotion to a hostile target', () => {
  let s: TestServer;
  let token: string;
  let target: http.Server;
  let script: Answer[] = [];
  let served = 0;
  const ids: Record<string, number> = {};

  before(async () => {
    s = await startWharf({ env: { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
    token = await s.userWithToken('alice', EVERY_SCOPE);
    await s.core.identity.createRepo(systemActor, 'alice', 'libs', 'private');
    assert.equal((await publish(s.url, token, '@alice/hello', '1.0.0')).status, 201);
    await pushImage(s.url, 'alice/app', '1.0', imageManifest({}), basic('alice', token));
    assert.equal((await fetch(`${s.url}/maven/alice/libs/com/example/lib/1.0/lib-1.0.jar`, { method: 'PUT', headers: { authorization: basic('alice', token) }, body: 'jar' })).status, 201);
    const gem = await buildGem({ name: 'hostile', version: '1.0.0' });
    assert.equal((await fetch(`${s.url}/rubygems/alice/api/v1/gems`, { method: 'POST', headers: { authorization: token }, body: new Uint8Array(gem) })).status, 200);
    const nupkg = buildNupkg({ id: 'Hostile', version: '1.0.0' });
    const b = 'xx';
    const n = await fetch(`${s.url}/nuget/alice/api/v2/package/`, {
      method: 'PUT', headers: { 'x-nuget-apikey': token, 'content-type': `multipart/form-data; boundary="${b}"` },
      body: new Uint8Array(Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="package"; filename="package"\r\n\r\n`), nupkg, Buffer.from(`\r\n--${b}--\r\n`)])),
    });
    assert.ok(n.status < 300);
    for (const [type, name, version] of [['npm', 'hello', '1.0.0'], ['maven', 'com.example:lib', '1.0'], ['rubygems', 'hostile', '1.0.0'], ['nuget', 'Hostile', '1.0.0']]) {
      const pkg = (await s.core.packages.find('alice', type, name))!;
      ids[type] = (await s.core.packages.version(pkg.id, version))!.id;
    }
    const app = (await s.core.packages.find('alice', 'container', 'app'))!;
    ids.container = (await s.core.promotions.resolve(app, '1.0')).id;

    target = http.createServer(async (req, res) => {
      for await (const _ of req);
      const a = script[served++ % Math.max(1, script.length)] ?? { status: 404, body: '', headers: {} };
      res.writeHead(a.status, a.headers);
      res.end(a.status === 204 || req.method === 'HEAD' ? undefined : a.body);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    await s.stop();
    target.closeAllConnections();
    await new Promise((r) => target.close(r));
  });

  const names: Record<string, string> = { npm: 'hello', container: 'app', maven: encodeURIComponent('com.example:lib'), rubygems: 'hostile', nuget: 'Hostile' };

  test('any answers, every format → 400 or 502 (never 500), nothing recorded', async (t) => {
    const origin = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('npm', 'container', 'maven', 'rubygems', 'nuget'), fc.array(answer, { minLength: 1, maxLength: 8 }), async (type, answers) => {
        script = answers;
        served = 0;
        const r = await fetch(`${s.url}/api/v1/users/alice/packages/${type}/${names[type]}/versions/${ids[type]}/promotions`, {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ to: `${origin}/`, username: 'u', password: 'p' }),
        });
        const body = await r.text();
        assert.ok(r.status === 400 || r.status === 502, `${type} → ${r.status}: ${body.slice(0, 300)}`);
      }),
      params(t, 60),
    );
    for (const id of Object.values(ids)) assert.equal((await s.core.promotions.list(id)).length, 0);
  });

  test('a URL the target names (an upload Location) at 169.254.169.254 → 400 before connecting there', async () => {
    const origin = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    script = [{ status: 200, body: '', headers: {} }, { status: 404, body: '', headers: {} }, { status: 202, body: '', headers: { location: 'http://169.254.169.254/upload' } }];
    served = 0;
    const r = await fetch(`${s.url}/api/v1/users/alice/packages/container/app/versions/${ids.container}/promotions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: origin }),
    });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, /169\.254\.169\.254 is a loopback, private, link-local/);
  });

  test('a GET redirected to 169.254.169.254 → 400 before connecting there', async () => {
    const origin = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    script = [{ status: 201, body: '{}', headers: {} }, { status: 302, body: '', headers: { location: 'http://169.254.169.254/latest/meta-data' } }];
    served = 0;
    const r = await fetch(`${s.url}/api/v1/users/alice/packages/npm/hello/versions/${ids.npm}/promotions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: origin, token: 't' }),
    });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { message: string }).message, /169\.254\.169\.254 is a loopback, private, link-local/);
  });
});
