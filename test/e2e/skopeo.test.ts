// End to end with the real skopeo (1.9, containers/image 5.23) and umoci against Wharf started as `npm start`
// starts it (issue 3): push, pull back, inspect, list-tags and delete of images built with umoci; a multi-arch
// image index; nested names; anonymous pulls of public images and the right errors for private ones; images
// linked to their repository by the org.opencontainers.image.source label; package visibility and grants from
// the CLI; job tokens; the REST API's versions with delete and restore; cross-repository blob mounts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { userWithToken, wharf } from './helpers-npm.ts';
import {
  buildImage, fails, Machine, MEDIA, ok, parseJson, readImageFile, readJsonBlob, RecordingProxy, refDescriptor, setRef, writeImageIndex, type Descriptor,
} from './helpers-oci.ts';

const T = { timeout: 180_000 };
const SOURCE = 'org.opencontainers.image.source';
/** What skopeo prints when the registry asks for credentials it did not get (or a token that grants nothing). */
const AUTH_ERROR = /authentication required|unauthorized|invalid username\/password/i;
/** What skopeo prints for a repository or manifest the registry says does not exist. */
const NOT_FOUND = /manifest unknown|name unknown|not found/i;

describe('skopeo and umoci against Wharf', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let host: string;
  let aliceToken: string;
  let bobToken: string;
  let layout: string;
  let alice: Machine;
  let anon: Machine;
  let bobM: Machine;
  const machines: Machine[] = [];
  const dirs: string[] = [];
  const images = new Map<string, Descriptor>();

  const machine = () => {
    const m = new Machine();
    machines.push(m);
    return m;
  };
  const tls = '--tls-verify=false';
  const ref = (name: string) => `docker://${host}/${name}`;
  const aliceCreds = () => `alice:${aliceToken}`;
  /** skopeo copy from the test layout to the registry. */
  const push = (m: Machine, image: string, dest: string, creds: string | null = aliceCreds(), extra: string[] = []) =>
    m.skopeo(['copy', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', creds] : []), ...extra, `oci:${layout}:${image}`, ref(dest)]);
  /** skopeo copy from the registry into a fresh layout on the machine; returns the result and the layout. */
  const pull = async (m: Machine, src: string, creds: string | null = null, extra: string[] = []) => {
    const back = m.mkdir(`back-${Math.random().toString(36).slice(2)}`);
    const r = await m.skopeo(['copy', '--src-tls-verify=false', ...(creds ? ['--src-creds', creds] : []), ...extra, ref(src), `oci:${back}:img`]);
    return { r, back };
  };
  const inspect = (m: Machine, name: string, creds: string | null = null, extra: string[] = []) =>
    m.skopeo(['inspect', tls, ...(creds ? ['--creds', creds] : []), ...extra, ref(name)]);
  const listTags = (m: Machine, name: string, creds: string | null = null) => m.skopeo(['list-tags', tls, ...(creds ? ['--creds', creds] : []), ref(name)]);
  /** Unpacks what a pull wrote and returns /hello.txt. */
  const helloOf = (back: string) => readImageFile(back, 'img', 'hello.txt');

  const api = async (method: string, p: string, token?: string) => {
    const r = await fetch(`${server.url}/api/v1${p}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    server = await spawnWharf();
    host = `127.0.0.1:${server.port}`;
    aliceToken = await userWithToken(server, 'alice');
    bobToken = await userWithToken(server, 'bob');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    await wharf(server, ['repo', 'create', 'alice/other', '--visibility', 'private']);
    layout = tempDir('wharf-oci-layout-');
    dirs.push(layout);
    fs.rmSync(layout, { recursive: true });
    const build = async (name: string, spec: Parameters<typeof buildImage>[2] = {}) => images.set(name, await buildImage(layout, name, spec));
    await build('app', { files: { 'hello.txt': 'hello from app v1\n' }, labels: { 'org.example.kind': 'app' } });
    await build('app2', { files: { 'hello.txt': 'hello from app v2\n' } });
    await build('linked', { files: { 'hello.txt': 'hello from linked\n' }, labels: { [SOURCE]: 'https://github.com/alice/hello' } });
    await build('elsewhere', { files: { 'hello.txt': 'hello from elsewhere\n' }, labels: { [SOURCE]: 'https://github.com/alice/other' } });
    await build('amd', { files: { 'hello.txt': 'hello from amd64\n' }, architecture: 'amd64', os: 'linux' });
    await build('arm', { files: { 'hello.txt': 'hello from arm64\n' }, architecture: 'arm64', os: 'linux' });
    images.set('multi', writeImageIndex(layout, 'multi', ['amd', 'arm']));
    alice = machine();
    anon = machine();
    bobM = machine();
  });

  after(async () => {
    await server?.stop();
    for (const m of machines) m.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('skopeo copy pushes an image; pulling it back gives the same file; inspect shows its digest, tag and labels', T, async () => {
    ok(await push(alice, 'app', 'alice/app:1'), 'skopeo copy (push)');
    const { r, back } = await pull(alice, 'alice/app:1', aliceCreds());
    ok(r, 'skopeo copy (pull)');
    assert.equal(await helloOf(back), 'hello from app v1\n');
    // The manifest comes back byte for byte.
    assert.equal(refDescriptor(back, 'img').digest, images.get('app')!.digest);

    const info = parseJson(ok(await inspect(alice, 'alice/app:1', aliceCreds()), 'skopeo inspect'));
    assert.equal(info.Digest, images.get('app')!.digest);
    assert.deepEqual(info.RepoTags, ['1']);
    assert.equal(info.Labels['org.example.kind'], 'app');
    assert.equal(info.Os, 'linux');
    assert.equal(info.Layers.length, 1);

    const raw = parseJson(ok(await alice.skopeo(['inspect', '--raw', tls, '--creds', aliceCreds(), ref('alice/app:1')]), 'skopeo inspect --raw'));
    assert.equal(raw.mediaType ?? MEDIA.ociManifest, MEDIA.ociManifest);
    assert.deepEqual(raw, readJsonBlob(layout, images.get('app')!.digest));
  });

  test('skopeo login stores credentials in the auth file; later commands use them; list-tags lists every tag', T, async () => {
    const m = machine();
    ok(await m.skopeo(['login', tls, '--authfile', m.authFile, '--username', 'alice', '--password-stdin', host], { stdin: aliceToken }), 'skopeo login');
    assert.ok(fs.existsSync(m.authFile), 'skopeo login wrote no auth file');
    assert.ok(JSON.parse(fs.readFileSync(m.authFile, 'utf8')).auths[host], 'no entry for the registry in the auth file');
    ok(await push(m, 'app', 'alice/app:latest', null), 'skopeo copy with the auth file');
    ok(await push(m, 'app2', 'alice/app:2', null), 'skopeo copy with the auth file');
    const tags = parseJson(ok(await listTags(m, 'alice/app'), 'skopeo list-tags'));
    assert.equal(tags.Repository, `${host}/alice/app`);
    assert.deepEqual([...tags.Tags].sort(), ['1', '2', 'latest']);
    ok(await m.skopeo(['logout', '--authfile', m.authFile, host]), 'skopeo logout');
    fails(await listTags(m, 'alice/app'), 'list-tags of a private image after logout');
  });

  test('a private image: anonymous clients (no credentials at all) get an authentication error', T, async () => {
    const anonInspect = fails(await inspect(anon, 'alice/app:1'), 'anonymous inspect of a private image');
    assert.match(anonInspect.output, AUTH_ERROR);
    const anonPull = fails((await pull(anon, 'alice/app:1')).r, 'anonymous pull of a private image');
    assert.match(anonPull.output, AUTH_ERROR);
    assert.match(fails(await listTags(anon, 'alice/app'), 'anonymous list-tags of a private image').output, AUTH_ERROR);
    fails(await push(anon, 'app', 'alice/app:anon', null), 'anonymous push');
  });

  test('a bad password fails with an authentication error, for pulls and pushes', T, async () => {
    assert.match(fails(await inspect(anon, 'alice/app:1', 'alice:not-the-password'), 'inspect with a bad password').output, AUTH_ERROR);
    assert.match(fails(await push(anon, 'app', 'alice/app:bad', 'alice:not-the-password'), 'push with a bad password').output, AUTH_ERROR);
    assert.match(fails(await inspect(anon, 'alice/linked-nothing:1', 'nobody:whatever'), 'inspect as an unknown user').output, AUTH_ERROR);
    const tags = parseJson(ok(await listTags(alice, 'alice/app', aliceCreds()), 'list-tags'));
    assert.deepEqual([...tags.Tags].sort(), ['1', '2', 'latest']);
  });

  test('a private image: a signed-in user without access may not push, and is told "name unknown" (not asked to sign in) on pulls', T, async () => {
    // Pushes first, so that a failure of the pull wording below does not hide them.
    fails(await push(bobM, 'app2', 'alice/app:bob', `bob:${bobToken}`), 'push by a user without access');
    fails(await push(bobM, 'app2', 'alice/bobs:1', `bob:${bobToken}`), "push into another user's namespace");
    const tags = parseJson(ok(await listTags(alice, 'alice/app', aliceCreds()), 'list-tags'));
    assert.deepEqual([...tags.Tags].sort(), ['1', '2', 'latest']);
    assert.match(fails(await inspect(alice, 'alice/bobs:1', aliceCreds()), 'inspect of what bob could not push').output, NOT_FOUND);

    const bobInspect = fails(await inspect(bobM, 'alice/app:1', `bob:${bobToken}`), 'inspect of a private image by a user without access');
    const bobPull = fails((await pull(bobM, 'alice/app:1', `bob:${bobToken}`)).r, 'pull of a private image by a user without access');
    const bobTags = fails(await listTags(bobM, 'alice/app', `bob:${bobToken}`), 'list-tags of a private image by a user without access');
    for (const r of [bobInspect, bobPull, bobTags]) {
      assert.match(r.output, NOT_FOUND);
      assert.doesNotMatch(r.output, AUTH_ERROR);
    }
  });

  test('nested names: alice/team/app pushes, lists, inspects and pulls back', T, async () => {
    ok(await push(alice, 'app2', 'alice/team/app:v2'), 'push alice/team/app');
    ok(await push(alice, 'app', 'alice/team/sub/app:v1'), 'push alice/team/sub/app');
    const tags = parseJson(ok(await listTags(alice, 'alice/team/app', aliceCreds()), 'list-tags'));
    assert.equal(tags.Repository, `${host}/alice/team/app`);
    assert.deepEqual(tags.Tags, ['v2']);
    const info = parseJson(ok(await inspect(alice, 'alice/team/app:v2', aliceCreds()), 'inspect'));
    assert.equal(info.Digest, images.get('app2')!.digest);
    const { r, back } = await pull(alice, 'alice/team/sub/app:v1', aliceCreds());
    ok(r, 'pull alice/team/sub/app');
    assert.equal(await helloOf(back), 'hello from app v1\n');
    assert.match(fails(await inspect(anon, 'alice/team/app:v2'), 'anonymous inspect').output, AUTH_ERROR);
    const list = await api('GET', '/users/alice/packages?package_type=container', aliceToken);
    assert.ok(list.body.some((p: { name: string }) => p.name === 'team/app'), JSON.stringify(list.body));
    // The REST API names it with its slash encoded, as GitHub does.
    const versions = await api('GET', '/users/alice/packages/container/team%2Fapp/versions', aliceToken);
    assert.equal(versions.status, 200, JSON.stringify(versions.body));
    assert.deepEqual(versions.body.map((v: { name: string; metadata: { container: { tags: string[] } } }) => [v.name, v.metadata.container.tags]), [[images.get('app2')!.digest, ['v2']]]);
    // And the CLI takes the nested name.
    await wharf(server, ['package', 'visibility', 'container', 'alice/team/app', 'public']);
    const pub = parseJson(ok(await inspect(anon, 'alice/team/app:v2'), 'anonymous inspect once public'));
    assert.equal(pub.Digest, images.get('app2')!.digest);
    assert.match(fails(await inspect(anon, 'alice/team/sub/app:v1'), 'anonymous inspect of the still private sibling').output, AUTH_ERROR);
  });

  test('a multi-arch image index with two platforms: copy --all pushes it, inspect --raw shows it, copy --all pulls both back', T, async () => {
    ok(await push(alice, 'multi', 'alice/multi:1', aliceCreds(), ['--all']), 'skopeo copy --all (push)');
    const raw = parseJson(ok(await alice.skopeo(['inspect', '--raw', tls, '--creds', aliceCreds(), ref('alice/multi:1')]), 'inspect --raw'));
    assert.equal(raw.mediaType, MEDIA.ociIndex);
    assert.deepEqual(raw, readJsonBlob(layout, images.get('multi')!.digest));
    assert.deepEqual(raw.manifests.map((m: Descriptor) => `${m.platform!.os}/${m.platform!.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);

    // Each platform resolves to its own image.
    for (const [arch, child] of [['arm64', 'arm'], ['amd64', 'amd']] as const) {
      const info = parseJson(ok(await inspect(alice, 'alice/multi:1', aliceCreds(), ['--override-arch', arch, '--override-os', 'linux']), `inspect for ${arch}`));
      assert.equal(info.Architecture, arch);
      // skopeo reports the digest of what the tag names (the index) and the layers of the platform's image.
      assert.equal(info.Digest, images.get('multi')!.digest);
      assert.deepEqual(info.Layers, readJsonBlob(layout, images.get(child)!.digest).layers.map((l: Descriptor) => l.digest));
      const { r, back } = await pull(alice, 'alice/multi:1', aliceCreds(), ['--override-arch', arch, '--override-os', 'linux']);
      ok(r, `pull for ${arch}`);
      assert.equal(refDescriptor(back, 'img').digest, images.get(child)!.digest);
      assert.equal(await helloOf(back), `hello from ${child === 'arm' ? 'arm64' : 'amd64'}\n`);
    }

    const { r, back } = await pull(alice, 'alice/multi:1', aliceCreds(), ['--all']);
    ok(r, 'skopeo copy --all (pull)');
    const idx = refDescriptor(back, 'img');
    assert.equal(idx.digest, images.get('multi')!.digest);
    assert.equal(idx.mediaType, MEDIA.ociIndex);
    for (const m of readJsonBlob<{ manifests: Descriptor[] }>(back, idx.digest).manifests) {
      setRef(back, m.platform!.architecture, m);
      assert.equal(await readImageFile(back, m.platform!.architecture, 'hello.txt'), `hello from ${m.platform!.architecture}\n`);
    }

    // The REST API lists the index and its two images, the index with its tag and its platforms.
    const pkgs = await api('GET', '/users/alice/packages/container/multi/versions', aliceToken);
    assert.equal(pkgs.status, 200);
    const byName = new Map(pkgs.body.map((v: any) => [v.name, v]));
    assert.equal(byName.size, 3, JSON.stringify(pkgs.body));
    const top = byName.get(images.get('multi')!.digest) as any;
    assert.deepEqual(top.metadata.container.tags, ['1']);
    assert.deepEqual(top.metadata.platforms.map((p: any) => p.architecture).sort(), ['amd64', 'arm64']);
  });

  test('skopeo delete removes the manifest: inspect then fails with "manifest unknown" and list-tags shows no tag', T, async () => {
    ok(await push(alice, 'app2', 'alice/doomed:1'), 'push');
    ok(await push(alice, 'app2', 'alice/doomed:also'), 'push a second tag');
    ok(await push(alice, 'app', 'alice/doomed:keep'), 'push another image');
    ok(await alice.skopeo(['delete', tls, '--creds', aliceCreds(), ref('alice/doomed:1')]), 'skopeo delete');
    for (const r of ['alice/doomed:1', 'alice/doomed:also', `alice/doomed@${images.get('app2')!.digest}`]) {
      const gone = fails(await inspect(alice, r, aliceCreds()), `inspect ${r} after delete`);
      assert.match(gone.output, /manifest unknown/i);
    }
    const tags = parseJson(ok(await listTags(alice, 'alice/doomed', aliceCreds()), 'list-tags'));
    assert.deepEqual(tags.Tags, ['keep']);
    const kept = parseJson(ok(await inspect(alice, 'alice/doomed:keep', aliceCreds()), 'inspect the other image'));
    assert.equal(kept.Digest, images.get('app')!.digest);
    // Deleting needs the delete permission: bob (no access) cannot.
    ok(await push(alice, 'app2', 'alice/doomed:2'), 'push again');
    fails(await bobM.skopeo(['delete', tls, '--creds', `bob:${bobToken}`, ref('alice/doomed:2')]), 'skopeo delete by a user without access');
    ok(await inspect(alice, 'alice/doomed:2', aliceCreds()), 'inspect after a refused delete');
  });

  test('an image labelled org.opencontainers.image.source=…/alice/hello links to that public repository and pulls anonymously', T, async () => {
    ok(await push(alice, 'linked', 'alice/linked:1'), 'push');
    const info = parseJson(ok(await inspect(anon, 'alice/linked:1'), 'anonymous inspect'));
    assert.equal(info.Labels[SOURCE], 'https://github.com/alice/hello');
    assert.equal(info.Digest, images.get('linked')!.digest);
    const { r, back } = await pull(anon, 'alice/linked:1');
    ok(r, 'anonymous pull');
    assert.equal(await helloOf(back), 'hello from linked\n');
    assert.deepEqual(parseJson(ok(await listTags(anon, 'alice/linked'), 'anonymous list-tags')).Tags, ['1']);
    const pkg = await api('GET', '/users/alice/packages/container/linked');
    assert.equal(pkg.status, 200);
    assert.equal(pkg.body.visibility, 'public');
    assert.equal(pkg.body.repository?.full_name, 'alice/hello');
    // Anonymous users may pull, not push.
    fails(await push(anon, 'app', 'alice/linked:2', null), 'anonymous push');
  });

  test('wharf package visibility container alice/vis public makes a private image pullable anonymously', T, async () => {
    ok(await push(alice, 'app2', 'alice/vis:1'), 'push');
    assert.match(fails(await inspect(anon, 'alice/vis:1'), 'anonymous inspect while private').output, AUTH_ERROR);
    await wharf(server, ['package', 'visibility', 'container', 'alice/vis', 'public']);
    const { r, back } = await pull(anon, 'alice/vis:1');
    ok(r, 'anonymous pull once public');
    assert.equal(await helloOf(back), 'hello from app v2\n');
    assert.deepEqual(parseJson(ok(await listTags(anon, 'alice/vis'), 'anonymous list-tags')).Tags, ['1']);
    await wharf(server, ['package', 'visibility', 'container', 'alice/vis', 'private']);
    assert.match(fails(await inspect(anon, 'alice/vis:1'), 'anonymous inspect once private again').output, AUTH_ERROR);
  });

  test('wharf package grant … bob --role read lets bob pull, not push', T, async () => {
    ok(await push(alice, 'app', 'alice/shared:1'), 'push');
    const before = fails(await inspect(bobM, 'alice/shared:1', `bob:${bobToken}`), 'bob before the grant');
    await wharf(server, ['package', 'grant', 'container', 'alice/shared', 'bob', '--role', 'read']);
    const { r, back } = await pull(bobM, 'alice/shared:1', `bob:${bobToken}`);
    ok(r, 'bob pulls after the grant');
    assert.equal(await helloOf(back), 'hello from app v1\n');
    fails(await push(bobM, 'app2', 'alice/shared:bob', `bob:${bobToken}`), 'bob pushes with read access');
    fails(await bobM.skopeo(['delete', tls, '--creds', `bob:${bobToken}`, ref('alice/shared:1')]), 'bob deletes with read access');
    // Still private to everyone else.
    assert.match(fails(await inspect(anon, 'alice/shared:1'), 'anonymous').output, AUTH_ERROR);
    await wharf(server, ['package', 'grant', 'container', 'alice/shared', 'bob', '--role', 'write']);
    ok(await push(bobM, 'app2', 'alice/shared:bob', `bob:${bobToken}`), 'bob pushes with write access');
    assert.deepEqual([...parseJson(ok(await listTags(alice, 'alice/shared', aliceCreds()), 'list-tags')).Tags].sort(), ['1', 'bob']);
    // Before the grant bob was told the image does not exist (asserted last so that the rest runs either way).
    assert.match(before.output, NOT_FOUND);
  });

  test('a job token of alice/hello pushes an image linked to alice/hello, is denied one labelled for another repository, and pulls what its repository was granted', T, async () => {
    const job = await wharf(server, ['token', 'create-job', 'alice/hello']);
    const ci = machine();
    const creds = `x:${job}`;
    ok(await push(ci, 'linked', 'alice/ci-linked:1', creds), 'job push of an image labelled for its repository');
    // Linked to the public repository: anyone may pull it.
    const { r, back } = await pull(anon, 'alice/ci-linked:1');
    ok(r, 'anonymous pull of the job-pushed image');
    assert.equal(await helloOf(back), 'hello from linked\n');
    const pkg = await api('GET', '/users/alice/packages/container/ci-linked');
    assert.equal(pkg.body.repository?.full_name, 'alice/hello');

    const denied = fails(await push(ci, 'elsewhere', 'alice/ci-elsewhere:1', creds), 'job push of an image labelled for alice/other');
    assert.match(denied.output, /denied|unauthorized|forbidden/i);
    assert.match(fails(await inspect(alice, 'alice/ci-elsewhere:1', aliceCreds()), 'inspect of the refused image').output, NOT_FOUND);
    // Nor into an existing image of alice's that is not linked to alice/hello.
    fails(await push(ci, 'linked', 'alice/app:ci', creds), 'job push into an unlinked image');
    assert.ok(!parseJson(ok(await listTags(alice, 'alice/app', aliceCreds()), 'list-tags')).Tags.includes('ci'));

    // Reading: not before alice/hello is granted alice/app, then yes.
    fails(await inspect(ci, 'alice/app:1', creds), 'job pull of an image its repository was not granted');
    await wharf(server, ['package', 'grant', 'container', 'alice/app', 'alice/hello', '--role', 'read']);
    const granted = await pull(ci, 'alice/app:1', creds);
    ok(granted.r, 'job pull once its repository is granted');
    assert.equal(await helloOf(granted.back), 'hello from app v1\n');

    // The refused image was meant for the private alice/other: none of it may be readable anonymously, nor listed.
    const layer = readJsonBlob(layout, images.get('elsewhere')!.digest).layers[0].digest as string;
    const blob = await fetch(`${server.url}/v2/alice/ci-elsewhere/blobs/${layer}`);
    assert.notEqual(blob.status, 200, 'a layer of the refused image is downloadable without credentials');
    const pub = await api('GET', '/users/alice/packages?package_type=container');
    assert.ok(!pub.body.some((p: { name: string }) => p.name === 'ci-elsewhere'), `the refused push left a public package: ${JSON.stringify(pub.body.map((p: { name: string }) => p.name))}`);
  });

  test('REST API: lists the container packages and one version per manifest digest with its tags; DELETE and restore a version', T, async () => {
    const list = await api('GET', '/users/alice/packages?package_type=container', aliceToken);
    assert.equal(list.status, 200);
    const names = list.body.map((p: { name: string }) => p.name);
    for (const n of ['app', 'multi', 'linked', 'team/app']) assert.ok(names.includes(n), `${n} missing from ${names}`);
    assert.ok(list.body.every((p: { package_type: string }) => p.package_type === 'container'));
    // Anonymous callers see only the public ones.
    const pub = await api('GET', '/users/alice/packages?package_type=container');
    assert.equal(pub.status, 200);
    const pubNames = pub.body.map((p: { name: string }) => p.name);
    assert.ok(pubNames.includes('linked') && !pubNames.includes('app'), String(pubNames));

    const versions = await api('GET', '/users/alice/packages/container/app/versions', aliceToken);
    assert.equal(versions.status, 200);
    const byDigest = new Map<string, any>(versions.body.map((v: any) => [v.name, v]));
    assert.equal(byDigest.size, versions.body.length, 'one version per manifest digest');
    assert.deepEqual([...byDigest.keys()].sort(), [images.get('app')!.digest, images.get('app2')!.digest].sort());
    const v1 = byDigest.get(images.get('app')!.digest);
    const v2 = byDigest.get(images.get('app2')!.digest);
    assert.deepEqual([...v1.metadata.container.tags].sort(), ['1', 'latest']);
    assert.deepEqual(v2.metadata.container.tags, ['2']);
    assert.equal(v1.metadata.package_type, 'container');

    const del = await api('DELETE', `/users/alice/packages/container/app/versions/${v2.id}`, aliceToken);
    assert.equal(del.status, 204);
    assert.match(fails(await inspect(alice, 'alice/app:2', aliceCreds()), 'inspect by tag after DELETE').output, /manifest unknown/i);
    assert.match(fails(await inspect(alice, `alice/app@${images.get('app2')!.digest}`, aliceCreds()), 'inspect by digest after DELETE').output, /manifest unknown/i);
    assert.ok(!parseJson(ok(await listTags(alice, 'alice/app', aliceCreds()), 'list-tags')).Tags.includes('2'));
    const deleted = await api('GET', '/users/alice/packages/container/app/versions?state=deleted', aliceToken);
    assert.deepEqual(deleted.body.map((v: any) => v.id), [v2.id]);
    // The other version is untouched.
    ok(await inspect(alice, 'alice/app:1', aliceCreds()), 'inspect the other version');

    const restore = await api('POST', `/users/alice/packages/container/app/versions/${v2.id}/restore`, aliceToken);
    assert.equal(restore.status, 204);
    const info = parseJson(ok(await inspect(alice, 'alice/app:2', aliceCreds()), 'inspect by tag after restore'));
    assert.equal(info.Digest, images.get('app2')!.digest);
    const { r, back } = await pull(alice, `alice/app@${images.get('app2')!.digest}`, aliceCreds());
    ok(r, 'pull by digest after restore');
    assert.equal(await helloOf(back), 'hello from app v2\n');
    const after = await api('GET', '/users/alice/packages/container/app/versions', aliceToken);
    assert.deepEqual(after.body.find((v: any) => v.id === v2.id)?.metadata.container.tags, ['2']);

    // bob can neither see nor delete alice's private versions.
    assert.equal((await api('GET', '/users/alice/packages/container/app/versions', bobToken)).status, 404);
    assert.equal((await api('DELETE', `/users/alice/packages/container/app/versions/${v1.id}`, bobToken)).status, 404);
  });

  test('cross-repository blob mount: pushing the same image to a second repository mounts its layer instead of uploading it', T, async () => {
    const proxy = await new RecordingProxy(server.url).start();
    try {
      const m = machine();
      const dest = (name: string) => `docker://127.0.0.1:${proxy.port}/${name}`;
      const copy = (m: Machine, image: string, name: string, creds: string) => m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:${image}`, dest(name)]);
      const layersOf = (image: string) => readJsonBlob(layout, images.get(image)!.digest).layers.map((l: Descriptor) => l.digest) as string[];
      /** Blob uploads completed in `repo` (the PUT that closes an upload names the digest). */
      const uploaded = (repo: string, from = 0) =>
        proxy.log.slice(from).filter((e) => e.method === 'PUT' && e.url.startsWith(`/v2/${repo}/blobs/uploads/`)).map((e) => decodeURIComponent(/[?&]digest=([^&]+)/.exec(e.url)?.[1] ?? ''));
      const mounts = (repo: string, from = 0) => proxy.log.slice(from).filter((e) => e.method === 'POST' && e.url.startsWith(`/v2/${repo}/blobs/uploads/`) && /[?&]mount=/.test(e.url));

      ok(await copy(m, 'linked', 'alice/mount-src:1', aliceCreds()), 'first push');
      for (const l of layersOf('linked')) assert.ok(uploaded('alice/mount-src').includes(l), `the first push did not upload ${l}:\n${proxy.dump()}`);
      const start = proxy.log.length;
      const second = ok(await copy(m, 'linked', 'alice/mount-dst:1', aliceCreds()), 'second push');
      for (const l of layersOf('linked')) {
        assert.ok(!uploaded('alice/mount-dst', start).includes(l), `the second push uploaded layer ${l} again:\n${proxy.dump()}\n${second.output}`);
        const mounted = mounts('alice/mount-dst', start).some((e) => e.url.includes(encodeURIComponent(l)) && e.status === 201);
        assert.ok(mounted || /skipped: already exists/.test(second.output), `layer ${l} was neither mounted nor skipped:\n${proxy.dump()}`);
      }
      // The mounted copy is complete: it pulls back with its content.
      const { r, back } = await pull(m, 'alice/mount-dst:1', aliceCreds());
      ok(r, 'pull of the mounted copy');
      assert.equal(await helloOf(back), 'hello from linked\n');

      // No mount from a repository the pusher may not read: after alice pushes a private image through the same
      // host (so skopeo's blob cache knows where its layer lives), bob's push of it uploads the layer itself.
      ok(await copy(m, 'app2', 'alice/mount-private:1', aliceCreds()), 'alice pushes a private image');
      const b = machine();
      const bobStart = proxy.log.length;
      ok(await copy(b, 'app2', 'bob/copy:1', `bob:${bobToken}`), 'bob pushes the same image to his own namespace');
      assert.ok(!mounts('bob/copy', bobStart).some((e) => e.status === 201), `bob mounted a blob of alice's private image:\n${proxy.dump()}`);
      // skopeo looks at the source first; Wharf must not confirm the blob there to bob.
      const peeks = proxy.log.slice(bobStart).filter((e) => e.url.startsWith('/v2/alice/mount-private/'));
      assert.ok(peeks.every((e) => e.status === 401 || e.status === 404), `bob could read alice/mount-private:\n${proxy.dump()}`);
      // Asked outright, the registry answers a mount from a repository bob may not read with a normal upload (202).
      const layer = layersOf('app2')[0];
      const basicBob = `Basic ${Buffer.from(`bob:${bobToken}`).toString('base64')}`;
      const direct = await fetch(`${server.url}/v2/bob/copy/blobs/uploads/?mount=${encodeURIComponent(layer)}&from=alice%2Fmount-private`, { method: 'POST', headers: { authorization: basicBob } });
      assert.equal(direct.status, 202, await direct.text());
      assert.match(direct.headers.get('location') ?? '', /^\/v2\/bob\/copy\/blobs\/uploads\/./);
      await fetch(new URL(direct.headers.get('location')!, server.url), { method: 'DELETE', headers: { authorization: basicBob } });
      for (const l of layersOf('app2')) assert.ok(uploaded('bob/copy', bobStart).includes(l), `bob's push did not upload ${l}:\n${proxy.dump()}`);
      const bobBack = await pull(b, 'bob/copy:1', `bob:${bobToken}`);
      ok(bobBack.r, 'bob pulls his copy');
      assert.equal(await helloOf(bobBack.back), 'hello from app v2\n');
    } finally {
      await proxy.stop();
    }
  });
});
