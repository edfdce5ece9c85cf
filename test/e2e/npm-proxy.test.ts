// Wharf as a pull-through proxy of a real Verdaccio 6.8 (installed by the test into bench/.peers/verdaccio when
// missing, as the benchmark does; a failed install fails the test). A small counting proxy sits between Wharf and
// Verdaccio: it counts the upstream requests, can tamper with one tarball, and can play dead.
// Real clients (npm, yarn, pnpm) install through the default proxy at /npm/ and through /npm/PROXY/; the core
// behaviour (coalescing, integrity, TTL, stale serving, dependency confusion) runs on both databases.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CountingProxy, stampede } from '../helpers/counting-proxy.ts';
import { dialects } from '../helpers/databases.ts';
import { startVerdaccio, verdaccioUser, type Verdaccio } from '../helpers/verdaccio.ts';
import { spawnWharf, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { cleanEnv, Client, makePackage, makeProject, mainOf, ok, read, run, wharf } from './helpers-npm.ts';

const T = { timeout: 180_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The upstream proxy's `delayMs` holds back tarballs only. */
const tarballs = { isFile: (url: string) => url.endsWith('.tgz') };

/** An npm user on Verdaccio, publishing with the real npm. */
async function publisher(origin: string) {
  const home = tempDir('wharf-proxy-pub-');
  const name = `pub${randomBytes(3).toString('hex')}`;
  const token = await verdaccioUser(origin, name, 'secret-pass-1');
  const npmrc = path.join(home, '.npmrc');
  fs.writeFileSync(npmrc, `registry=${origin}/\n//${origin.slice(7)}/:_authToken=${token}\naudit=false\nfund=false\nupdate-notifier=false\n`);
  const env = { ...cleanEnv(), HOME: home, NPM_CONFIG_USERCONFIG: npmrc, NPM_CONFIG_CACHE: path.join(home, 'cache') };
  return {
    async publish(name: string, version: string, deps: Record<string, string> = {}) {
      const dir = makePackage({ name, version, extra: Object.keys(deps).length ? { dependencies: deps } : {} });
      ok(await run('npm', ['publish', '--registry', `${origin}/`], { cwd: dir, env }), `npm publish ${name}@${version} to verdaccio`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    dispose: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

let verdaccio: Verdaccio;
let pub: Awaited<ReturnType<typeof publisher>>;

before(async () => {
  verdaccio = await startVerdaccio('wharf-proxy-verdaccio-');
  pub = await publisher(verdaccio.origin);
  // An unscoped package with a dependency, a tarball to fetch 64 times at once, one to tamper with, a scope that
  // is a Wharf owner's, and a name an administrator blocks.
  await pub.publish('px-left', '1.0.0');
  await pub.publish('px-app', '1.0.0', { 'px-left': '^1.0.0' });
  await pub.publish('px-many', '1.0.0');
  await pub.publish('px-tampered', '1.0.0');
  await pub.publish('@alice/secret', '1.0.0');
  await pub.publish('@outside/free', '1.0.0');
  await pub.publish('internal-tool', '1.0.0');
  await pub.publish('px-early', '1.0.0');
  await pub.publish('px-early', '1.1.0');
  await pub.publish('px-unkept', '1.0.0');
  // A tree to fetch ahead: px-tree needs px-leaf1 (which needs px-leaf2), a package in a Wharf owner's scope and
  // a blocked name (neither may be asked upstream through the default proxy).
  await pub.publish('px-leaf2', '1.0.0');
  await pub.publish('px-leaf1', '1.0.0', { 'px-leaf2': '^1.0.0' });
  await pub.publish('px-blocked', '1.0.0');
  await pub.publish('px-tree', '1.0.0', { 'px-leaf1': '^1.0.0', '@alice/secret': '^1.0.0', 'px-blocked': '^1.0.0' });
});

after(async () => {
  pub?.dispose();
  await verdaccio?.stop();
});

describe('real clients through the npm proxy', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let upstream: CountingProxy;
  let client: Client; // registry = Wharf's /npm/ (the default proxy)
  const dirs: string[] = [];
  const dir = (d: string) => (dirs.push(d), d);
  const installed = (proj: string, name: string) => read(proj, 'node_modules', name, 'index.js');

  before(async () => {
    upstream = new CountingProxy(verdaccio.origin, tarballs);
    await upstream.start();
    server = await spawnWharf();
    await wharf(server, ['proxy', 'create', 'npmjs', '--format', 'npm', '--upstream', upstream.origin, '--ttl', '2', '--timeout', '5', '--default']);
    client = new Client(server, { scopes: [], extra: [`registry=${server.url}/npm/`] });
  });

  after(async () => {
    await server?.stop();
    await upstream?.stop();
    client?.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('npm install of an unscoped package with a dependency, into a fresh project', T, async () => {
    const proj = dir(makeProject());
    ok(await client.npm(['install', 'px-app'], proj), 'npm install px-app');
    assert.equal(installed(proj, 'px-app'), mainOf('px-app', '1.0.0'));
    assert.equal(installed(proj, 'px-left'), mainOf('px-left', '1.0.0'));
    const lock = JSON.parse(read(proj, 'package-lock.json'));
    assert.equal(lock.packages['node_modules/px-app'].resolved, `${server.url}/npm/npmjs/px-app/-/px-app-1.0.0.tgz`);
    assert.match(lock.packages['node_modules/px-left'].integrity, /^sha512-/);
  });

  test('the proxy registry /npm/NAME/ serves the same packages', T, async () => {
    const other = new Client(server, { scopes: [], extra: [`registry=${server.url}/npm/npmjs/`] });
    try {
      const proj = dir(makeProject());
      ok(await other.npm(['install', 'px-app'], proj), 'npm install px-app from /npm/npmjs/');
      assert.equal(installed(proj, 'px-left'), mainOf('px-left', '1.0.0'));
    } finally {
      other.dispose();
    }
  });

  test('yarn add through the proxy', T, async () => {
    const proj = dir(makeProject());
    ok(await client.yarn(['add', 'px-app', '--cache-folder', dir(tempDir('wharf-proxy-yarn-')), '--non-interactive', '--no-progress'], proj), 'yarn add px-app');
    assert.equal(installed(proj, 'px-app'), mainOf('px-app', '1.0.0'));
    assert.equal(installed(proj, 'px-left'), mainOf('px-left', '1.0.0'));
  });

  test('pnpm add through the proxy', T, async () => {
    const proj = dir(makeProject());
    ok(await client.pnpm(['add', 'px-app', '--store-dir', dir(tempDir('wharf-proxy-pnpm-')), '--config.confirmModulesPurge=false', '--reporter=append-only'], proj), 'pnpm add px-app');
    assert.equal(installed(proj, 'px-app'), mainOf('px-app', '1.0.0'));
    assert.match(read(proj, 'pnpm-lock.yaml'), /px-left@1\.0\.0/);
  });

  test('cached packages show in the REST API as the proxy organization\'s, with downloads counted', T, async () => {
    const r = await fetch(`${server.url}/api/v1/orgs/npmjs/packages/npm/px-app`);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.name, 'px-app');
    assert.equal(body.version_count, 1);
  });

  test('a new version published upstream is visible after the TTL', T, async () => {
    await pub.publish('px-app', '1.1.0', { 'px-left': '^1.0.0' });
    await sleep(2500);
    const before = upstream.seen.length;
    const r = ok(await client.npm(['view', 'px-app', 'versions', '--json', '--prefer-online'], client.home), 'npm view px-app versions');
    assert.deepEqual(JSON.parse(r.stdout), ['1.0.0', '1.1.0']);
    assert.ok(upstream.seen.slice(before).some((s) => s.url === '/px-app'), 'the packument was revalidated upstream');
    const proj = dir(makeProject());
    ok(await client.npm(['install', 'px-app'], proj), 'npm install px-app');
    assert.equal(installed(proj, 'px-app'), mainOf('px-app', '1.1.0'));
  });

  test('with the upstream stopped, what was fetched still installs (stale documents served)', T, async () => {
    await upstream.stop();
    await sleep(2500); // past the TTL: every document needs revalidation, which fails
    client.freshCache();
    const proj = dir(makeProject());
    ok(await client.npm(['install', 'px-app@1.0.0'], proj), 'npm install px-app@1.0.0 with the upstream down');
    assert.equal(installed(proj, 'px-left'), mainOf('px-left', '1.0.0'));
    const y = dir(makeProject());
    ok(await client.yarn(['add', 'px-app@1.0.0', '--cache-folder', dir(tempDir('wharf-proxy-yarn-')), '--non-interactive', '--no-progress'], y), 'yarn add with the upstream down');
    // Never fetched: nothing to serve.
    const missing = await client.npm(['view', 'px-many', 'version'], client.home);
    assert.notEqual(missing.code, 0, missing.output);
    assert.match(server.output(), /serving a stale document/);
  });

  // serve() once returned the reply, a thenable resolving to undefined: every proxied request then ran the
  // registry's own route too, which failed or answered a second time into the finished reply (and logged it).
  test('no proxied request ran the registry\'s own route too', () => {
    assert.doesNotMatch(server.output(), /reply\.sent = true|Reply was already sent/);
  });
});

for (const dialect of dialects()) {
  describe(`the npm proxy's behaviour (${dialect})`, { timeout: 600_000 }, () => {
    let server: TestServer;
    let upstream: CountingProxy;

    before(async () => {
      upstream = new CountingProxy(verdaccio.origin, tarballs);
      await upstream.start();
      server = await startWharf({ dialect });
      await server.userWithToken('alice');
      await server.core.proxies.create((await import('../../src/core/auth/actor.ts')).systemActor, 'up', { format: 'npm', upstream: upstream.origin, ttlSeconds: 300, timeoutMs: 5000, isDefault: true });
    });

    after(async () => {
      await server?.stop();
      await upstream?.stop();
    });

    test('64 concurrent misses for one tarball make one upstream request; clients that hang up do not abort it', T, async () => {
      assert.equal((await fetch(`${server.url}/npm/up/px-many`)).status, 200);
      const results = await stampede(upstream, `${server.url}/npm/up/px-many/-/px-many-1.0.0.tgz`);
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(new Set(results.map((r) => r.bytes.toString('base64'))).size, 1);
      assert.equal(upstream.count((u) => u.endsWith('.tgz')), 1, JSON.stringify(upstream.seen));
    });

    test('a cached package is an ordinary package: REST, downloads, search, the web page says where it came from', T, async () => {
      await server.core.flush();
      const api = await (await fetch(`${server.url}/api/v1/orgs/up/packages/npm/px-many`)).json();
      assert.equal(api.version_count, 1);
      assert.ok(api.download_count >= 64, JSON.stringify(api));
      const page = await (await fetch(`${server.url}/up/-/packages/npm/px-many`)).text();
      assert.match(page, new RegExp(`Proxied from <code>${upstream.origin}</code>`));
      const search = await (await fetch(`${server.url}/npm/-/v1/search?text=px-many`)).json();
      assert.ok(search.objects.length >= 1, JSON.stringify(search));
    });

    test('a cached package is named as upstream (px-many, not @up/px-many) in search and on its page', T, async () => {
      const search = await (await fetch(`${server.url}/npm/-/v1/search?text=px-many`)).json();
      assert.deepEqual(search.objects.map((o: { package: { name: string } }) => o.package.name), ['px-many']);
      const page = await (await fetch(`${server.url}/up/-/packages/npm/px-many`)).text();
      assert.doesNotMatch(page, /@up\/px-many/);
      assert.match(page, /npm install px-many/);
    });

    test('a cached version deleted in Wharf is not served, not listed, and not fetched again', T, async () => {
      const { systemActor } = await import('../../src/core/auth/actor.ts');
      const tgz = `${server.url}/npm/up/px-app/-/px-app-1.0.0.tgz`;
      const res = await fetch(tgz);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      // The client has the tarball once it is verified; the cache records it right after.
      await server.core.proxyCache.settle();
      const pkg = (await server.core.packages.find('up', 'npm', 'px-app'))!;
      const v = (await server.core.packages.version(pkg.id, '1.0.0'))!;
      await server.core.publisher.deleteVersion(pkg.id, v.id, systemActor);
      const n = upstream.count((u) => u.endsWith('px-app-1.0.0.tgz'));
      for (let i = 0; i < 3; i++) assert.equal((await fetch(tgz)).status, 404);
      assert.equal(upstream.count((u) => u.endsWith('px-app-1.0.0.tgz')), n, 'the upstream was not asked again');
      for (const accept of ['application/json', 'application/vnd.npm.install-v1+json']) {
        const doc = await (await fetch(`${server.url}/npm/up/px-app`, { headers: { accept } })).json();
        assert.deepEqual(Object.keys(doc.versions), ['1.1.0'], accept);
        assert.equal(doc['dist-tags'].latest, '1.1.0');
      }
    });

    test('clients get a checked packument and a verified tarball without waiting for the cache to keep them', T, async () => {
      const { core } = server;
      const blobs = core.blobs as unknown as Record<string, unknown>;
      const publisher = core.publisher as unknown as Record<string, unknown>;
      const [putBytes, createVersion] = [blobs.putBytes as (...a: unknown[]) => Promise<unknown>, publisher.createVersion as (...a: unknown[]) => Promise<unknown>];
      // Every write that keeps a copy waits until the clients have their answers.
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      blobs.putBytes = async (...a: unknown[]) => (await gate, putBytes(...a));
      publisher.createVersion = async (...a: unknown[]) => (await gate, createVersion.apply(core.publisher, a));
      const packuments = () => upstream.count((u) => u === '/px-early');
      try {
        const doc = await (await fetch(`${server.url}/npm/up/px-early`)).json();
        // 1.0.0, not the latest: the proxy fetches the latest's tarball ahead of the client on its own.
        const dist = doc.versions['1.0.0'].dist;
        const again = await fetch(`${server.url}/npm/up/px-early`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
        assert.equal(again.status, 200);
        assert.equal(packuments(), 1, 'the second request is served from the copy being kept');
        const tgz = await fetch(dist.tarball);
        assert.equal(tgz.status, 200);
        const bytes = Buffer.from(await tgz.arrayBuffer());
        assert.equal(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, dist.integrity);
        const pkg = await core.packages.find('up', 'npm', 'px-early');
        assert.equal(pkg ? (await core.packages.versions(pkg.id)).length : 0, 0, 'not recorded yet');
      } finally {
        delete blobs.putBytes;
        delete publisher.createVersion;
        open();
      }
      await core.proxyCache.settle();
      const pkg = (await core.packages.find('up', 'npm', 'px-early'))!;
      assert.deepEqual((await core.packages.versions(pkg.id)).map((v) => v.version).sort(), ['1.0.0', '1.1.0']);
      assert.ok(await core.db.selectFrom('proxy_documents').select('key').where('key', '=', 'px-early').executeTakeFirst(), 'the packument is kept');
      assert.equal(packuments(), 1);

      // A copy that could not be kept is not a failure for the client; the next request asks the upstream again.
      blobs.putBytes = async () => {
        throw new Error('disk full');
      };
      try {
        assert.equal((await fetch(`${server.url}/npm/up/px-unkept`)).status, 200);
        await core.proxyCache.settle();
      } finally {
        delete blobs.putBytes;
      }
      assert.equal(await core.db.selectFrom('proxy_documents').select('key').where('key', '=', 'px-unkept').executeTakeFirst(), undefined);
      assert.equal((await fetch(`${server.url}/npm/up/px-unkept`)).status, 200);
      assert.equal(upstream.count((u) => u === '/px-unkept'), 2);
    });

    test('a packument makes the proxy fetch ahead what the client asks next: the latest\'s dependencies and tarballs, never a Wharf scope or a blocked name', T, async () => {
      const { systemActor } = await import('../../src/core/auth/actor.ts');
      await server.core.proxies.block(systemActor, 'npm', 'px-blocked');
      await server.core.proxyCache.settle();
      const n = upstream.seen.length;
      const asked = () => upstream.seen.slice(n).map((r) => r.url).sort();
      assert.equal((await fetch(`${server.url}/npm/px-tree`)).status, 200);
      await server.core.proxyCache.settle();
      assert.deepEqual(asked(), [
        '/px-leaf1', '/px-leaf1/-/px-leaf1-1.0.0.tgz', '/px-leaf2', '/px-leaf2/-/px-leaf2-1.0.0.tgz', '/px-tree', '/px-tree/-/px-tree-1.0.0.tgz',
      ]);
      const leaf = await (await fetch(`${server.url}/npm/px-leaf1`)).json();
      const tgz = await fetch(leaf.versions['1.0.0'].dist.tarball);
      assert.equal(tgz.status, 200);
      await tgz.arrayBuffer();
      assert.equal(upstream.seen.length - n, 6, 'the client\'s requests were answered from the cache');
      const pkg = (await server.core.packages.find('up', 'npm', 'px-leaf2'))!;
      assert.deepEqual((await server.core.packages.versions(pkg.id)).map((v) => v.version), ['1.0.0']);
    });

    test('an integrity mismatch from the upstream is refused (502) and nothing is kept', T, async () => {
      upstream.tamper.add('/px-tampered/-/px-tampered-1.0.0.tgz');
      const bad = await fetch(`${server.url}/npm/px-tampered/-/px-tampered-1.0.0.tgz`.replace('/npm/', '/npm/up/'));
      assert.equal(bad.status, 502);
      assert.match((await bad.json()).error, /integrity mismatch/);
      const pkg = await server.core.packages.find('up', 'npm', 'px-tampered');
      assert.equal(pkg ? (await server.core.packages.versions(pkg.id)).length : 0, 0);
      upstream.tamper.clear();
      const good = await fetch(`${server.url}/npm/up/px-tampered/-/px-tampered-1.0.0.tgz`);
      assert.equal(good.status, 200);
    });

    test('a scope that is a Wharf owner never resolves upstream; other scopes and blocked names as configured', T, async () => {
      await server.core.proxyCache.settle();
      const n = upstream.seen.length;
      assert.equal((await fetch(`${server.url}/npm/@alice%2fsecret`)).status, 401);
      const token = (await server.core.tokens.createPersonal((await import('../../src/core/auth/actor.ts')).systemActor, 'alice', { scopes: 'read:packages' })).token;
      assert.equal((await fetch(`${server.url}/npm/@alice%2fsecret`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
      assert.equal(upstream.seen.slice(n).length, 0, 'nothing was asked upstream');
      assert.equal((await fetch(`${server.url}/npm/@outside%2ffree`)).status, 200);
      assert.equal((await fetch(`${server.url}/npm/internal-tool`)).status, 200);
      const { systemActor } = await import('../../src/core/auth/actor.ts');
      await server.core.proxies.block(systemActor, 'npm', 'internal-*');
      assert.equal((await fetch(`${server.url}/npm/internal-tool`)).status, 400); // Wharf's own answer: not a Wharf name
    });

    test('hostile paths and upstream answers are 4xx/502, never 500', T, async () => {
      for (const p of ['/npm/up/..%2f..%2fetc', '/npm/up/@x', '/npm/up/px-many/-/other-1.0.0.tgz', '/npm/up/px-many/-/px-many-9.9.9.tgz', '/npm/up/no-such-package-here']) {
        const r = await fetch(`${server.url}${p}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
      }
    });
  });
}
