// Wharf as a pull-through NuGet proxy of a second Wharf (the upstream: packages pushed there with the real
// NuGet.exe 5.8, private, read with the proxy's credentials; `--upstream` is its service index). A counting proxy
// sits between the two: it counts the upstream requests, can tamper with one .nupkg, and can play dead. The real
// NuGet.exe installs through /nuget/PROXY/index.json; the core behaviour runs on both databases.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { CountingProxy } from '../helpers/counting-proxy.ts';
import { dialects } from '../helpers/databases.ts';
import { spawnWharf, startWharf, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { ok, userWithToken, wharf } from './helpers-npm.ts';
import { NuGetClient, nugetExe } from './helpers-nuget.ts';

const T = { timeout: 200_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let upstream: ChildServer;
let token: string;
let exe: string;
let publisher: NuGetClient;
const clients: NuGetClient[] = [];

/** Packs and pushes a package to the upstream with the real NuGet.exe. */
async function publish(id: string, version: string, deps: [string, string][] = []): Promise<void> {
  const src = `${upstream.url}/nuget/alice/index.json`;
  const file = await publisher.pack(id, version, { deps });
  ok(await publisher.nuget(['push', path.relative(publisher.home, file), '-Source', src, '-ApiKey', token]), `nuget push ${id} ${version} to the upstream`);
}

before(async () => {
  exe = nugetExe();
  upstream = await spawnWharf();
  token = await userWithToken(upstream, 'alice');
  publisher = new NuGetClient(exe, `${upstream.url}/nuget/alice/index.json`);
  clients.push(publisher);
  // Not linked to a repository: private, so the proxies read them with their credentials.
  await publish('Contoso.Dep', '1.0.0');
  await publish('Contoso.App', '2.0.0', [['Contoso.Dep', '1.0.0']]);
  await publish('Contoso.Many', '1.0.0');
  await publish('Contoso.Tampered', '1.0.0');
});

after(async () => {
  await upstream?.stop();
  for (const c of clients) fs.rmSync(c.home, { recursive: true, force: true });
});

describe('NuGet.exe through a NuGet proxy', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let counting: CountingProxy;
  let src: string;
  const client = () => {
    const c = new NuGetClient(exe, src);
    clients.push(c);
    return c;
  };
  const install = (c: NuGetClient, id: string, version: string) => c.nuget(['install', id, '-Version', version, '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']);
  const installed = (c: NuGetClient) => fs.readdirSync(path.join(c.home, 'pkgs')).sort();

  before(async () => {
    counting = new CountingProxy(upstream.url);
    await counting.start();
    server = await spawnWharf();
    await wharf(server, ['proxy', 'create', 'nugetorg', '--format', 'nuget', '--upstream', `${counting.origin}/nuget/alice/index.json`, '--username', 'alice', '--password-stdin', '--ttl', '2', '--timeout', '5'], token);
    src = `${server.url}/nuget/nugetorg/index.json`;
  });

  after(async () => {
    await server?.stop();
    await counting?.stop();
  });

  test('nuget install through the proxy brings the package and its dependency', T, async () => {
    const c = client();
    ok(await install(c, 'Contoso.App', '2.0.0'), 'nuget install Contoso.App through the proxy');
    assert.deepEqual(installed(c), ['Contoso.App.2.0.0', 'Contoso.Dep.1.0.0']);
    assert.equal(fs.readFileSync(path.join(c.home, 'pkgs/Contoso.Dep.1.0.0/content/hello.txt'), 'utf8'), 'Contoso.Dep 1.0.0\n');
    assert.equal(counting.count((u) => u.endsWith('.nupkg')), 2);
    const api = await (await fetch(`${server.url}/api/v1/orgs/nugetorg/packages/nuget/Contoso.App`)).json();
    assert.equal(api.version_count, 1, JSON.stringify(api));
  });

  test('a version published upstream is visible after the TTL', T, async () => {
    await publish('Contoso.Dep', '1.1.0');
    await sleep(2500);
    const list = await (await fetch(`${server.url}/nuget/nugetorg/v3/flat/contoso.dep/index.json`)).json();
    assert.deepEqual(list.versions, ['1.0.0', '1.1.0']);
    const c = client();
    ok(await install(c, 'Contoso.Dep', '1.1.0'), 'nuget install Contoso.Dep 1.1.0');
    assert.deepEqual(installed(c), ['Contoso.Dep.1.1.0']);
    assert.ok(counting.seen.some((s) => s.url.includes('/registration') && s.conditional), 'registrations are revalidated with conditional requests');
  });

  test('with the upstream stopped, what was fetched still installs (stale documents served)', T, async () => {
    counting.down = true;
    try {
      await sleep(2500);
      const c = client();
      ok(await install(c, 'Contoso.App', '2.0.0'), 'nuget install with the upstream down');
      assert.deepEqual(installed(c), ['Contoso.App.2.0.0', 'Contoso.Dep.1.0.0']);
      assert.match(server.output(), /serving a stale document/);
      const missing = await install(client(), 'Contoso.Many', '1.0.0');
      assert.notEqual(missing.code, 0, missing.output);
    } finally {
      counting.down = false;
    }
  });
});

for (const dialect of dialects()) {
  describe(`the NuGet proxy's behaviour (${dialect})`, { timeout: 600_000 }, () => {
    let server: TestServer;
    let counting: CountingProxy;
    const flat = () => `${server.url}/nuget/up/v3/flat`;

    before(async () => {
      counting = new CountingProxy(upstream.url);
      await counting.start();
      server = await startWharf({ dialect });
      const upstreamIndex = `${counting.origin}/nuget/alice/index.json`;
      await server.core.proxies.create(systemActor, 'up', { format: 'nuget', upstream: upstreamIndex, username: 'alice', password: token, ttlSeconds: 300, timeoutMs: 5000 });
      await server.core.proxies.create(systemActor, 'hidden', { format: 'nuget', upstream: upstreamIndex, username: 'alice', password: token, visibility: 'private' });
    });

    after(async () => {
      await server?.stop();
      await counting?.stop();
    });

    test('64 concurrent misses for one .nupkg make one upstream request', T, async () => {
      const url = `${flat()}/contoso.many/1.0.0/contoso.many.1.0.0.nupkg`;
      const results = await Promise.all(Array.from({ length: 64 }, () => fetch(url).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200], results[0].body.toString().slice(0, 500));
      assert.equal(new Set(results.map((r) => r.body.toString('base64'))).size, 1);
      assert.equal(counting.count((u) => u.endsWith('contoso.many.1.0.0.nupkg')), 1, JSON.stringify(counting.seen));
    });

    test('a .nupkg that is not the package its registration describes is refused (502) and not kept', T, async () => {
      counting.tamper.add('/nuget/alice/v3/flat/contoso.tampered/1.0.0/contoso.tampered.1.0.0.nupkg');
      const bad = await fetch(`${flat()}/contoso.tampered/1.0.0/contoso.tampered.1.0.0.nupkg`);
      assert.equal(bad.status, 502);
      const pkg = await server.core.packages.find('up', 'nuget', 'Contoso.Tampered');
      assert.equal(pkg ? (await server.core.packages.versions(pkg.id)).length : 0, 0);
      counting.tamper.clear();
      assert.equal((await fetch(`${flat()}/contoso.tampered/1.0.0/contoso.tampered.1.0.0.nupkg`)).status, 200);
    });

    test('registrations name Wharf\'s URLs, never the upstream\'s', T, async () => {
      const text = await (await fetch(`${server.url}/nuget/up/v3/registration-semver2/contoso.app/index.json`)).text();
      const doc = JSON.parse(text);
      const entry = doc.items[0].items[0];
      assert.equal(entry.catalogEntry.id, 'Contoso.App');
      assert.equal(entry.packageContent, `${server.url}/nuget/up/v3/flat/contoso.app/2.0.0/contoso.app.2.0.0.nupkg`);
      assert.equal(entry.catalogEntry.dependencyGroups[0].dependencies[0].id, 'Contoso.Dep');
      assert.ok(!text.includes(counting.origin), text);
      const index = await (await fetch(`${server.url}/nuget/up/index.json`)).json();
      assert.ok(index.resources.every((r: { '@id': string }) => r['@id'].startsWith(`${server.url}/nuget/up/`)));
    });

    test('a private proxy: anonymous clients get 401 and nothing is asked upstream', T, async () => {
      const n = counting.seen.length;
      for (const p of ['v3/flat/contoso.app/index.json', 'v3/registration-semver2/contoso.app/index.json', 'v3/flat/contoso.app/2.0.0/contoso.app.2.0.0.nupkg']) {
        assert.equal((await fetch(`${server.url}/nuget/hidden/${p}`)).status, 401, p);
      }
      assert.equal(counting.seen.length, n);
    });

    test('missing packages and hostile ids: 4xx, never 500', T, async () => {
      for (const p of ['v3/flat/nope/index.json', 'v3/flat/contoso.app/9.9.9/contoso.app.9.9.9.nupkg', 'v3/flat/contoso.app/x/contoso.app.x.nupkg', 'v3/registration/..%2f..%2fx/index.json', 'v3/registration-semver2/nope/index.json']) {
        const r = await fetch(`${server.url}/nuget/up/${p}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
      }
    });
  });
}
