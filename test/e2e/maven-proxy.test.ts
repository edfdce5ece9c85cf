// Wharf as a pull-through Maven proxy of a second Wharf (the upstream: a private repository, read with the
// proxy's credentials), with artifacts deployed into it by the real Maven (deploy:deploy-file). A counting proxy
// sits between the two: it counts the upstream requests, can tamper with one jar, and can play dead.
// The real Maven resolves through /maven/PROXY/ (mvn dependency:get, a version range read from
// maven-metadata.xml); the core behaviour (coalescing, checksums, TTL, stale serving) runs on both databases.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { CountingProxy } from '../helpers/counting-proxy.ts';
import { dialects } from '../helpers/databases.ts';
import { spawnWharf, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { dependencyGet, localFile, mvn, ok, settingsXml } from './helpers-maven.ts';

const T = { timeout: 200_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const jarOf = (artifact: string, version: string) => `PK ${artifact} ${version}, not a real jar: Maven does not look`;

let upstream: ChildServer;
let token: string;
const dirs: string[] = [];
const dir = () => {
  const d = tempDir('wharf-mvn-proxy-');
  dirs.push(d);
  return d;
};

/** Deploys com.example:ARTIFACT:VERSION (a jar and the pom Maven generates) to the upstream with the real Maven. */
async function publish(artifact: string, version: string): Promise<void> {
  const d = dir();
  const s = settingsXml(d, [{ id: 'wharf', username: 'alice', password: token }]);
  const jar = path.join(d, `${artifact}.jar`);
  fs.writeFileSync(jar, jarOf(artifact, version));
  ok(await mvn(s, [
    'org.apache.maven.plugins:maven-deploy-plugin:2.7:deploy-file', `-Dfile=${jar}`, '-DgroupId=com.example', `-DartifactId=${artifact}`,
    `-Dversion=${version}`, '-Dpackaging=jar', `-Durl=${upstream.url}/maven/alice/libs`, '-DrepositoryId=wharf',
  ], d), `mvn deploy:deploy-file ${artifact}:${version} to the upstream`);
}

const cli = async (server: ChildServer, args: string[], stdin?: string) => {
  const r = await server.cli(args, stdin);
  if (r.code !== 0) throw new Error(`wharf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

before(async () => {
  upstream = await spawnWharf();
  await cli(upstream, ['user', 'create', 'alice', '--email', 'alice@example.com']);
  token = (await cli(upstream, ['token', 'create', 'alice', '--scopes', 'read:packages,write:packages'])).trim().split(/\s+/).pop()!;
  await cli(upstream, ['repo', 'create', 'alice/libs', '--visibility', 'private']);
  await Promise.all([publish('lib', '1.0'), publish('many', '1.0'), publish('tampered', '1.0')]);
});

after(async () => {
  await upstream?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the real Maven through a Maven proxy', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let counting: CountingProxy;
  let proxyUrl: string;

  before(async () => {
    counting = new CountingProxy(upstream.url);
    await counting.start();
    server = await spawnWharf();
    await cli(server, ['proxy', 'create', 'central', '--format', 'maven', '--upstream', `${counting.origin}/maven/alice`, '--username', 'alice', '--password-stdin', '--ttl', '2', '--timeout', '5'], token);
    proxyUrl = `${server.url}/maven/central`;
  });

  after(async () => {
    await server?.stop();
    await counting?.stop();
  });

  test('mvn dependency:get through the proxy: the jar and pom as deployed upstream, checksums verified', T, async () => {
    const s = settingsXml(dir());
    ok(await dependencyGet(s, 'com.example:lib:1.0', proxyUrl, dir()), 'mvn dependency:get com.example:lib:1.0 through the proxy');
    const jar = fs.readFileSync(localFile(s, 'com/example/lib/1.0/lib-1.0.jar'));
    assert.equal(jar.toString(), jarOf('lib', '1.0'));
    assert.equal(fs.readFileSync(localFile(s, 'com/example/lib/1.0/lib-1.0.jar.sha1'), 'utf8'), sha1(jar));
    assert.match(fs.readFileSync(localFile(s, 'com/example/lib/1.0/lib-1.0.pom'), 'utf8'), /<artifactId>lib<\/artifactId>/);
    // The proxy verified each file against the upstream's checksum file; Maven's own .sha1 requests were answered from what was kept.
    assert.equal(counting.count((u) => u.endsWith('/lib-1.0.jar')), 1);
    assert.ok(counting.count((u) => /\/lib-1\.0\.jar\.sha(1|256)$/.test(u)) >= 1);
    const api = await (await fetch(`${server.url}/api/v1/orgs/central/packages/maven/com.example:lib`)).json();
    assert.equal(api.version_count, 1, JSON.stringify(api));
  });

  test('maven-metadata.xml is cached for the TTL; a version published upstream is visible after it', T, async () => {
    const metaUrl = `${proxyUrl}/com/example/lib/maven-metadata.xml`;
    assert.doesNotMatch(await (await fetch(metaUrl)).text(), /<version>1\.1<\/version>/);
    await publish('lib', '1.1');
    // Within the TTL the kept copy serves (a fresh fetch above, and at most one more upstream request here).
    const n = counting.count((u) => u.endsWith('/lib/maven-metadata.xml'));
    await sleep(2500);
    const doc = await (await fetch(metaUrl)).text();
    assert.match(doc, /<version>1\.1<\/version>/);
    assert.equal(counting.count((u) => u.endsWith('/lib/maven-metadata.xml')), n + 1);
    assert.ok(counting.seen.filter((s) => s.url.endsWith('/lib/maven-metadata.xml')).at(-1)!.conditional, 'revalidated with a conditional request');
    // The real Maven reads the metadata to resolve RELEASE.
    const s = settingsXml(dir());
    ok(await dependencyGet(s, 'com.example:lib:RELEASE', proxyUrl, dir()), 'mvn dependency:get of RELEASE');
    assert.equal(fs.readFileSync(localFile(s, 'com/example/lib/1.1/lib-1.1.jar'), 'utf8'), jarOf('lib', '1.1'));
  });

  test('with the upstream stopped, what was fetched still resolves (stale metadata served)', T, async () => {
    counting.down = true;
    try {
      await sleep(2500);
      const s = settingsXml(dir());
      ok(await dependencyGet(s, 'com.example:lib:1.0', proxyUrl, dir()), 'mvn dependency:get with the upstream down');
      ok(await dependencyGet(settingsXml(dir()), 'com.example:lib:RELEASE', proxyUrl, dir()), 'mvn dependency:get of RELEASE with the upstream down');
      assert.match(server.output(), /serving a stale document/);
      // Never fetched: nothing to serve.
      const missing = await dependencyGet(settingsXml(dir()), 'com.example:many:1.0', proxyUrl, dir());
      assert.notEqual(missing.code, 0, missing.output);
    } finally {
      counting.down = false;
    }
  });
});

for (const dialect of dialects()) {
  describe(`the Maven proxy's behaviour (${dialect})`, { timeout: 600_000 }, () => {
    let server: TestServer;
    let counting: CountingProxy;
    const base = () => `${server.url}/maven/up/com/example`;

    before(async () => {
      counting = new CountingProxy(upstream.url);
      await counting.start();
      server = await startWharf({ dialect });
      await server.core.proxies.create(systemActor, 'up', { format: 'maven', upstream: `${counting.origin}/maven/alice`, username: 'alice', password: token, ttlSeconds: 300, timeoutMs: 5000 });
      await server.core.proxies.create(systemActor, 'hidden', { format: 'maven', upstream: `${counting.origin}/maven/alice`, username: 'alice', password: token, visibility: 'private' });
    });

    after(async () => {
      await server?.stop();
      await counting?.stop();
    });

    test('64 concurrent misses for one jar make one upstream request', T, async () => {
      const url = `${base()}/many/1.0/many-1.0.jar`;
      const results = await Promise.all(Array.from({ length: 64 }, () => fetch(url).then(async (r) => ({ status: r.status, body: await r.text() }))));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.deepEqual([...new Set(results.map((r) => r.body))], [jarOf('many', '1.0')]);
      assert.equal(counting.count((u) => u.endsWith('/many-1.0.jar')), 1, JSON.stringify(counting.seen));
      // Checksums come from what was kept, without asking the upstream again.
      const n = counting.seen.length;
      assert.equal(await (await fetch(`${url}.sha1`)).text(), sha1(Buffer.from(jarOf('many', '1.0'))));
      assert.equal(await (await fetch(`${url}.md5`)).text(), createHash('md5').update(jarOf('many', '1.0')).digest('hex'));
      assert.equal(counting.seen.length, n);
    });

    test('a jar that does not match the upstream checksum is refused (502) and not kept', T, async () => {
      counting.tamper.add('/maven/alice/com/example/tampered/1.0/tampered-1.0.jar');
      const bad = await fetch(`${base()}/tampered/1.0/tampered-1.0.jar`);
      assert.equal(bad.status, 502);
      assert.match(await bad.text(), /checksum mismatch/);
      const pkg = await server.core.packages.find('up', 'maven', 'com.example:tampered');
      assert.equal(pkg ? (await server.core.packages.versions(pkg.id)).length : 0, 0);
      counting.tamper.clear();
      const good = await fetch(`${base()}/tampered/1.0/tampered-1.0.jar`);
      assert.equal(good.status, 200);
      assert.equal(await good.text(), jarOf('tampered', '1.0'));
      // The pom joins the same version as a second file.
      assert.equal((await fetch(`${base()}/tampered/1.0/tampered-1.0.pom`)).status, 200);
      const p = (await server.core.packages.find('up', 'maven', 'com.example:tampered'))!;
      const v = (await server.core.packages.versions(p.id))[0];
      assert.deepEqual((await server.core.packages.files(v.id)).map((f) => f.name).sort(), ['tampered-1.0.jar', 'tampered-1.0.pom']);
    });

    test('metadata: fresh within the TTL (one upstream request), checksums of the kept bytes', T, async () => {
      const url = `${base()}/lib/maven-metadata.xml`;
      const a = await fetch(url);
      assert.equal(a.status, 200);
      const body = Buffer.from(await a.arrayBuffer());
      assert.match(body.toString(), /<artifactId>lib<\/artifactId>/);
      assert.equal((await fetch(url)).status, 200);
      assert.equal(counting.count((u) => u.endsWith('/lib/maven-metadata.xml')), 1);
      assert.equal(await (await fetch(`${url}.sha1`)).text(), sha1(body));
    });

    test('a private proxy: anonymous clients get the challenge and nothing is asked upstream', T, async () => {
      const n = counting.seen.length;
      const r = await fetch(`${server.url}/maven/hidden/com/example/lib/1.0/lib-1.0.jar`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /Basic/);
      assert.equal(counting.seen.length, n);
    });

    test('missing files and hostile paths: 4xx, never 500', T, async () => {
      for (const p of ['/maven/up/com/example/nope/1.0/nope-1.0.jar', '/maven/up/com/example/lib/9.9/lib-9.9.jar', '/maven/up/com/example/lib/1.0/other-1.0.jar', '/maven/up/..%2f..%2fetc/passwd/x', '/maven/up/x']) {
        const r = await fetch(`${server.url}${p}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
      }
    });
  });
}
