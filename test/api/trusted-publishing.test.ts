// Trusted publishing (OIDC) on every database, against a test issuer of our own (HTTPS, self-signed CA trusted
// through WHARF_OIDC_CA_FILE, discovery, JWKS): trust policies over REST (who may add them), the npm exchange at
// the root and under /npm, the generic exchange, one valid exchange per claim rule (GitHub, GitLab, generic), and
// the refusals — wrong audience, expired, not yet valid, replayed jti, unknown issuer, a key not in the JWKS, a
// repository the policy does not name — each a 4xx in the client's format with nothing written; a trusted
// publishing token publishes, and may not delete or manage; the version keeps the workflow run's claims.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { Sessions } from '../../src/core/auth/sessions.ts';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { githubClaims, gitlabClaims, startIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;

for (const dialect of dialects()) {
  describe(`trusted publishing on ${dialect}`, () => {
    let s: TestServer;
    let issuer: TestIssuer;
    let alice: string;
    let bob: string;
    const NPM_AUD = 'npm:127.0.0.1';
    const AUD = 'wharf:127.0.0.1';

    const api = (path: string, token: string | null, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${s.url}/api/v1${path}`, {
        method: init.method ?? 'GET',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
    const npmExchange = (name: string, idToken: string | null, prefix = '') =>
      fetch(`${s.url}${prefix}/-/npm/v1/oidc/token/exchange/package/${name.replace('/', '%2f')}`, { method: 'POST', headers: idToken ? { authorization: `Bearer ${idToken}` } : {} });
    const exchange = (idToken: string) => api('/oidc/token', null, { method: 'POST', body: { id_token: idToken } });
    /** Rows whose count must not move on a refusal. */
    const counts = async () => {
      const n = async (t: 'tokens' | 'oidc_jtis' | 'audit_log' | 'package_versions') => Number((await s.core.db.selectFrom(t).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      return { tokens: await n('tokens'), jtis: await n('oidc_jtis'), audit: await n('audit_log'), versions: await n('package_versions') };
    };

    before(async () => {
      issuer = await startIssuer();
      s = await startWharf({ dialect, env: { WHARF_OIDC_ISSUERS: `${issuer.url},https://token.actions.githubusercontent.com`, WHARF_OIDC_CA_FILE: issuer.caFile } });
      alice = await s.userWithToken('alice', EVERY_SCOPE);
      bob = await s.userWithToken('bob', EVERY_SCOPE);
      await s.core.identity.createOrg(systemActor, 'acme', 'alice');
      await s.core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
      await s.core.identity.createRepo(systemActor, 'acme', 'app', 'private');
      assert.equal((await publishNpm(s.url, alice, { scope: 'acme', name: 'lib', version: '1.0.0' })).status, 201);
    });
    after(async () => {
      await s?.stop();
      await issuer?.close();
    });

    test('policies: the package admin adds, lists and removes them; a member without admin cannot; bad policies are 400', async () => {
      const path = '/orgs/acme/packages/npm/lib/trusted-publishers';
      const add = await api(path, alice, { method: 'POST', body: { provider: 'github', issuer: issuer.url, claims: { repository: 'acme/app', workflow_ref: 'acme/app/.github/workflows/release.yml@*' } } });
      assert.equal(add.status, 201);
      const p = (await add.json()) as Json;
      assert.equal(p.scope, 'package');
      assert.equal(p.url, `${s.url}/api/v1${path}/${p.id}`);
      assert.equal(p.provider, 'github');
      assert.deepEqual(p.claims, { repository: 'acme/app', workflow_ref: 'acme/app/.github/workflows/release.yml@*' });
      const list = (await (await api(path, alice)).json()) as Json[];
      assert.deepEqual(list.map((x) => x.id), [p.id]);
      // bob, an org member, cannot see the private package: 404, as GitHub answers.
      assert.equal((await api(path, bob, { method: "POST", body: { issuer: issuer.url, provider: "github", claims: { repository: "bob/x" } } })).status, 404);
      assert.equal((await api(path, null)).status, 401);
      // Unsound policies.
      for (const body of [
        { issuer: issuer.url, provider: 'github', claims: { repository_owner: 'acme' } }, // no repository / sub pinned
        { issuer: issuer.url, provider: 'github', claims: { repository: '*' } },
        { issuer: issuer.url, provider: 'github', claims: { repository: 'acme/app', nonsense: 'x' } },
        { issuer: 'https://evil.example', claims: { sub: 'x' } }, // not an issuer the operator accepts
        { issuer: issuer.url, provider: 'generic', jwks_url: 'https://elsewhere.example/jwks', claims: { sub: 'x' } },
        // Bindings that trust strangers: no owner spelled out, an id with a wildcard.
        { issuer: issuer.url, provider: 'github', claims: { sub: 'repo:*' } },
        { issuer: issuer.url, provider: 'github', claims: { repository: 'ac*/app' } },
        { issuer: issuer.url, provider: 'github', claims: { repository_id: '1*' } },
        { issuer: issuer.url, provider: 'gitlab', claims: { sub: 'project_path:*' } },
        { issuer: issuer.url, provider: 'gitlab', claims: { project_path: '*/app' } },
        // GitHub's own issuer is read by GitHub's rules, with its own keys.
        { provider: 'generic', issuer: 'https://token.actions.githubusercontent.com', claims: { sub: 'repo:acme/app:ref:refs/heads/main' } },
        { provider: 'gitlab', issuer: 'https://token.actions.githubusercontent.com', claims: { project_path: 'acme/app' } },
        { provider: 'github', jwks_url: 'https://token.actions.githubusercontent.com/.well-known/jwks', claims: { repository: 'acme/app' } },
      ]) {
        const r = await api(path, alice, { method: 'POST', body });
        assert.equal(r.status, 400, JSON.stringify(body));
      }
      // An owner-level policy names the package it may create; a repository's policy needs admin on it.
      assert.equal((await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'github', claims: { repository: 'acme/app' } } })).status, 400);
      assert.equal((await api('/orgs/acme/trusted-publishers', bob, { method: 'POST', body: { issuer: issuer.url, provider: 'github', package_type: 'npm', package_name: 'x', claims: { repository: 'acme/app' } } })).status, 403);
      assert.equal((await api('/repos/acme/app/trusted-publishers', bob)).status, 403); // an org member reads the repository, is not its admin
      assert.equal((await api('/repos/acme/app/trusted-publishers', null)).status, 401);
      const extra = (await (await api('/repos/acme/app/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'github', claims: { repository: 'acme/other' } } })).json()) as Json;
      assert.equal(extra.scope, 'repository');
      assert.equal((await api(`/repos/acme/app/trusted-publishers/${extra.id}`, alice, { method: 'DELETE' })).status, 204);
      assert.equal((await api(`/repos/acme/app/trusted-publishers/${extra.id}`, alice, { method: 'DELETE' })).status, 404);
    });

    test('npm: the exchange at the root and under /npm, then a publish with the token; the version keeps the run', async () => {
      const claims = githubClaims('acme/app');
      for (const prefix of ['', '/npm']) {
        const r = await npmExchange('@acme/lib', await issuer.sign(claims, { aud: NPM_AUD }), prefix);
        assert.equal(r.status, 201, await r.clone().text());
        const { token } = (await r.json()) as Json;
        assert.match(token, /^whs_[0-9A-Za-z]{36}$/);
        const version = prefix ? '1.2.0' : '1.1.0';
        const pub = await publishNpm(s.url, token, { scope: 'acme', name: 'lib', version });
        assert.equal(pub.status, 201, await pub.clone().text());
      }
      const doc = (await (await fetch(`${s.url}/npm/@acme%2flib`, { headers: { authorization: `Bearer ${alice}` } })).json()) as Json;
      assert.equal(doc.versions['1.1.0']._npmUser.name, 'github:acme/app');
      const versions = (await (await api('/orgs/acme/packages/npm/lib/versions', alice)).json()) as Json[];
      const v = versions.find((x) => x.name === '1.1.0');
      assert.equal(v.published_via.provider, 'github');
      assert.equal(v.published_via.claims.workflow_ref, 'acme/app/.github/workflows/release.yml@refs/heads/main');
      assert.equal(v.published_via.run_url, null); // only github.com's own issuer has run links
      assert.equal(versions.find((x) => x.name === '1.0.0').published_via, null);
      const one = (await (await api(`/orgs/acme/packages/npm/lib/versions/${v.id}`, alice)).json()) as Json;
      assert.equal(one.published_via.claims.run_id, '123456');
      // The audit log names the workflow run, for the exchange and for the publish.
      const log = (await (await api('/orgs/acme/audit-log?phrase=action:trusted_publisher.exchange', alice)).json()) as Json[];
      assert.ok(log.length >= 2);
      assert.equal(log[0].actor, 'github:acme/app');
      assert.equal(log[0].credential, 'oidc');
      const pubs = (await (await api('/orgs/acme/audit-log?phrase=action:package_version.publish', alice)).json()) as Json[];
      assert.deepEqual(pubs.map((e) => e.version).sort(), ['1.1.0', '1.2.0']);
      assert.equal(pubs[0].published_via.claims.sha, 'a'.repeat(40));
      // The version's page says so; the package settings list the policy (a web session of alice's).
      const aliceId = (await s.core.identity.findOwner('alice'))!.id;
      const cookie = `wharf_session=${(await new Sessions(s.core.db).create(aliceId)).secret}`;
      const page = await (await fetch(`${s.url}/acme/-/packages/npm/lib/1.1.0`, { headers: { cookie } })).text();
      assert.match(page, /Published via GitHub Actions/);
      assert.match(page, /acme\/app\/\.github\/workflows\/release\.yml@refs\/heads\/main/);
      const settings = await (await fetch(`${s.url}/acme/-/packages/npm/lib/-/settings`, { headers: { cookie } })).text();
      assert.match(settings, /Trusted publishers/);
      assert.match(settings, /<code>repository<\/code> = <code>acme\/app<\/code>/);
    });

    test('refusals: each a 4xx in npm\'s format, nothing written', async () => {
      const claims = githubClaims('acme/app');
      const cases: [string, string, number, RegExp][] = [
        ['wrong audience', await issuer.sign(claims, { aud: 'npm:registry.npmjs.org' }), 401, /audience/],
        ['expired', await issuer.sign(claims, { aud: NPM_AUD, iat: Math.floor(Date.now() / 1000) - 1000, expiresIn: 300 }), 401, /expired/],
        ['not yet valid', await issuer.sign(claims, { aud: NPM_AUD, nbf: Math.floor(Date.now() / 1000) + 600 }), 401, /not valid yet/],
        ['unknown issuer', await issuer.sign(claims, { aud: NPM_AUD, iss: 'https://issuer.example' }), 401, /unknown issuer/],
        ['a key not in the JWKS', await issuer.sign(claims, { aud: NPM_AUD, key: 'rogue' }), 401, /key the issuer does not publish/],
        ['no jti', await issuer.sign(claims, { aud: NPM_AUD, jti: null }), 401, /jti/],
        ['a repository the policy does not name', await issuer.sign(githubClaims('acme/evil'), { aud: NPM_AUD }), 403, /no trusted publisher/],
        ['a workflow the policy does not name', await issuer.sign(githubClaims('acme/app', 'ci.yml'), { aud: NPM_AUD }), 403, /no trusted publisher/],
        ['a package no policy covers', await issuer.sign(claims, { aud: NPM_AUD }), 403, /no trusted publisher/],
        ['not a JWT', 'whp_notajwt', 401, /not a JWT/],
      ];
      for (const [what, idToken, status, message] of cases) {
        const before = await counts();
        const r = await npmExchange(what === 'a package no policy covers' ? '@acme/other' : '@acme/lib', idToken);
        assert.equal(r.status, status, what);
        const body = (await r.json()) as Json;
        assert.match(body.error, message, what);
        assert.equal(body.message, body.error);
        assert.deepEqual(await counts(), before, `${what}: nothing written`);
      }
      assert.equal((await npmExchange('@acme/lib', null)).status, 401);
      // A replayed jti: the first exchange works, the second (same token) is refused, and writes nothing.
      const once = await issuer.sign(claims, { aud: NPM_AUD });
      assert.equal((await npmExchange('@acme/lib', once)).status, 201);
      const before2 = await counts();
      const again = await npmExchange('@acme/lib', once, '/npm');
      assert.equal(again.status, 401);
      assert.match(((await again.json()) as Json).error, /exchanged before/);
      assert.deepEqual(await counts(), before2);
    });

    test('a trusted publishing token publishes only: no delete, no manage, nothing outside its policy', async () => {
      const r = await npmExchange('@acme/lib', await issuer.sign(githubClaims('acme/app'), { aud: NPM_AUD }));
      const { token } = (await r.json()) as Json;
      const before = await counts();
      // npm unpublish of the whole package, and the REST delete: refused.
      const del = await fetch(`${s.url}/npm/@acme%2flib/-rev/1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      assert.equal(del.status, 403);
      assert.ok(((await del.json()) as Json).error);
      const pkg = (await (await api('/orgs/acme/packages/npm/lib', alice)).json()) as Json;
      assert.equal((await api('/orgs/acme/packages/npm/lib', token, { method: 'DELETE' })).status, 403);
      assert.equal((await api('/orgs/acme/packages/npm/lib', token, { method: 'PATCH', body: { visibility: 'public' } })).status, 403);
      // Managing: its own policies, new repositories, tokens.
      assert.equal((await api('/orgs/acme/packages/npm/lib/trusted-publishers', token, { method: 'POST', body: { issuer: issuer.url, provider: 'github', claims: { repository: 'evil/x' } } })).status, 403);
      assert.equal((await api('/orgs/acme/repos', token, { method: 'POST', body: { name: 'evil' } })).status, 403);
      assert.equal((await api('/user/tokens', token, { method: 'POST', body: { scopes: ['write:packages'] } })).status, 403);
      // A package its policy does not name.
      const other = await publishNpm(s.url, token, { scope: 'acme', name: 'other', version: '1.0.0' });
      assert.equal(other.status, 403);
      const mine = await publishNpm(s.url, token, { scope: 'alice', name: 'x', version: '1.0.0' });
      assert.ok(mine.status === 403 || mine.status === 404, String(mine.status));
      assert.deepEqual(await counts(), before);
      assert.equal(((await (await api('/orgs/acme/packages/npm/lib', alice)).json()) as Json).id, pkg.id);
      // whoami says who it is.
      assert.deepEqual(await (await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${token}` } })).json(), { username: 'github:acme/app' });
    });

    test('one valid exchange per claim rule (GitHub, GitLab and generic claim names), and the same rule refusing', async () => {
      const rules: [string, Record<string, string>, Record<string, unknown>, Record<string, unknown>][] = [
        ['github', { repository: 'ACME/App' }, githubClaims('acme/app'), githubClaims('acme/apps')],
        ['github', { repository: 'acme/app', repository_owner: 'acme' }, githubClaims('acme/app'), githubClaims('acme/app', 'release.yml', { repository_owner: 'evil' })],
        ['github', { repository: 'acme/*', workflow_ref: 'acme/app/.github/workflows/release.yml@refs/tags/v*' }, githubClaims('acme/app', 'release.yml', { workflow_ref: 'acme/app/.github/workflows/release.yml@refs/tags/v2.0.0' }), githubClaims('acme/app')],
        ['github', { repository: 'acme/app', job_workflow_ref: 'acme/shared/.github/workflows/publish.yml@*' }, githubClaims('acme/app', 'release.yml', { job_workflow_ref: 'acme/shared/.github/workflows/publish.yml@refs/heads/main' }), githubClaims('acme/app')],
        ['github', { repository: 'acme/app', environment: 'production' }, githubClaims('acme/app', 'release.yml', { environment: 'production' }), githubClaims('acme/app', 'release.yml', { environment: 'staging' })],
        ['github', { repository: 'acme/app', ref: 'refs/heads/main' }, githubClaims('acme/app'), githubClaims('acme/app', 'release.yml', { ref: 'refs/heads/feature' })],
        ['github', { sub: 'repo:acme/app:environment:prod' }, githubClaims('acme/app', 'release.yml', { sub: 'repo:acme/app:environment:prod' }), githubClaims('acme/app')],
        ['gitlab', { project_path: 'acme/app' }, gitlabClaims('acme/app'), gitlabClaims('acme/evil')],
        ['gitlab', { project_path: 'acme/*', namespace_path: 'acme' }, gitlabClaims('acme/app'), gitlabClaims('acme/app', { namespace_path: 'evil' })],
        ['gitlab', { project_path: 'acme/app', ci_config_ref_uri: 'gitlab.example.com/acme/app//.gitlab-ci.yml@refs/heads/main' }, gitlabClaims('acme/app'), gitlabClaims('acme/app', { ci_config_ref_uri: 'gitlab.example.com/acme/app//other.yml@refs/heads/main' })],
        ['gitlab', { project_path: 'acme/app', environment: 'production', ref: 'main' }, gitlabClaims('acme/app', { environment: 'production' }), gitlabClaims('acme/app', { environment: 'production', ref: 'dev' })],
        ['generic', { sub: 'pipeline:acme/app:*' }, { sub: 'pipeline:acme/app:42' }, { sub: 'pipeline:acme/evil:42' }],
      ];
      let i = 0;
      for (const [provider, claimRules, good, bad] of rules) {
        const name = `rule${i++}`;
        const add = await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider, package_type: 'npm', package_name: name, claims: claimRules } });
        assert.equal(add.status, 201, await add.clone().text());
        const policy = (await add.json()) as Json;
        const ok = await exchange(await issuer.sign(good, { aud: AUD }));
        assert.equal(ok.status, 201, `${name} ${JSON.stringify(claimRules)}: ${await ok.clone().text()}`);
        const t = (await ok.json()) as Json;
        assert.ok(t.trusted_publisher_ids.includes(policy.id), name);
        // The token creates exactly that package (the owner-level policy's), and nothing else.
        assert.equal((await publishNpm(s.url, t.token, { scope: 'acme', name, version: '1.0.0' })).status, 201, name);
        const no = await exchange(await issuer.sign(bad, { aud: AUD }));
        if (no.status === 201) assert.ok(!((await no.json()) as Json).trusted_publisher_ids.includes(policy.id), `${name}: the bad claims matched`);
        else assert.equal(no.status, 403, name);
        await api(`/orgs/acme/trusted-publishers/${policy.id}`, alice, { method: 'DELETE' });
      }
      // The generic exchange speaks the REST API's format.
      const wrong = await exchange(await issuer.sign(githubClaims('acme/app'), { aud: NPM_AUD }));
      assert.equal(wrong.status, 401);
      assert.match(((await wrong.json()) as Json).message, /audience is not wharf:127\.0\.0\.1/);
    });

    test('the generic exchange gives one owner\'s token: another owner\'s policy on the same job neither joins it, sees the run, nor ends it', async () => {
      const ownPolicy = (await (await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'github', package_type: 'npm', package_name: 'mine', claims: { repository: 'acme/app' } } })).json()) as Json;
      // bob trusts acme's repository for a package of his own.
      assert.equal((await publishNpm(s.url, bob, { scope: 'bob', name: 'p1', version: '1.0.0' })).status, 201);
      const bobPolicy = (await (await api('/users/bob/packages/npm/p1/trusted-publishers', bob, { method: 'POST', body: { issuer: issuer.url, provider: 'github', claims: { repository: 'acme/app' } } })).json()) as Json;
      assert.ok(bobPolicy.id > ownPolicy.id);
      const bobAudit = async () => ((await (await api('/user/audit-log?phrase=action:trusted_publisher.exchange', bob)).json()) as Json[]).length;
      const seen = await bobAudit();
      const r = await exchange(await issuer.sign(githubClaims('acme/app'), { aud: AUD }));
      assert.equal(r.status, 201, await r.clone().text());
      const t = (await r.json()) as Json;
      assert.ok(t.trusted_publisher_ids.includes(ownPolicy.id), "the job's own owner (its repository_owner claim) is the one meant");
      assert.ok(!t.trusted_publisher_ids.includes(bobPolicy.id), "bob's policy does not join acme's token");
      assert.equal(await bobAudit(), seen, "bob's audit log does not get acme's run");
      // bob removing his policy does not end acme's token.
      assert.equal((await api(`/users/bob/packages/npm/p1/trusted-publishers/${bobPolicy.id}`, bob, { method: 'DELETE' })).status, 204);
      assert.equal((await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${t.token}` } })).status, 200);
      // A job whose owner has no policy, trusted by two owners: it must say which (409), and then gets that one's.
      const zetaA = (await (await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'github', package_type: 'npm', package_name: 'z', claims: { repository: 'zeta/app' } } })).json()) as Json;
      await api('/users/bob/packages/npm/p1/trusted-publishers', bob, { method: 'POST', body: { issuer: issuer.url, provider: 'github', claims: { repository: 'zeta/app' } } });
      const both = await exchange(await issuer.sign(githubClaims('zeta/app'), { aud: AUD }));
      assert.equal(both.status, 409, await both.clone().text());
      assert.match(((await both.json()) as Json).message, /policies of 2 owners accept this job: name the owner/);
      const named = await api('/oidc/token', null, { method: 'POST', body: { id_token: await issuer.sign(githubClaims('zeta/app'), { aud: AUD }), owner: 'acme' } });
      assert.equal(named.status, 201, await named.clone().text());
      assert.deepEqual(((await named.json()) as Json).trusted_publisher_ids, [zetaA.id]);
      // A token covering two policies of one owner loses only what a removed one gave it.
      const second = (await (await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'github', package_type: 'npm', package_name: 'mine2', claims: { repository: 'acme/app' } } })).json()) as Json;
      const two = (await (await exchange(await issuer.sign(githubClaims('acme/app'), { aud: AUD }))).json()) as Json;
      assert.ok(two.trusted_publisher_ids.includes(ownPolicy.id) && two.trusted_publisher_ids.includes(second.id));
      assert.equal((await api(`/orgs/acme/trusted-publishers/${second.id}`, alice, { method: 'DELETE' })).status, 204);
      assert.equal((await publishNpm(s.url, two.token, { scope: 'acme', name: 'mine', version: '1.0.0' })).status, 201, 'what the remaining policy gave stays');
      assert.notEqual((await publishNpm(s.url, two.token, { scope: 'acme', name: 'mine2', version: '1.0.0' })).status, 201, 'what the removed one gave is gone');
      for (const id of [ownPolicy.id, zetaA.id]) await api(`/orgs/acme/trusted-publishers/${id}`, alice, { method: 'DELETE' });
    });

    test('a policy whose own keys also verify the token, made first, does not keep the discovery-based policies from matching', async () => {
      // A server of its own, so that bob's policy is the issuer's first.
      const w = await startWharf({ dialect, env: { WHARF_OIDC_ISSUERS: issuer.url, WHARF_OIDC_CA_FILE: issuer.caFile } });
      try {
        const wAlice = await w.userWithToken('alice', EVERY_SCOPE);
        const wBob = await w.userWithToken('bob', EVERY_SCOPE);
        const call = (path: string, token: string | null, body?: unknown) => fetch(`${w.url}/api/v1${path}`, {
          method: body !== undefined ? 'POST' : 'GET', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        assert.equal((await publishNpm(w.url, wBob, { scope: 'bob', name: 'p2', version: '1.0.0' })).status, 201);
        const early = await call('/users/bob/packages/npm/p2/trusted-publishers', wBob, { issuer: issuer.url, provider: 'generic', jwks_url: `${issuer.url}/.well-known/jwks`, claims: { sub: 'repo:bob/unrelated:*' } });
        assert.equal(early.status, 201, await early.clone().text());
        const own = (await (await call('/users/alice/trusted-publishers', wAlice, { issuer: issuer.url, provider: 'github', package_type: 'npm', package_name: 'keys', claims: { repository: 'alice/app' } })).json()) as Json;
        const r = await call('/oidc/token', null, { id_token: await issuer.sign(githubClaims('alice/app'), { aud: AUD }) });
        assert.equal(r.status, 201, await r.clone().text());
        assert.deepEqual(((await r.json()) as Json).trusted_publisher_ids, [own.id]);
      } finally {
        await w.stop();
      }
    });

    test('removing a policy revokes the live tokens it issued; a token lives at most 15 minutes', async () => {
      const add = await api('/orgs/acme/trusted-publishers', alice, { method: 'POST', body: { issuer: issuer.url, provider: 'gitlab', package_type: 'npm', package_name: 'gone', claims: { project_path: 'acme/gone' } } });
      const policy = (await add.json()) as Json;
      const t = (await (await exchange(await issuer.sign(gitlabClaims('acme/gone'), { aud: AUD }))).json()) as Json;
      assert.ok(Date.parse(t.expires_at) - Date.now() <= 15 * 60_000);
      assert.equal(t.publisher, 'gitlab:acme/gone');
      assert.equal(t.username, 'oidc');
      assert.equal((await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${t.token}` } })).status, 200);
      assert.equal((await api(`/orgs/acme/trusted-publishers/${policy.id}`, alice, { method: 'DELETE' })).status, 204);
      assert.equal((await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${t.token}` } })).status, 401);
    });
  });
}
