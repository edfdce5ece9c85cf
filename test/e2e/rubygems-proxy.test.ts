// Wharf as a pull-through RubyGems proxy of a second Wharf (the upstream: gems pushed there with the real `gem
// push`, private, read with the proxy's credentials). A counting proxy sits between the two: it counts the
// upstream requests, can tamper with one .gem, and can play dead. The real gem and bundle install through
// /rubygems/PROXY/; the core behaviour (coalescing, checksums from info, private proxies) runs on both databases.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { CountingProxy } from '../helpers/counting-proxy.ts';
import { dialects } from '../helpers/databases.ts';
import { spawnWharf, startWharf, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { ok, userWithToken, wharf } from './helpers-npm.ts';
import { buildGem, GemClient, makeProject, type GemDef } from './helpers-rubygems.ts';

const T = { timeout: 200_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let upstream: ChildServer;
let token: string;
let publisher: GemClient;
const clients: GemClient[] = [];
const dirs: string[] = [];
const client = () => {
  const c = new GemClient();
  clients.push(c);
  return c;
};

/** Builds and pushes a gem to the upstream with the real gem. */
async function publish(d: GemDef): Promise<string> {
  const file = await buildGem(publisher, d);
  dirs.push(path.dirname(file));
  ok(await publisher.gem(['push', file, '--host', `${upstream.url}/rubygems/alice`], publisher.home, { GEM_HOST_API_KEY: token }), `gem push ${d.name} ${d.version} to the upstream`);
  return file;
}

before(async () => {
  upstream = await spawnWharf();
  token = await userWithToken(upstream, 'alice');
  publisher = client();
  // Not linked to a repository: private, so the proxies read them with their credentials.
  for (const d of [
    { name: 'greeter', version: '1.0.0' },
    { name: 'fancy', version: '0.1.0', deps: [['greeter', '~> 1.0']] as [string, string][] },
    { name: 'many', version: '1.0.0' },
    { name: 'tampered', version: '1.0.0' },
  ]) await publish(d);
});

after(async () => {
  await upstream?.stop();
  for (const c of clients) c.dispose();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('gem and bundle through a RubyGems proxy', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let counting: CountingProxy;
  let src: string;
  const install = (c: GemClient, args: string[]) => c.gem(['install', ...args, '--clear-sources', '--source', `${src}/`, '--no-document']);
  const project = (gemfile: string) => {
    const d = makeProject(gemfile);
    dirs.push(d);
    return d;
  };

  before(async () => {
    counting = new CountingProxy(upstream.url);
    await counting.start();
    server = await spawnWharf();
    await wharf(server, ['proxy', 'create', 'rubygems', '--format', 'rubygems', '--upstream', `${counting.origin}/rubygems/alice`, '--username', 'alice', '--password-stdin', '--ttl', '2', '--timeout', '5'], token);
    src = `${server.url}/rubygems/rubygems`;
  });

  after(async () => {
    await server?.stop();
    await counting?.stop();
  });

  test('gem install through the proxy: the gem and its dependency, verified against info', T, async () => {
    const c = client();
    ok(await install(c, ['fancy']), 'gem install fancy through the proxy');
    assert.equal((await c.required('greeter')).stdout, '1.0.0 ruby');
    assert.equal((await c.required('fancy')).stdout, '0.1.0 ruby');
    assert.equal(counting.count((u) => u.endsWith('/gems/greeter-1.0.0.gem')), 1);
    const api = await (await fetch(`${server.url}/api/v1/orgs/rubygems/packages/rubygems/fancy`)).json();
    assert.equal(api.version_count, 1, JSON.stringify(api));
  });

  test('bundle install through the proxy (compact index)', T, async () => {
    const proj = project(`source "${src}"\n\ngem "fancy"\n`);
    const r = ok(await client().bundle(['install'], proj), 'bundle install through the proxy');
    assert.match(r.output, /Bundle complete!/);
    const lock = fs.readFileSync(path.join(proj, 'Gemfile.lock'), 'utf8');
    assert.match(lock, /^ {4}greeter \(1\.0\.0\)$/m);
    assert.match(lock, /^ {4}fancy \(0\.1\.0\)$/m);
  });

  test('a version published upstream is visible after the TTL (info revalidated)', T, async () => {
    await publish({ name: 'greeter', version: '1.1.0' });
    await sleep(2500);
    const n = counting.seen.length;
    const c = client();
    ok(await install(c, ['greeter']), 'gem install greeter after the TTL');
    assert.equal((await c.required('greeter')).stdout, '1.1.0 ruby');
    assert.ok(counting.seen.slice(n).some((s) => s.url.endsWith('/info/greeter') && s.conditional), JSON.stringify(counting.seen.slice(n)));
  });

  test('with the upstream stopped, what was fetched still installs (stale documents served)', T, async () => {
    counting.down = true;
    try {
      await sleep(2500);
      const c = client();
      ok(await install(c, ['fancy']), 'gem install fancy with the upstream down');
      assert.equal((await c.required('greeter')).stdout, '1.1.0 ruby');
      const proj = project(`source "${src}"\n\ngem "fancy"\n`);
      ok(await client().bundle(['install'], proj), 'bundle install with the upstream down');
      assert.match(server.output(), /serving a stale document/);
      const missing = await install(client(), ['many']);
      assert.notEqual(missing.code, 0, missing.output);
    } finally {
      counting.down = false;
    }
  });
});

for (const dialect of dialects()) {
  describe(`the RubyGems proxy's behaviour (${dialect})`, { timeout: 600_000 }, () => {
    let server: TestServer;
    let counting: CountingProxy;

    before(async () => {
      counting = new CountingProxy(upstream.url);
      await counting.start();
      server = await startWharf({ dialect });
      await server.core.proxies.create(systemActor, 'up', { format: 'rubygems', upstream: `${counting.origin}/rubygems/alice`, username: 'alice', password: token, ttlSeconds: 300, timeoutMs: 5000 });
      await server.core.proxies.create(systemActor, 'hidden', { format: 'rubygems', upstream: `${counting.origin}/rubygems/alice`, username: 'alice', password: token, visibility: 'private' });
    });

    after(async () => {
      await server?.stop();
      await counting?.stop();
    });

    test('64 concurrent misses for one .gem make one upstream request', T, async () => {
      const url = `${server.url}/rubygems/up/gems/many-1.0.0.gem`;
      const results = await Promise.all(Array.from({ length: 64 }, () => fetch(url).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(new Set(results.map((r) => r.body.toString('base64'))).size, 1);
      assert.equal(counting.count((u) => u.endsWith('/gems/many-1.0.0.gem')), 1, JSON.stringify(counting.seen));
      // The gemspec comes from the kept gem.
      assert.equal((await fetch(`${server.url}/rubygems/up/quick/Marshal.4.8/many-1.0.0.gemspec.rz`)).status, 200);
    });

    test('a .gem that does not match the checksum in info is refused (502) and not kept', T, async () => {
      counting.tamper.add('/rubygems/alice/gems/tampered-1.0.0.gem');
      const bad = await fetch(`${server.url}/rubygems/up/gems/tampered-1.0.0.gem`);
      assert.equal(bad.status, 502);
      // Refused while it is read (the archive no longer parses) or after (its SHA-256 is not the one in info).
      assert.match(await bad.text(), /checksum mismatch|could not be read/);
      const pkg = await server.core.packages.find('up', 'rubygems', 'tampered');
      assert.equal(pkg ? (await server.core.packages.versions(pkg.id)).length : 0, 0);
      counting.tamper.clear();
      assert.equal((await fetch(`${server.url}/rubygems/up/gems/tampered-1.0.0.gem`)).status, 200);
    });

    test('versions and info are the upstream\'s bytes, cached for the TTL, with ETag and Range', T, async () => {
      const up = await fetch(`${upstream.url}/rubygems/alice/info/greeter`, { headers: { authorization: `Basic ${Buffer.from(`alice:${token}`).toString('base64')}` } });
      const body = await up.text();
      const a = await fetch(`${server.url}/rubygems/up/info/greeter`);
      assert.equal(await a.text(), body);
      const etag = a.headers.get('etag')!;
      assert.equal((await fetch(`${server.url}/rubygems/up/info/greeter`, { headers: { 'if-none-match': etag } })).status, 304);
      assert.equal(counting.count((u) => u.endsWith('/info/greeter')), 1);
      const v = await fetch(`${server.url}/rubygems/up/versions`, { headers: { range: 'bytes=0-9' } });
      assert.equal(v.status, 206);
    });

    test('a private proxy: anonymous clients get 401 and nothing is asked upstream', T, async () => {
      const n = counting.seen.length;
      for (const p of ['versions', 'info/greeter', 'gems/greeter-1.0.0.gem', 'quick/Marshal.4.8/greeter-1.0.0.gemspec.rz']) {
        assert.equal((await fetch(`${server.url}/rubygems/hidden/${p}`)).status, 401, p);
      }
      assert.equal(counting.seen.length, n);
    });

    test('missing gems and hostile names: 4xx, never 500', T, async () => {
      for (const p of ['gems/nope-1.0.0.gem', 'gems/greeter-9.9.9.gem', 'gems/greeter.gem', 'info/..%2f..%2fetc', 'info/no-such-gem', 'gems/-1.gem', 'quick/Marshal.4.8/x.gemspec.rz']) {
        const r = await fetch(`${server.url}/rubygems/up/${p}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
      }
    });
  });
}
