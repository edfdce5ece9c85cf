// Promotion to real registries on this machine: npm to Verdaccio 6.8 (installed by the test into
// bench/.peers/verdaccio when missing, as the benchmark does; a failed install fails the test), and an image index
// with its platforms, its cosign tag-scheme signature and an OCI referrer to distribution 2.8 (Debian's
// docker-registry; missing is a failure in CI). The real clients judge: npm installs the promoted package from
// Verdaccio, skopeo inspects the promoted image there and sees the same digest.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distributionVersion, startDistribution, waitDistribution, type DistributionProcess } from '../../bench/lib/distribution.ts';
import { npmTarball, publish, publishBody, putPackage } from '../helpers/npm-body.ts';
import { artifactManifest, basic, blob, cosignSignature, imageManifest, MEDIA, multiPlatform, pushImage, pushIndex } from '../helpers/oci.ts';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildNupkg } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { startVerdaccio, verdaccioUser, type Verdaccio } from '../helpers/verdaccio.ts';
import { EVERY_SCOPE, freePort, spawnWharf, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { dependencyGet, localFile, ok as okMaven, settingsXml } from './helpers-maven.ts';
import { NuGetClient, nugetExe } from './helpers-nuget.ts';
import { GemClient } from './helpers-rubygems.ts';
import { Machine, ok as okOci, parseJson } from './helpers-oci.ts';
import { cleanEnv, ok, run } from './helpers-npm.ts';

const T = { timeout: 240_000 };

describe('promotion to real registries', () => {
  let s: TestServer;
  let alice: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${s.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const versionId = async (type: string, name: string, version: string) => {
    const r = await api(`/users/alice/packages/${type}/${encodeURIComponent(name)}/versions`);
    return ((await r.json()) as { id: number; name: string }[]).find((v) => v.name === version)!.id;
  };

  before(async () => {
    // Promotions may reach 127.0.0.1 only because the site admin allowed it (the webhook allow-list).
    s = await startWharf({ env: { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
    alice = await s.userWithToken('alice', EVERY_SCOPE);
  });
  after(() => s.stop());

  describe('npm to Verdaccio 6.8', () => {
    let v: Verdaccio;
    let token: string;
    before(async () => {
      v = await startVerdaccio('wharf-promote-verdaccio-');
      token = await verdaccioUser(v.origin, 'releaser', 'release-pass-1');
      assert.equal((await publish(s.url, alice, '@alice/hello', '1.0.0', { description: 'hello' })).status, 201);
      const tarball = await npmTarball('@alice/hello', '1.1.0-rc.1');
      assert.equal((await putPackage(s.url, alice, '@alice/hello', publishBody({ name: '@alice/hello', version: '1.1.0-rc.1', tarball, tags: { next: '1.1.0-rc.1' } }))).status, 201);
    }, T);
    after(() => v?.stop());

    test('wharf promote npm @alice/hello@1.0.0 --to VERDACCIO --token → npm installs the same bytes from Verdaccio', T, async () => {
      const r = await s.cli(['promote', 'npm', '@alice/hello@1.0.0', '--to', `${v.origin}/`, '--token', token]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /promoted npm alice\/hello@1\.0\.0 to http:\/\/127\.0\.0\.1:\d+\/ \(2 digests checked there\)/);

      const ours = (await (await fetch(`${s.url}/npm/@alice%2fhello`, { headers: { authorization: `Bearer ${alice}` } })).json()) as any;
      const theirs = (await (await fetch(`${v.origin}/@alice%2fhello`)).json()) as any;
      assert.equal(theirs.versions['1.0.0'].dist.integrity, ours.versions['1.0.0'].dist.integrity);
      assert.equal(theirs['dist-tags'].latest, '1.0.0');

      // The real npm, in a fresh project and cache, from Verdaccio only.
      const home = tempDir('wharf-promote-npm-');
      const project = path.join(home, 'app');
      fs.mkdirSync(project);
      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      fs.writeFileSync(path.join(home, '.npmrc'), `registry=${v.origin}/\naudit=false\nfund=false\nupdate-notifier=false\n`);
      const env = { ...cleanEnv(), HOME: home, NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'), NPM_CONFIG_CACHE: path.join(home, 'cache') };
      ok(await run('npm', ['install', '@alice/hello@1.0.0'], { cwd: project, env, timeoutMs: 120_000 }), 'npm install from Verdaccio');
      const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
      assert.equal(lock.packages['node_modules/@alice/hello'].integrity, ours.versions['1.0.0'].dist.integrity);
      assert.match(fs.readFileSync(path.join(project, 'node_modules/@alice/hello/index.js'), 'utf8'), /@alice\/hello@1\.0\.0/);
      fs.rmSync(home, { recursive: true, force: true });
    });

    test('REST with --username/--password (Basic): a prerelease keeps its own dist-tag, latest stays', T, async () => {
      const id = await versionId('npm', 'hello', '1.1.0-rc.1');
      const r = await api(`/users/alice/packages/npm/hello/versions/${id}/promotions`, { method: 'POST', body: JSON.stringify({ to: v.origin, username: 'releaser', password: 'release-pass-1' }) });
      assert.equal(r.status, 201, await r.clone().text());
      const theirs = (await (await fetch(`${v.origin}/@alice%2fhello`)).json()) as any;
      assert.ok(theirs.versions['1.1.0-rc.1']);
      assert.equal(theirs['dist-tags'].latest, '1.0.0');
      assert.equal(theirs['dist-tags'].next, '1.1.0-rc.1');
      const detail = (await (await api(`/users/alice/packages/npm/hello/versions/${id}`)).json()) as { promotions: { target: string }[] };
      assert.deepEqual(detail.promotions.map((p) => p.target), [`${v.origin}/`]);
    });

    test('Verdaccio refuses (the version is there already; a wrong token): clear error, nothing recorded', T, async () => {
      const again = await s.cli(['promote', 'npm', '@alice/hello@1.0.0', '--to', v.origin, '--token', token]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /the target registry refused the publish of @alice\/hello@1\.0\.0: 409/);
      const id = await versionId('npm', 'hello', '1.0.0');
      const bad = await api(`/users/alice/packages/npm/hello/versions/${id}/promotions`, { method: 'POST', body: JSON.stringify({ to: v.origin, token: 'not-a-token' }) });
      assert.equal(bad.status, 502);
      const rows = (await (await api(`/users/alice/packages/npm/hello/versions/${id}/promotions`)).json()) as unknown[];
      assert.equal(rows.length, 1, 'only the CLI promotion that succeeded is recorded');
    });
  });

  describe('an image with its referrers to distribution 2.8', () => {
    let dist: DistributionProcess;
    let origin: string;
    let work: string;
    let machine: Machine;
    before(async () => {
      if (!distributionVersion()) {
        if (process.env.CI) throw new Error('docker-registry is not installed (apt-get install -y docker-registry)');
      }
      work = tempDir('wharf-promote-dist-');
      const port = await freePort();
      dist = startDistribution(work, port);
      origin = `http://127.0.0.1:${port}`;
      await waitDistribution(origin, dist);
      machine = new Machine();
    }, T);
    after(async () => {
      await dist?.stop();
      machine?.dispose();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    test('an index, its platforms, a cosign .sig tag and an OCI referrer arrive; skopeo inspect shows the same digest', T, async () => {
      const auth = basic('alice', alice);
      const image = multiPlatform();
      await pushIndex(s.url, 'alice/app', '1.0', image, auth);
      const sigTag = `${image.index.digest.replace(':', '-')}.sig`;
      await pushImage(s.url, 'alice/app', sigTag, cosignSignature('127.0.0.1/alice/app', image.index.digest), auth);
      const sbom = artifactManifest({ subject: image.index, artifactType: 'application/spdx+json', layers: [blob('{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json')] });
      await pushImage(s.url, 'alice/app', sbom.digest, sbom, auth);

      const id = await versionId('container', 'app', image.index.digest);
      const r = await api(`/users/alice/packages/container/app/versions/${id}/promotions`, { method: 'POST', body: JSON.stringify({ to: `${origin}/release/app` }) });
      assert.equal(r.status, 201, await r.clone().text());
      const checked = ((await r.json()) as { checked: { file: string; digest: string }[] }).checked;
      for (const d of [image.index.digest, image.amd64.digest, image.arm64.digest, sbom.digest]) assert.ok(checked.some((c) => c.digest === d), `${d} checked`);

      const inspect = parseJson(okOci(await machine.skopeo(['inspect', '--tls-verify=false', '--raw', `docker://127.0.0.1:${new URL(origin).port}/release/app:1.0`]), 'skopeo inspect --raw'));
      assert.deepEqual(inspect, image.index.json);
      const amd = parseJson(okOci(await machine.skopeo(['inspect', '--tls-verify=false', '--override-arch', 'amd64', '--override-os', 'linux', `docker://127.0.0.1:${new URL(origin).port}/release/app:1.0`]), 'skopeo inspect'));
      assert.equal(amd.Digest, image.index.digest);
      assert.deepEqual(amd.Layers, image.amd64.blobs.slice(1).map((b) => b.digest));
      const arm = parseJson(okOci(await machine.skopeo(['inspect', '--tls-verify=false', '--raw', `docker://127.0.0.1:${new URL(origin).port}/release/app@${image.arm64.digest}`]), 'skopeo inspect arm64'));
      assert.deepEqual(arm, image.arm64.json);
      const sig = parseJson(okOci(await machine.skopeo(['inspect', '--tls-verify=false', '--raw', `docker://127.0.0.1:${new URL(origin).port}/release/app:${sigTag}`]), 'skopeo inspect the signature'));
      assert.equal(sig.layers[0].mediaType, MEDIA.cosignSimpleSigning);
      const head = await fetch(`${origin}/v2/release/app/manifests/${sbom.digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(head.headers.get('docker-content-digest'), sbom.digest);
      const tags = parseJson(okOci(await machine.skopeo(['list-tags', '--tls-verify=false', `docker://127.0.0.1:${new URL(origin).port}/release/app`]), 'skopeo list-tags'));
      assert.deepEqual(tags.Tags.sort(), ['1.0', sigTag].sort());
    });
  });

  describe('Maven, RubyGems and NuGet to a second Wharf', () => {
    let w: ChildServer;
    let bob: string;
    const jar = Buffer.from('PK\x03\x04 a jar, promoted byte for byte');
    const pom = Buffer.from('<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version></project>\n');
    let gem: Buffer;
    let nupkg: Buffer;
    before(async () => {
      w = await spawnWharf();
      const u = await w.cli(['user', 'create', 'bob']);
      assert.equal(u.code, 0, u.stderr);
      const t = await w.cli(['token', 'create', 'bob', '--scopes', 'read:packages,write:packages']);
      assert.equal(t.code, 0, t.stderr);
      bob = t.stdout.trim();
      // Maven deploys go to a repository's URL (/maven/OWNER/REPO/), on both sides.
      assert.equal((await w.cli(['repo', 'create', 'bob/libs'])).code, 0);
      await s.core.identity.createRepo(systemActor, 'alice', 'libs', 'private');
      const auth = { authorization: basic('alice', alice) };
      for (const [name, body] of [['lib-1.0.pom', pom], ['lib-1.0.jar', jar]] as const) {
        const r = await fetch(`${s.url}/maven/alice/libs/com/example/lib/1.0/${name}`, { method: 'PUT', headers: auth, body: new Uint8Array(body) });
        assert.equal(r.status, 201, await r.text());
      }
      gem = await buildGem({ name: 'promoted', version: '1.0.0', files: { 'lib/promoted.rb': 'module Promoted; VERSION = "1.0.0"; PLATFORM = "ruby"; end\n' } });
      const g = await fetch(`${s.url}/rubygems/alice/api/v1/gems`, { method: 'POST', headers: { authorization: alice, 'content-type': 'application/octet-stream' }, body: new Uint8Array(gem) });
      assert.equal(g.status, 200, await g.text());
      nupkg = buildNupkg({ id: 'Promoted.Lib', version: '1.0.0', files: { 'content/hello.txt': 'hello\n' } });
      const boundary = 'b0undary';
      const n = await fetch(`${s.url}/nuget/alice/api/v2/package/`, {
        method: 'PUT', headers: { 'x-nuget-apikey': alice, 'content-type': `multipart/form-data; boundary="${boundary}"` },
        body: new Uint8Array(Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="package"; filename="package"\r\n\r\n`), nupkg, Buffer.from(`\r\n--${boundary}--\r\n`)])),
      });
      assert.ok(n.status === 201 || n.status === 202, `${n.status} ${await n.text()}`);
    }, T);
    after(() => w?.stop());

    test('Maven: wharf promote maven … --to WHARF2/maven/bob/libs/ → mvn dependency:get there gets the same jar', T, async () => {
      const r = await s.cli(['promote', 'maven', 'alice/com.example:lib@1.0', '--to', `${w.url}/maven/bob/libs/`, '--username', 'bob', '--password-stdin'], `${bob}\n`);
      assert.equal(r.code, 0, r.stderr);
      // The jar and the pom, then maven-metadata.xml listing the version (Wharf derives its own from the copy).
      assert.match(r.stdout, /\(3 digests checked there\)/);
      const dir = tempDir('wharf-promote-mvn-');
      const settings = settingsXml(dir, [{ id: 'wharf', username: 'bob', password: bob }]);
      okMaven(await dependencyGet(settings, 'com.example:lib:1.0', `${w.url}/maven/bob/`, dir), 'mvn dependency:get from the second Wharf');
      assert.ok(fs.readFileSync(localFile(settings, 'com/example/lib/1.0/lib-1.0.jar')).equals(jar));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('RubyGems: --to WHARF2/rubygems/bob --token → gem install there installs the same .gem', T, async () => {
      const r = await s.cli(['promote', 'rubygems', 'alice/promoted@1.0.0', '--to', `${w.url}/rubygems/bob`, '--token', bob]);
      assert.equal(r.code, 0, r.stderr);
      const client = new GemClient();
      try {
        const source = `http://bob:${bob}@127.0.0.1:${w.port}/rubygems/bob/`;
        ok(await client.gem(['install', 'promoted', '-v', '1.0.0', '--clear-sources', '--source', source, '--no-document']), 'gem install from the second Wharf');
        const cached = path.join(client.env.GEM_HOME, 'cache', 'promoted-1.0.0.gem');
        assert.ok(fs.readFileSync(cached).equals(gem), 'the installed .gem is the promoted bytes');
      } finally {
        client.dispose();
      }
    });

    test('NuGet: --to WHARF2/nuget/bob/index.json --token → NuGet.exe install there gets the same .nupkg', T, async () => {
      const r = await s.cli(['promote', 'nuget', 'alice/Promoted.Lib@1.0.0', '--to', `${w.url}/nuget/bob/index.json`, '--token', bob]);
      assert.equal(r.code, 0, r.stderr);
      const client = new NuGetClient(nugetExe(), `${w.url}/nuget/bob/index.json`, { user: 'bob', token: bob });
      try {
        const out = path.join(client.home, 'out');
        ok(await client.nuget(['install', 'Promoted.Lib', '-Version', '1.0.0', '-OutputDirectory', out, '-NoCache', '-DirectDownload']), 'nuget install from the second Wharf');
        assert.ok(fs.readFileSync(path.join(out, 'Promoted.Lib.1.0.0', 'Promoted.Lib.1.0.0.nupkg')).equals(nupkg));
      } finally {
        fs.rmSync(client.home, { recursive: true, force: true });
      }
    });

    test('an image to a registry with Docker token auth (the second Wharf): skopeo inspect there shows the same digest', T, async () => {
      const image = imageManifest({});
      await pushImage(s.url, 'alice/tool', '2.0', image, basic('alice', alice));
      const r = await s.cli(['promote', 'container', 'alice/tool@2.0', '--to', `${w.url}/bob/tool`, '--username', 'bob', '--password-stdin'], `${bob}\n`);
      assert.equal(r.code, 0, r.stderr);
      const machine = new Machine();
      try {
        const inspect = parseJson(okOci(await machine.skopeo(['inspect', '--tls-verify=false', '--creds', `bob:${bob}`, `docker://127.0.0.1:${w.port}/bob/tool:2.0`]), 'skopeo inspect on the second Wharf'));
        assert.equal(inspect.Digest, image.digest);
      } finally {
        machine.dispose();
      }
      const refused = await s.cli(['promote', 'container', 'alice/tool@2.0', '--to', `${w.url}/bob/tool`, '--username', 'bob', '--password-stdin'], 'wrong-password\n');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /the target registry refused a token for the push: 401/);
    });

    test('Maven keeps its name: --to-owner with --name → 400, nothing copied', async () => {
      const r = await s.cli(['promote', 'maven', 'alice/com.example:lib@1.0', '--to-owner', 'bob', '--name', 'com.example:other']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /keeps its name/);
    });
  });
});
