// Running Wharf day to day from the browser: creating organizations and repositories, a repository's
// collaborators and visibility, and (for site administrators) the users.
//   /-/new/org                        create an organization (the creator, or a user a site admin names, owns it)
//   /-/new/repo[?owner=NAME]          create a repository under yourself or an organization you may create in
//   /OWNER/REPO/-/settings/access     a repository's visibility and collaborators
//   /-/admin/users[/NAME]             site administration: users, creating one, suspending, passwords, deleting
// Every change is a core.identity verb that decides access itself (core.authz.manage); a page only asks
// core.authz.mayManage to choose which links and options to show.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid, isWharfError, notFound } from '../../core/errors.ts';
import { checkRole, ROLES, VISIBILITIES } from '../../core/identity/identity.ts';
import type { Owner, Repository, Visibility } from '../../db/tables.ts';
import { banner, visibilityBadge, when } from '../components.ts';
import { html, seg, type Child, type Html } from '../html.ts';
import { csrfField, layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { repoSettingsNav } from './settings-nav.ts';

type P = Record<string, string>;
type Msg = { error?: string; notice?: string };

/** The same floor as sign-up. */
const MIN_PASSWORD = 10;
const USERS_PER_PAGE = 100;

/** The owner rule of src/core/names.ts as an HTML pattern (the server checks it again, with its message). */
const OWNER_PATTERN = '[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}';
const REPO_PATTERN = '[A-Za-z0-9._\\-]{1,100}';

const VIS_TEXT: Record<Visibility, string> = {
  public: 'Anyone, signed in or not, can see it and install the packages that inherit from it.',
  internal: 'Anyone signed in to this Wharf can see it and install its packages.',
  private: 'Only its owners and collaborators can see it.',
};
const ROLE_TEXT: Record<string, string> = { read: 'Read', write: 'Write', admin: 'Admin' };

const ACCESS_DONE: Record<string, string> = {
  visibility: 'Visibility changed.',
  grant: 'Access granted.',
  remove: 'Collaborator removed.',
};
const USER_DONE: Record<string, string> = {
  created: 'User created. They can sign in with the password you set.',
  password: 'Password changed. Their web sessions were ended.',
  suspend: 'User suspended: their password, tokens and sessions stop working at once.',
  unsuspend: 'Suspension lifted: their password and unexpired tokens work again.',
  promote: 'They are now a site administrator.',
  demote: 'They are no longer a site administrator.',
  deleted: 'User deleted.',
};

/** A client error a form shows above itself (anything else goes to the error page). */
function formError(e: unknown): { message: string; status: number } {
  if (!isWharfError(e) || e.status >= 500 || e.kind === 'Unauthorized') throw e;
  return { message: e.message, status: e.status };
}

const banners = (m: Msg) => html`${m.notice ? banner('notice', m.notice) : ''}${m.error ? banner('error', m.error) : ''}`;

function visibilityFields(current: Visibility, idPrefix: string, legend = 'Visibility'): Html {
  return html`<fieldset><legend>${legend}</legend>
${VISIBILITIES.map((v) => html`<div class="check"><input type="radio" id="${idPrefix}-${v}" name="visibility" value="${v}"${current === v ? html` checked` : ''}><label for="${idPrefix}-${v}"><strong>${v.charAt(0).toUpperCase() + v.slice(1)}</strong> — ${VIS_TEXT[v]}</label></div>`)}
</fieldset>`;
}

export async function managePages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  // ---- a new organization ----
  async function newOrgPage(req: FastifyRequest, reply: FastifyReply, m: Msg & { name?: string; owner?: string } = {}, status = 200) {
    const a = web.requireUser(req);
    // Site administrators may name someone else as its first owner; the core decides whoever asks.
    const forOthers = await core.authz.mayManage(a, { what: 'site' });
    const ctx = web.ctx(req, reply);
    return web.send(reply, layout(ctx, {
      title: 'New organization',
      main: html`<section class="narrow">
<h1>Create an organization</h1>
<p class="lead">An organization owns packages and repositories that a team shares: its npm scope and image namespace are its name. You become its owner and can add members afterwards.</p>
${banners(m)}
<form class="stack" action="/-/new/org" method="post">${csrfField(ctx)}
  <label for="org-name">Organization name</label>
  <input id="org-name" name="name" required maxlength="39" pattern="${OWNER_PATTERN}" value="${m.name ?? ''}" autocomplete="off" spellcheck="false" aria-describedby="org-name-help">
  <p id="org-name-help" class="help">Letters, digits and single hyphens, at most 39 characters; unique among users and organizations.</p>
  ${forOthers ? html`<label for="org-owner">First owner</label>
  <input id="org-owner" name="owner" value="${m.owner ?? a.user.name}" required autocomplete="off" spellcheck="false" aria-describedby="org-owner-help">
  <p id="org-owner-help" class="help">As a site administrator you may create it for another user.</p>` : ''}
  <button class="primary" type="submit">Create organization</button>
</form>
</section>`,
    }), status);
  }

  app.get('/-/new/org', async (req, reply) => newOrgPage(req, reply));
  app.post('/-/new/org', async (req, reply) => {
    const a = web.requireUser(req);
    const f = web.form(req);
    const name = (f.get('name') ?? '').trim();
    const owner = (f.get('owner') ?? '').trim() || a.user.name;
    try {
      const org = await core.identity.createOrg(a, name, owner);
      return web.redirect(reply, `/${seg(org.name)}?created=org`);
    } catch (e) {
      const { message, status } = formError(e);
      return newOrgPage(req, reply, { error: message, name, owner }, status);
    }
  });

  // ---- a new repository ----
  async function newRepoPage(req: FastifyRequest, reply: FastifyReply, m: Msg & { owner?: string; name?: string; visibility?: Visibility } = {}, status = 200) {
    const a = web.requireUser(req);
    const me = await core.identity.requireUser(a.user.name);
    const wanted = m.owner ?? (req.query as P).owner;
    const candidates: Owner[] = [me, ...(await core.identity.orgsOf(me.id))];
    if (wanted && !candidates.some((c) => c.lower_name === wanted.toLowerCase())) {
      const o = await core.identity.findOwner(wanted);
      if (o) candidates.push(o);
    }
    const owners: Owner[] = [];
    for (const o of candidates) if (await core.authz.mayManage(a, { what: 'repo-create', owner: o })) owners.push(o);
    const selected = owners.find((o) => o.lower_name === wanted?.toLowerCase())?.name ?? me.name;
    const ctx = web.ctx(req, reply);
    return web.send(reply, layout(ctx, {
      title: 'New repository',
      main: html`<section class="narrow">
<h1>Create a repository</h1>
<p class="lead">A repository groups packages: a package whose metadata names it (npm's <code>repository.url</code>, a pom's <code>&lt;scm&gt;</code>, …) links to it and takes its visibility and collaborators.</p>
${banners(m)}
<form class="stack" action="/-/new/repo" method="post">${csrfField(ctx)}
  <label for="repo-owner">Owner</label>
  <select id="repo-owner" name="owner" aria-describedby="repo-owner-help">${owners.map((o) => html`<option value="${o.name}"${o.name === selected ? html` selected` : ''}>${o.name}${o.kind === 'org' ? ' (organization)' : ''}</option>`)}</select>
  <p id="repo-owner-help" class="help">Yourself, or an organization you own.</p>
  <label for="repo-name">Repository name</label>
  <input id="repo-name" name="name" required maxlength="100" pattern="${REPO_PATTERN}" value="${m.name ?? ''}" autocomplete="off" spellcheck="false" aria-describedby="repo-name-help">
  <p id="repo-name-help" class="help">Letters, digits, '.', '_' and '-', at most 100 characters — usually the name of its git repository.</p>
  ${visibilityFields(m.visibility ?? 'public', 'repo-vis')}
  <button class="primary" type="submit">Create repository</button>
</form>
</section>`,
    }), status);
  }

  app.get('/-/new/repo', async (req, reply) => newRepoPage(req, reply));
  app.post('/-/new/repo', async (req, reply) => {
    const a = web.requireUser(req);
    const f = web.form(req);
    const owner = (f.get('owner') ?? '').trim();
    const name = (f.get('name') ?? '').trim();
    const visibility = (f.get('visibility') ?? 'public') as Visibility;
    try {
      const repo = await core.identity.createRepo(a, owner, name, visibility);
      const o = (await core.identity.ownerById(repo.owner_id))!;
      return web.redirect(reply, `/${seg(o.name)}/${seg(repo.name)}?created=repo`);
    } catch (e) {
      const { message, status } = formError(e);
      return newRepoPage(req, reply, { error: message, owner, name, visibility: VISIBILITIES.includes(visibility) ? visibility : undefined }, status);
    }
  });

  // ---- a repository's visibility and collaborators ----
  /** The repository, when the actor may manage it (the core answers NotFound to who may not see it, else Forbidden). */
  async function managedRepo(req: FastifyRequest): Promise<Repository & { owner_name: string }> {
    const a = web.requireUser(req);
    const p = req.params as P;
    const repo = await core.identity.findRepo(p.owner, p.repo);
    if (!repo) throw notFound();
    await core.authz.manage(a, { what: 'repo', repo });
    return repo;
  }

  async function accessPage(req: FastifyRequest, reply: FastifyReply, m: Msg = {}, status = 200) {
    const repo = await managedRepo(req);
    const owner = (await core.identity.ownerById(repo.owner_id))!;
    const collaborators = await core.identity.listRepoCollaborators(repo.id);
    const path = `/${seg(repo.owner_name)}/${seg(repo.name)}`;
    const action = `${path}/-/settings/access`;
    const ctx = web.ctx(req, reply);
    const form = (name: string, body: Child, cls = '') => html`<form class="${cls}" action="${action}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
    const roleSelect = (id: string, current: string | null, label: string) => html`<label class="sr-only" for="${id}">${label}</label><select id="${id}" name="role">${ROLES.map((r) => html`<option value="${r}"${r === current ? html` selected` : ''}>${ROLE_TEXT[r]}</option>`)}</select>`;
    return web.send(reply, layout(ctx, {
      title: `Access · ${repo.owner_name}/${repo.name}`,
      main: html`<p class="crumbs"><a href="/${seg(repo.owner_name)}">${repo.owner_name}</a> / <a href="${path}">${repo.name}</a> / Settings</p>
<h1>Access ${visibilityBadge(repo.visibility)}</h1>
${repoSettingsNav(repo, 'access')}
${banners({ notice: ACCESS_DONE[(req.query as P).done ?? ''], ...m })}
<section class="card" aria-labelledby="vis-h">
<h2 id="vis-h">Visibility</h2>
<p class="help">Packages linked to ${repo.owner_name}/${repo.name} that inherit its access change with it.</p>
${form('visibility', html`${visibilityFields(repo.visibility, 'vis', 'Who can see it')}<button class="primary" type="submit">Change visibility</button>`, 'stack')}
</section>
<section class="card" aria-labelledby="collab-h">
<h2 id="collab-h">Collaborators</h2>
<p class="help">${owner.kind === 'org'
  ? html`Owners of <a href="/${seg(owner.name)}/-/settings">${owner.name}</a> are admins of every repository of it, and its members can read them all. Collaborators get the role you give them: read installs, write publishes, admin also manages this page and the repository's webhooks.`
  : html`${owner.name} is admin of all their repositories. Collaborators get the role you give them: read installs, write publishes, admin also manages this page and the repository's webhooks.`}</p>
${collaborators.length
  ? html`<div class="scroll"><table class="list collaborators"><thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${collaborators.map((c) => html`<tr data-user="${c.name}"><td><a href="/${seg(c.name)}">${c.name}</a></td>
<td>${form('grant', html`<input type="hidden" name="user" value="${c.name}">${roleSelect(`role-${c.id}`, c.role, `Role of ${c.name}`)}<button class="small" type="submit" aria-label="Save role of ${c.name}">Save</button>`, 'inline')}</td>
<td>${form('remove', html`<input type="hidden" name="user" value="${c.name}"><button class="danger small" type="submit" aria-label="Remove ${c.name}">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No collaborators yet.</p>`}
<h3>Add a collaborator</h3>
${form('grant', html`<div class="field grow"><label for="collab-user">Username</label><input id="collab-user" name="user" required autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="collab-role">Role</label><select id="collab-role" name="role">${ROLES.map((r) => html`<option value="${r}"${r === 'write' ? html` selected` : ''}>${ROLE_TEXT[r]}</option>`)}</select></div>
<div class="field"><button class="primary" type="submit">Add collaborator</button></div>`, 'row')}
</section>`,
    }), status);
  }

  app.get('/:owner/:repo/-/settings/access', async (req, reply) => accessPage(req, reply));
  app.post('/:owner/:repo/-/settings/access', async (req, reply) => {
    const a = web.requireUser(req);
    const repo = await managedRepo(req);
    const slug = `${repo.owner_name}/${repo.name}`;
    const f = web.form(req);
    const act = f.get('action') ?? '';
    const user = (f.get('user') ?? '').trim();
    try {
      switch (act) {
        case 'visibility':
          await core.identity.setRepoVisibility(a, repo.id, (f.get('visibility') ?? '') as Visibility);
          break;
        case 'grant':
          if (!user) throw invalid('name the user to add');
          await core.identity.grantRepo(a, slug, user, checkRole(f.get('role') ?? ''));
          break;
        case 'remove':
          await core.identity.revokeRepo(a, slug, user);
          break;
        default:
          throw invalid('unknown action');
      }
    } catch (e) {
      const { message, status } = formError(e);
      return accessPage(req, reply, { error: message }, status);
    }
    return web.redirect(reply, `/${seg(repo.owner_name)}/${seg(repo.name)}/-/settings/access?done=${act}`);
  });

  // ---- site administration: users ----
  /** Site administrators only, as the core decides (a signed-out visitor is sent to sign in first). */
  async function siteAdmin(req: FastifyRequest) {
    const a = web.requireUser(req);
    await core.authz.manage(a, { what: 'site' });
    return a;
  }

  const adminCrumbs = html`<p class="crumbs">Site administration</p>`;

  async function usersPage(req: FastifyRequest, reply: FastifyReply, m: Msg & { name?: string; email?: string; admin?: boolean } = {}, status = 200) {
    await siteAdmin(req);
    const page = Math.max(1, Math.min(1e6, Number.parseInt((req.query as P).page ?? '1', 10) || 1));
    const rows = await core.identity.listOwners('user', USERS_PER_PAGE + 1, (page - 1) * USERS_PER_PAGE);
    const users = rows.slice(0, USERS_PER_PAGE);
    const ctx = web.ctx(req, reply);
    return web.send(reply, layout(ctx, {
      title: 'Users · Site administration',
      main: html`${adminCrumbs}
<h1>Users</h1>
${banners({ notice: USER_DONE[(req.query as P).done ?? ''], ...m })}
<section class="card" aria-labelledby="users-h">
<h2 id="users-h">All users</h2>
${users.length
  ? html`<div class="scroll"><table class="list users"><thead><tr><th scope="col">User</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Created</th></tr></thead><tbody>
${users.map((u) => html`<tr data-user="${u.name}"><td><a href="/-/admin/users/${seg(u.name)}">${u.name}</a></td>
<td>${u.email ?? html`<span class="muted">—</span>`}</td>
<td>${u.is_admin ? html`<span class="badge">Site admin</span>` : 'User'}</td>
<td>${u.suspended_at ? html`<span class="badge warn">Suspended</span>` : 'Active'}</td>
<td>${when(u.created_at)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No users on this page.</p>`}
${page > 1 || rows.length > USERS_PER_PAGE ? html`<nav class="pager" aria-label="Pages">${page > 1 ? html`<a href="/-/admin/users?page=${page - 1}">Previous</a>` : html`<span></span>`}${rows.length > USERS_PER_PAGE ? html`<a href="/-/admin/users?page=${page + 1}">Next</a>` : ''}</nav>` : ''}
</section>
<section class="card" aria-labelledby="new-user-h">
<h2 id="new-user-h">Create a user</h2>
<form class="stack" action="/-/admin/users" method="post">${csrfField(ctx)}
  <label for="nu-name">Username</label>
  <input id="nu-name" name="name" required maxlength="39" pattern="${OWNER_PATTERN}" value="${m.name ?? ''}" autocomplete="off" spellcheck="false" aria-describedby="nu-name-help">
  <p id="nu-name-help" class="help">Letters, digits and single hyphens; it becomes their npm scope and image namespace.</p>
  <label for="nu-email">Email</label>
  <input id="nu-email" name="email" type="email" value="${m.email ?? ''}" autocomplete="off">
  <label for="nu-password">Password</label>
  <input id="nu-password" name="password" type="password" required minlength="${MIN_PASSWORD}" autocomplete="new-password" aria-describedby="nu-pw-help">
  <p id="nu-pw-help" class="help">At least ${MIN_PASSWORD} characters. Give it to them: they sign in with it at <code>/-/login</code>.</p>
  <div class="check"><input type="checkbox" id="nu-admin" name="admin" value="1"${m.admin ? html` checked` : ''}><label for="nu-admin">Site administrator</label></div>
  <button class="primary" type="submit">Create user</button>
</form>
</section>`,
    }), status);
  }

  app.get('/-/admin/users', async (req, reply) => usersPage(req, reply));
  app.post('/-/admin/users', async (req, reply) => {
    await siteAdmin(req);
    const f = web.form(req);
    const name = (f.get('name') ?? '').trim();
    const email = (f.get('email') ?? '').trim();
    const password = f.get('password') ?? '';
    const admin = f.get('admin') === '1';
    try {
      if (password.length < MIN_PASSWORD) throw invalid(`the password must have at least ${MIN_PASSWORD} characters`);
      const u = await core.identity.createUser(req.actor, { name, email: email || null, password, isAdmin: admin });
      return web.redirect(reply, `/-/admin/users/${seg(u.name)}?done=created`);
    } catch (e) {
      const { message, status } = formError(e);
      return usersPage(req, reply, { error: message, name, email, admin }, status);
    }
  });

  async function userPage(req: FastifyRequest, reply: FastifyReply, m: Msg = {}, status = 200) {
    const a = await siteAdmin(req);
    const u = await core.identity.findOwner((req.params as P).name);
    if (!u || u.kind !== 'user') throw notFound();
    const orgs = await core.identity.orgsOf(u.id);
    const self = `/-/admin/users/${seg(u.name)}`;
    const ctx = web.ctx(req, reply);
    const form = (name: string, body: Child, cls = '') => html`<form class="${cls}" action="${self}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
    const isSelf = a.user.id === u.id;
    return web.send(reply, layout(ctx, {
      title: `${u.name} · Users`,
      main: html`<p class="crumbs">Site administration / <a href="/-/admin/users">Users</a></p>
<h1>${u.name} ${u.is_admin ? html`<span class="badge">Site admin</span>` : ''} ${u.suspended_at ? html`<span class="badge warn">Suspended</span>` : ''}</h1>
${banners({ notice: USER_DONE[(req.query as P).done ?? ''], ...m })}
<dl class="facts">
<dt>Email</dt><dd>${u.email ?? html`<span class="muted">none</span>`}</dd>
<dt>Created</dt><dd>${when(u.created_at)}</dd>
${u.suspended_at ? html`<dt>Suspended</dt><dd>${when(u.suspended_at)}</dd>` : ''}
<dt>Organizations</dt><dd>${orgs.length ? orgs.map((o, i) => html`${i ? ', ' : ''}<a href="/${seg(o.name)}">${o.name}</a> (${o.role})`) : html`<span class="muted">none</span>`}</dd>
<dt>Packages</dt><dd><a href="/${seg(u.name)}">${u.name}'s page</a></dd>
</dl>
<section class="card" aria-labelledby="pw-h">
<h2 id="pw-h">Reset the password</h2>
${form('password', html`<label for="pw-new">New password</label>
<input id="pw-new" name="password" type="password" required minlength="${MIN_PASSWORD}" autocomplete="new-password" aria-describedby="pw-help">
<p id="pw-help" class="help">At least ${MIN_PASSWORD} characters. Their web sessions end; their tokens keep working.</p>
<button type="submit">Set password</button>`, 'stack')}
</section>
${isSelf ? '' : html`<section class="card" aria-labelledby="admin-h">
<h2 id="admin-h">Site administrator</h2>
${u.is_admin
  ? form('demote', html`<p>${u.name} administers this Wharf: users, every owner's settings, the audit log.</p><button type="submit">Remove site administrator rights</button>`)
  : form('promote', html`<p>A site administrator manages users and every owner's settings and packages.</p><button type="submit">Make ${u.name} a site administrator</button>`)}
</section>
<section class="card" aria-labelledby="susp-h">
<h2 id="susp-h">${u.suspended_at ? 'Lift the suspension' : 'Suspend'}</h2>
${u.suspended_at
  ? form('unsuspend', html`<p>Their password and unexpired tokens work again.</p><button class="primary" type="submit">Unsuspend ${u.name}</button>`)
  : form('suspend', html`<p>Their password, tokens and web sessions stop working at once; their packages, tokens and memberships stay.</p><button class="danger" type="submit">Suspend ${u.name}</button>`)}
</section>
<section class="card danger-zone" aria-labelledby="del-h">
<h2 id="del-h">Delete this user</h2>
${form('delete', html`<p>Deletes ${u.name} with their tokens, memberships, repositories and webhooks. Refused while they own packages or are the only owner of an organization, unless you also delete their packages.</p>
<label for="del-confirm">Type <strong>${u.name}</strong> to confirm</label>
<input id="del-confirm" name="confirm" required autocomplete="off" spellcheck="false">
<div class="check"><input type="checkbox" id="del-force" name="force" value="1"><label for="del-force">Also delete their packages (and leave organizations they alone own to site administrators)</label></div>
<button class="danger" type="submit">Delete user</button>`, 'stack')}
</section>`}`,
    }), status);
  }

  app.get('/-/admin/users/:name', async (req, reply) => userPage(req, reply));
  app.post('/-/admin/users/:name', async (req, reply) => {
    const a = await siteAdmin(req);
    const u = await core.identity.findOwner((req.params as P).name);
    if (!u || u.kind !== 'user') throw notFound();
    const f = web.form(req);
    const act = f.get('action') ?? '';
    try {
      switch (act) {
        case 'password': {
          const password = f.get('password') ?? '';
          if (password.length < MIN_PASSWORD) throw invalid(`the password must have at least ${MIN_PASSWORD} characters`);
          await core.identity.setPassword(u.name, password, a);
          break;
        }
        case 'promote':
        case 'demote':
          await core.identity.setSiteAdmin(a, u.name, act === 'promote');
          break;
        case 'suspend':
          await core.identity.suspendUser(a, u.name);
          break;
        case 'unsuspend':
          await core.identity.unsuspendUser(a, u.name);
          break;
        case 'delete':
          if ((f.get('confirm') ?? '').trim().toLowerCase() !== u.lower_name) throw invalid(`type ${u.name} to confirm the deletion`);
          await core.identity.deleteUser(a, u.name, { force: f.get('force') === '1' });
          return web.redirect(reply, '/-/admin/users?done=deleted');
        default:
          throw invalid('unknown action');
      }
    } catch (e) {
      const { message, status } = formError(e);
      return userPage(req, reply, { error: message }, status);
    }
    // A password set for oneself ends one's own session too: back to the sign-in page then.
    return web.redirect(reply, `/-/admin/users/${seg(u.name)}?done=${act}`);
  });
}
