// Owner pages (a user's or an org's packages and repositories), org settings (members and roles), and a
// repository's page (the packages linked to it).
import type { Actor } from '../../core/auth/actor.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, invalid, isWharfError, notFound } from '../../core/errors.ts';
import type { Owner } from '../../db/tables.ts';
import { formats } from '../../formats/index.ts';
import { banner, visibilityBadge } from '../components.ts';
import { html, join, seg } from '../html.ts';
import { csrfField, layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { packageList, readable, summarize } from './listing.ts';
import { settingsNav } from './settings-nav.ts';

type P = Record<string, string>;

export async function ownerPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function ownerOf(req: FastifyRequest): Promise<Owner> {
    const owner = await core.identity.findOwner((req.params as P).owner);
    if (!owner) throw notFound();
    return owner;
  }

  app.get('/:owner', async (req, reply) => {
    const owner = await ownerOf(req);
    const type = formats.some((f) => f.type === (req.query as P).type) ? (req.query as P).type : undefined;
    const rows = await readable(core, req.actor, await core.packages.listByOwner(owner.id, { type, limit: 5000, offset: 0 }));
    const items = await summarize(core, rows);
    const repos = [];
    for (const r of await core.identity.listRepos(owner.id)) if (await core.authz.canReadRepo(req.actor, r)) repos.push(r);
    const isMember = owner.kind === 'org' && (await core.authz.canSeeMembers(req.actor, owner));
    const canManage = await core.authz.mayManage(req.actor, { what: 'owner-hooks', owner });
    const canCreateRepo = await core.authz.mayManage(req.actor, { what: 'repo-create', owner });
    const isSelf = req.actor.kind === 'user' && req.actor.user.id === owner.id;
    const created = (req.query as P).created === 'org' && owner.kind === 'org';
    const ctx = web.ctx(req, reply);
    return web.send(
      reply,
      layout(ctx, {
        title: owner.name,
        main: html`<header class="owner-head">
  <div class="avatar" aria-hidden="true">${owner.name.slice(0, 1).toUpperCase()}</div>
  <div><h1>${owner.name}</h1><p class="muted">${owner.kind === 'org' ? 'Organization' : 'User'}${isMember ? html` · <a href="/${seg(owner.name)}/-/settings">Members and roles</a>` : ''}${canManage ? html` · <a href="/${seg(owner.name)}/-/settings/hooks">Webhooks</a> · <a href="/${seg(owner.name)}/-/settings/signing">Signing</a>` : ''}${isSelf ? html` · <a href="/-/new/org">New organization</a>` : ''}</p></div>
</header>
${created ? banner('notice', html`Organization created: you are its owner. Next, <a href="/-/new/repo?owner=${seg(owner.name)}">create a repository</a> or <a href="/${seg(owner.name)}/-/settings">add members</a>; its npm scope is <code>@${owner.name.toLowerCase()}</code>.`) : ''}
<div class="columns">
<section aria-labelledby="pk-h" class="main-col">
  <div class="section-head"><h2 id="pk-h">Packages</h2>
  <nav class="chips" aria-label="Filter by type"><a href="/${seg(owner.name)}"${!type ? html` aria-current="page"` : ''}>All</a>${formats.map((f) => html`<a href="/${seg(owner.name)}?type=${seg(f.type)}"${type === f.type ? html` aria-current="page"` : ''}>${f.type}</a>`)}</nav></div>
  ${packageList(items, { showOwner: false, empty: `${owner.name} has no packages you may see${type ? ` of type ${type}` : ''}.` })}
</section>
<aside aria-labelledby="repo-h" class="side-col">
  <h2 id="repo-h">Repositories</h2>
  ${repos.length ? html`<ul class="plain">${repos.map((r) => html`<li><a href="/${seg(owner.name)}/${seg(r.name)}">${r.name}</a> ${visibilityBadge(r.visibility)}</li>`)}</ul>` : html`<p class="muted">None.</p>`}
  ${canCreateRepo ? html`<p><a class="button small" href="/-/new/repo?owner=${seg(owner.name)}">New repository</a></p>` : ''}
</aside>
</div>`,
      }),
    );
  });

  // ---- org settings: members and roles ----
  async function orgFor(req: FastifyRequest) {
    const org = await ownerOf(req);
    if (org.kind !== 'org') throw notFound();
    web.requireUser(req);
    if (!(await core.authz.canSeeMembers(req.actor, org))) throw notFound();
    return { org, canManage: await core.authz.mayManage(req.actor, { what: 'owner', owner: org }) };
  }

  async function orgSettings(req: FastifyRequest, reply: Parameters<Web['send']>[0], msg: { error?: string; notice?: string } = {}, status = 200) {
    const { org, canManage } = await orgFor(req);
    const members = await core.identity.listOrgMembers(org.id);
    const ctx = web.ctx(req, reply);
    return web.send(
      reply,
      layout(ctx, {
        title: `${org.name} · members`,
        main: html`<p class="crumbs"><a href="/${seg(org.name)}">${org.name}</a> / Settings</p>
<h1>Members and roles</h1>
${canManage ? settingsNav(org, 'members') : ''}
<p class="lead">Owners administer the organization and all its packages; members may publish packages to it and read its internal and private repositories' packages they are granted.</p>
${msg.notice ? banner('notice', msg.notice) : ''}${msg.error ? banner('error', msg.error) : ''}
<div class="scroll"><table class="list">
<thead><tr><th scope="col">Member</th><th scope="col">Role</th>${canManage ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : ''}</tr></thead>
<tbody>${members.map((m) => html`<tr><td><a href="/${seg(m.name)}">${m.name}</a></td>
<td>${canManage
  ? html`<form class="inline" action="/${seg(org.name)}/-/settings/members" method="post">${csrfField(ctx)}<input type="hidden" name="user" value="${m.name}">
  <label class="sr-only" for="role-${m.id}">Role of ${m.name}</label>
  <select id="role-${m.id}" name="role"><option value="member"${m.role === 'member' ? html` selected` : ''}>Member</option><option value="owner"${m.role === 'owner' ? html` selected` : ''}>Owner</option></select>
  <button class="small" type="submit" aria-label="Save role of ${m.name}">Save</button></form>`
  : m.role === 'owner' ? 'Owner' : 'Member'}</td>
${canManage ? html`<td><form action="/${seg(org.name)}/-/settings/members/remove" method="post">${csrfField(ctx)}<input type="hidden" name="user" value="${m.name}"><button class="danger small" type="submit" aria-label="Remove ${m.name} from ${org.name}">Remove</button></form></td>` : ''}
</tr>`)}</tbody></table></div>
${canManage
  ? html`<section class="card" aria-labelledby="add-h"><h2 id="add-h">Add a member</h2>
<form class="row" action="/${seg(org.name)}/-/settings/members" method="post">${csrfField(ctx)}
  <div class="field grow"><label for="add-user">Username</label><input id="add-user" name="user" required autocomplete="off"></div>
  <div class="field"><label for="add-role">Role</label><select id="add-role" name="role"><option value="member">Member</option><option value="owner">Owner</option></select></div>
  <div class="field"><button class="primary" type="submit">Add</button></div>
</form></section>`
  : html`<p class="muted">Only owners of ${org.name} can change its members.</p>`}`,
      }),
      status,
    );
  }

  app.get('/:owner/-/settings', async (req, reply) => orgSettings(req, reply, { notice: (req.query as P).done ? 'Members updated.' : undefined }));

  // core.identity decides who may change members (and that an org keeps an owner).
  const change = (fn: (actor: Actor, orgName: string, user: string, f: URLSearchParams) => Promise<void>) => async (req: FastifyRequest, reply: Parameters<Web['send']>[0]) => {
    const { org } = await orgFor(req);
    const f = web.form(req);
    try {
      await fn(req.actor, org.name, (f.get('user') ?? '').trim(), f);
    } catch (e) {
      if (!isWharfError(e) || e.status >= 500) throw e;
      return orgSettings(req, reply, { error: e.message }, e.status);
    }
    return web.redirect(reply, `/${seg(org.name)}/-/settings?done=1`);
  };
  app.post('/:owner/-/settings/members', change(async (actor, org, user, f) => {
    const role = f.get('role');
    if (role !== 'owner' && role !== 'member') throw invalid('role must be owner or member');
    await core.identity.addOrgMember(actor, org, user, role);
  }));
  app.post('/:owner/-/settings/members/remove', change(async (actor, org, user) => {
    await core.identity.removeOrgMember(actor, org, user);
  }));

  // ---- a repository: the packages linked to it ----
  app.get('/:owner/:repo', async (req, reply) => {
    const p = req.params as P;
    const repo = await core.identity.findRepo(p.owner, p.repo);
    if (!repo || !(await core.authz.canReadRepo(req.actor, repo))) throw notFound();
    const rows = await readable(core, req.actor, await core.packages.listByRepository(repo.id));
    const items = await summarize(core, rows);
    const canManage = await core.authz.mayManage(req.actor, { what: 'repo-hooks', repo });
    const canManageAccess = await core.authz.mayManage(req.actor, { what: 'repo', repo });
    const settings = [
      ...(canManageAccess ? [html`<a href="/${seg(repo.owner_name)}/${seg(repo.name)}/-/settings/access">Access and collaborators</a>`] : []),
      ...(canManage ? [html`<a href="/${seg(repo.owner_name)}/${seg(repo.name)}/-/settings/hooks">Webhooks</a>`] : []),
    ];
    const created = (req.query as P).created === 'repo';
    const ctx = web.ctx(req, reply);
    return web.send(
      reply,
      layout(ctx, {
        title: `${repo.owner_name}/${repo.name}`,
        main: html`<p class="crumbs"><a href="/${seg(repo.owner_name)}">${repo.owner_name}</a> /</p>
<h1>${repo.name} ${visibilityBadge(repo.visibility)}</h1>
${created ? banner('notice', html`Repository created. A package joins it when its metadata names it — for npm, <code>"repository": {"type": "git", "url": "git+https://github.com/${repo.owner_name}/${repo.name}.git"}</code> in package.json (any git host: the URL's last two path segments count) — and then takes its visibility and collaborators.`) : ''}
${settings.length ? html`<p class="muted">${join(settings, ' · ')}</p>` : ''}
<h2>Packages linked to this repository</h2>
${packageList(items, { empty: 'No package you may see is linked to this repository.' })}`,
      }),
    );
  });
}
