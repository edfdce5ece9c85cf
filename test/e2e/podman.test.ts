// End to end with the real podman (4.3, as root, vfs storage, no daemon) against Wharf started as `npm start`
// starts it (issue 3): podman login/logout with an auth file, build + push, pull into another machine's storage
// (the file in the image matches), Docker schema 2 pushes (--format docker), pull by digest, a multi-arch
// manifest list made with `podman manifest` and pulled per platform, anonymous pulls of public images and the
// errors for private ones, and a job token pushing an image linked to its repository.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { userWithToken, wharf } from './helpers-npm.ts';
import { buildImage, fails, Machine, MEDIA, ok, parseJson, type Descriptor } from './helpers-oci.ts';

const T = { timeout: 240_000 };
const SOURCE = 'org.opencontainers.image.source';
const AUTH_ERROR = /authentication required|unauthorized|invalid username\/password/i;
const NOT_FOUND = /manifest unknown|name unknown|not found/i;
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

describe('podman against Wharf', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let host: string;
  let aliceToken: string;
  let bobToken: string;
  let builder: Machine;
  let layout: string;
  const machines: Machine[] = [];
  const dirs: string[] = [];
  const tls = '--tls-verify=false';

  const machine = () => {
    const m = new Machine();
    machines.push(m);
    return m;
  };
  const img = (name: string) => `${host}/${name}`;
  const aliceCreds = () => `alice:${aliceToken}`;

  /** A build context with /hello.txt and the given labels, built by `podman build` on the builder machine as `tag`. */
  async function build(tag: string, hello: string, labels: Record<string, string> = {}, extra: string[] = []) {
    const ctx = builder.mkdir(`ctx-${tag.replace(/[^a-z0-9]/gi, '_')}`);
    fs.writeFileSync(path.join(ctx, 'hello.txt'), hello);
    const lines = ['FROM scratch', 'COPY hello.txt /hello.txt', ...Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`)];
    fs.writeFileSync(path.join(ctx, 'Containerfile'), lines.join('\n') + '\n');
    ok(await builder.podman(['build', ...extra, '-t', tag, ctx]), `podman build ${tag}`);
  }

  /** /hello.txt of a local image of the machine, read through `podman image mount`. */
  async function helloOf(m: Machine, image: string): Promise<string> {
    const dir = ok(await m.podman(['image', 'mount', image]), 'podman image mount').stdout.trim();
    try {
      return fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8');
    } finally {
      await m.podman(['image', 'unmount', image]);
    }
  }

  const rawManifest = async (name: string, creds = aliceCreds()) =>
    parseJson(ok(await builder.skopeo(['inspect', '--raw', tls, '--creds', creds, `docker://${img(name)}`]), `skopeo inspect --raw ${name}`));

  before(async () => {
    server = await spawnWharf();
    host = `127.0.0.1:${server.port}`;
    aliceToken = await userWithToken(server, 'alice');
    bobToken = await userWithToken(server, 'bob');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    builder = machine();
    layout = tempDir('wharf-podman-layout-');
    dirs.push(layout);
    fs.rmSync(layout, { recursive: true });
    const v = ok(await builder.podman(['version', '--format', '{{.Client.Version}}']), 'podman version');
    assert.match(v.stdout, /^\d+\.\d+/);
  });

  after(async () => {
    await server?.stop();
    for (const m of machines) m.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('podman login writes the auth file; podman build + push; another machine pulls it and the file matches', T, async () => {
    ok(await builder.podman(['login', tls, '--authfile', builder.authFile, '--username', 'alice', '--password-stdin', host], { stdin: aliceToken }), 'podman login');
    assert.ok(JSON.parse(fs.readFileSync(builder.authFile, 'utf8')).auths[host], 'no entry for the registry in the auth file');
    await build(img('alice/podapp:1'), 'hello from podman\n', { 'org.example.kind': 'podman' });
    ok(await builder.podman(['push', tls, img('alice/podapp:1')]), 'podman push');
    ok(await builder.podman(['tag', img('alice/podapp:1'), img('alice/podapp:latest')]), 'podman tag');
    ok(await builder.podman(['push', tls, img('alice/podapp:latest')]), 'podman push latest');

    const other = machine();
    ok(await other.podman(['pull', tls, '--creds', aliceCreds(), img('alice/podapp:1')]), 'podman pull');
    assert.equal(await helloOf(other, img('alice/podapp:1')), 'hello from podman\n');
    const [info] = parseJson(ok(await other.podman(['image', 'inspect', img('alice/podapp:1')]), 'podman image inspect'));
    assert.equal(info.Labels['org.example.kind'], 'podman');
    const remote = parseJson(ok(await builder.skopeo(['inspect', tls, `docker://${img('alice/podapp:1')}`]), 'skopeo inspect with the podman login'));
    assert.deepEqual([...remote.RepoTags].sort(), ['1', 'latest']);
    assert.ok(info.RepoDigests.includes(`${img('alice/podapp')}@${remote.Digest}`), `${info.RepoDigests} does not name ${remote.Digest}`);

    // Pull by digest.
    const third = machine();
    ok(await third.podman(['pull', tls, '--creds', aliceCreds(), `${img('alice/podapp')}@${remote.Digest}`]), 'podman pull by digest');
    assert.equal(await helloOf(third, `${img('alice/podapp')}@${remote.Digest}`), 'hello from podman\n');

    ok(await builder.podman(['logout', '--authfile', builder.authFile, host]), 'podman logout');
    assert.match(fails(await machine().podman(['pull', tls, img('alice/podapp:1')]), 'pull after logout').output, AUTH_ERROR);
  });

  test('podman push --format docker stores a Docker schema 2 manifest that pulls back', T, async () => {
    await build(img('alice/poddocker:1'), 'hello from a docker-format image\n', {}, ['--format', 'docker']);
    ok(await builder.podman(['push', tls, '--creds', aliceCreds(), '--format', 'v2s2', img('alice/poddocker:1')]), 'podman push --format v2s2');
    const raw = await rawManifest('alice/poddocker:1');
    assert.equal(raw.mediaType, DOCKER_MANIFEST);
    const other = machine();
    ok(await other.podman(['pull', tls, '--creds', aliceCreds(), img('alice/poddocker:1')]), 'podman pull');
    assert.equal(await helloOf(other, img('alice/poddocker:1')), 'hello from a docker-format image\n');
  });

  test('anonymous podman pull: a private image fails with an authentication error; a bad password fails to log in; a stranger gets "name unknown"', T, async () => {
    const anon = machine();
    assert.match(fails(await anon.podman(['pull', tls, img('alice/podapp:1')]), 'anonymous pull of a private image').output, AUTH_ERROR);
    const bad = fails(await anon.podman(['login', tls, '--authfile', anon.authFile, '--username', 'alice', '--password-stdin', host], { stdin: 'not-the-password' }), 'podman login with a bad password');
    assert.match(bad.output, AUTH_ERROR);
    assert.ok(!fs.existsSync(anon.authFile) || !JSON.parse(fs.readFileSync(anon.authFile, 'utf8')).auths?.[host], 'a failed login stored credentials');
    const bob = machine();
    const denied = fails(await bob.podman(['pull', tls, '--creds', `bob:${bobToken}`, img('alice/podapp:1')]), 'pull by a user without access');
    assert.match(denied.output, NOT_FOUND);
    assert.doesNotMatch(denied.output, AUTH_ERROR);
  });

  test('an image labelled with its source repository (alice/hello, public), pushed with a job token, pulls anonymously', T, async () => {
    const job = await wharf(server, ['token', 'create-job', 'alice/hello']);
    await build(img('alice/podlinked:1'), 'hello from CI\n', { [SOURCE]: 'https://github.com/alice/hello' });
    ok(await builder.podman(['push', tls, '--creds', `x:${job}`, img('alice/podlinked:1')]), 'podman push with a job token');
    const anon = machine();
    ok(await anon.podman(['pull', tls, img('alice/podlinked:1')]), 'anonymous pull');
    assert.equal(await helloOf(anon, img('alice/podlinked:1')), 'hello from CI\n');
    // The same job may not push into alice's private, unlinked image.
    fails(await builder.podman(['push', tls, '--creds', `x:${job}`, img('alice/podlinked:1'), `docker://${img('alice/podapp:ci')}`]), 'job push into an unlinked image');
    // And a private image becomes anonymously pullable once its owner makes it public.
    await wharf(server, ['package', 'visibility', 'container', 'alice/podapp', 'public']);
    ok(await anon.podman(['pull', tls, img('alice/podapp:1')]), 'anonymous pull once public');
    assert.equal(await helloOf(anon, img('alice/podapp:1')), 'hello from podman\n');
  });

  test('podman manifest: a two-platform list pushed with --all; podman pull --arch picks each platform', T, async () => {
    const images = new Map<string, Descriptor>();
    for (const arch of ['amd64', 'arm64']) images.set(arch, await buildImage(layout, arch, { files: { 'hello.txt': `hello from ${arch}\n` }, architecture: arch, os: 'linux' }));
    const list = 'localhost/podmulti:list';
    ok(await builder.podman(['manifest', 'create', list]), 'podman manifest create');
    for (const arch of ['amd64', 'arm64']) ok(await builder.podman(['manifest', 'add', list, `oci:${layout}:${arch}`]), `podman manifest add ${arch}`);
    ok(await builder.podman(['manifest', 'push', tls, '--creds', aliceCreds(), '--all', list, `docker://${img('alice/podmulti:1')}`]), 'podman manifest push --all');

    const raw = await rawManifest('alice/podmulti:1');
    assert.ok([MEDIA.ociIndex, 'application/vnd.docker.distribution.manifest.list.v2+json'].includes(raw.mediaType), raw.mediaType);
    assert.deepEqual(raw.manifests.map((m: Descriptor) => `${m.platform!.os}/${m.platform!.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);

    for (const arch of ['amd64', 'arm64']) {
      const m = machine();
      ok(await m.podman(['pull', tls, '--creds', aliceCreds(), '--arch', arch, '--os', 'linux', img('alice/podmulti:1')]), `podman pull --arch ${arch}`);
      const [info] = parseJson(ok(await m.podman(['image', 'inspect', img('alice/podmulti:1')]), 'podman image inspect'));
      assert.equal(info.Architecture, arch);
      assert.equal(await helloOf(m, img('alice/podmulti:1')), `hello from ${arch}\n`);
    }

    const versions = await fetch(`${server.url}/api/v1/users/alice/packages/container/podmulti/versions`, { headers: { authorization: `Bearer ${aliceToken}` } });
    assert.equal(versions.status, 200);
    const rows = (await versions.json()) as { name: string; metadata: { container: { tags: string[] } } }[];
    assert.equal(rows.length, 3, JSON.stringify(rows));
    assert.deepEqual(rows.filter((r) => r.metadata.container.tags.length).map((r) => r.metadata.container.tags), [['1']]);
  });
});
