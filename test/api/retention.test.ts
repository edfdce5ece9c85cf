// Retention rules and protected tags against a running Wharf (in-process, both databases), with the clock
// injected (Date mocked): a multi-arch image with a cosign-style signature and an SBOM referrer pushed daily for
// ten simulated days; npm prereleases; Maven SNAPSHOTs. The dry run lists exactly what the run deletes, nothing a
// kept version needs goes, what goes is restorable with what went along. Protected tags refuse moves and removals
// in each protocol's own error format.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { planPackage } from '../../src/core/retention/plan.ts';
import { dialects } from '../helpers/databases.ts';
import { publish, publishBody, npmTarball, putPackage } from '../helpers/npm-body.ts';
import { artifactManifest, basic, blob, emptyConfig, imageManifest, multiPlatform, pushImage, pushIndex, pushManifest, type Manifest } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const DAY = 864e5;
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const SBOM = 'application/spdx+json';

/** A legacy cosign signature manifest for `digest` (pushed at the tag `sha256-<hex>.sig`). */
function cosignSignature(digest: string): Manifest {
  const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' } }));
  return imageManifest({ config: emptyConfig(), layers: [blob(payload, SIMPLE_SIGNING)] });
}
const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

describe('retention plan (pure)', () => {
  test('keep_last alone deletes beyond N; with an age limit it is a floor; latest and protected tags always stay', () => {
    const now = Date.parse('2030-01-20T00:00:00Z');
    const v = (i: number, tags: string[] = []) => ({ id: i, version: `1.0.${i}`, writtenAt: new Date(now - (10 - i) * DAY).toISOString(), tags, children: [] });
    const vs = [v(1, ['latest']), v(2, ['v2']), v(3), v(4), v(5), v(6)];
    const del = (rule: object, prot: string[] = []) => planPackage(vs, rule, prot, now).filter((d) => d.action === 'delete').map((d) => d.version);
    assert.deepEqual(del({ keep_last: 2 }), ['1.0.4', '1.0.3', '1.0.2']);
    assert.deepEqual(del({ keep_last: 2 }, ['v*']), ['1.0.4', '1.0.3']);
    assert.deepEqual(del({ keep_last: 2, delete_older_than_days: 6 }), ['1.0.3', '1.0.2']);
    assert.deepEqual(del({ delete_untagged_older_than_days: 5 }), ['1.0.4', '1.0.3']);
    assert.deepEqual(del({ delete_older_than_days: 1, keep_pattern: '^1\\.0\\.[34]$' }), ['1.0.6', '1.0.5', '1.0.2']);
  });
});

