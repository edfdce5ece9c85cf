// The REST API under /api/v1, shaped like GitHub's packages API, on every database: packages and versions
// (list, get, delete, restore), settings and access grants and their effect on the npm registry, users, orgs,
// repositories, tokens and job tokens, errors as `{ message }`, download counts, and how tokens are stored.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { SCOPES } from '../../src/core/auth/tokens.ts';

const EVERY_SCOPE = SCOPES.join(',');
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { publishNpm, type NpmPublishOptions } from '../helpers/npm-publish.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

/** Waits until `fn` returns something truthy (for counters written in the background). */
async function until<T>(what: string, fn: () => Promise<T> | T, ms = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

for (const dialect of dialects()) {
  describe(`REST API /api/v1 on ${dialect}`, () => {
    let s: TestServer;
    let root: string; // site admin
    let alice: string;
    let bob: string;
    let carol: string;
    let aliceRead: string;
    /** Every clear token this suite saw, to prove none of them is stored. */
    const clearTokens: string[] = [];

    before(async () => {
      s = await startWharf({ dialect });
      // These users' tokens hold every scope (a person's own all-purpose token); narrower ones are made below.
      root = await s.userWithToken('root', EVERY_SCOPE, { admin: true });
      alice = await s.userWithToken('alice', EVERY_SCOPE);
      bob = await s.userWithToken('bob', EVERY_SCOPE);
      carol = await s.userWithToken('carol', EVERY_SCOPE);
      aliceRead = (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages', name: 'read-only' })).token;
      clearTokens.push(root, alice, bob, carol, aliceRead);
    });
    after(() => s.stop());

    /** Requests to the REST API with a bearer token (or a full Authorization value, or none). */
    const as = (who: string | null) => {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${s.url}/api/v1${path}`, {
          method,
          headers: {
            ...(who ? { authorization: who.includes(' ') ? who : `Bearer ${who}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        });
      return {
        get: (p: string) => call('GET', p),
        post: (p: string, b?: unknown) => call('POST', p, b),
        put: (p: string, b?: unknown) => call('PUT', p, b),
        patch: (p: string, b?: unknown) => call('PATCH', p, b),
        delete: (p: string) => call('DELETE', p),
      };
    };
    const anon = as(null);

    /** Asserts the status and returns the JSON body. */
    async function expect(r: Response | Promise<Response>, status: number): Promise<Json> {
      const res = await r;
      const text = await res.text();
      assert.equal(res.status, status, `${res.url} → ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    }
    /** Asserts a GitHub-style error: the status, JSON content type, and a `{ message }` body. */
    async function expectError(r: Response | Promise<Response>, status: number, message?: RegExp): Promise<Json> {
      const res = await r;
      const body = await expect(res, status);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(typeof body.message, 'string', JSON.stringify(body));
      if (message) assert.match(body.message, message);
      return body;
    }

    const publish = async (token: string | null, o: NpmPublishOptions, status = 201) => {
      const r = await publishNpm(s.url, token, o);
      assert.equal(r.status, status, `publish @${o.scope}/${o.name}@${o.version} → ${r.status} ${await r.clone().text()}`);
      return r;
    };
    const packument = (scope: string, name: string, token: string | null) =>
      fetch(`${s.url}/npm/@${scope}%2f${name}`, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    const tarball = (scope: string, name: string, version: string, token: string | null) =>
      fetch(`${s.url}/npm/@${scope}/${name}/-/${name}-${version}.tgz`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const status = async (r: Promise<Response>) => {
      const res = await r;
      await res.arrayBuffer();
      return res.status;
    };
    const pkgPath = (owner: string, name: string, kind = 'users') => `/${kind}/${owner}/packages/npm/${name}`;
    /** The version id of `version` (active versions). */
    const versionId = async (owner: string, name: string, version: string, token = alice) => {
      const list: Json[] = await expect(as(token).get(`${pkgPath(owner, name)}/versions`), 200);
      const v = list.find((x) => x.name === version);
      assert.ok(v, `version ${version} listed`);
      return v.id as number;
    };

    // ---- the signed-in user ----

    test('GET /user → the signed-in user in GitHub\'s shape', async () => {
      const me = await expect(as(alice).get('/user'), 200);
      assert.equal(me.login, 'alice');
      assert.equal(me.type, 'User');
      assert.equal(me.site_admin, false);
      assert.equal(me.email, 'alice@example.com');
      assert.equal(typeof me.id, 'number');
      assert.equal((await expect(as(root).get('/user'), 200)).site_admin, true);
    });

    test('GET /user anonymously → 401 "Requires authentication" with a Bearer challenge', async () => {
      const r = await anon.get('/user');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      await expectError(r, 401, /^Requires authentication$/);
    });

    test('an unknown or malformed token → 401 {message}, never anonymous', async () => {
      await expectError(as('whp_000000000000000000000000000000000000').get('/user'), 401);
      await expectError(as('not-a-token').get('/user'), 401);
      // Even on a route anonymous clients may use, bad credentials are refused rather than ignored.
      await expectError(as('whp_000000000000000000000000000000000000').get('/users/alice/packages'), 401);
      await expectError(as(basic('alice', 'wrong-password')).get('/user'), 401);
    });

    // ---- packages ----

    test('GET /users/:owner/packages filters by package_type and visibility and paginates with a Link header', async () => {
      const dora = await s.userWithToken('dora', EVERY_SCOPE);
      clearTokens.push(dora);
      for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await publish(dora, { scope: 'dora', name: n, version: '1.0.0' });
      for (const n of ['p2', 'p4']) await expect(as(dora).patch(pkgPath('dora', n), { visibility: 'public' }), 200);

      const all: Json[] = await expect(as(dora).get('/users/dora/packages?package_type=npm'), 200);
      assert.deepEqual(all.map((p) => p.name).sort(), ['p1', 'p2', 'p3', 'p4', 'p5']);
      assert.ok(all.every((p) => p.package_type === 'npm' && p.owner.login === 'dora'));
      const pub: Json[] = await expect(as(dora).get('/users/dora/packages?package_type=npm&visibility=public'), 200);
      assert.deepEqual(pub.map((p) => p.name).sort(), ['p2', 'p4']);
      const priv: Json[] = await expect(as(dora).get('/users/dora/packages?visibility=private'), 200);
      assert.deepEqual(priv.map((p) => p.name).sort(), ['p1', 'p3', 'p5']);
      assert.deepEqual(await expect(as(dora).get('/users/dora/packages?package_type=maven'), 200), []);
      // /user/packages is the same list for the signed-in user.
      assert.equal((await expect(as(dora).get('/user/packages?package_type=npm'), 200)).length, 5);
      // Others see only what they may read.
      const seenByAnon: Json[] = await expect(anon.get('/users/dora/packages'), 200);
      assert.deepEqual(seenByAnon.map((p) => p.name).sort(), ['p2', 'p4']);
      const seenByBob: Json[] = await expect(as(bob).get('/users/dora/packages?visibility=private'), 200);
      assert.deepEqual(seenByBob, []);

      // Pagination: page/per_page, with rel="next" while more follow.
      const seen: string[] = [];
      let next: string | null = `${s.url}/api/v1/users/dora/packages?package_type=npm&per_page=2`;
      let pages = 0;
      while (next) {
        const r: Response = await fetch(next, { headers: { authorization: `Bearer ${dora}` } });
        const page: Json[] = await expect(r.clone(), 200);
        pages++;
        assert.ok(page.length <= 2);
        seen.push(...page.map((p) => p.name));
        next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') ?? '')?.[1] ?? null;
        if (next) {
          assert.match(next, /[?&]page=\d+/);
          assert.match(next, /[?&]per_page=2\b/);
          assert.match(next, /[?&]package_type=npm\b/, 'the next link keeps the filters');
        }
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen.sort(), ['p1', 'p2', 'p3', 'p4', 'p5']);
      const last = await as(dora).get('/users/dora/packages?package_type=npm&per_page=2&page=3');
      assert.doesNotMatch(last.headers.get('link') ?? '', /rel="next"/);
      assert.match(last.headers.get('link') ?? '', /rel="prev"/);
      assert.equal((await expect(last, 200)).length, 1);
      assert.deepEqual(await expect(as(dora).get('/users/dora/packages?per_page=2&page=9'), 200), []);
    });

    test('GET /users/:owner/packages with an unknown package_type or visibility → 400', async () => {
      await expectError(as(alice).get('/users/alice/packages?package_type=cobol'), 400);
      await expectError(as(alice).get('/users/alice/packages?visibility=secret'), 400);
      await expectError(as(alice).get('/users/nobody-here/packages'), 404);
    });

    test('GET a package → its fields; a missing one → 404 "Package not found."', async () => {
      await publish(alice, { scope: 'alice', name: 'getme', version: '1.0.0', manifest: { description: 'get me' } });
      await publish(alice, { scope: 'alice', name: 'getme', version: '1.1.0' });
      const p = await expect(as(alice).get(pkgPath('alice', 'getme')), 200);
      assert.equal(p.name, 'getme');
      assert.equal(p.package_type, 'npm');
      assert.equal(p.visibility, 'private', 'a package not linked to a repository starts private');
      assert.equal(p.version_count, 2);
      assert.equal(p.owner.login, 'alice');
      assert.equal(p.repository, null);
      assert.equal(p.inherit_access, false);
      assert.equal(p.download_count, 0);
      assert.equal(p.url, `${s.url}/api/v1/users/alice/packages/npm/getme`);
      await expectError(as(alice).get(pkgPath('alice', 'nothing-here')), 404, /^Package not found\.$/);
      await expectError(as(alice).get('/users/alice/packages/cobol/getme'), 404);
      // The owner segment must match the owner's kind.
      await expectError(as(alice).get('/orgs/alice/packages/npm/getme'), 404);
    });

    test('GET versions → newest first, with tags; GET a version by id → its files', async () => {
      await publish(alice, { scope: 'alice', name: 'vers', version: '1.0.0' });
      await publish(alice, { scope: 'alice', name: 'vers', version: '2.0.0' });
      await publish(alice, { scope: 'alice', name: 'vers', version: '2.1.0-beta.1', tag: 'next' });
      const list: Json[] = await expect(as(alice).get(`${pkgPath('alice', 'vers')}/versions`), 200);
      assert.deepEqual(list.map((v) => v.name), ['2.1.0-beta.1', '2.0.0', '1.0.0']);
      assert.deepEqual(list[0].metadata.tags, ['next']);
      assert.deepEqual(list[1].metadata.tags, ['latest']);
      assert.equal(list[0].metadata.package_type, 'npm');
      const paged = await as(alice).get(`${pkgPath('alice', 'vers')}/versions?per_page=1`);
      assert.match(paged.headers.get('link') ?? '', /rel="next"/);
      assert.equal((await expect(paged, 200)).length, 1);

      const v = await expect(as(alice).get(`${pkgPath('alice', 'vers')}/versions/${list[1].id}`), 200);
      assert.equal(v.id, list[1].id);
      assert.equal(v.name, '2.0.0');
      assert.equal(v.files.length, 1);
      assert.equal(v.files[0].name, 'vers-2.0.0.tgz');
      const bytes = Buffer.from(await (await tarball('alice', 'vers', '2.0.0', alice)).arrayBuffer());
      assert.equal(v.files[0].digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      assert.equal(v.files[0].size, bytes.length);
      await expectError(as(alice).get(`${pkgPath('alice', 'vers')}/versions/999999`), 404);
      // A version id of another package is not found through this one.
      await publish(alice, { scope: 'alice', name: 'other-vers', version: '1.0.0' });
      const otherId = await versionId('alice', 'other-vers', '1.0.0');
      await expectError(as(alice).get(`${pkgPath('alice', 'vers')}/versions/${otherId}`), 404);
      await expectError(as(alice).delete(`${pkgPath('alice', 'vers')}/versions/${otherId}`), 404);
    });

    test('DELETE version → tarball 404 and the packument lacks it; restore → 200 again', async () => {
      await publish(alice, { scope: 'alice', name: 'del-ver', version: '1.0.0' });
      await publish(alice, { scope: 'alice', name: 'del-ver', version: '1.1.0' });
      const id = await versionId('alice', 'del-ver', '1.0.0');
      assert.equal(await status(tarball('alice', 'del-ver', '1.0.0', alice)), 200);

      await expect(as(alice).delete(`${pkgPath('alice', 'del-ver')}/versions/${id}`), 204);
      assert.equal(await status(tarball('alice', 'del-ver', '1.0.0', alice)), 404);
      const doc = await expect(packument('alice', 'del-ver', alice), 200);
      assert.deepEqual(Object.keys(doc.versions), ['1.1.0']);
      assert.equal(doc['dist-tags'].latest, '1.1.0');
      const active: Json[] = await expect(as(alice).get(`${pkgPath('alice', 'del-ver')}/versions`), 200);
      assert.deepEqual(active.map((v) => v.name), ['1.1.0']);
      const deleted: Json[] = await expect(as(alice).get(`${pkgPath('alice', 'del-ver')}/versions?state=deleted`), 200);
      assert.deepEqual(deleted.map((v) => v.name), ['1.0.0']);
      assert.ok(deleted[0].deleted_at, 'a deleted version says when');
      assert.equal((await expect(as(alice).get(pkgPath('alice', 'del-ver')), 200)).version_count, 1);
      // Deleting it twice: it is already gone.
      await expectError(as(alice).delete(`${pkgPath('alice', 'del-ver')}/versions/${id}`), 404);

      await expect(as(alice).post(`${pkgPath('alice', 'del-ver')}/versions/${id}/restore`), 204);
      assert.equal(await status(tarball('alice', 'del-ver', '1.0.0', alice)), 200);
      const again = await expect(packument('alice', 'del-ver', alice), 200);
      assert.deepEqual(Object.keys(again.versions).sort(), ['1.0.0', '1.1.0']);
      assert.deepEqual(await expect(as(alice).get(`${pkgPath('alice', 'del-ver')}/versions?state=deleted`), 200), []);
      // Restoring a live version: nothing to restore.
      await expectError(as(alice).post(`${pkgPath('alice', 'del-ver')}/versions/${id}/restore`), 404);
    });

    test('DELETE the latest version → the packument no longer offers it as latest', async () => {
      await publish(alice, { scope: 'alice', name: 'del-latest', version: '1.0.0' });
      await publish(alice, { scope: 'alice', name: 'del-latest', version: '2.0.0' });
      await expect(as(alice).delete(`${pkgPath('alice', 'del-latest')}/versions/${await versionId('alice', 'del-latest', '2.0.0')}`), 204);
      const doc = await expect(packument('alice', 'del-latest', alice), 200);
      assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
      assert.equal(doc['dist-tags'].latest, '1.0.0', 'latest falls back to a version that installs');
      const p = await expect(as(alice).get(pkgPath('alice', 'del-latest')), 200);
      assert.match(p.install.install, /@alice\/del-latest@1\.0\.0\b/, 'the install line names a live version');
    });

    test('DELETE package → 404 on the API and the registry; POST restore → back with its versions', async () => {
      await publish(alice, { scope: 'alice', name: 'del-pkg', version: '1.0.0' });
      await expect(as(alice).delete(pkgPath('alice', 'del-pkg')), 204);
      await expectError(as(alice).get(pkgPath('alice', 'del-pkg')), 404);
      assert.equal(await status(packument('alice', 'del-pkg', alice)), 404);
      assert.equal(await status(tarball('alice', 'del-pkg', '1.0.0', alice)), 404);
      assert.ok(!(await expect(as(alice).get('/users/alice/packages'), 200)).some((p: Json) => p.name === 'del-pkg'));
      // Others may not restore it (they cannot see it).
      await expectError(as(bob).post(`${pkgPath('alice', 'del-pkg')}/restore`), 404);

      await expect(as(alice).post(`${pkgPath('alice', 'del-pkg')}/restore`), 204);
      assert.equal((await expect(as(alice).get(pkgPath('alice', 'del-pkg')), 200)).version_count, 1);
      assert.equal(await status(tarball('alice', 'del-pkg', '1.0.0', alice)), 200);
      // A live package has nothing to restore.
      await expectError(as(alice).post(`${pkgPath('alice', 'del-pkg')}/restore`), 404);
    });

    test('PATCH visibility public → anonymous installs; private again → npm 401 anonymous, API 404', async () => {
      await publish(alice, { scope: 'alice', name: 'vis', version: '1.0.0' });
      assert.equal(await status(packument('alice', 'vis', null)), 401, 'npm is told to log in');
      await expectError(anon.get(pkgPath('alice', 'vis')), 404);

      const p = await expect(as(alice).patch(pkgPath('alice', 'vis'), { visibility: 'public' }), 200);
      assert.equal(p.visibility, 'public');
      assert.equal(await status(packument('alice', 'vis', null)), 200);
      assert.equal(await status(tarball('alice', 'vis', '1.0.0', null)), 200);
      assert.equal((await expect(anon.get(pkgPath('alice', 'vis')), 200)).visibility, 'public');

      await expect(as(alice).patch(pkgPath('alice', 'vis'), { visibility: 'internal' }), 200);
      assert.equal(await status(packument('alice', 'vis', null)), 401);
      assert.equal(await status(packument('alice', 'vis', carol)), 200, 'internal: any signed-in user reads');

      await expect(as(alice).patch(pkgPath('alice', 'vis'), { visibility: 'private' }), 200);
      assert.equal(await status(packument('alice', 'vis', null)), 401);
      assert.equal(await status(tarball('alice', 'vis', '1.0.0', null)), 401);
      await expectError(anon.get(pkgPath('alice', 'vis')), 404);
      await expectError(as(alice).patch(pkgPath('alice', 'vis'), { visibility: 'secret' }), 400);
    });

    test('PATCH by someone who may not administer → 404 without read, 403 with it', async () => {
      await publish(alice, { scope: 'alice', name: 'guarded', version: '1.0.0' });
      await expectError(as(bob).patch(pkgPath('alice', 'guarded'), { visibility: 'public' }), 404);
      await expect(as(alice).put(`${pkgPath('alice', 'guarded')}/access/users/bob`, { role: 'write' }), 200);
      await expectError(as(bob).patch(pkgPath('alice', 'guarded'), { visibility: 'public' }), 403);
      await expectError(as(bob).delete(pkgPath('alice', 'guarded')), 403);
      await expectError(as(bob).put(`${pkgPath('alice', 'guarded')}/access/users/carol`, { role: 'read' }), 403);
      assert.equal((await expect(as(alice).get(pkgPath('alice', 'guarded')), 200)).visibility, 'private');
    });

    test('a private package is 404 to a signed-in user without access, exactly like a missing one', async () => {
      await publish(alice, { scope: 'alice', name: 'secret', version: '1.0.0' });
      const hidden = await expectError(as(bob).get(pkgPath('alice', 'secret')), 404);
      const missing = await expectError(as(bob).get(pkgPath('alice', 'no-such-package')), 404);
      assert.deepEqual(hidden, missing);
      await expectError(as(bob).get(`${pkgPath('alice', 'secret')}/versions`), 404);
      assert.equal(await status(packument('alice', 'secret', bob)), 404);
      assert.equal(await status(tarball('alice', 'secret', '1.0.0', bob)), 404);
      assert.ok(!(await expect(as(bob).get('/users/alice/packages'), 200)).some((p: Json) => p.name === 'secret'));
    });

    test('PUT access/users/:user → that user reads the private package; write lets them publish; DELETE → 404 again', async () => {
      await publish(alice, { scope: 'alice', name: 'shared', version: '1.0.0' });
      const access = `${pkgPath('alice', 'shared')}/access/users/bob`;
      assert.equal(await status(packument('alice', 'shared', bob)), 404);

      assert.deepEqual(await expect(as(alice).put(access, { role: 'read' }), 200), { grantee: 'bob', role: 'read' });
      assert.equal((await expect(as(bob).get(pkgPath('alice', 'shared')), 200)).name, 'shared');
      assert.equal(await status(packument('alice', 'shared', bob)), 200);
      assert.equal(await status(tarball('alice', 'shared', '1.0.0', bob)), 200);
      await publish(bob, { scope: 'alice', name: 'shared', version: '1.1.0' }, 403);
      assert.equal(await status(packument('alice', 'shared', carol)), 404, 'only bob was granted');

      await expect(as(alice).put(access, { role: 'write' }), 200);
      await publish(bob, { scope: 'alice', name: 'shared', version: '1.1.0' });
      const grants = await expect(as(alice).get(`${pkgPath('alice', 'shared')}/access`), 200);
      assert.deepEqual(grants.users, [{ login: 'bob', role: 'write' }], 'a second grant replaces the first');
      assert.equal(grants.inherit_access, false);

      await expect(as(alice).delete(access), 204);
      await expectError(as(bob).get(pkgPath('alice', 'shared')), 404);
      assert.equal(await status(packument('alice', 'shared', bob)), 404);
      await expectError(as(alice).delete(access), 404, /grant/);
      await expectError(as(alice).put(access, { role: 'owner' }), 400);
      await expectError(as(alice).put(access, {}), 400);
      await expectError(as(alice).put(`${pkgPath('alice', 'shared')}/access/users/nobody-at-all`, { role: 'read' }), 404);
    });

    test('PUT access/repos/:owner/:repo → that repository\'s job token reads the package; DELETE revokes', async () => {
      await expect(as(alice).post('/user/repos', { name: 'consumer', visibility: 'private' }), 201);
      await publish(alice, { scope: 'alice', name: 'lib', version: '1.0.0' });
      const job = (await expect(as(alice).post('/repos/alice/consumer/job-tokens', {}), 201)).token as string;
      clearTokens.push(job);
      assert.equal(await status(packument('alice', 'lib', job)), 404);

      await expect(as(alice).put(`${pkgPath('alice', 'lib')}/access/repos/alice/consumer`, { role: 'read' }), 200);
      assert.equal(await status(packument('alice', 'lib', job)), 200);
      assert.equal(await status(tarball('alice', 'lib', '1.0.0', job)), 200);
      await publish(job, { scope: 'alice', name: 'lib', version: '1.0.1' }, 403);
      const grants = await expect(as(alice).get(`${pkgPath('alice', 'lib')}/access`), 200);
      assert.deepEqual(grants.repositories, [{ full_name: 'alice/consumer', role: 'read' }]);

      await expect(as(alice).delete(`${pkgPath('alice', 'lib')}/access/repos/alice/consumer`), 204);
      assert.equal(await status(packument('alice', 'lib', job)), 404);
      await expectError(as(alice).put(`${pkgPath('alice', 'lib')}/access/repos/alice/no-such-repo`, { role: 'read' }), 404);
    });

    test('a package linked to a public repository inherits it: anonymous reads; inherit_access off → its own private visibility', async () => {
      await expect(as(alice).post('/user/repos', { name: 'site' }), 201);
      await publish(alice, { scope: 'alice', name: 'linked', version: '1.0.0' });
      await expectError(anon.get(pkgPath('alice', 'linked')), 404);

      const linked = await expect(as(alice).patch(pkgPath('alice', 'linked'), { repository: 'alice/site' }), 200);
      assert.equal(linked.repository.full_name, 'alice/site');
      assert.equal(linked.inherit_access, true);
      assert.equal(linked.visibility, 'public', 'the repository\'s visibility applies');
      assert.equal((await expect(anon.get(pkgPath('alice', 'linked')), 200)).name, 'linked');
      assert.equal(await status(packument('alice', 'linked', null)), 200);
      assert.equal(await status(tarball('alice', 'linked', '1.0.0', null)), 200);
      assert.equal((await expect(anon.get('/repos/alice/site/packages'), 200))[0].name, 'linked');

      const own = await expect(as(alice).patch(pkgPath('alice', 'linked'), { inherit_access: false }), 200);
      assert.equal(own.inherit_access, false);
      assert.equal(own.visibility, 'private');
      assert.equal(own.repository.full_name, 'alice/site', 'still linked');
      await expectError(anon.get(pkgPath('alice', 'linked')), 404);
      assert.equal(await status(packument('alice', 'linked', null)), 401);

      await expect(as(alice).patch(pkgPath('alice', 'linked'), { inherit_access: true }), 200);
      await expect(as(alice).patch('/repos/alice/site', { visibility: 'private' }), 200);
      assert.equal(await status(packument('alice', 'linked', null)), 401, 'the repository turned private, and so did the package');
      assert.equal((await expect(as(alice).patch(pkgPath('alice', 'linked'), { repository: null }), 200)).repository, null);
      // Only the package owner's repositories can be linked.
      await expect(as(bob).post('/user/repos', { name: 'bobs' }), 201);
      await expectError(as(alice).patch(pkgPath('alice', 'linked'), { repository: 'bob/bobs' }), 400);
      await expectError(as(alice).patch(pkgPath('alice', 'linked'), { repository: 'alice/missing' }), 404);
    });

    test('publishing with package.json repository links by OWNER/NAME whatever the URL; a private repository\'s collaborators read it', async () => {
      await expect(as(alice).post('/user/repos', { name: 'auto' }), 201);
      await publish(alice, { scope: 'alice', name: 'auto-linked', version: '1.0.0', repository: 'git+ssh://git@git.example.org/alice/auto.git' });
      const p = await expect(anon.get(pkgPath('alice', 'auto-linked')), 200);
      assert.equal(p.repository.full_name, 'alice/auto');
      assert.equal(p.visibility, 'public');

      await expect(as(alice).post('/user/repos', { name: 'closed', private: true }), 201);
      await expect(as(alice).put('/repos/alice/closed/collaborators/bob', { permission: 'read' }), 201);
      await publish(alice, { scope: 'alice', name: 'closed-pkg', version: '1.0.0', repository: { type: 'git', url: 'https://github.com/alice/closed' } });
      const c = await expect(as(bob).get(pkgPath('alice', 'closed-pkg')), 200);
      assert.equal(c.visibility, 'private');
      assert.equal(c.repository.full_name, 'alice/closed');
      assert.equal(await status(packument('alice', 'closed-pkg', bob)), 200);
      assert.equal(await status(packument('alice', 'closed-pkg', carol)), 404);
      assert.equal(await status(packument('alice', 'closed-pkg', null)), 401);
      // A repository of another owner is never linked.
      await publish(alice, { scope: 'alice', name: 'foreign', version: '1.0.0', repository: 'https://github.com/bob/bobs.git' });
      assert.equal((await expect(as(alice).get(pkgPath('alice', 'foreign')), 200)).repository, null);
    });

    test('download_count counts tarball downloads per version and per package (buffered, none lost at flush)', async () => {
      await publish(alice, { scope: 'alice', name: 'counted', version: '1.0.0' });
      await publish(alice, { scope: 'alice', name: 'counted', version: '1.1.0' });
      await expect(as(alice).patch(pkgPath('alice', 'counted'), { visibility: 'public' }), 200);
      for (let i = 0; i < 3; i++) assert.equal(await status(tarball('alice', 'counted', '1.0.0', null)), 200);
      assert.equal(await status(tarball('alice', 'counted', '1.1.0', bob)), 200);
      // Failed downloads are not downloads.
      assert.equal(await status(tarball('alice', 'counted', '9.9.9', null)), 404);
      // A packument GET is not a download.
      assert.equal(await status(packument('alice', 'counted', null)), 200);

      await until('the package count', async () => (await expect(anon.get(pkgPath('alice', 'counted')), 200)).download_count === 4);
      const counts = async () => {
        const versions: Json[] = await expect(anon.get(`${pkgPath('alice', 'counted')}/versions`), 200);
        return Object.fromEntries(versions.map((v) => [v.name, v.download_count]));
      };
      assert.deepEqual(await counts(), { '1.1.0': 1, '1.0.0': 3 });
      const v = await expect(anon.get(`${pkgPath('alice', 'counted')}/versions/${await versionId('alice', 'counted', '1.0.0')}`), 200);
      assert.equal(v.download_count, 3);

      // Once the buffer is written, the counts are the same: nothing lost, nothing counted twice.
      await s.core.flush();
      const pkg = await expect(anon.get(pkgPath('alice', 'counted')), 200);
      const rows = await s.core.db
        .selectFrom('downloads')
        .innerJoin('package_versions', 'package_versions.id', 'downloads.version_id')
        .select(['package_versions.version', 'downloads.count'])
        .where('package_versions.package_id', '=', pkg.id)
        .orderBy('package_versions.version')
        .execute();
      assert.deepEqual(rows.map((r) => [r.version, Number(r.count)]), [['1.0.0', 3], ['1.1.0', 1]], 'the counts reached the database');
      assert.equal(pkg.download_count, 4);
      assert.deepEqual(await counts(), { '1.1.0': 1, '1.0.0': 3 });
      const daily = await expect(anon.get(`${pkgPath('alice', 'counted')}/downloads`), 200);
      assert.equal(daily.downloads.reduce((n: number, d: Json) => n + d.count, 0), 4);
    });

    // ---- token scopes ----

    test('a read:packages token reads but cannot publish (403) or delete (403)', async () => {
      await publish(alice, { scope: 'alice', name: 'scoped', version: '1.0.0' });
      assert.equal(await status(packument('alice', 'scoped', aliceRead)), 200);
      assert.equal((await expect(as(aliceRead).get(pkgPath('alice', 'scoped')), 200)).name, 'scoped');
      const r = await publishNpm(s.url, aliceRead, { scope: 'alice', name: 'scoped', version: '1.1.0' });
      assert.equal(r.status, 403, await r.text());
      await publish(aliceRead, { scope: 'alice', name: 'brand-new', version: '1.0.0' }, 403);
      const id = await versionId('alice', 'scoped', '1.0.0', aliceRead);
      await expectError(as(aliceRead).delete(`${pkgPath('alice', 'scoped')}/versions/${id}`), 403, /delete:packages/);
      await expectError(as(aliceRead).delete(pkgPath('alice', 'scoped')), 403);
      await expectError(as(aliceRead).patch(pkgPath('alice', 'scoped'), { visibility: 'public' }), 403);
      // Nothing changed.
      assert.deepEqual(Object.keys((await expect(packument('alice', 'scoped', alice), 200)).versions), ['1.0.0']);
      assert.equal(await status(packument('alice', 'brand-new', alice)), 404);
    });

    test('a write:packages token publishes but cannot delete (403)', async () => {
      const writer = (await expect(as(alice).post('/user/tokens', { scopes: ['write:packages'], name: 'writer' }), 201)).token as string;
      clearTokens.push(writer);
      await publish(writer, { scope: 'alice', name: 'written', version: '1.0.0' });
      await expectError(as(writer).delete(pkgPath('alice', 'written')), 403);
      await expectError(as(writer).delete(`${pkgPath('alice', 'written')}/versions/${await versionId('alice', 'written', '1.0.0')}`), 403);
    });

    // ---- users, orgs, repositories ----

    test('POST /admin/users by an admin → 201 and the password signs in; by a non-admin → 403; a taken name → 409', async () => {
      const u = await expect(as(root).post('/admin/users', { login: 'erin', email: 'erin@example.com', password: 'correct horse battery' }), 201);
      assert.equal(u.login, 'erin');
      assert.equal(u.type, 'User');
      const me = await expect(as(basic('erin', 'correct horse battery')).get('/user'), 200);
      assert.equal(me.login, 'erin');
      assert.equal(me.email, 'erin@example.com');
      await expectError(as(basic('erin', 'wrong')).get('/user'), 401);
      assert.equal((await expect(anon.get('/users/erin'), 200)).login, 'erin');

      await expectError(as(alice).post('/admin/users', { login: 'mallory' }), 403, /admin/);
      await expectError(anon.post('/admin/users', { login: 'mallory' }), 401);
      await expectError(as(root).post('/admin/users', { login: 'Erin' }), 409, /taken/);
      await expectError(as(root).post('/admin/users', {}), 400, /login/);
      await expectError(as(root).post('/admin/users', { login: 'bad name!' }), 400);
      const admin2 = await expect(as(root).post('/admin/users', { login: 'frank', admin: true }), 201);
      assert.equal(admin2.site_admin, true);

      const users: Json[] = await expect(as(root).get('/users?per_page=100'), 200);
      assert.ok(users.some((x) => x.login === 'erin'));
      await expectError(as(alice).get('/users'), 403);
      await expectError(anon.get('/users/nobody-at-all'), 404);
    });

    test('orgs: create, add members (who may then publish to the org), list members; only owners manage', async () => {
      const org = await expect(as(alice).post('/admin/organizations', { login: 'acme' }), 201);
      assert.equal(org.login, 'acme');
      assert.equal(org.type, 'Organization');
      await expectError(as(bob).post('/admin/organizations', { login: 'evil', admin: 'alice' }), 403);
      await expect(as(root).post('/admin/organizations', { login: 'globex', admin: 'carol' }), 201);
      await expectError(as(alice).post('/admin/organizations', { login: 'acme' }), 409);
      assert.equal((await expect(anon.get('/orgs/acme'), 200)).type, 'Organization');

      await publish(bob, { scope: 'acme', name: 'tool', version: '1.0.0' }, 403);
      const m = await expect(as(alice).put('/orgs/acme/memberships/bob', { role: 'member' }), 200);
      assert.equal(m.role, 'member');
      await publish(bob, { scope: 'acme', name: 'tool', version: '1.0.0' });
      const members: Json[] = await expect(as(bob).get('/orgs/acme/members'), 200);
      assert.deepEqual(members.map((x) => [x.login, x.role]), [['alice', 'admin'], ['bob', 'member']]);
      await expectError(as(bob).put('/orgs/acme/memberships/carol', { role: 'member' }), 403);
      await expectError(as(carol).get('/orgs/acme/members'), 404);
      await expectError(as(alice).put('/orgs/acme/memberships/carol', { role: 'boss' }), 400);
      await expectError(as(alice).put('/orgs/acme/memberships/nobody-at-all', {}), 404);

      const pkgs: Json[] = await expect(as(alice).get('/orgs/acme/packages'), 200);
      assert.deepEqual(pkgs.map((p) => p.name), ['tool']);
      assert.equal(pkgs[0].owner.type, 'Organization');
      assert.equal((await expect(as(alice).get(pkgPath('acme', 'tool', 'orgs')), 200)).name, 'tool');
      await expectError(as(alice).get(pkgPath('acme', 'tool', 'users')), 404);

      // An org owner promotes a member; the new owner then manages members.
      await expect(as(alice).put('/orgs/acme/memberships/bob', { role: 'admin' }), 200);
      await expect(as(bob).put('/orgs/acme/memberships/carol', {}), 200);
      await expect(as(bob).delete('/orgs/acme/memberships/carol'), 204);
      await expectError(as(carol).get('/orgs/acme/members'), 404);
    });

    test('repos: create, get; a private repository is 404 to others; collaborators PUT/GET/DELETE', async () => {
      const r = await expect(as(alice).post('/user/repos', { name: 'hidden', visibility: 'private' }), 201);
      assert.equal(r.full_name, 'alice/hidden');
      assert.equal(r.private, true);
      assert.equal(r.visibility, 'private');
      assert.equal((await expect(as(alice).get('/repos/alice/hidden'), 200)).full_name, 'alice/hidden');
      await expectError(as(bob).get('/repos/alice/hidden'), 404);
      await expectError(anon.get('/repos/alice/hidden'), 404);
      assert.ok(!(await expect(as(bob).get('/users/alice/repos'), 200)).some((x: Json) => x.name === 'hidden'));
      await expectError(as(alice).post('/user/repos', { name: 'hidden' }), 409);
      await expectError(as(alice).post('/user/repos', {}), 400);
      await expectError(as(alice).post('/user/repos', { name: 'x', visibility: 'secret' }), 400);

      await expect(as(alice).put('/repos/alice/hidden/collaborators/bob', { permission: 'read' }), 201);
      assert.equal((await expect(as(bob).get('/repos/alice/hidden'), 200)).name, 'hidden');
      assert.ok((await expect(as(bob).get('/users/alice/repos'), 200)).some((x: Json) => x.name === 'hidden'));
      const collaborators: Json[] = await expect(as(alice).get('/repos/alice/hidden/collaborators'), 200);
      assert.deepEqual(collaborators.map((c) => [c.login, c.role_name]), [['bob', 'read']]);
      await expectError(as(bob).get('/repos/alice/hidden/collaborators'), 403);
      await expectError(as(bob).put('/repos/alice/hidden/collaborators/carol', { permission: 'read' }), 403);
      await expectError(as(alice).put('/repos/alice/hidden/collaborators/nobody-at-all', { permission: 'read' }), 404);
      await expect(as(alice).delete('/repos/alice/hidden/collaborators/bob'), 204);
      await expectError(as(bob).get('/repos/alice/hidden'), 404);

      // Org repositories: created by the org's owners only.
      await expect(as(root).post('/admin/organizations', { login: 'initech', admin: 'alice' }), 201);
      assert.equal((await expect(as(alice).post('/orgs/initech/repos', { name: 'tps' }), 201)).full_name, 'initech/tps');
      await expectError(as(bob).post('/orgs/initech/repos', { name: 'nope' }), 403);
      assert.equal((await expect(anon.get('/orgs/initech/repos'), 200))[0].name, 'tps');
    });

    // ---- tokens ----

    test('POST /user/tokens → 201 with the token shown once; GET lists it without the secret; DELETE → 401 with it', async () => {
      const created = await expect(as(alice).post('/user/tokens', { scopes: ['read:packages'], name: 'laptop', expires_in: '7d' }), 201);
      const token: string = created.token;
      clearTokens.push(token);
      assert.match(token, /^whp_[0-9A-Za-z]{36}$/);
      assert.equal(created.name, 'laptop');
      assert.deepEqual(created.scopes, ['read:packages']);
      const expires = Date.parse(created.expires_at) - Date.now();
      assert.ok(expires > 6.9 * 864e5 && expires <= 7 * 864e5, `expires_at ${created.expires_at}`);
      assert.equal((await expect(as(token).get('/user'), 200)).login, 'alice');

      const list: Json[] = await expect(as(alice).get('/user/tokens'), 200);
      const listed = list.find((t) => t.id === created.id);
      assert.ok(listed, 'the new token is listed');
      assert.equal(listed.name, 'laptop');
      assert.equal(listed.token, undefined);
      assert.ok(!JSON.stringify(list).includes(token), 'the list never includes a secret');
      assert.equal(token.startsWith(listed.token_prefix), true);
      assert.ok(listed.token_prefix.length < 12);
      assert.ok(!(await expect(as(bob).get('/user/tokens'), 200)).some((t: Json) => t.id === created.id), 'others do not see it');

      await expectError(as(bob).delete(`/user/tokens/${created.id}`), 404, /token/);
      assert.equal((await expect(as(token).get('/user'), 200)).login, 'alice', 'bob could not revoke it');
      await expect(as(alice).delete(`/user/tokens/${created.id}`), 204);
      await expectError(as(token).get('/user'), 401);
      assert.equal(await status(packument('alice', 'getme', token)), 401);
      assert.ok(!(await expect(as(alice).get('/user/tokens'), 200)).some((t: Json) => t.id === created.id));
    });

    test('a token past its expires_at → 401', async () => {
      const t = await expect(as(alice).post('/user/tokens', { scopes: ['read:packages'], expires_at: new Date(Date.now() + 2000).toISOString() }), 201);
      clearTokens.push(t.token);
      assert.equal((await expect(as(t.token).get('/user'), 200)).login, 'alice');
      await new Promise((r) => setTimeout(r, Date.parse(t.expires_at) - Date.now() + 50));
      await expectError(as(t.token).get('/user'), 401);
      assert.equal(await status(packument('alice', 'getme', t.token)), 401);
    });

    test('POST /user/tokens with a bad scope or duration → 400; anonymous → 401', async () => {
      await expectError(as(alice).post('/user/tokens', { scopes: ['admin:everything'] }), 400, /scope/);
      await expectError(as(alice).post('/user/tokens', { scopes: [] }), 400);
      await expectError(as(alice).post('/user/tokens', { scopes: ['read:packages'], expires_in: 'forever' }), 400);
      await expectError(as(alice).post('/user/tokens', { scopes: ['read:packages'], expires_at: '2001-01-01T00:00:00Z' }), 400);
      await expectError(anon.post('/user/tokens', { scopes: ['read:packages'] }), 401);
    });

    test('minting a token needs the user scope; a token cannot mint a token with scopes it lacks → 403; with its own scopes → 201', async () => {
      // A read-only token manages no tokens at all.
      await expectError(as(aliceRead).post('/user/tokens', { scopes: ['read:packages'] }), 403, /user scope/);
      const reader = (await expect(as(alice).post('/user/tokens', { scopes: ['read:packages', 'user'] }), 201)).token as string;
      clearTokens.push(reader);
      await expectError(as(reader).post('/user/tokens', { scopes: ['write:packages'] }), 403, /write:packages/);
      await expectError(as(reader).post('/user/tokens', { scopes: 'read:packages,delete:packages' }), 403);
      const t = await expect(as(reader).post('/user/tokens', { scopes: ['read:packages'] }), 201);
      clearTokens.push(t.token);
      // A write token implies read; it still cannot mint delete.
      const writer = (await expect(as(alice).post('/user/tokens', { scopes: ['write:packages', 'user'] }), 201)).token as string;
      clearTokens.push(writer);
      await expectError(as(writer).post('/user/tokens', { scopes: ['delete:packages'] }), 403);
      clearTokens.push((await expect(as(writer).post('/user/tokens', { scopes: ['read:packages', 'write:packages'] }), 201)).token);
      // Admins mint for others, within their own scopes.
      const forCarol = await expect(as(root).post('/admin/users/carol/tokens', { scopes: ['read:packages'] }), 201);
      clearTokens.push(forCarol.token);
      assert.equal((await expect(as(forCarol.token).get('/user'), 200)).login, 'carol');
      await expectError(as(alice).post('/admin/users/carol/tokens', { scopes: ['read:packages'] }), 403);
    });

    test('job tokens: POST /repos/:o/:r/job-tokens → whj_; it publishes a package naming its repository, not others; revoked with `wharf token revoke` → 401', async () => {
      await expect(as(alice).post('/user/repos', { name: 'app' }), 201);
      await expect(as(alice).post('/user/repos', { name: 'elsewhere' }), 201);
      const created = await expect(as(alice).post('/repos/alice/app/job-tokens', { ttl: '10m' }), 201);
      const job: string = created.token;
      clearTokens.push(job);
      assert.match(job, /^whj_[0-9A-Za-z]{36}$/);
      assert.equal(created.repository, 'alice/app');
      const ttl = Date.parse(created.expires_at) - Date.now();
      assert.ok(ttl > 9 * 60e3 && ttl <= 10 * 60e3, `expires_at ${created.expires_at}`);

      await publish(job, { scope: 'alice', name: 'app-pkg', version: '1.0.0', repository: 'https://github.com/alice/app.git' });
      const p = await expect(as(alice).get(pkgPath('alice', 'app-pkg')), 200);
      assert.equal(p.repository.full_name, 'alice/app');
      await publish(job, { scope: 'alice', name: 'app-pkg', version: '1.0.1', repository: 'https://github.com/alice/app.git' });
      await publish(job, { scope: 'alice', name: 'unlinked', version: '1.0.0' }, 403);
      await publish(job, { scope: 'alice', name: 'elsewhere-pkg', version: '1.0.0', repository: 'https://github.com/alice/elsewhere.git' }, 403);
      // Under another owner: a package there it cannot see is refused exactly as a new one.
      await publish(bob, { scope: 'bob', name: 'bobs-private', version: '1.0.0' });
      const elsewhere = await (await publish(job, { scope: 'bob', name: 'app-pkg', version: '1.0.0', repository: 'https://github.com/alice/app.git' }, 403)).text();
      assert.equal(await (await publish(job, { scope: 'bob', name: 'bobs-private', version: '9.0.0' }, 403)).text(), elsewhere);
      // A private package not linked to its repository (and not granted to it) does not exist for the job: refused
      // as a new package not linked to its repository is.
      const hidden = await (await publish(job, { scope: 'alice', name: 'getme', version: '9.0.0' }, 403)).text();
      assert.equal(hidden, await (await publish(job, { scope: 'alice', name: 'unlinked2', version: '1.0.0' }, 403)).text());
      assert.equal(await status(packument('alice', 'unlinked', alice)), 404, 'nothing was written');
      // A job is not a person.
      await expectError(as(job).get('/user'), 403);
      await expectError(as(job).post('/user/tokens', { scopes: ['read:packages'] }), 403);
      // Minting needs write on the repository.
      await expectError(as(bob).post('/repos/alice/app/job-tokens', {}), 403);
      await expectError(as(alice).post('/repos/alice/app/job-tokens', { ttl: 'soon' }), 400);
      await expectError(as(alice).post('/repos/alice/app/job-tokens', { ttl: '30d' }), 400);

      const r = await s.cli(['token', 'revoke', job]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`revoked token ${created.id}\\b`));
      await publish(job, { scope: 'alice', name: 'app-pkg', version: '1.0.2', repository: 'https://github.com/alice/app.git' }, 401);
      assert.equal(await status(packument('alice', 'app-pkg', job)), 401);
    });

    test('a job token ends with its minter\'s right to mint it (removed, suspended); the repository\'s admins list and revoke its job tokens', async () => {
      await expect(as(alice).post('/user/repos', { name: 'ci', private: true }), 201);
      const collaborate = async () => assert.equal((await as(alice).put('/repos/alice/ci/collaborators/bob', { permission: 'write' })).status < 300, true);
      await collaborate();
      const mint = async () => (await expect(as(bob).post('/repos/alice/ci/job-tokens', { ttl: '1h' }), 201)) as { token: string; id: number };
      let n = 0;
      const ci = (job: string, status = 201) => publish(job, { scope: 'alice', name: 'ci-pkg', version: `1.0.${n++}`, repository: 'https://github.com/alice/ci.git' }, status);
      // Removed from the repository: the job token bob minted ends with it.
      const first = await mint();
      await ci(first.token);
      const listed = (await expect(as(alice).get('/repos/alice/ci/job-tokens'), 200)) as Json[];
      assert.deepEqual(listed.map((t) => [t.id, t.created_by]), [[first.id, 'bob']]);
      assert.ok(!JSON.stringify(listed).includes(first.token), 'the list never shows a token');
      await expectError(as(bob).get('/repos/alice/ci/job-tokens'), 403); // write is not admin
      assert.equal((await as(alice).delete('/repos/alice/ci/collaborators/bob')).status, 204);
      await ci(first.token, 401);
      // Suspended: the same.
      await collaborate();
      const second = await mint();
      await ci(second.token);
      assert.equal((await as(root).put('/users/bob/suspended')).status, 204);
      await ci(second.token, 401);
      assert.equal((await as(root).delete('/users/bob/suspended')).status, 204);
      await ci(second.token, 401); // reinstated, still a collaborator: the token stays ended (it may have leaked)
      // Demoted to read and back, without the token used in between: it stays ended too.
      const demoted = await mint();
      assert.equal((await as(alice).put('/repos/alice/ci/collaborators/bob', { permission: 'read' })).status < 300, true);
      await collaborate();
      await ci(demoted.token, 401);
      // The repository's admin revokes one (and only its job tokens: another id there is 404).
      const fourth = await mint();
      await ci(fourth.token);
      await expectError(as(alice).delete(`/repos/alice/ci/job-tokens/${fourth.id + 100000}`), 404);
      assert.equal((await as(alice).delete(`/repos/alice/ci/job-tokens/${fourth.id}`)).status, 204);
      await ci(fourth.token, 401);
      // bob revokes one he minted; carol, a stranger, cannot.
      const third = await mint();
      await expectError(as(carol).delete(`/repos/alice/ci/job-tokens/${third.id}`), 404);
      assert.equal((await as(bob).delete(`/repos/alice/ci/job-tokens/${third.id}`)).status, 204);
      await ci(third.token, 401);
    });

    test('who leaves an organization leaves its packages: the admin a member got on what they published there goes', async () => {
      await expect(as(alice).post('/admin/organizations', { login: 'lab' }), 201);
      assert.ok((await as(alice).put('/orgs/lab/memberships/bob', { role: 'member' })).status < 300);
      await publish(bob, { scope: 'lab', name: 'tool', version: '1.0.0' });
      await publish(bob, { scope: 'bob', name: 'mine', version: '1.0.0' });
      const grants = async () => ((await expect(as(alice).get('/orgs/lab/packages/npm/tool/access'), 200)) as Json);
      assert.match(JSON.stringify(await grants()), /"bob"/);
      // bob, its admin, grants a repository of his own: a job there would keep what he loses.
      await expect(as(bob).post('/user/repos', { name: 'lab-ci' }), 201);
      assert.ok((await as(bob).put('/orgs/lab/packages/npm/tool/access/repos/bob/lab-ci', { role: 'write' })).status < 300);
      assert.match(JSON.stringify(await grants()), /bob\/lab-ci/);
      assert.equal(await status(packument('lab', 'tool', bob)), 200);
      assert.equal((await as(alice).delete('/orgs/lab/memberships/bob')).status, 204);
      assert.equal(await status(packument('lab', 'tool', bob)), 404);
      await publish(bob, { scope: 'lab', name: 'tool', version: '1.0.1' }, 403); // as for any name under lab now
      await expectError(as(bob).patch('/orgs/lab/packages/npm/tool', { visibility: 'public' }), 404);
      assert.doesNotMatch(JSON.stringify(await grants()), /"bob"|bob\/lab-ci/);
      assert.equal(await status(packument('bob', 'mine', bob)), 200, 'his own packages stay his');
      const log = (await expect(as(alice).get('/orgs/lab/audit-log?phrase=action:org.remove_member'), 200)) as Json[];
      assert.equal(log[0].revoked_package_grants, 2);
    });

    test('package settings do not confirm a private repository one cannot see: linking or granting it is 404, as a missing one', async () => {
      await expect(as(carol).post('/user/repos', { name: 'hidden', private: true }), 201);
      await publish(bob, { scope: 'bob', name: 'probe', version: '1.0.0' });
      for (const slug of ['carol/hidden', 'carol/nothere']) {
        await expectError(as(bob).patch('/users/bob/packages/npm/probe', { repository: slug }), 404, /no repository/);
        await expectError(as(bob).put(`/users/bob/packages/npm/probe/access/repos/${slug}`, { role: 'read' }), 404, /no repository/);
      }
      // carol herself may grant her repository on a package of hers.
      await publish(carol, { scope: 'carol', name: 'own', version: '1.0.0' });
      assert.ok((await as(carol).put('/users/carol/packages/npm/own/access/repos/carol/hidden', { role: 'read' })).status < 300);
    });

    test('npm search: total is every match the caller may read, whatever the page; others\' private ones are not counted', async () => {
      for (const n of ['pager-a', 'pager-b', 'pager-c']) await publish(alice, { scope: 'alice', name: n, version: '1.0.0' });
      await publish(carol, { scope: 'carol', name: 'pager-z', version: '1.0.0' });
      const search = async (token: string | null, q: string) => (await (await fetch(`${s.url}/npm/-/v1/search?${q}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).json()) as Json;
      const first = await search(alice, 'text=pager&size=1');
      assert.equal(first.total, 3);
      assert.equal(first.objects.length, 1);
      const second = await search(alice, 'text=pager&size=1&from=1');
      assert.equal(second.total, 3);
      assert.notEqual(second.objects[0].package.name, first.objects[0].package.name);
      assert.equal((await search(alice, 'text=pager&from=5')).objects.length, 0);
      assert.equal((await search(null, 'text=pager')).total, 0);
    });

    // ---- errors ----

    test('errors are JSON {message} with the right status', async () => {
      await expectError(anon.get('/no/such/route'), 404, /^Not Found$/);
      await expectError(as(alice).post('/user/tokens', '{"scopes": [oops'), 400, /JSON/);
      await expectError(as(alice).post('/user/tokens', ['read:packages']), 400, /object/);
      await expectError(as(alice).get('/users/alice/packages/npm/getme/versions?state=weird'), 400);
      // Ids that are not ids are missing things, not server errors (PostgreSQL refuses NaN or 1.5 in a bigint).
      for (const id of ['not-a-number', '99999999999', '99999999999999999999999', '-1', '1.5']) {
        await expectError(as(alice).get(`/users/alice/packages/npm/getme/versions/${id}`), 404);
        await expectError(as(alice).delete(`/user/tokens/${id}`), 404);
        await expectError(as(alice).get(`/users/alice/hooks/${id}`), 404);
      }
      assert.deepEqual(await expect(as(root).get('/users?page=1e20'), 200), []);
      assert.deepEqual(await expect(as(alice).get('/users/alice/packages?page=99999999999999999999&per_page=abc'), 200), []);
      const big = await as(alice).post('/user/tokens', { scopes: ['read:packages'], name: 'x'.repeat(2 * 1024 * 1024) });
      await expectError(big, 413);
      // A body nested past the bound is refused before it is parsed (a deep value stored and serialized again was a 500).
      await expectError(as(alice).post('/user/tokens', `{"scopes": ["read:packages"], "name": ${'['.repeat(5000)}${']'.repeat(5000)}}`), 400, /nest/);
    });

    // ---- how tokens are kept ----

    test('tokens are stored only as sha256 hashes, with the whp_/whj_ prefixes and a checksum', async () => {
      const rows = await s.core.db.selectFrom('tokens').selectAll().execute();
      assert.ok(rows.length >= clearTokens.length);
      const hashes = new Set(rows.map((r) => r.token_hash));
      for (const t of clearTokens) {
        assert.match(t, /^wh[pj]_[0-9A-Za-z]{36}$/);
        assert.ok(hashes.has(createHash('sha256').update(t).digest('hex')), 'its hash is stored');
        for (const row of rows) {
          for (const [col, value] of Object.entries(row)) {
            assert.ok(!String(value).includes(t), `tokens.${col} holds a clear token`);
            assert.ok(!String(value).includes(t.slice(8)), `tokens.${col} holds the secret part of a token`);
          }
        }
      }
      assert.ok(rows.some((r) => r.kind === 'job' && r.token_prefix.startsWith('whj_')));
      assert.ok(rows.some((r) => r.kind === 'pat' && r.token_prefix.startsWith('whp_')));
      // A token with one character changed fails its checksum, and is refused.
      const t = alice;
      const flipped = t.slice(0, 10) + (t[10] === 'a' ? 'b' : 'a') + t.slice(11);
      await expectError(as(flipped).get('/user'), 401);
    });
  });
}
