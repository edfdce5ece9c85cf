// Quotas with the real clients (issue 22): over its owner's storage quota, npm publish, skopeo copy, gem push,
// mvn deploy and nuget push are refused in each protocol's own error, naming the limit and the usage (npm 413,
// OCI DENIED 403, RubyGems 413, Maven 413, NuGet 413); nothing is written; reads still work; a publish under the
// quota works. The usage REST API and CLI agree.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { Client, makePackage, ok, userWithToken, wharf } from './helpers-npm.ts';
import { dependencyGet, javaProject, mvn, settingsXml } from './helpers-maven.ts';
import { NuGetClient, nugetExe } from './helpers-nuget.ts';
import { buildImage, Machine } from './helpers-oci.ts';
import { buildGem, GemClient } from './helpers-rubygems.ts';

const T = { timeout: 180_000 };

describe('quotas with npm, skopeo, gem, mvn and nuget', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let aliceToken: string;
  let bobToken: string;
  const dirs: string[] = [];

  const api = async (method: string, p: string, token?: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api/v1${p}`, {
      method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const usage = async () => (await api('GET', '/users/alice/settings/billing/packages', aliceToken)).body;
  /** Alice's quota: what she uses now plus `room` bytes. */
  const leaveRoom = async (room: number) => wharf(server, ['quota', 'set', 'alice', '--storage', String((await usage()).storage_bytes + room)]);

  before(async () => {
    server = await spawnWharf();
    aliceToken = await userWithToken(server, 'alice', 'read:packages,write:packages,delete:packages,user');
    bobToken = await userWithToken(server, 'bob');
  });
  after(async () => {
    await server?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('npm publish over the quota: 413 naming the limit and the usage, nothing written; installs still work', T, async () => {
    const alice = new Client(server, { token: aliceToken });
    const small = makePackage({ name: '@alice/small', version: '1.0.0' });
    dirs.push(small, alice.home);
    ok(await alice.npm(['publish'], small), 'npm publish under the quota');
    await leaveRoom(100);
    const big = makePackage({ name: '@alice/big', version: '1.0.0', main: `module.exports = ${JSON.stringify(randomBytes(20_000).toString('base64'))};\n` });
    dirs.push(big);
    const before = await usage();
    const r = await alice.npm(['publish'], big);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /413/);
    assert.match(r.output, /storage quota exceeded for alice: [\d.]+ (bytes|KiB) used of [\d.]+ (bytes|KiB), and this upload adds [\d.]+ KiB/);
    assert.equal((await fetch(`${server.url}/npm/@alice%2fbig`, { headers: { authorization: `Bearer ${aliceToken}` } })).status, 404, 'nothing was published');
    assert.deepEqual(await usage(), before);
    // Reads are never blocked: the package under the quota still installs.
    const v = ok(await alice.npm(['view', '@alice/small', 'version']), 'npm view over quota');
    assert.match(v.stdout, /1\.0\.0/);
    // Deleting makes room: after a quota raise the same publish goes through.
    await wharf(server, ['quota', 'clear', 'alice']);
    ok(await alice.npm(['publish'], big), 'npm publish once the quota allows it');
  });

  test('skopeo copy over the quota: DENIED (403) with the message; a push under it works; pulls still work', T, async () => {
    const m = new Machine();
    const layout = tempDir('wharf-oci-layout-');
    dirs.push(layout, m.dir);
    fs.rmSync(layout, { recursive: true });
    await buildImage(layout, 'one', { files: { 'hello.txt': 'hello one\n' } });
    await buildImage(layout, 'two', { files: { 'big.bin': randomBytes(64_000).toString('base64') } });
    const push = (image: string, dest: string) => m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${aliceToken}`, `oci:${layout}:${image}`, `docker://127.0.0.1:${server.port}/alice/${dest}`]);
    ok(await push('one', 'app:1'), 'skopeo copy under the quota');
    await leaveRoom(1000);
    const before = await usage();
    const r = await push('two', 'app:2');
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /denied/i);
    assert.match(r.output, /storage quota exceeded for alice/);
    assert.deepEqual(await usage(), before, 'nothing counted');
    const tags = ok(await m.skopeo(['list-tags', '--tls-verify=false', '--creds', `alice:${aliceToken}`, `docker://127.0.0.1:${server.port}/alice/app`]), 'list-tags over quota');
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['1'], 'the refused tag does not exist');
    const back = m.mkdir('back');
    ok(await m.skopeo(['copy', '--src-tls-verify=false', '--src-creds', `alice:${aliceToken}`, `docker://127.0.0.1:${server.port}/alice/app:1`, `oci:${back}:img`]), 'skopeo pull over quota');
    await wharf(server, ['quota', 'clear', 'alice']);
  });

  test('gem push over the quota: 413 with the message; the package count limit too', T, async () => {
    const g = new GemClient();
    dirs.push(g.home);
    const src = `${server.url}/rubygems/alice`;
    const push = (file: string) => g.gem(['push', file, '--host', src], g.home, { GEM_HOST_API_KEY: aliceToken });
    const pkgs = (await usage()).package_count;
    await wharf(server, ['quota', 'set', 'alice', '--packages', String(pkgs + 1)]);
    ok(await push(await buildGem(g, { name: 'first', version: '1.0.0' })), 'gem push under the quota');
    const r = await push(await buildGem(g, { name: 'second', version: '1.0.0' }));
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /package quota exceeded for alice: \d+ packages of \d+ allowed/);
    await wharf(server, ['quota', 'set', 'alice', '--packages', 'default']);
    await leaveRoom(10);
    const big = await push(await buildGem(g, { name: 'third', version: '1.0.0' }));
    assert.notEqual(big.code, 0, big.output);
    assert.match(big.output, /storage quota exceeded for alice/);
    assert.ok(!(await usage()).packages.some((p: any) => p.name === 'third'), 'nothing was pushed');
    assert.equal((await fetch(`${server.url}/rubygems/alice/api/v1/versions/third.json`, { headers: { authorization: aliceToken } })).status, 404, 'nothing was pushed');
    await wharf(server, ['quota', 'clear', 'alice']);
  });

  test('mvn deploy over the quota: 413 with the message, nothing written; a deploy under it works; reads still work', { timeout: 300_000 }, async () => {
    await wharf(server, ['repo', 'create', 'alice/lib', '--visibility', 'private']);
    const home = tempDir('wharf-mvn-');
    const url = `${server.url}/maven/alice/lib`;
    const small = javaProject({ groupId: 'com.example', artifactId: 'small', version: '1.0', url });
    const big = javaProject({ groupId: 'com.example', artifactId: 'big', version: '1.0', url, message: randomBytes(30_000).toString('base64') });
    dirs.push(home, small, big);
    const s = settingsXml(home, [{ id: 'wharf', username: 'alice', password: aliceToken }]);
    const get = (p: string) => fetch(`${server.url}/maven/alice/lib/com/example/${p}`, { headers: { authorization: `Bearer ${aliceToken}` } });
    await leaveRoom(1_000_000);
    ok(await mvn(s, ['deploy', '-DskipTests'], small), 'mvn deploy under the quota');
    assert.equal((await get('small/1.0/small-1.0.jar')).status, 200);
    await leaveRoom(100);
    const before = await usage();
    const r = await mvn(s, ['deploy', '-DskipTests'], big);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /413/);
    assert.match(r.output, /storage quota exceeded for alice: [\d.]+ (bytes|KiB|MiB) used of [\d.]+ (bytes|KiB|MiB), and this upload adds [\d.]+ (bytes|KiB)/);
    for (const f of ['big-1.0.pom', 'big-1.0.jar']) assert.equal((await get(`big/1.0/${f}`)).status, 404, `${f} was not written`);
    assert.equal((await get('big/maven-metadata.xml')).status, 404);
    assert.deepEqual(await usage(), before, 'nothing counted');
    // Reads are never blocked: the artifact under the quota still resolves with the real client.
    ok(await dependencyGet(s, 'com.example:small:1.0', url, home), 'mvn dependency:get over quota');
    await wharf(server, ['quota', 'clear', 'alice']);
    ok(await mvn(s, ['deploy', '-DskipTests'], big), 'mvn deploy once the quota allows it');
  });

  test('nuget push over the quota: 413 with the message, nothing written; a push under it works', T, async () => {
    const src = `${server.url}/nuget/alice/index.json`;
    const n = new NuGetClient(nugetExe(), src, { user: 'alice', token: aliceToken });
    dirs.push(n.home);
    const small = await n.pack('Quota.Small', '1.0.0');
    const big = await n.pack('Quota.Big', '1.0.0');
    dirs.push(path.dirname(path.dirname(small)), path.dirname(path.dirname(big)));
    const push = (file: string) => n.nuget(['push', file, '-Source', src, '-ApiKey', aliceToken]);
    await leaveRoom(1_000_000);
    ok(await push(small), 'nuget push under the quota');
    await leaveRoom(100);
    const before = await usage();
    const r = await push(big);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /413/);
    assert.match(r.output, /storage quota exceeded for alice: [\d.]+ (bytes|KiB|MiB) used of [\d.]+ (bytes|KiB|MiB), and this upload adds [\d.]+ (bytes|KiB)/);
    assert.equal((await fetch(`${server.url}/nuget/alice/v3/flat/quota.big/index.json`, { headers: { authorization: `Bearer ${aliceToken}` } })).status, 404, 'nothing was pushed');
    assert.ok(!(await usage()).packages.some((p: any) => p.name === 'Quota.Big'), 'nothing was pushed');
    assert.deepEqual(await usage(), before, 'nothing counted');
    // Reads still work over the quota.
    ok(await n.nuget(['install', 'Quota.Small', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']), 'nuget install over quota');
    await wharf(server, ['quota', 'clear', 'alice']);
  });

  test('usage REST and CLI: the owner and site admins see it, others do not; admins set quotas over REST', T, async () => {
    const u = await usage();
    assert.ok(u.storage_bytes > 0);
    assert.equal(u.package_count, u.packages.length);
    assert.ok(u.packages.some((p: any) => p.package_type === 'npm' && p.name === 'small' && p.version_count === 1));
    assert.equal(u.quota.source, 'default');
    assert.ok([403, 404].includes((await api('GET', '/users/alice/settings/billing/packages', bobToken)).status));
    assert.equal((await api('PUT', '/admin/quotas/alice', aliceToken, { storage: '1GiB' })).status, 403, 'only site admins set quotas');
    const shown = await wharf(server, ['usage', 'show', 'alice']);
    assert.match(shown, /alice: .* in \d+ packages, \d+ versions/);
    assert.match(await wharf(server, ['usage', 'recompute']), /recomputed/);
    assert.deepEqual(await usage(), u, 'the recount agrees with the figures kept');
  });
});
