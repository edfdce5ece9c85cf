// Creating users and making them site administrators are core verbs that decide for themselves and leave an audit
// entry: a site administrator (or the CLI) creates any user; anyone signed out only through open sign-up, and never
// an administrator; PUT/DELETE /api/v1/users/:user/site_admin (GitHub Enterprise's paths) promote and demote, and
// the rights follow at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { anonymous as anonymousActor, systemActor } from '../../src/core/auth/actor.ts';
import { isWharfError } from '../../src/core/errors.ts';
import { dialects } from '../helpers/databases.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

for (const dialect of dialects()) {
  describe(`users: creation and site administrators, on ${dialect}`, () => {
    let s: TestServer;
    let root: string;
    let alice: string;

    before(async () => {
      s = await startWharf({ dialect });
      root = await s.userWithToken('root', EVERY_SCOPE, { admin: true });
      alice = await s.userWithToken('alice', EVERY_SCOPE);
    });
    after(() => s.stop());

    const api = (token: string | null, method: string, path: string, body?: unknown) =>
      fetch(`${s.url}/api/v1${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    const entries = async (action: string, user: string) =>
      (await s.core.db.selectFrom('audit_log').select(['actor_name', 'credential', 'details']).where('action', '=', action).where('user_name', '=', user).orderBy('id').execute())
        .map((e) => ({ actor: e.actor_name, credential: e.credential, details: JSON.parse(e.details) }));

    test('POST /admin/users: a site admin creates a user, recorded as user.create; anyone else is refused and nothing is created', async () => {
      assert.equal((await api(alice, 'POST', '/admin/users', { login: 'mallory' })).status, 403);
      assert.equal((await api(null, 'POST', '/admin/users', { login: 'mallory' })).status, 401);
      assert.equal(await s.core.identity.findOwner('mallory'), undefined);
      const r = await api(root, 'POST', '/admin/users', { login: 'bob', email: 'bob@example.com' });
      assert.equal(r.status, 201);
      assert.equal(((await r.json()) as Json).login, 'bob');
      assert.deepEqual(await entries('user.create', 'bob'), [{ actor: 'root', credential: 'token', details: { site_admin: false, sign_up: false } }]);
    });

    test('the core verb decides: a user may not create users; signed out only with open sign-up, and never an administrator', async () => {
      const aliceActor = { kind: 'user' as const, user: { id: (await s.core.identity.requireUser('alice')).id, name: 'alice', isAdmin: false }, scopes: EVERY_SCOPE.split(','), tokenId: null };
      const refused = async (p: Promise<unknown>, kind: string) => {
        await assert.rejects(p, (e) => isWharfError(e) && e.kind === kind);
      };
      await refused(s.core.identity.createUser(aliceActor as never, { name: 'eve' }), 'Forbidden');
      await refused(s.core.identity.createUser(anonymousActor, { name: 'eve' }), 'Unauthorized');
      assert.equal(await s.core.identity.findOwner('eve'), undefined);
      // The CLI's system actor creates anyone, and it is recorded.
      await s.core.identity.createUser(systemActor, { name: 'carol', isAdmin: true });
      assert.deepEqual(await entries('user.create', 'carol'), [{ actor: null, credential: 'system', details: { site_admin: true, sign_up: false } }]);
    });

    test('PUT/DELETE /users/:user/site_admin: promote and demote (204), rights follow at once; not yourself; others 403', async () => {
      const bobToken = (await s.core.tokens.createPersonal(systemActor, 'bob', { scopes: EVERY_SCOPE })).token;
      assert.equal((await api(bobToken, 'GET', '/users')).status, 403);
      assert.equal((await api(alice, 'PUT', '/users/bob/site_admin')).status, 403);
      assert.equal((await api(root, 'PUT', '/users/bob/site_admin')).status, 204);
      assert.equal((await api(bobToken, 'GET', '/users')).status, 200, 'a site admin now');
      const self = await api(root, 'DELETE', '/users/root/site_admin');
      assert.equal(self.status, 400);
      assert.match(((await self.json()) as Json).message, /you cannot remove your own site administrator rights/);
      assert.equal((await api(root, 'DELETE', '/users/bob/site_admin')).status, 204);
      assert.equal((await api(bobToken, 'GET', '/users')).status, 403, 'and no longer');
      assert.equal((await api(root, 'PUT', '/users/nobody/site_admin')).status, 404);
      assert.deepEqual((await entries('user.site_admin', 'bob')).map((e) => e.details.site_admin), [true, false]);
    });
  });
}

describe('open sign-up creates plain users, recorded as signed up', () => {
  let s: TestServer;
  before(async () => {
    s = await startWharf({ env: { WHARF_SIGNUP: 'open' } });
  });
  after(() => s.stop());

  test('anonymous: a user yes, an administrator no', async () => {
    const u = await s.core.identity.createUser(anonymousActor, { name: 'newbie', password: 'long enough pw' });
    assert.equal(u.is_admin, 0);
    await assert.rejects(s.core.identity.createUser(anonymousActor, { name: 'boss', isAdmin: true }), (e) => isWharfError(e) && e.kind === 'Unauthorized');
    const e = await s.core.db.selectFrom('audit_log').select(['credential', 'details']).where('action', '=', 'user.create').where('user_name', '=', 'newbie').executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(e.details), { site_admin: false, sign_up: true });
  });
});
