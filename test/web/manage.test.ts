// The management pages over HTTP: creating organizations and repositories, a repository's access (visibility and
// collaborators), organization members, and site administration of users. For each: the person the core allows
// succeeds; a member without the right, another user and an anonymous visitor get what the core decides (403, 404
// or the sign-in page); a form without its CSRF token changes nothing; names are checked with the core's rules.
// On SQLite, and on PostgreSQL when WHARF_TEST_DATABASE_URL is set.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { csrfTokenFor, Sessions } from '../../src/core/auth/sessions.ts';
import { dialects } from '../helpers/databases.ts';
import { publish } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const PASSWORD = 'correct horse battery staple';

interface Who {
  cookie: string;
  csrf: string;
}

for (const dialect of dialects()) {
  describe(`web management pages (${dialect})`, () => {
    let s: TestServer;
    const as: Record<string, Who> = {};

    /** A signed-in web session for `name` (what the sign-in form would set). */
    async function sessionOf(name: string): Promise<Who> {
      const u = await s.core.identity.requireUser(name);
      const { secret } = await new Sessions(s.core.db).create(u.id);
      return { cookie: `wharf_session=${secret}`, csrf: csrfTokenFor(secret) };
    }

    const get = (path: string, who?: Who) => fetch(`${s.url}${path}`, { headers: who ? { cookie: who.cookie } : {}, redirect: 'manual' });

    /** Posts a form as `who` with their CSRF token (unless `csrf: false`). */
    const post = (path: string, who: Who | undefined, fields: Record<string, string>, o: { csrf?: boolean } = {}) => {
      const body = new URLSearchParams(fields);
      if (who && o.csrf !== false) body.set('_csrf', who.csrf);
      return fetch(`${s.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(who ? { cookie: who.cookie } : {}) },
        body,
        redirect: 'manual',
      });
    };

    const signInRedirect = (r: Response, path: string) => {
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), `/-/login?next=${encodeURIComponent(path)}`);
    };

    before(async () => {
      s = await startWharf({ dialect });
      for (const name of ['root', 'alice', 'bob', 'carol', 'dave']) await s.userWithToken(name, undefined, { password: PASSWORD, admin: name === 'root' });
      await s.core.identity.createOrg(systemActor, 'acme', 'alice');
      await s.core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
      await s.core.identity.createRepo(systemActor, 'acme', 'secret', 'private');
      for (const name of ['root', 'alice', 'bob', 'carol', 'dave']) as[name] = await sessionOf(name);
    });

    after(async () => {
      await s?.stop();
    });

    test('header: signed in, links to create a repository and an organization; "Site admin" for site administrators only', async () => {
      const mine = await (await get('/', as.alice)).text();
      assert.match(mine, /<a href="\/-\/new\/repo">New repository<\/a>/);
      assert.match(mine, /<a href="\/-\/new\/org">New organization<\/a>/);
      assert.doesNotMatch(mine, /\/-\/admin\/users/);
      assert.match(await (await get('/', as.root)).text(), /<a href="\/-\/admin\/users">Site admin<\/a>/);
      assert.doesNotMatch(await (await get('/')).text(), /\/-\/new\/repo/);
      // The user's own page offers a new organization; an org's page offers a new repository to its owners only.
      assert.match(await (await get('/alice', as.alice)).text(), /href="\/-\/new\/org"[^>]*>New organization/);
      assert.match(await (await get('/acme', as.alice)).text(), /href="\/-\/new\/repo\?owner=acme"/);
      assert.doesNotMatch(await (await get('/acme', as.bob)).text(), /\/-\/new\/repo\?owner=acme/);
    });

    test('create an organization: the creator owns it; bad and taken names are refused with the core\'s words; only admins create for others', async () => {
      signInRedirect(await get('/-/new/org'), '/-/new/org');
      const page = await get('/-/new/org', as.carol);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<input id="org-name" name="name"/);
      assert.doesNotMatch(html, /name="owner"/, 'only site administrators name another first owner');

      let r = await post('/-/new/org', as.carol, { name: 'not a name!' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /invalid owner name &quot;not a name!&quot;: use letters, digits and single hyphens, at most 39 characters/);
      r = await post('/-/new/org', as.carol, { name: 'Acme' });
      assert.equal(r.status, 409);
      assert.match(await r.text(), /the name &quot;Acme&quot; is already taken/);
      r = await post('/-/new/org', as.carol, { name: 'carols-org', owner: 'alice' });
      assert.equal(r.status, 403);
      assert.match(await r.text(), /only site administrators may create organizations for others/);
      assert.equal(await s.core.identity.findOwner('carols-org'), undefined);

      // Without the form's token, or signed out: nothing is created.
      assert.equal((await post('/-/new/org', as.carol, { name: 'carols-org' }, { csrf: false })).status, 403);
      assert.equal((await post('/-/new/org', as.carol, { name: 'carols-org', _csrf: as.alice.csrf }, { csrf: false })).status, 403, "another session's token");
      assert.equal((await post('/-/new/org', undefined, { name: 'carols-org' })).status, 403);
      assert.equal(await s.core.identity.findOwner('carols-org'), undefined);

      r = await post('/-/new/org', as.carol, { name: 'carols-org' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/carols-org?created=org');
      const org = (await s.core.identity.requireOrg('carols-org'))!;
      assert.equal(await s.core.identity.orgRole(org.id, (await s.core.identity.requireUser('carol')).id), 'owner');
      assert.match(await (await get('/carols-org?created=org', as.carol)).text(), /Organization created: you are its owner/);

      // A site administrator creates one for someone else.
      assert.match(await (await get('/-/new/org', as.root)).text(), /name="owner"/);
      r = await post('/-/new/org', as.root, { name: 'daves-org', owner: 'dave' });
      assert.equal(r.status, 303);
      const daves = await s.core.identity.requireOrg('daves-org');
      assert.deepEqual((await s.core.identity.listOrgMembers(daves.id)).map((m) => [m.name, m.role]), [['dave', 'owner']]);
    });

    test('create a repository: under yourself or an org you own; a member, bad names and duplicates are refused', async () => {
      signInRedirect(await get('/-/new/repo'), '/-/new/repo');
      // The owner list: alice and the org she owns; bob, a mere member of acme, only himself.
      const alicePage = await (await get('/-/new/repo?owner=acme', as.alice)).text();
      assert.match(alicePage, /<option value="alice">alice<\/option>/);
      assert.match(alicePage, /<option value="acme" selected>acme \(organization\)<\/option>/);
      const bobPage = await (await get('/-/new/repo?owner=acme', as.bob)).text();
      assert.match(bobPage, /<option value="bob" selected>bob<\/option>/);
      assert.doesNotMatch(bobPage, /value="acme"/);

      let r = await post('/-/new/repo', as.bob, { owner: 'acme', name: 'bobs', visibility: 'public' });
      assert.equal(r.status, 403);
      assert.match(await r.text(), /you may only create repositories for yourself and the organizations you own/);
      r = await post('/-/new/repo', as.alice, { owner: 'acme', name: 'no/slashes', visibility: 'public' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /invalid repository name &quot;no\/slashes&quot;: use letters, digits, &#39;.&#39;, &#39;_&#39; and &#39;-&#39;/);
      r = await post('/-/new/repo', as.alice, { owner: 'acme', name: 'lib', visibility: 'secret' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /visibility must be one of public, private, internal/);
      assert.equal((await post('/-/new/repo', as.alice, { owner: 'acme', name: 'lib', visibility: 'private' }, { csrf: false })).status, 403);
      assert.equal((await post('/-/new/repo', undefined, { owner: 'acme', name: 'lib', visibility: 'private' })).status, 403);
      assert.equal(await s.core.identity.findRepo('acme', 'lib'), undefined);

      r = await post('/-/new/repo', as.alice, { owner: 'acme', name: 'lib', visibility: 'private' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/acme/lib?created=repo');
      assert.equal((await s.core.identity.findRepo('acme', 'lib'))?.visibility, 'private');
      const created = await (await get('/acme/lib?created=repo', as.alice)).text();
      assert.match(created, /Repository created\./);
      assert.match(created, /href="\/acme\/lib\/-\/settings\/access">Access and collaborators/);
      r = await post('/-/new/repo', as.alice, { owner: 'acme', name: 'LIB', visibility: 'public' });
      assert.equal(r.status, 409);
      assert.match(await r.text(), /repository acme\/LIB already exists/);
      // Under oneself.
      assert.equal((await post('/-/new/repo', as.bob, { owner: 'bob', name: 'tools', visibility: 'public' })).status, 303);
      assert.ok(await s.core.identity.findRepo('bob', 'tools'));
    });

    test('repository access: its admins change visibility and collaborators; a member gets 403, an outsider 404, anonymous the sign-in page', async () => {
      const path = '/acme/secret/-/settings/access';
      const page = await get(path, as.alice);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /No collaborators yet\./);
      assert.match(html, /<a href="\/acme\/secret\/-\/settings\/access" aria-current="page">Access<\/a>/);
      assert.match(html, /<input type="radio" id="vis-private" name="visibility" value="private" checked>/);
      // Who may not manage it: bob reads it (acme member) → 403; carol may not even see it → 404; anonymous → sign in.
      assert.equal((await get(path, as.bob)).status, 403);
      assert.equal((await get(path, as.carol)).status, 404);
      signInRedirect(await get(path), path);
      assert.equal((await get('/acme/nothing/-/settings/access', as.alice)).status, 404);
      assert.doesNotMatch(await (await get('/acme/secret', as.bob)).text(), /settings\/access/, 'no link for who may not manage');

      // Grant, change the role, refuse an unknown user, remove.
      let r = await post(path, as.alice, { action: 'grant', user: 'carol', role: 'write' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), `${path}?done=grant`);
      const repo = (await s.core.identity.findRepo('acme', 'secret'))!;
      const carol = await s.core.identity.requireUser('carol');
      assert.equal(await s.core.identity.repoCollaboratorRole(repo.id, carol.id), 'write');
      const listed = await (await get(`${path}?done=grant`, as.alice)).text();
      assert.match(listed, /Access granted\./);
      assert.match(listed, /<tr data-user="carol">[\s\S]*?<option value="write" selected>Write<\/option>/);
      assert.equal((await get(path, as.carol)).status, 403, 'write sees the repository but does not manage it');
      assert.equal((await post(path, as.alice, { action: 'grant', user: 'carol', role: 'admin' })).status, 303);
      assert.equal(await s.core.identity.repoCollaboratorRole(repo.id, carol.id), 'admin');
      assert.equal((await get(path, as.carol)).status, 200, 'a collaborator with admin manages it');
      r = await post(path, as.alice, { action: 'grant', user: 'nobody', role: 'read' });
      assert.equal(r.status, 404);
      assert.match(await r.text(), /no user named &quot;nobody&quot;/);
      r = await post(path, as.alice, { action: 'grant', user: 'dave', role: 'owner' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /role must be one of read, write, admin/);

      // Those who may not manage it change nothing, whatever they post.
      assert.equal((await post(path, as.bob, { action: 'grant', user: 'bob', role: 'admin' })).status, 403);
      assert.equal((await post(path, as.dave, { action: 'visibility', visibility: 'public' })).status, 404);
      assert.equal((await post(path, as.alice, { action: 'visibility', visibility: 'public' }, { csrf: false })).status, 403);
      assert.equal((await s.core.identity.findRepo('acme', 'secret'))!.visibility, 'private');
      assert.equal(await s.core.identity.repoCollaboratorRole(repo.id, (await s.core.identity.requireUser('bob')).id), null);

      r = await post(path, as.alice, { action: 'visibility', visibility: 'internal' });
      assert.equal(r.status, 303);
      assert.equal((await s.core.identity.findRepo('acme', 'secret'))!.visibility, 'internal');
      assert.equal((await post(path, as.alice, { action: 'remove', user: 'carol' })).status, 303);
      assert.equal(await s.core.identity.repoCollaboratorRole(repo.id, carol.id), null);
      assert.match(await (await get(`${path}?done=remove`, as.alice)).text(), /Collaborator removed\./);
      assert.equal((await get(path, as.carol)).status, 403, 'internal: carol sees it again, but no longer manages it');
      assert.equal((await post(path, as.alice, { action: 'visibility', visibility: 'private' })).status, 303);

      // The repository's webhooks page shares the settings tabs.
      assert.match(await (await get('/acme/secret/-/settings/hooks', as.alice)).text(), /<a href="\/acme\/secret\/-\/settings\/access">Access<\/a>/);
    });

    test('organization members: owners add, promote, demote and remove; the last owner stays; members see the list only; others get 404', async () => {
      const path = '/acme/-/settings';
      assert.match(await (await get('/acme', as.bob)).text(), /href="\/acme\/-\/settings">Members and roles/);
      assert.equal((await get(path, as.carol)).status, 404);
      signInRedirect(await get(path), path);
      const bobs = await (await get(path, as.bob)).text();
      assert.match(bobs, /Only owners of acme can change its members\./);
      assert.doesNotMatch(bobs, /Add a member/);

      const acme = await s.core.identity.requireOrg('acme');
      const dave = await s.core.identity.requireUser('dave');
      assert.equal((await post(`${path}/members`, as.bob, { user: 'dave', role: 'member' })).status, 403);
      assert.equal((await post(`${path}/members`, as.alice, { user: 'dave', role: 'member' }, { csrf: false })).status, 403);
      assert.equal(await s.core.identity.orgRole(acme.id, dave.id), null);

      assert.equal((await post(`${path}/members`, as.alice, { user: 'dave', role: 'member' })).status, 303);
      assert.equal(await s.core.identity.orgRole(acme.id, dave.id), 'member');
      assert.equal((await post(`${path}/members`, as.alice, { user: 'dave', role: 'owner' })).status, 303);
      assert.equal(await s.core.identity.orgRole(acme.id, dave.id), 'owner');
      assert.equal((await post(`${path}/members`, as.alice, { user: 'dave', role: 'member' })).status, 303);
      assert.equal((await post(`${path}/members/remove`, as.alice, { user: 'dave' })).status, 303);
      assert.equal(await s.core.identity.orgRole(acme.id, dave.id), null);
      const r = await post(`${path}/members`, as.alice, { user: 'alice', role: 'member' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /an organization needs at least one owner/);
      const unknown = await post(`${path}/members`, as.alice, { user: 'nobody', role: 'member' });
      assert.equal(unknown.status, 404);
      assert.match(await unknown.text(), /no user named &quot;nobody&quot;/);
    });

    test('site administration: users listed, created with a password, suspended and back, password reset, deleted — site admins only', async () => {
      const path = '/-/admin/users';
      signInRedirect(await get(path), path);
      assert.equal((await get(path, as.alice)).status, 403);
      assert.equal((await get('/-/admin/users/bob', as.alice)).status, 403);
      const list = await (await get(path, as.root)).text();
      for (const name of ['root', 'alice', 'bob', 'carol', 'dave']) assert.match(list, new RegExp(`<tr data-user="${name}"><td><a href="/-/admin/users/${name}">${name}</a></td>\\s*<td>${name}@example.com</td>`));
      assert.match(list, /<tr data-user="root">[\s\S]*?Site admin[\s\S]*?Active/);
      assert.equal((await get('/-/admin/users/acme', as.root)).status, 404, 'an organization is not a user');

      // Create: name rules, password length, then a user who can sign in.
      let r = await post(path, as.root, { name: '-erin', password: 'long enough pw' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /invalid owner name &quot;-erin&quot;/);
      r = await post(path, as.root, { name: 'erin', password: 'short' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /the password must have at least 10 characters/);
      assert.equal((await post(path, as.alice, { name: 'erin', password: 'long enough pw' })).status, 403);
      assert.equal((await post(path, as.root, { name: 'erin', password: 'long enough pw' }, { csrf: false })).status, 403);
      assert.equal(await s.core.identity.findOwner('erin'), undefined);
      r = await post(path, as.root, { name: 'erin', email: 'erin@example.com', password: 'long enough pw' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/-/admin/users/erin?done=created');
      assert.ok(await s.core.identity.checkPassword('erin', 'long enough pw'));
      assert.equal((await s.core.identity.requireUser('erin')).is_admin, 0);
      assert.match(await (await get('/-/admin/users/erin?done=created', as.root)).text(), /User created\./);

      // Suspend and unsuspend (and nobody else may).
      const user = `/-/admin/users/erin`;
      assert.equal((await post(user, as.alice, { action: 'suspend' })).status, 403);
      assert.equal((await post(user, as.root, { action: 'suspend' }, { csrf: false })).status, 403);
      assert.equal((await s.core.identity.requireUser('erin')).suspended_at, null);
      assert.equal((await post(user, as.root, { action: 'suspend' })).status, 303);
      assert.ok((await s.core.identity.requireUser('erin')).suspended_at);
      assert.equal(await s.core.identity.checkPassword('erin', 'long enough pw'), null);
      assert.match(await (await get(path, as.root)).text(), /<tr data-user="erin">[\s\S]*?Suspended/);
      assert.equal((await post(user, as.root, { action: 'unsuspend' })).status, 303);
      assert.equal((await s.core.identity.requireUser('erin')).suspended_at, null);
      r = await post('/-/admin/users/root', as.root, { action: 'suspend' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /you cannot suspend yourself/);

      // Reset the password: the new one works, the old one not, and the user's web sessions end.
      const erin = await sessionOf('erin');
      assert.equal((await get('/-/settings/tokens', erin)).status, 200);
      assert.equal((await post(user, as.alice, { action: 'password', password: 'another long one' })).status, 403);
      assert.equal((await post(user, as.root, { action: 'password', password: 'short' })).status, 400);
      assert.equal((await post(user, as.root, { action: 'password', password: 'another long one' })).status, 303);
      assert.ok(await s.core.identity.checkPassword('erin', 'another long one'));
      assert.equal(await s.core.identity.checkPassword('erin', 'long enough pw'), null);
      assert.equal((await get('/-/settings/tokens', erin)).status, 303, 'signed out');

      // Delete: the name typed to confirm; her repositories go with her.
      await s.core.identity.createRepo(systemActor, 'erin', 'stuff', 'public');
      r = await post(user, as.root, { action: 'delete', confirm: 'bob' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /type erin to confirm the deletion/);
      assert.equal((await post(user, as.alice, { action: 'delete', confirm: 'erin' })).status, 403);
      assert.ok(await s.core.identity.findOwner('erin'));
      r = await post(user, as.root, { action: 'delete', confirm: 'erin' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/-/admin/users?done=deleted');
      assert.equal(await s.core.identity.findOwner('erin'), undefined);
      assert.equal(await s.core.identity.findRepo('erin', 'stuff'), undefined);
    });

    test('site administration: make a user a site administrator and back; nobody demotes themselves; recorded in the audit log', async () => {
      await s.userWithToken('gina', undefined, { password: PASSWORD });
      const gina = await sessionOf('gina');
      const page = '/-/admin/users/gina';
      assert.match(await (await get(page, as.root)).text(), /Make gina a site administrator/);
      assert.equal((await post(page, as.alice, { action: 'promote' })).status, 403);
      assert.equal((await post(page, as.root, { action: 'promote' }, { csrf: false })).status, 403);
      assert.equal((await get('/-/admin/users', gina)).status, 403);
      let r = await post(page, as.root, { action: 'promote' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), `${page}?done=promote`);
      assert.equal((await s.core.identity.requireUser('gina')).is_admin, 1);
      assert.equal((await get('/-/admin/users', gina)).status, 200, 'her session has the new rights at once');
      assert.match(await (await get(`${page}?done=promote`, as.root)).text(), /They are now a site administrator\./);
      // Her own rights she cannot take away (the form is not offered; a forced post is refused by the core).
      r = await post(page, gina, { action: 'demote' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /you cannot remove your own site administrator rights/);
      assert.equal((await post(page, as.root, { action: 'demote' })).status, 303);
      assert.equal((await s.core.identity.requireUser('gina')).is_admin, 0);
      assert.equal((await get('/-/admin/users', gina)).status, 403, 'and loses them at once');
      const entries = await s.core.db.selectFrom('audit_log').select(['action', 'actor_name', 'details']).where('action', '=', 'user.site_admin').where('user_name', '=', 'gina').orderBy('id').execute();
      assert.deepEqual(entries.map((e) => [e.actor_name, JSON.parse(e.details).site_admin]), [['root', true], ['root', false]]);
    });

    test('site administration: a user who owns packages is deleted only when their packages go too', async () => {
      const token = await s.userWithToken('frank', undefined, { password: PASSWORD });
      assert.equal((await publish(s.url, token, '@frank/thing', '1.0.0')).status, 201);
      let r = await post('/-/admin/users/frank', as.root, { action: 'delete', confirm: 'frank' });
      assert.equal(r.status, 409);
      assert.match(await r.text(), /frank owns 1 package: delete them first/);
      r = await post('/-/admin/users/frank', as.root, { action: 'delete', confirm: 'frank', force: '1' });
      assert.equal(r.status, 303);
      assert.equal(await s.core.identity.findOwner('frank'), undefined);
    });
  });
}
