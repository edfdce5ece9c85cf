// Fine-grained personal tokens (issue 20): a token limited to chosen owners, repositories and packages. Creation
// over REST (validated: what it names must exist and be visible to its person; it can only narrow), the list that
// shows the selection, and the limit holding over the REST API, npm and the registry token endpoint.
// The scene: alice owns @alice/web, @alice/other (private) and org acme with private repository acme/app and
// @acme/lib linked to it; bob owns the private repository bob/priv and the private package @bob/secret.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

for (const dialect of dialects()) {
  describe(`fine-grained tokens on ${dialect}`, () => {
    let s: TestServer;
    let aliceFull: string;
    let bobFull: string;

    const api = async (token: string | null, method: string, path: string, body?: unknown) => {
      const r = await fetch(`${s.url}/api/v1${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null, text };
    };
    const mint = async (resources: unknown, scopes: string[] = ['read:packages', 'write:packages'], token = aliceFull) => api(token, 'POST', '/user/tokens', { name: 'limited', scopes, resources });
    const npmGet = (token: string | null, name: string) => fetch(`${s.url}/npm/${name.replace('/', '%2f')}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

    before(async () => {
      s = await startWharf({ dialect });
      const c = s.core;
      aliceFull = await s.userWithToken('alice', EVERY_SCOPE);
      bobFull = await s.userWithToken('bob', EVERY_SCOPE);
      await c.identity.createOrg(systemActor, 'acme', 'alice');
      await c.identity.createRepo(systemActor, 'acme', 'app', 'private');
      await c.identity.createRepo(systemActor, 'bob', 'priv', 'private');
      for (const [token, scope, name, repository] of [[aliceFull, 'alice', 'web'], [aliceFull, 'alice', 'other'], [aliceFull, 'acme', 'lib', 'https://github.com/acme/app.git'], [bobFull, 'bob', 'secret']] as const) {
        const r = await publishNpm(s.url, token, { scope, name, version: '1.0.0', repository });
        assert.equal(r.status, 201, await r.text());
      }
      for (const [o, n] of [['alice', 'other'], ['bob', 'secret']]) {
        const pkg = (await c.packages.find(o, 'npm', n))!;
        await c.publisher.updateSettings(pkg.id, { visibility: 'private' }, systemActor);
      }
    });
    after(async () => s?.stop());

    test('POST /user/tokens with resources → 201, the selection in the answer and in the list; a classic token lists resources: null', async () => {
      const r = await mint([{ owner: 'alice', package: { type: 'npm', name: 'web' }, permission: 'write' }, { owner: 'acme', repository: 'app' }, 'npm:@alice/future=write']);
      assert.equal(r.status, 201, r.text);
      assert.match(r.body.token, /^whp_/);
      assert.deepEqual(r.body.resources, [
        { owner: 'alice', repository: null, package: { type: 'npm', name: 'web' }, permission: 'write' },
        // Without a permission: as far as the package scopes go.
        { owner: 'acme', repository: 'app', package: null, permission: 'write' },
        { owner: 'alice', repository: null, package: { type: 'npm', name: 'future' }, permission: 'write' },
      ]);
      const list: Json[] = (await api(aliceFull, 'GET', '/user/tokens')).body;
      assert.deepEqual(list.find((t) => t.id === r.body.id).resources, r.body.resources);
      assert.equal(list.find((t) => t.id !== r.body.id).resources, null);
      assert.equal(list.some((t) => 'token' in t), false, 'the list never holds the secret');
    });

    test('a token limited to one package: reads and publishes it; everything else is as for a stranger, and it manages nothing', async () => {
      const t = (await mint([{ owner: 'alice', package: { type: 'npm', name: 'web' }, permission: 'write' }], ['read:packages', 'write:packages', 'delete:packages'])).body.token;
      assert.equal((await npmGet(t, '@alice/web')).status, 200);
      assert.equal((await publishNpm(s.url, t, { scope: 'alice', name: 'web', version: '1.0.1' })).status, 201);
      // Private, outside: does not exist. New packages: refused. Linked to the repository: not named, not seen.
      assert.equal((await npmGet(t, '@alice/other')).status, 404);
      assert.equal((await npmGet(aliceFull, '@alice/other')).status, 200, 'its person may');
      // Publishing into the hidden package is refused exactly as creating a new one: its existence is not confirmed.
      const other = await publishNpm(s.url, t, { scope: 'alice', name: 'other', version: '1.0.1' });
      const fresh = await publishNpm(s.url, t, { scope: 'alice', name: 'brand-new', version: '1.0.0' });
      assert.equal(other.status, 403);
      assert.equal(fresh.status, 403);
      assert.equal(await other.text(), await fresh.text());
      assert.equal((await publishNpm(s.url, t, { scope: 'acme', name: 'lib', version: '1.0.1' })).status, 403);
      assert.equal(await s.core.packages.find('alice', 'npm', 'brand-new'), undefined);
      // REST: the owner's list shows only what it reaches; management of any kind → 403.
      const pkgs: Json[] = (await api(t, 'GET', '/users/alice/packages')).body;
      assert.deepEqual(pkgs.map((p) => p.name), ['web']);
      assert.equal((await api(t, 'GET', '/users/alice/packages/npm/other')).status, 404);
      const versions: Json[] = (await api(t, 'GET', '/users/alice/packages/npm/web/versions')).body;
      const del = await api(t, 'DELETE', `/users/alice/packages/npm/web/versions/${versions[0].id}`);
      assert.equal(del.status, 403, del.text);
      assert.match(del.body.message, /reaches this package for write only/);
      assert.equal((await api(t, 'GET', '/user/tokens')).status, 403);
      assert.equal((await mint([{ owner: 'alice' }], ['read:packages'], t)).status, 403, 'a fine-grained token mints no tokens, not even narrower ones');
      assert.equal((await api(t, 'PATCH', '/users/alice/packages/npm/web', { visibility: 'public' })).status, 403);
    });

    test('a package named before it exists may be created by that name only; a repository selection reaches the packages linked to it', async () => {
      const t = (await mint(['npm:alice/future=write', 'acme/app=read'])).body.token;
      assert.equal((await publishNpm(s.url, t, { scope: 'alice', name: 'future', version: '1.0.0' })).status, 201);
      assert.equal((await publishNpm(s.url, t, { scope: 'alice', name: 'future-two', version: '1.0.0' })).status, 403);
      assert.equal((await npmGet(t, '@acme/lib')).status, 200);
      assert.equal((await publishNpm(s.url, t, { scope: 'acme', name: 'lib', version: '1.0.2' })).status, 403, 'read reach');
      assert.equal((await api(t, 'GET', '/repos/acme/app')).status, 200, 'the repository it names is visible');
    });

    test('validation: each refusal is a 400 that says why, and nothing is minted', async () => {
      const before = (await api(aliceFull, 'GET', '/user/tokens')).body.length;
      const cases: [unknown, RegExp, string[]?][] = [
        [[], /at least one|too_small|>=1/i],
        [Array.from({ length: 101 }, () => ({ owner: 'alice' })), /100/],
        [[{ owner: 'nobody' }], /no user or organization named "nobody"/],
        [[{ owner: 'bob', repository: 'priv' }], /no repository bob\/priv/],
        [[{ owner: 'bob', repository: 'missing' }], /no repository bob\/missing/],
        [[{ owner: 'alice', package: { type: 'pypi', name: 'x' } }], /unknown package type "pypi"/],
        [[{ owner: 'alice', package: { type: 'npm', name: 'a b' } }], /invalid package name/],
        [[{ owner: 'alice', permission: 'owner' }], /resources/],
        [[{ owner: 'alice', permission: 'delete' }], /needs the delete:packages scope/],
        [[{ owner: 'alice' }], /cannot hold repo/, ['read:packages', 'repo']],
        [[{ owner: 'alice' }, { owner: 'ALICE' }], /named twice/],
        [[{ owner: 'alice', extra: 1 }], /resources/],
        [[42], /resources/],
        ['npm:alice/web', /resources/],
        [['npm:alice'], /TYPE:OWNER\/NAME/],
        [['a/b/c'], /OWNER\/REPO/],
        [['alice=root'], /invalid permission/],
      ];
      for (const [resources, message, scopes] of cases) {
        const r = await mint(resources, scopes);
        assert.equal(r.status, 400, `${JSON.stringify(resources).slice(0, 80)} → ${r.status} ${r.text}`);
        assert.match(r.body.message, message, JSON.stringify(resources).slice(0, 80));
      }
      assert.equal((await api(aliceFull, 'GET', '/user/tokens')).body.length, before);
    });

    test('a package its person cannot see is kept by name, word for word as one that does not exist: the answer tells nothing, the token reaches nothing', async () => {
      const hidden = await mint([{ owner: 'bob', package: { type: 'npm', name: 'secret' }, permission: 'read' }], ['read:packages']);
      const missing = await mint([{ owner: 'bob', package: { type: 'npm', name: 'nothing' }, permission: 'read' }], ['read:packages']);
      assert.equal(hidden.status, 201);
      assert.equal(missing.status, 201);
      assert.deepEqual(hidden.body.resources, [{ owner: 'bob', repository: null, package: { type: 'npm', name: 'secret' }, permission: 'read' }]);
      assert.equal((await npmGet(hidden.body.token, '@bob/secret')).status, 404);
    });

    test('a registry token from a limited token grants only what the selection reaches (/v2/token), and keeps the limit', async () => {
      const t = (await mint(['container:alice/img=write', 'npm:alice/web=write'])).body.token;
      const basic = `Basic ${Buffer.from(`alice:${t}`).toString('base64')}`;
      const grant = async (scope: string) => {
        const r = await fetch(`${s.url}/v2/token?service=x&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic } });
        assert.equal(r.status, 200);
        const jwt = (await r.json()).token as string;
        const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
        return { jwt, actions: payload.access[0].actions as string[] };
      };
      assert.deepEqual((await grant('repository:alice/img:pull,push')).actions.sort(), ['pull', 'push']);
      assert.deepEqual((await grant('repository:alice/elsewhere:pull,push')).actions, []);
      assert.deepEqual((await grant('repository:acme/img:pull,push,delete')).actions, []);
      // The JWT stands for the limited token: npm is out of a registry token's reach, and revoking the token ends it.
      const { jwt } = await grant('repository:alice/img:pull,push');
      const actor = await s.core.authn.fromAuthorization(`Bearer ${jwt}`, {});
      assert.ok(actor.kind === 'user' && actor.limit?.resources.length === 2, 'the limit survives the registry token');
      const id = (await api(aliceFull, 'GET', '/user/tokens')).body.find((x: Json) => x.token_prefix === t.slice(0, 8)).id;
      assert.equal((await api(aliceFull, 'DELETE', `/user/tokens/${id}`)).status, 204);
      await assert.rejects(s.core.authn.fromAuthorization(`Bearer ${jwt}`, {}), (e: any) => e.kind === 'Unauthorized');
      assert.equal((await npmGet(t, '@alice/web')).status, 401);
    });

    test('createPersonal checks the selection against the token\'s person, whoever mints it; a lookup carries the limit, a classic token none', async () => {
      // The operator (who sees everything) minting for alice: bob's private repository is still not alice's to name.
      await assert.rejects(s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages', resources: [{ owner: 'bob', repository: 'priv' }] }), (e: any) => e.kind === 'Invalid' && /no repository bob\/priv/.test(e.message));
      const { token } = await s.core.tokens.createPersonal(systemActor, 'bob', { scopes: 'read:packages', resources: [{ owner: 'bob', repository: 'priv' }, { owner: 'bob', package: { type: 'npm', name: 'secret' } }] });
      const actor = await s.core.tokens.authenticate(token);
      assert.ok(actor?.kind === 'user');
      const bob = (await s.core.identity.findOwner('bob'))!;
      const secret = (await s.core.packages.find('bob', 'npm', 'secret'))!;
      const priv = (await s.core.identity.findRepo('bob', 'priv'))!;
      assert.deepEqual(actor.limit?.resources.map((r) => ({ ...r })), [
        { ownerId: bob.id, repositoryId: priv.id, packageId: null, type: null, name: null, reach: 'read' },
        { ownerId: bob.id, repositoryId: null, packageId: secret.id, type: null, name: null, reach: 'read' },
      ]);
      const classic = await s.core.tokens.authenticate(bobFull);
      assert.ok(classic?.kind === 'user' && classic.limit === undefined);
      // An empty selection is not "everything": it is refused.
      await assert.rejects(s.core.tokens.createPersonal(systemActor, 'bob', { scopes: 'read:packages', resources: [] }), /at least one/);
    });

    test('the audit log records the selection with the token', async () => {
      const r = await mint(['npm:alice/web=read'], ['read:packages']);
      const rows = await s.core.db.selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'personal_access_token.create').orderBy('id', 'desc').limit(1).execute();
      assert.equal(r.status, 201);
      assert.deepEqual(JSON.parse(rows[0].details).resources, ['npm:alice/web=read']);
    });
  });
}