for (const dialect of dialects()) {
  describe(`retention and protected tags on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    let auth: string;
    const day0 = Math.ceil(Date.now() / DAY) * DAY + 30 * DAY; // midnight, a month ahead: later than anything real
    const at = (d: number) => mock.timers.setTime(day0 + d * DAY + 12 * 3600e3);

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      auth = basic('alice', alice);
      mock.timers.enable({ apis: ['Date'], now: day0 });
    });
    after(async () => {
      mock.timers.reset();
      await s.stop();
    });

    const owner = () => s.core.identity.requireOwner('alice');
    const pkgOf = async (type: string, name: string) => (await s.core.packages.find('alice', type, name))!;
    const live = async (type: string, name: string) => new Set((await s.core.packages.versions((await pkgOf(type, name)).id)).map((v) => v.version));

    test('containers: 10 daily multi-arch pushes with signature and SBOM; "untagged older than 3 days, keep last 5"', async () => {
      const name = 'alice/app';
      const days: { index: Manifest; amd64: Manifest; arm64: Manifest; sig: Manifest; sbom: Manifest }[] = [];
      for (let d = 1; d <= 10; d++) {
        at(d);
        const image = multiPlatform();
        await pushIndex(s.url, name, 'latest', image, auth);
        if (d === 2 || d === 4) assert.equal((await pushManifest(s.url, name, `v1.0.${d}`, image.index, auth)).status, 201);
        const sig = cosignSignature(image.index.digest);
        await pushImage(s.url, name, sigTag(image.index.digest), sig, auth);
        const sbom = artifactManifest({ subject: image.index, artifactType: SBOM });
        await pushImage(s.url, name, sbom.digest, sbom, auth);
        days.push({ ...image, sig, sbom });
      }
      at(10);
      const own = await owner();
      const rule = { delete_untagged_older_than_days: 3, keep_last: 5 };
      // The preview of an unsaved rule, then the saved rule's dry run: the same list.
      const preview = await s.core.retention.preview(systemActor, { owner: own, type: 'container' }, rule);
      await s.core.retention.setRule(systemActor, { owner: own, type: 'container' }, rule);
      const dry = await s.core.retention.run(systemActor, { owner: own }, { dryRun: true });
      assert.deepEqual(dry.deleted, preview.deleted);
      const gone = [1, 3, 5].flatMap((d) => [days[d - 1].index, days[d - 1].amd64, days[d - 1].arm64, days[d - 1].sig, days[d - 1].sbom].map((m) => m.digest));
      assert.deepEqual(dry.deleted.map((i) => i.version).sort(), [...gone].sort());
      const idx1 = dry.deleted.find((i) => i.version === days[0].index.digest)!;
      assert.match(idx1.reason, /untagged, older than 3 days/);
      assert.equal(dry.deleted.find((i) => i.version === days[0].sbom.digest)!.with, days[0].index.digest);
      assert.equal((await live('container', 'app')).size, 50, 'a dry run deletes nothing');

      const run = await s.core.retention.run(systemActor, { owner: own });
      assert.deepEqual(run.deleted, dry.deleted, 'the run deletes exactly what the dry run listed');
      const after = await live('container', 'app');
      for (const d of [2, 4, 6, 7, 8, 9, 10]) {
        const k = days[d - 1];
        for (const m of [k.index, k.amd64, k.arm64, k.sig, k.sbom]) assert.ok(after.has(m.digest), `day ${d}: ${m.digest} kept`);
        const refs = await (await fetch(`${s.url}/v2/${name}/referrers/${k.index.digest}`, { headers: { authorization: auth } })).json();
        assert.deepEqual(refs.manifests.map((m: { digest: string }) => m.digest), [k.sbom.digest]);
      }
      for (const g of gone) assert.ok(!after.has(g), `${g} deleted`);
      const r = await fetch(`${s.url}/v2/${name}/manifests/${days[0].amd64.digest}`, { headers: { authorization: auth } });
      assert.equal(r.status, 404);
      // Each deletion has its audit entry, saying why.
      const entries = await s.db.name && (await s.core.db.selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'package_version.delete').execute());
      assert.equal(entries.length, 15);
      assert.ok(entries.every((e) => /retention/.test(String(e.details))));
      // And its `deleted` webhook event: the same change records both (publish.ts deleteVersion).

      // Restore brings the index back with its platform manifests and referrers.
      const pkg = await pkgOf('container', 'app');
      const v1 = (await s.core.packages.version(pkg.id, days[0].index.digest, { includeDeleted: true }))!;
      await s.core.publisher.restoreVersion(pkg.id, v1.id, systemActor);
      const restored = await live('container', 'app');
      for (const m of [days[0].index, days[0].amd64, days[0].arm64, days[0].sig, days[0].sbom]) assert.ok(restored.has(m.digest), `${m.digest} restored`);
      assert.ok(!restored.has(days[2].index.digest), 'only what went with it comes back');
      await s.core.retention.removeRule(systemActor, { owner: own, type: 'container' });
    });

    test('npm prereleases: older than 3 days go, releases (keep pattern) and dist-tagged latest stay; restore works', async () => {
      const name = '@alice/lib';
      const versions = ['1.0.0', '1.1.0-beta.1', '1.1.0-beta.2', '1.1.0-beta.3', '1.1.0-beta.4', '1.1.0', '1.2.0-rc.1', '1.2.0-rc.2'];
      for (const [i, v] of versions.entries()) {
        at(i + 1);
        const tarball = await npmTarball(name, v);
        const tags: Record<string, string> = v.includes('-') ? { next: v } : { latest: v };
        const r = await putPackage(s.url, alice, name, publishBody({ name, version: v, tarball, tags }));
        assert.equal(r.status, 201, await r.text());
      }
      at(10);
      const own = await owner();
      const pkg = await pkgOf('npm', 'lib');
      const rule = { delete_older_than_days: 3, keep_pattern: '^v?\\d+\\.\\d+\\.\\d+$' };
      await s.core.retention.setRule(systemActor, { owner: own, pkg }, rule);
      // A hook nobody listens at: its deliveries are what the run queued (one `deleted` event per version).
      s.core.webhooks.stop();
      await s.core.webhooks.create(systemActor, { ownerId: own.id }, { url: 'http://127.0.0.1:9/hook', events: ['package'] });
      const dry = await s.core.retention.preview(systemActor, { owner: own, pkg });
      assert.deepEqual(dry.deleted.map((d) => d.version), ['1.1.0-beta.4', '1.1.0-beta.3', '1.1.0-beta.2', '1.1.0-beta.1']);
      const run = await s.core.retention.run(systemActor, { owner: own, pkg });
      assert.deepEqual(run.deleted, dry.deleted);
      const deliveries = await s.core.db.selectFrom('webhook_deliveries').select(['event', 'action', 'payload']).execute();
      assert.deepEqual(deliveries.map((d) => `${d.event} ${d.action} ${JSON.parse(d.payload).package.package_version.version}`).sort(), dry.deleted.map((d) => `package deleted ${d.version}`).sort());
      const doc = await (await fetch(`${s.url}/npm/@alice%2flib`, { headers: { authorization: `Bearer ${alice}` } })).json();
      assert.deepEqual(Object.keys(doc.versions).sort(), ['1.0.0', '1.1.0', '1.2.0-rc.1', '1.2.0-rc.2']);
      const b1 = (await s.core.packages.version(pkg.id, '1.1.0-beta.1', { includeDeleted: true }))!;
      await s.core.publisher.restoreVersion(pkg.id, b1.id, systemActor);
      assert.ok((await live('npm', 'lib')).has('1.1.0-beta.1'));
    });

    test('Maven SNAPSHOTs: old ones go, a SNAPSHOT deployed again counts from its last deploy, releases stay', async () => {
      await s.core.identity.createRepo(systemActor, 'alice', 'lib', 'public');
      const deploy = async (d: number, v: string) => {
        at(d);
        const base = `/maven/alice/lib/com/example/hello/${v}`;
        const stamp = v.endsWith('-SNAPSHOT') ? `${v.replace('-SNAPSHOT', '')}-2030010${d % 10}.120000-${d}` : v;
        const pom = `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>hello</artifactId><version>${v}</version></project>`;
        for (const [f, body] of [[`hello-${stamp}.pom`, pom], [`hello-${stamp}.jar`, `jar ${v} ${d}`]]) {
          const r = await fetch(`${s.url}${base}/${f}`, { method: 'PUT', headers: { authorization: auth }, body });
          assert.equal(r.status, 201, `${f}: ${await r.text()}`);
        }
      };
      await deploy(1, '1.0');
      await deploy(2, '1.1-SNAPSHOT');
      await deploy(3, '1.2-SNAPSHOT');
      await deploy(8, '1.3-SNAPSHOT');
      await deploy(9, '1.2-SNAPSHOT');
      at(10);
      const own = await owner();
      await s.core.retention.setRule(systemActor, { owner: own, type: 'maven' }, { delete_older_than_days: 5, keep_pattern: '^\\d+(\\.\\d+)*$' });
      const mavenPkg = (await s.core.db.selectFrom('packages').select('name').where('type', '=', 'maven').executeTakeFirstOrThrow()).name;
      const dry = await s.core.retention.run(systemActor, { owner: own, type: 'maven' }, { dryRun: true });
      assert.deepEqual(dry.deleted.map((d) => d.version), ['1.1-SNAPSHOT']);
      const run = await s.core.retention.run(systemActor, { owner: own, type: 'maven' });
      assert.deepEqual(run.deleted, dry.deleted);
      assert.deepEqual([...(await live('maven', mavenPkg))].sort(), ['1.0', '1.2-SNAPSHOT', '1.3-SNAPSHOT']);
      const meta = await (await fetch(`${s.url}/maven/alice/lib/com/example/hello/maven-metadata.xml`, { headers: { authorization: auth } })).text();
      assert.doesNotMatch(meta, /1\.1-SNAPSHOT/);
    });

    test('rules and previews take admin on what they cover', async () => {
      const own = await owner();
      const api = (method: string, p: string, token: string, body?: unknown) =>
        fetch(`${s.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const r = await api('POST', '/users/alice/retention/preview', bob, { keep_last: 1 });
      assert.equal(r.status, 403, `bob previews alice's rules → ${r.status}`);
      assert.equal((await api('PUT', '/users/alice/packages/npm/lib/retention', bob, { keep_last: 1 })).status, 404, 'a private package: 404 to who cannot see it');
      assert.equal((await api('POST', '/users/alice/protected-tags', bob, { type: 'npm', pattern: 'x' })).status, 403);
      // Alice: set a package rule, see its preview, list it, remove it.
      const put = await api('PUT', '/users/alice/packages/npm/lib/retention', alice, { keep_last: 1 });
      assert.equal(put.status, 200, await put.clone().text());
      const prev = await (await api('POST', '/users/alice/packages/npm/lib/retention/preview', alice, {})).json();
      assert.equal(prev.dry_run, true);
      assert.ok(prev.deleted.length > 0 && prev.deleted.every((d: { reason: string }) => /not among the newest 1/.test(d.reason)));
      const listed = await (await api('GET', '/users/alice/packages/npm/lib/retention', alice)).json();
      assert.ok(listed.rules.some((x: { package: string; rule: object }) => x.package === 'lib' && JSON.stringify(x.rule) === '{"keep_last":1}'));
      assert.equal((await api('DELETE', '/users/alice/packages/npm/lib/retention', alice)).status, 204);
      assert.equal((await api('PUT', '/users/alice/retention/npm', alice, { keep_pattern: '(' })).status, 400);
      await assert.rejects(s.core.retention.setRule(systemActor, { owner: own }, { keep_pattern: '(' }), /invalid retention rule/);
      await assert.rejects(s.core.retention.setRule(systemActor, { owner: own }, {}), /keep_last/);
    });

    test('the scheduled run: one node at a time (a lease), skipped when another ran within the interval', async () => {
      mock.timers.setTime(Date.now());
      const [a, b] = await Promise.all([s.core.retention.scheduled(3600e3), s.core.retention.scheduled(3600e3)]);
      assert.ok((a === null) !== (b === null), 'exactly one of two concurrent runs ran');
      assert.equal(await s.core.retention.scheduled(3600e3), null, 'a run within the interval is skipped');
    });

    test('CLI: retention set, list, preview, run --dry-run, run; tag protect, protected', async () => {
      for (const [i, v] of ['1.0.0', '1.0.1', '1.0.2'].entries()) {
        at(20 + i);
        assert.equal((await publish(s.url, alice, '@alice/cli', v)).status, 201);
      }
      const cli = async (...args: string[]) => {
        const r = await s.cli(args);
        assert.equal(r.code, 0, `wharf ${args.join(' ')}: ${r.stderr}`);
        return r;
      };
      const prev = await cli('retention', 'preview', 'alice', 'npm', 'cli', '--keep-last', '1');
      assert.match(prev.stdout, /1\.0\.1 .*not among the newest 1/);
      assert.match(prev.stdout, /1\.0\.0 .*not among the newest 1/);
      assert.doesNotMatch(prev.stdout, /1\.0\.2/);
      assert.match(prev.stderr, /would delete 2 versions/);
      await cli('retention', 'set', 'alice', 'npm', 'cli', '--keep-last', '1');
      assert.match((await cli('retention', 'list', 'alice', 'npm', 'cli')).stdout, /npm alice\/cli +\{"keep_last":1\}/);
      const dry = await cli('retention', 'run', 'alice', 'npm', 'cli', '--dry-run');
      assert.equal(dry.stdout, prev.stdout, 'the dry run lists what the preview did');
      const real = await cli('retention', 'run', 'alice', 'npm', 'cli');
      assert.equal(real.stdout, prev.stdout);
      assert.match(real.stderr, /deleted 2 versions/);
      assert.deepEqual([...(await live('npm', 'cli'))], ['1.0.2']);
      await cli('retention', 'remove', 'alice', 'npm', 'cli');
      await cli('tag', 'protect', 'alice', 'npm', 'release-*');
      assert.match((await cli('tag', 'protected', 'alice')).stdout, /npm +release-\*/);
      await cli('tag', 'unprotect', 'alice', 'npm', 'release-*');
      const bad = await s.cli(['retention', 'set', 'alice', '--keep-pattern', '(']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /keep_last|regular expression/);
    });

    test('protected container tags: a push over v* or its DELETE → 403 DENIED, nothing stored; the same digest again is fine', async () => {
      mock.timers.setTime(Date.now());
      const own = await owner();
      await s.core.retention.protectTag(systemActor, own, 'container', 'v*');
      const name = 'alice/app';
      const pkg = await pkgOf('container', 'app');
      const before = (await s.core.packages.versions(pkg.id)).length;
      const other = multiPlatform();
      await pushImage(s.url, name, other.amd64.digest, other.amd64, auth);
      const count = (await s.core.packages.versions(pkg.id)).length;
      assert.equal(count, before + 1);
      const r = await pushManifest(s.url, name, 'v1.0.2', other.amd64, auth);
      assert.equal(r.status, 403);
      const body = await r.json();
      assert.equal(body.errors[0].code, 'DENIED');
      assert.match(body.errors[0].message, /tag v1\.0\.2 is protected \(pattern v\*\)/);
      // A new manifest pushed over a protected tag is not stored either.
      const fresh = imageManifest();
      for (const b of fresh.blobs) await (await import('../helpers/oci.ts')).pushBlob(s.url, name, b, auth);
      assert.equal((await pushManifest(s.url, name, 'v1.0.4', fresh, auth)).status, 403);
      assert.equal((await s.core.packages.versions(pkg.id)).length, count, 'nothing written on a refusal');
      const del = await fetch(`${s.url}/v2/${name}/manifests/v1.0.2`, { method: 'DELETE', headers: { authorization: auth } });
      assert.equal(del.status, 403);
      assert.equal((await del.json()).errors[0].code, 'DENIED');
      // The tag's own manifest pushed again (a CI re-run) is no move; a new v* tag is set once.
      const tags = await s.core.packages.tags(pkg.id);
      const v102 = tags.find((t) => t.name === 'v1.0.2')!.version;
      const bytes = await (await fetch(`${s.url}/v2/${name}/manifests/${v102}`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.index.v1+json' } })).arrayBuffer();
      const same = await fetch(`${s.url}/v2/${name}/manifests/v1.0.2`, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: new Uint8Array(bytes) });
      assert.equal(same.status, 201);
      assert.equal((await pushManifest(s.url, name, 'v2.0.0', other.amd64, auth)).status, 201);
      // Deleting the manifest a protected tag points at is refused too.
      const byDigest = await fetch(`${s.url}/v2/${name}/manifests/${v102}`, { method: 'DELETE', headers: { authorization: auth } });
      assert.equal(byDigest.status, 403);
      // The owner overrides explicitly (audited); anyone else cannot.
      await s.core.publisher.setTag(pkg.id, 'v1.0.2', other.amd64.digest, systemActor, { override: true });
      assert.equal((await s.core.packages.tags(pkg.id)).find((t) => t.name === 'v1.0.2')!.version, other.amd64.digest);
      const overrides = await s.core.db.selectFrom('audit_log').select('details').where('action', '=', 'tag.protection_override').execute();
      assert.equal(overrides.length, 1);
      // Retention never deletes what a protected tag names (no `latest` needed).
      assert.deepEqual(await s.core.retention.protectedTags(systemActor, own), [{ type: 'container', pattern: 'v*', created_at: (await s.core.retention.protectedTags(systemActor, own))[0].created_at }]);
    });

    test('protected npm dist-tags: dist-tag add over a set one, its removal, and a publish moving it → 403 in npm\'s words', async () => {
      const own = await owner();
      await s.core.retention.protectTag(systemActor, own, 'npm', 'stable');
      const name = '@alice/tagged';
      assert.equal((await publish(s.url, alice, name, '1.0.0')).status, 201);
      assert.equal((await publish(s.url, alice, name, '1.1.0')).status, 201);
      const put = (tag: string, v: string) => fetch(`${s.url}/npm/-/package/@alice%2ftagged/dist-tags/${tag}`, { method: 'PUT', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify(v) });
      assert.equal((await put('stable', '1.0.0')).status, 201, 'setting it the first time is allowed');
      const moved = await put('stable', '1.1.0');
      assert.equal(moved.status, 403);
      assert.match((await moved.json()).error, /tag stable is protected/);
      const rm = await fetch(`${s.url}/npm/-/package/@alice%2ftagged/dist-tags/stable`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } });
      assert.equal(rm.status, 403);
      const tarball = await npmTarball(name, '1.2.0');
      const pub = await putPackage(s.url, alice, name, publishBody({ name, version: '1.2.0', tarball, tags: { stable: '1.2.0' } }));
      assert.equal(pub.status, 403);
      const doc = await (await fetch(`${s.url}/npm/@alice%2ftagged`, { headers: { authorization: `Bearer ${alice}` } })).json();
      assert.equal(doc['dist-tags'].stable, '1.0.0');
      assert.equal(doc.versions['1.2.0'], undefined, 'nothing written on a refusal');
      void createHash;
    });

    test('a package holding a set protected tag is not deleted whole either (REST, npm unpublish); without one it is', async () => {
      const own = await owner();
      await s.core.retention.protectTag(systemActor, own, 'npm', 'golden');
      const name = '@alice/keeper';
      assert.equal((await publish(s.url, alice, name, '1.0.0')).status, 201);
      const tag = await fetch(`${s.url}/npm/-/package/@alice%2fkeeper/dist-tags/golden`, { method: 'PUT', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: '"1.0.0"' });
      assert.equal(tag.status, 201);
      const api = (method: string, p: string, token: string) => fetch(`${s.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}` } });
      const rest = await api('DELETE', '/users/alice/packages/npm/keeper', alice);
      assert.equal(rest.status, 403, await rest.text());
      const doc = await (await fetch(`${s.url}/npm/@alice%2fkeeper`, { headers: { authorization: `Bearer ${alice}` } })).json();
      const unpublish = await fetch(`${s.url}/npm/@alice%2fkeeper/-rev/${doc._rev}`, { method: 'DELETE', headers: { authorization: `Bearer ${alice}` } });
      assert.equal(unpublish.status, 403, await unpublish.text());
      assert.equal((await fetch(`${s.url}/npm/@alice%2fkeeper`, { headers: { authorization: `Bearer ${alice}` } })).status, 200, 'still there');
      // A package whose tags are not protected goes as before.
      assert.equal((await publish(s.url, alice, '@alice/loose', '1.0.0')).status, 201);
      assert.equal((await api('DELETE', '/users/alice/packages/npm/loose', alice)).status, 204);
    });

    test('settings of a package one cannot see answer as a missing one; tag names are checked on every route that sets them', async () => {
      const api = (token: string, method: string, path: string, body?: unknown) =>
        fetch(`${s.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
      await s.core.publisher.ensurePackage({ ownerId: (await owner()).id, type: 'generic', name: 'hidden-one', repositoryId: null, inheritAccess: true, actor: systemActor });
      for (const [method, suffix, body] of [['GET', '/retention', undefined], ['PUT', '/retention', { keep_last: 1 }], ['DELETE', '/retention', undefined], ['POST', '/retention/preview', {}], ['PUT', '/tags/x', { version: '1.0.0' }], ['DELETE', '/tags/x', undefined]] as const) {
        const hidden = await api(bob, method, `/users/alice/packages/generic/hidden-one${suffix}`, body);
        const missing = await api(bob, method, `/users/alice/packages/generic/no-such-one${suffix}`, body);
        assert.equal(hidden.status, 404, `${method} ${suffix}`);
        assert.equal(await hidden.text(), await missing.text(), `${method} ${suffix}`);
      }
      const put = await fetch(`${s.url}/generic/alice/tagged/1.0.0/f.bin`, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/octet-stream' }, body: 'x' });
      assert.equal(put.status, 201);
      for (const tag of ['a b<script>', 'red\u001b[31m', 'v1\ninjected', 'x:y', '.hidden', '\u202eevil', 'x'.repeat(129)]) {
        const r = await api(alice, 'PUT', `/users/alice/packages/generic/tagged/tags/${encodeURIComponent(tag)}`, { version: '1.0.0' });
        assert.equal(r.status, 400, `${JSON.stringify(tag)}: ${await r.clone().text()}`);
      }
      assert.equal((await api(alice, 'PUT', '/users/alice/packages/generic/tagged/tags/stable_1.x', { version: '1.0.0' })).status, 200);
    });
  });
}
