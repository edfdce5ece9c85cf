// One access decision: what a credential may do is what its scopes and grants name, on every route of every part
// of Wharf. The scene of the attack (issue 17): users alice, bob, mal, root (site admin); org acme owned by alice
// with mal as member; private repositories acme/app, acme/lib, alice/secret; bob has write on acme/lib.
//   1. the attacks that succeeded, one by one (a read-only token managing; a bearer token on the web UI; a registry
//      JWT outside /v2 or for another service);
//   2. every registered route (REST, web, every format), walked with weak credentials: a read-only token (alice's,
//      who owns everything here, and a site admin's), a job token of another repository, a registry JWT for an
//      unrelated repository, a fine-grained token of alice's (every package scope, admin reach) that names one
//      package no route below is about, a registry JWT asked for with it, and no credentials. A dump of every
//      table before and after must be equal. The routes come from Fastify's onRoute hook, so a route added later is
//      walked without editing this test.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { systemActor } from '../../src/core/auth/actor.ts';
import { csrfTokenFor } from '../../src/core/auth/sessions.ts';
import { buildApp } from '../../src/app.ts';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

for (const dialect of dialects()) {
  describe(`access on ${dialect}`, () => {
    let s: TestServer;
    let app: FastifyInstance;
    const routes: { method: string; url: string }[] = [];
    // Credentials.
    let aliceFull: string;
    let aliceFullId: number;
    let aliceRead: string;
    let rootRead: string;
    let secretJob: string;
    let jwt: string;
    let soloOnly: string;
    let soloJwt: string;
    let hookId: number;

    const call = async (auth: string | null, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
      const r = await app.inject({
        method: method as any, url,
        headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      return r;
    };
    const bearer = (t: string) => `Bearer ${t}`;

    before(async () => {
      s = await startWharf({ dialect });
      // A second app over the same core, built with the route collector: the same routes the server has.
      app = await buildApp(s.core, undefined, {
        onRoute: (r) => {
          for (const m of ([] as string[]).concat(r.method)) routes.push({ method: m, url: r.url });
        },
      });
      await app.ready();
      const c = s.core;
      for (const u of ['bob', 'mal']) await c.identity.createUser(systemActor, { name: u, email: `${u}@example.com` });
      await c.identity.createUser(systemActor, { name: 'root', isAdmin: true });
      await c.identity.createUser(systemActor, { name: 'alice', password: 'alice-password-1' });
      const full = await c.tokens.createPersonal(systemActor, 'alice', { scopes: EVERY_SCOPE, name: 'full' });
      aliceFull = full.token;
      aliceFullId = full.info.id;
      aliceRead = (await c.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages', name: 'read-only' })).token;
      rootRead = (await c.tokens.createPersonal(systemActor, 'root', { scopes: 'read:packages', name: 'read-only' })).token;
      await c.identity.createOrg(systemActor, 'acme', 'alice');
      await c.identity.addOrgMember(systemActor, 'acme', 'mal', 'member');
      for (const [o, r] of [['acme', 'app'], ['acme', 'lib'], ['alice', 'secret']]) await c.identity.createRepo(systemActor, o, r, 'private');
      await c.identity.grantRepo(systemActor, 'acme/lib', 'bob', 'write');
      secretJob = (await c.tokens.createJob(systemActor, 'alice/secret', { ttlMs: 3600_000 })).token;
      for (const [scope, name, repository] of [['acme', 'lib', 'https://github.com/acme/lib.git'], ['acme', 'app', 'https://github.com/acme/app.git'], ['alice', 'app', undefined]]) {
        const r = await publishNpm(s.url, aliceFull, { scope: scope!, name: name!, version: '1.0.0', repository });
        assert.equal(r.status, 201, await r.text());
      }
      const acme = (await c.identity.findOwner('acme'))!;
      hookId = (await c.webhooks.create(systemActor, { ownerId: acme.id }, { url: 'https://93.184.216.34/hook', events: ['package'] } as any)).id;
      // A registry token for a repository that has nothing to do with anything here, issued from alice's full token.
      const t = await call(`Basic ${Buffer.from(`alice:${aliceFull}`).toString('base64')}`, 'GET', '/v2/token?scope=repository:alice/nothing:pull');
      assert.equal(t.statusCode, 200, t.body);
      jwt = t.json().token;
      // Fine-grained (issue 20): alice's token for @alice/solo alone, as far as a token can reach it.
      assert.equal((await publishNpm(s.url, aliceFull, { scope: 'alice', name: 'solo', version: '1.0.0' })).status, 201);
      soloOnly = (await c.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages,write:packages,delete:packages', name: 'solo-only', resources: [{ owner: 'alice', package: { type: 'npm', name: 'solo' }, permission: 'admin' }] })).token;
      const st = await call(`Basic ${Buffer.from(`alice:${soloOnly}`).toString('base64')}`, 'GET', '/v2/token?scope=repository:acme/lib:pull,push,delete&scope=repository:alice/app:pull,push,delete');
      assert.equal(st.statusCode, 200, st.body);
      soloJwt = st.json().token;
      const granted = JSON.parse(Buffer.from(soloJwt.split('.')[1], 'base64url').toString()).access;
      assert.deepEqual(granted.map((a: Json) => a.actions), [[], []], '/v2/token grants nothing outside the selection');
    });
    after(async () => {
      await app?.close();
      await s?.stop();
    });

    // ---- 1. the findings ----

    test('a read-only token manages nothing: job tokens, repository visibility, memberships, collaborators, hooks, other tokens → 403, nothing changed', async () => {
      const t = bearer(aliceRead);
      for (const [method, url, body] of [
        ['POST', '/api/v1/repos/acme/app/job-tokens', { ttl: '7d' }],
        ['PATCH', '/api/v1/repos/acme/lib', { visibility: 'public' }],
        ['PUT', '/api/v1/orgs/acme/memberships/bob', { role: 'admin' }],
        ['PUT', '/api/v1/repos/acme/app/collaborators/mal', { permission: 'admin' }],
        ['POST', '/api/v1/orgs/acme/hooks', { config: { url: 'https://93.184.216.34/x' }, events: ['package'] }],
        ['POST', '/api/v1/user/tokens', { scopes: ['read:packages'] }],
        ['DELETE', `/api/v1/user/tokens/${aliceFullId}`, undefined],
        ['POST', '/api/v1/user/repos', { name: 'new-repo' }],
      ] as const) {
        const r = await call(t, method, url, body);
        // An owner's hooks are hidden from whoever may not manage them (404); everything else says why (403).
        assert.equal(r.statusCode, url.endsWith('/hooks') ? 404 : 403, `${method} ${url} → ${r.statusCode} ${r.body}`);
      }
      assert.equal((await call(bearer(aliceFull), 'GET', '/api/v1/repos/acme/lib')).json().visibility, 'private');
      assert.equal((await call(bearer(aliceFull), 'GET', '/api/v1/user')).statusCode, 200, 'the full token was not revoked');
      const members: Json[] = (await call(bearer(aliceFull), 'GET', '/api/v1/orgs/acme/members')).json();
      assert.deepEqual(members.map((m) => [m.login, m.role]), [['alice', 'admin'], ['mal', 'member']]);
      // The same credential's owner, with the scopes that name these changes, may.
      assert.equal((await call(bearer(aliceFull), 'PATCH', '/api/v1/repos/acme/lib', { visibility: 'private' })).statusCode, 200);
    });

    test('a site admin\'s read-only token is no site administration: creating users or other people\'s tokens → 403', async () => {
      assert.equal((await call(bearer(rootRead), 'POST', '/api/v1/admin/users', { login: 'eve' })).statusCode, 403);
      assert.equal((await call(bearer(rootRead), 'POST', '/api/v1/admin/users/bob/tokens', { scopes: ['read:packages'] })).statusCode, 403);
      assert.equal(await s.core.identity.findOwner('eve'), undefined);
    });

    test('the web UI takes no bearer token: a read-only token with a cookie of its choosing cannot mint a token through the form', async () => {
      const before = (await s.core.tokens.listForUser(systemActor, (await s.core.identity.findOwner('alice'))!.id)).length;
      const anon = randomBytes(32).toString('base64url');
      // What worked before: the CSRF value was the HMAC of a cookie the client chose.
      const csrf = csrfTokenFor(anon);
      const form = new URLSearchParams({ _csrf: csrf, name: 'stolen', scopes: 'write:packages', expires: 'never' });
      const r = await call(bearer(aliceRead), 'POST', '/-/settings/tokens', form.toString(), { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_anon=${anon}` });
      assert.ok(r.statusCode === 401 || r.statusCode === 403, `→ ${r.statusCode}`);
      assert.equal((await s.core.tokens.listForUser(systemActor, (await s.core.identity.findOwner('alice'))!.id)).length, before);
      // Nor does a bearer token make a page request signed in.
      const page = await call(bearer(aliceFull), 'GET', '/-/settings/tokens');
      assert.equal(page.statusCode, 303, 'a page request with a bearer token is a signed-out visitor: sent to sign in');
      assert.match(String(page.headers.location), /^\/-\/login/);
      // Forging the anonymous CSRF token needs the server's secret, not just the cookie.
      const forged = createHmac('sha256', anon).update('anything').digest('base64url');
      const login = await call(null, 'POST', '/-/login', new URLSearchParams({ _csrf: forged, username: 'alice', password: 'alice-password-1' }).toString(), { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_anon=${anon}` });
      assert.equal(login.statusCode, 403);
    });

    test('a registry JWT is good for its /v2 grants only: no npm package, no token minting, no other service', async () => {
      assert.equal((await call(bearer(aliceFull), 'GET', '/npm/@alice%2fapp')).statusCode, 200, 'the person may read it');
      const npm = await call(bearer(jwt), 'GET', '/npm/@alice%2fapp');
      assert.equal(npm.statusCode, 404, npm.body);
      assert.equal((await call(bearer(jwt), 'POST', '/api/v1/user/tokens', { scopes: ['read:packages'], expires_in: '365d' })).statusCode, 403);
      assert.equal((await call(bearer(jwt), 'GET', '/api/v1/user/tokens')).statusCode, 403);
      // Issued by this server's key for another service: refused everywhere.
      const who = (await s.core.identity.findOwner('alice'))!;
      const other = await s.core.registryTokens.issue({ wharf: { kind: 'user', uid: who.id, tid: aliceFullId }, access: [{ type: 'repository', name: 'alice/app', actions: ['pull'] }] }, { service: 'elsewhere.example', subject: 'alice', ttlSeconds: 60 });
      assert.equal((await call(bearer(other), 'GET', '/v2/alice/app/tags/list')).statusCode, 401);
      assert.equal((await call(bearer(other), 'GET', '/api/v1/user')).statusCode, 401);
    });

    test('a fine-grained token reaches the one package it names, all the way, and nothing else: the same requests on others are refused', async () => {
      const t = bearer(soloOnly);
      // Its own package: publish, tag, delete a version, change settings.
      assert.equal((await publishNpm(s.url, soloOnly, { scope: 'alice', name: 'solo', version: '1.0.1' })).status, 201);
      assert.equal((await call(t, 'PUT', '/npm/-/package/@alice%2fsolo/dist-tags/beta', '"1.0.1"')).statusCode, 201);
      const versions: Json[] = (await call(t, 'GET', '/api/v1/users/alice/packages/npm/solo/versions')).json();
      assert.equal((await call(t, 'DELETE', `/api/v1/users/alice/packages/npm/solo/versions/${versions.find((v) => v.name === '1.0.1').id}`)).statusCode, 204);
      assert.equal((await call(t, 'PATCH', '/api/v1/users/alice/packages/npm/solo', { visibility: 'private' })).statusCode, 200);
      // Everything else of alice's (who may do all of it): private → 404, and no new packages.
      for (const [method, url, body] of [
        ['GET', '/npm/@alice%2fapp', undefined],
        ['PUT', '/npm/-/package/@alice%2fapp/dist-tags/beta', '"1.0.0"'],
        ['DELETE', `/api/v1/orgs/acme/packages/npm/lib/versions/${(await call(bearer(aliceFull), 'GET', '/api/v1/orgs/acme/packages/npm/lib/versions')).json()[0].id}`, undefined],
        ['PATCH', '/api/v1/orgs/acme/packages/npm/lib', { visibility: 'public' }],
        ['GET', '/api/v1/repos/acme/app', undefined],
      ] as const) {
        const r = await call(t, method, url, body);
        assert.equal(r.statusCode, 404, `${method} ${url} → ${r.statusCode} ${r.body}`);
      }
      const fresh = await publishNpm(s.url, soloOnly, { scope: 'alice', name: 'solo-two', version: '1.0.0' });
      assert.equal(fresh.status, 403, await fresh.text());
      assert.equal((await call(t, 'GET', '/api/v1/user/tokens')).statusCode, 403);
    });

    // ---- 2. every route ----

    /** Every row of every table, with columns that change on any authenticated read (last use) left out. */
    async function dump(): Promise<Record<string, string[]>> {
      await s.core.flush();
      const out: Record<string, string[]> = {};
      const tables = (await s.core.db.introspection.getTables()).map((t) => t.name).filter((n) => !n.startsWith('kysely_'));
      // Counters and caches that reads legitimately move: downloads, first-use signing keys.
      const skip = new Set(['downloads', 'signing_keys']);
      for (const t of tables.sort()) {
        if (skip.has(t)) continue;
        const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(t)}`.execute(s.core.db)).rows;
        out[t] = rows.map((r) => {
          const { last_used_at: _l, ...rest } = r as Record<string, unknown>;
          return JSON.stringify(rest, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
        }).sort();
      }
      return out;
    }

    test('every registered route, walked with weak credentials, changes nothing', async () => {
      assert.ok(routes.length > 250, `${routes.length} routes collected`);
      const fills: Record<string, string>[] = [
        { pkg: '@acme%2flib', scope: '@acme', name: 'lib', file: 'lib-1.0.0.tgz', rev: '1-0', tag: 'beta', id: String(aliceFullId), token: aliceFull, owner: 'acme', version: '1.0.0', key: 'x', file2: 'x', doc: 'x', lower: 'lib', upper: '1.0.0', org: 'acme', user: 'bob', repo: 'lib', type: 'npm', repoOwner: 'acme', delivery: '1' },
        { pkg: '@alice%2fapp', scope: '@alice', name: 'app', file: 'app-1.0.0.tgz', rev: '1-0', tag: 'latest', id: String(hookId), token: aliceFull, owner: 'alice', version: '1.0.0', key: 'x', file2: 'x', doc: 'x', lower: 'app', upper: '1.0.0', org: 'acme', user: 'mal', repo: 'secret', type: 'npm', repoOwner: 'alice', delivery: '1' },
      ];
      const wildcards: Record<string, string[]> = {
        '/v2/': ['acme/lib/blobs/uploads/', 'acme/lib/manifests/latest', `acme/lib/blobs/sha256:${'0'.repeat(64)}`, 'alice/app/tags/list'],
        '/maven/': ['acme/lib/com/acme/core/1.0/core-1.0.jar', 'acme/com/acme/core/maven-metadata.xml'],
        '/nuget/': ['package/lib/1.0.0', 'Packages()'],
        '': ['npm/lib/-/settings', 'npm/app'],
      };
      const creds: [string, string | null][] = [['alice read-only token', bearer(aliceRead)], ['site admin read-only token', bearer(rootRead)], ['job token of alice/secret', bearer(secretJob)], ['registry JWT for alice/nothing', bearer(jwt)], ['fine-grained token for @alice/solo', bearer(soloOnly)], ['fine-grained token for @alice/solo, as Basic', `Basic ${Buffer.from(`alice:${soloOnly}`).toString('base64')}`], ['registry JWT from the fine-grained token', bearer(soloJwt)], ['anonymous', null]];
      const hostile = { visibility: 'public', private: false, role: 'admin', permission: 'admin', scopes: ['write:packages', 'delete:packages'], name: 'x', login: 'eve', admin: 'alice', config: { url: 'https://93.184.216.34/x' }, events: ['package'], ttl: '7d', pattern: '10.0.0.0/8', required: true, inherit_access: false };
      const form = new URLSearchParams({ _csrf: 'x', visibility: 'public', role: 'owner', user: 'mal', action: 'delete', scopes: 'write:packages', name: 'x', url: 'https://93.184.216.34/x' }).toString();
      const before = await dump();
      const serverErrors: string[] = [];
      let requests = 0;
      for (const r of routes) {
        if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
        const urls = new Set<string>();
        for (const fill of fills) {
          const base = r.url.replace(/:(\w+)/g, (_m, p: string) => fill[p] ?? 'x');
          if (!base.includes('*')) urls.add(base);
          else {
            const prefix = Object.keys(wildcards).find((p) => p && base.startsWith(p)) ?? '';
            for (const w of wildcards[prefix]) urls.add(base.replace('*', w));
          }
        }
        const isWeb = !/^\/(api|npm|v2|maven|nuget|rubygems|healthz)(\/|$)/.test(r.url);
        for (const url of urls) {
          for (const [who, auth] of creds) {
            const writes = r.method !== 'GET';
            const res = writes
              ? isWeb
                ? await call(auth, r.method, url, form, { 'content-type': 'application/x-www-form-urlencoded' })
                : await call(auth, r.method, url, hostile)
              : await call(auth, r.method, url);
            requests++;
            if (res.statusCode >= 500) serverErrors.push(`${who}: ${r.method} ${url} → ${res.statusCode}`);
          }
        }
      }
      const afterDump = await dump();
      for (const t of Object.keys(before)) assert.deepEqual(afterDump[t], before[t], `table ${t} changed`);
      assert.deepEqual(Object.keys(afterDump).sort(), Object.keys(before).sort());
      assert.deepEqual(serverErrors, [], 'no route answers a weak credential with a 5xx');
      assert.ok(requests > 1500, `${requests} requests`);
    });
  });
}
