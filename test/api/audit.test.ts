// The audit log on every database: package changes made through the REST API are recorded with the actor, the
// kind of credential, the client address and the time, in the change's own transaction (a change that rolls back
// leaves no entry); GET /api/v1/orgs/:org/audit-log is for the org's owners and site admins (404 to anyone else);
// GET /api/v1/user/audit-log has what the user did and what was done to them; `phrase` filters; `after`/`before`
// cursors from the Link header walk every entry once; `wharf audit` prints the same entries.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

/** The URLs of a Link header by rel. */
function links(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (res.headers.get('link') ?? '').matchAll(/<([^>]+)>; rel="([a-z]+)"/g)) out[m[2]] = m[1];
  return out;
}

for (const dialect of dialects()) {
  describe(`audit log on ${dialect}`, () => {
    let s: TestServer;
    let root: string;
    let alice: string;
    let aliceTokenId: number;
    let bob: string;

    before(async () => {
      s = await startWharf({ dialect });
      root = await s.userWithToken('root', EVERY_SCOPE, { admin: true });
      await s.core.identity.createUser(systemActor, { name: 'alice' });
      const t = await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: EVERY_SCOPE, name: 'laptop' });
      alice = t.token;
      aliceTokenId = t.info.id;
      bob = await s.userWithToken('bob', EVERY_SCOPE);
      await s.core.identity.createOrg(systemActor, 'acme', 'alice');
      await s.core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
      for (const [name, version] of [['pkg', '1.0.0'], ['pkg', '1.1.0'], ['other', '1.0.0']]) {
        const r = await publishNpm(s.url, alice, { scope: 'acme', name, version });
        assert.equal(r.status, 201, await r.text());
      }
    });
    after(() => s.stop());

    const call = (who: string | null, method: string, path: string, body?: unknown) =>
      fetch(`${s.url}/api/v1${path}`, {
        method,
        headers: { ...(who ? { authorization: `Bearer ${who}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    async function expect(r: Response | Promise<Response>, status: number): Promise<Json> {
      const res = await r;
      const text = await res.text();
      assert.equal(res.status, status, `${res.url} → ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    }
    const orgLog = async (who: string, query = '') => (await expect(call(who, 'GET', `/orgs/acme/audit-log${query}`), 200)) as Json[];
    const pkg = '/orgs/acme/packages/npm/pkg';

    test('DELETE a package → package.delete with actor, credential token, token id, client address, org and time; restore → package.restore', async () => {
      const t0 = Date.now();
      await expect(call(alice, 'DELETE', pkg), 204);
      let [e] = await orgLog(alice);
      assert.equal(e.action, 'package.delete');
      assert.equal(e.actor, 'alice');
      assert.equal(e.actor_id, (await s.core.identity.requireUser('alice')).id);
      assert.equal(e.credential, 'token');
      assert.equal(e.token_id, aliceTokenId);
      assert.equal(e.actor_ip, '127.0.0.1');
      assert.equal(e.org, 'acme');
      assert.equal(e.target, 'npm/pkg');
      assert.equal(e.package_type, 'npm');
      assert.equal(e.package, 'pkg');
      assert.equal(typeof e['@timestamp'], 'number');
      assert.ok(e['@timestamp'] >= t0 - 1000 && e['@timestamp'] <= Date.now() + 1000, 'the time of the change, in ms');
      assert.equal(e.created_at, e['@timestamp']);
      assert.equal(typeof e._document_id, 'string');

      await expect(call(alice, 'POST', `${pkg}/restore`), 204);
      [e] = await orgLog(alice);
      assert.equal(e.action, 'package.restore');
      assert.equal(e.credential, 'token');
    });

    test('DELETE and restore a version → package_version.delete / .restore naming the version', async () => {
      const versions: Json[] = await expect(call(alice, 'GET', `${pkg}/versions`), 200);
      const v = versions.find((x) => x.name === '1.0.0');
      await expect(call(alice, 'DELETE', `${pkg}/versions/${v.id}`), 204);
      await expect(call(alice, 'POST', `${pkg}/versions/${v.id}/restore`), 204);
      const [restored, deleted] = await orgLog(alice);
      assert.deepEqual([deleted.action, deleted.version, deleted.target], ['package_version.delete', '1.0.0', 'npm/pkg 1.0.0']);
      assert.deepEqual([restored.action, restored.version], ['package_version.restore', '1.0.0']);
    });

    test('a change whose transaction fails after its entry was written leaves neither the change nor the entry', async () => {
      const before = (await orgLog(alice, '?per_page=100')).length;
      let fail = true;
      // Runs inside the change's transaction, after the Publisher recorded the audit entry: throwing rolls it all back.
      s.core.events.inTransaction(async (_trx, e) => {
        if (fail && e.type === 'package.deleted') throw new Error('forced failure after the audit entry');
      });
      try {
        await expect(call(alice, 'DELETE', '/orgs/acme/packages/npm/other'), 500);
      } finally {
        fail = false;
      }
      await expect(call(alice, 'GET', '/orgs/acme/packages/npm/other'), 200);
      assert.equal((await orgLog(alice, '?per_page=100')).length, before, 'no entry for a change that did not happen');
      assert.equal((await s.core.audit.list({ ownerId: (await s.core.identity.requireOrg('acme')).id, limit: 100 })).entries.length, before);
    });

    test('PATCH visibility → package.visibility with the old and new value; the same value again records nothing', async () => {
      await expect(call(alice, 'PATCH', pkg, { visibility: 'public' }), 200);
      const [e] = await orgLog(alice);
      assert.deepEqual([e.action, e.previous_visibility, e.visibility], ['package.visibility', 'private', 'public']);
      await expect(call(alice, 'PATCH', pkg, { visibility: 'public' }), 200);
      assert.equal((await orgLog(alice))[0]._document_id, e._document_id);
    });

    test('PUT and DELETE access/users/:user → package.access_grant / .access_revoke, in the grantee\'s own log too', async () => {
      await expect(call(alice, 'PUT', `${pkg}/access/users/bob`, { role: 'write' }), 200);
      await expect(call(alice, 'DELETE', `${pkg}/access/users/bob`), 204);
      const [revoked, granted] = await orgLog(alice);
      assert.deepEqual([granted.action, granted.user, granted.role, granted.actor], ['package.access_grant', 'bob', 'write', 'alice']);
      assert.deepEqual([revoked.action, revoked.user, revoked.previous_role], ['package.access_revoke', 'bob', 'write']);
      const bobs: Json[] = await expect(call(bob, 'GET', '/user/audit-log'), 200);
      // Bob's log also has what the console did to his account at setup (his token, his membership of acme).
      assert.deepEqual(bobs.map((x) => x.action).filter((a) => a.startsWith('package')), ['package.access_revoke', 'package.access_grant'], 'what was done to bob, and nothing else in acme');
      assert.ok(bobs.every((x) => x.actor === 'alice' || x.user === 'bob'), 'only what was done by alice to bob, or to bob');
    });

    test('GET /orgs/:org/audit-log → 404 to a member who is not an owner, to anonymous, and for a user or unknown name; 200 to a site admin', async () => {
      const err: Json = await expect(call(bob, 'GET', '/orgs/acme/audit-log'), 404);
      assert.equal(err.message, 'Not Found');
      await expect(call(null, 'GET', '/orgs/acme/audit-log'), 404);
      await expect(call(alice, 'GET', '/orgs/alice/audit-log'), 404);
      await expect(call(alice, 'GET', '/orgs/no-such-org/audit-log'), 404);
      assert.ok((await orgLog(root)).length > 0);
    });

    test('GET /user/audit-log → what the user did; 401 anonymously', async () => {
      const mine: Json[] = await expect(call(alice, 'GET', '/user/audit-log?per_page=100'), 200);
      assert.ok(mine.filter((e) => e.actor === 'alice').length >= 6);
      // The rest was done to her account or in her namespace (her token, her org) by the console.
      assert.ok(mine.every((e) => e.actor === 'alice' || e.user === 'alice' || e.owner === 'alice'));
      await expect(call(null, 'GET', '/user/audit-log'), 401);
    });

    test('phrase: action: (an action or a category), -action:, actor:, created:; an unknown qualifier → 400', async () => {
      const only = async (phrase: string) => (await orgLog(alice, `?per_page=100&phrase=${encodeURIComponent(phrase)}`)).map((e) => e.action);
      assert.deepEqual(await only('action:package.delete'), ['package.delete']);
      assert.deepEqual(await only('action:package_version'), ['package_version.restore', 'package_version.delete']);
      assert.ok(!(await only('-action:package_version')).some((a) => a.startsWith('package_version.')));
      assert.equal((await only('actor:nobody')).length, 0);
      assert.equal((await only('actor:ALICE action:package.restore')).length, 1);
      const today = new Date().toISOString().slice(0, 10);
      assert.ok((await only(`created:${today}`)).length >= 6);
      assert.equal((await only('created:<2000-01-01')).length, 0);
      await expect(call(alice, 'GET', `/orgs/acme/audit-log?phrase=${encodeURIComponent('colour:blue')}`), 400);
      await expect(call(alice, 'GET', `/orgs/acme/audit-log?phrase=${encodeURIComponent('created:yesterday')}`), 400);
    });

    test('per_page with after/before cursors from the Link header walks every entry once, both ways; a bad cursor → 400', async () => {
      // More entries, so that the walk crosses several pages.
      for (let i = 0; i < 3; i++) {
        await expect(call(alice, 'PATCH', pkg, { visibility: 'private' }), 200);
        await expect(call(alice, 'PATCH', pkg, { visibility: 'public' }), 200);
      }
      const all = (await orgLog(alice, '?per_page=100')).map((e) => e._document_id);
      assert.ok(all.length >= 12, `${all.length} entries`);
      const pages: string[][] = [];
      let url: string | undefined = `${s.url}/api/v1/orgs/acme/audit-log?per_page=5`;
      let last: Response | undefined;
      while (url) {
        const res: Response = await fetch(url, { headers: { authorization: `Bearer ${alice}` } });
        assert.equal(res.status, 200);
        pages.push(((await res.json()) as Json[]).map((e) => e._document_id));
        last = res;
        url = links(res).next;
      }
      assert.deepEqual(pages.flat(), all, 'newest first, each entry once');
      assert.ok(pages.slice(0, -1).every((p) => p.length === 5));
      // Back from the last page towards the newest.
      const back: string[][] = [];
      url = links(last!).prev;
      while (url) {
        const res: Response = await fetch(url, { headers: { authorization: `Bearer ${alice}` } });
        back.unshift(((await res.json()) as Json[]).map((e) => e._document_id));
        url = links(res).prev;
      }
      assert.deepEqual([...back.flat(), ...pages[pages.length - 1]], all);
      await expect(call(alice, 'GET', '/orgs/acme/audit-log?after=2'), 400);
    });

    test('wharf audit prints the entries (a header, then columns; or --json); CLI changes are recorded as system', async () => {
      const r = await s.cli(['package', 'visibility', 'npm', 'acme/pkg', 'internal']);
      assert.equal(r.code, 0, r.stderr);
      const text = await s.cli(['audit', '--owner', 'acme', '--limit', '3']);
      assert.equal(text.code, 0, text.stderr);
      const [header, ...lines] = text.stdout.trim().split('\n');
      assert.deepEqual(header.split(/ +/), ['TIME', 'ACTION', 'ACTOR', 'CREDENTIAL', 'CLIENT', 'OWNER', 'TARGET', 'DETAILS']);
      assert.equal(lines.length, 3);
      const [time, action, actor, credential, ip, owner, target, details] = lines[0].split(/ {2,}/);
      assert.ok(!Number.isNaN(Date.parse(time)));
      assert.deepEqual([action, actor, credential, ip, owner, target], ['package.visibility', 'system', 'system', '-', 'acme', 'npm/pkg']);
      assert.equal(JSON.parse(details).visibility, 'internal');
      assert.match(lines[1], /^\S+ +package\.visibility +alice +token +127\.0\.0\.1 +acme +npm\/pkg +\{/);

      const json = await s.cli(['audit', '--user', 'bob', '--action', 'package.access_grant', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(entries.map((e) => [e.action, e.user, e.actor]), [['package.access_grant', 'bob', 'alice']]);

      const bad = await s.cli(['audit', '--limit', '0']);
      assert.equal(bad.code, 2);
    });
  });
}
