// Package settings for those with admin on the package: visibility, linked repository, access inheritance,
// grants for users and repositories, deleting and restoring versions and the package. Access is decided by
// core.authz, the changes are made by core/package-settings and core/publish (the same as the REST API and CLI).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalid, isWharfError, notFound } from '../../core/errors.ts';
import { checkRole, checkVisibility, ROLES, VISIBILITIES } from '../../core/identity/identity.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { packageSettings } from '../../core/package-settings.ts';
import { formatOf } from '../../formats/index.ts';
import { idParam } from '../../http/rest/common.ts';
import { banner, headingName, packageName, packagePath, plural, typeIcon, visibilityBadge, when } from '../components.ts';
import { html, seg, type Child } from '../html.ts';
import { csrfField, layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { SIGNING_DONE, signingAction, signingSection } from './signing.ts';
import { policiesFor, TRUST_DONE, trustAction, trustSection } from './trusted-publishers.ts';

const DONE: Record<string, string> = {
  visibility: 'Visibility changed.',
  link: 'Repository linked.',
  unlink: 'Repository unlinked.',
  inherit: 'Access inheritance changed.',
  grant: 'Access granted.',
  revoke: 'Access revoked.',
  'delete-version': 'Version deleted. It can be restored below.',
  'restore-version': 'Version restored.',
  'delete-package': 'Package deleted. It can be restored below.',
  'restore-package': 'Package restored.',
  ...SIGNING_DONE,
  ...TRUST_DONE,
};

const VIS_TEXT: Record<string, string> = {
  public: 'Anyone, signed in or not, can see and install it.',
  internal: 'Anyone signed in to this Wharf can see and install it.',
  private: 'Only the owner and those granted access can see it.',
};

async function requireAdmin(web: Web, req: FastifyRequest, pkg: PackageRow) {
  web.requireUser(req);
  await web.core.authz.authorize(req.actor, 'admin', pkg);
}

export async function settingsGet(web: Web, req: FastifyRequest, reply: FastifyReply, pkg: PackageRow, msg: { error?: string } = {}, status = 200) {
  const { core } = web;
  await requireAdmin(web, req, pkg);
  const [all, access, repos, visibility] = await Promise.all([
    core.packages.versions(pkg.id, { includeDeleted: true }),
    core.packages.access(pkg.id),
    core.identity.listRepos(pkg.owner_id),
    core.authz.effectiveVisibility(pkg),
  ]);
  const repo = pkg.repository_id != null ? await core.identity.repoById(pkg.repository_id) : undefined;
  const inherits = pkg.inherit_access === 1 && repo !== undefined;
  const live = all.filter((v) => !v.deleted_at).reverse();
  const restoreCutoff = new Date(Date.now() - core.config.restoreDays * 864e5).toISOString();
  const deleted = all.filter((v) => v.deleted_at && v.deleted_at >= restoreCutoff).reverse();
  const path = packagePath(pkg);
  const done = DONE[(req.query as Record<string, string>).done ?? ''];
  const ctx = web.ctx(req, reply);
  const action = `${path}/-/settings`;
  const signs = formatOf(pkg.type)?.signing;
  let signing: Child = '';
  if (signs) {
    const [keys, identities, required, ownerKeys, ownerRequired] = await Promise.all([
      core.signing.keysAt(pkg.owner_id, pkg.name), core.signing.identitiesAt(pkg.owner_id, pkg.name), core.signing.requiredAt(pkg.owner_id, pkg.name),
      core.signing.keysAt(pkg.owner_id, null), core.signing.requiredAt(pkg.owner_id, null),
    ]);
    const canManageOwner = await core.authz.mayManage(req.actor, { what: 'owner', owner: { id: pkg.owner_id, kind: pkg.owner_kind } });
    const ownerLink = canManageOwner ? html` (<a href="/${seg(pkg.owner_name)}/-/settings/signing">${pkg.owner_name}'s signing settings</a>)` : '';
    const note = ownerKeys.length || ownerRequired
      ? html`<p class="help">${ownerKeys.length ? `${plural(ownerKeys.length, 'key')} trusted for all of ${pkg.owner_name}'s ${signs.what} also appl${ownerKeys.length === 1 ? 'ies' : 'y'}. ` : ''}${ownerRequired ? `${pkg.owner_name} requires signed ${signs.what} for all its packages. ` : ''}${ownerLink}</p>`
      : html`<p class="help">Keys, identities and the policy can also be set for all of ${pkg.owner_name}'s ${signs.what}${ownerLink}.</p>`;
    signing = signingSection(ctx, { action, keys, identities, keyless: !!core.signing.sigstore.root, required, what: `the ${signs.what} of ${packageName(pkg)}`, note });
  }
  const form = (name: string, body: Child, cls = '') => html`<form class="${cls}" action="${action}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
  const policies = await policiesFor(core, req.actor, pkg);
  const trust = policies ? trustSection(ctx, action, policies, core.trustedPublishers.verifier.acceptedIssuers) : '';

  return web.send(
    reply,
    layout(ctx, {
      title: `Settings · ${packageName(pkg)}`,
      main: html`<p class="crumbs"><a href="/${seg(pkg.owner_name)}">${pkg.owner_name}</a> / <a href="${path}">${pkg.name}</a> / Settings</p>
<h1>${typeIcon(pkg.type)} ${headingName(pkg)} <span class="muted">settings</span></h1>
${done ? banner('notice', done) : ''}${msg.error ? banner('error', msg.error) : ''}
${pkg.deleted_at ? banner('error', html`This package was deleted ${when(pkg.deleted_at)}.`) : ''}

<section class="card" aria-labelledby="vis-h">
<h2 id="vis-h">Visibility ${visibilityBadge(visibility)}</h2>
${inherits ? html`<p class="help">This package inherits access from <a href="/${seg(repo!.owner_name)}/${seg(repo!.name)}">${repo!.owner_name}/${repo!.name}</a>, so the repository's visibility (${repo!.visibility}) applies: change it on the repository, or turn inheritance off below to set the package's own.</p>` : ''}
${form('visibility', html`<fieldset><legend>Who can see this package</legend>
${VISIBILITIES.map((v) => html`<div class="check"><input type="radio" id="vis-${v}" name="visibility" value="${v}"${visibility === v ? html` checked` : ''}${inherits ? html` disabled` : ''}><label for="vis-${v}"><strong>${v.charAt(0).toUpperCase() + v.slice(1)}</strong> — ${VIS_TEXT[v]}</label></div>`)}
</fieldset><button class="primary" type="submit"${inherits ? html` disabled` : ''}>Change visibility</button>`, 'stack')}
</section>

<section class="card" aria-labelledby="repo-h">
<h2 id="repo-h">Repository</h2>
${repo ? html`<p>Linked to <a href="/${seg(repo.owner_name)}/${seg(repo.name)}">${repo.owner_name}/${repo.name}</a>.</p>${form('unlink', html`<button type="submit">Unlink repository</button>`)}` : html`<p class="muted">Not linked to a repository.</p>`}
${repos.length
  ? form('link', html`<div class="field grow"><label for="link-repo">${repo ? 'Link to another repository' : 'Link to a repository'}</label>
<select id="link-repo" name="repository">${repos.map((r) => html`<option value="${pkg.owner_name}/${r.name}"${r.id === pkg.repository_id ? html` selected` : ''}>${pkg.owner_name}/${r.name}</option>`)}</select></div>
<div class="field"><button type="submit">Link</button></div>`, 'row')
  : html`<p class="help">${pkg.owner_name} has no repositories to link to.</p>`}
${form('inherit', html`<div class="check"><input type="checkbox" id="inherit" name="inherit" value="1"${pkg.inherit_access === 1 ? html` checked` : ''}${repo ? '' : html` aria-describedby="inherit-help"`}><label for="inherit">Inherit access from the linked repository</label></div>
${repo ? '' : html`<p id="inherit-help" class="help">Takes effect once a repository is linked.</p>`}
<button type="submit">Save</button>`, 'stack')}
</section>

<section class="card" aria-labelledby="access-h">
<h2 id="access-h">Access</h2>
${inherits ? html`<p class="help">While the package inherits, people get the role they have on the repository; the grants below apply to repositories (CI job tokens).</p>` : ''}
${access.length
  ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Who</th><th scope="col">Role</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${access.map((a) => {
    const who = a.user_name ?? a.repository ?? '?';
    return html`<tr><td>${a.user_name ? html`<a href="/${seg(a.user_name)}">${a.user_name}</a>` : html`${who} <span class="badge">repository</span>`}</td><td>${a.role}</td>
<td>${form('revoke', html`<input type="hidden" name="grantee" value="${who}"><button class="danger small" type="submit" aria-label="Revoke access of ${who}">Revoke</button>`)}</td></tr>`;
  })}
</tbody></table></div>`
  : html`<p class="muted">No one has been granted access individually.</p>`}
${form('grant', html`<div class="field grow"><label for="grantee">User or repository</label><input id="grantee" name="grantee" required placeholder="username or owner/repository" autocomplete="off"></div>
<div class="field"><label for="grant-role">Role</label><select id="grant-role" name="role">${ROLES.map((r) => html`<option value="${r}">${r}</option>`)}</select></div>
<div class="field"><button class="primary" type="submit">Grant access</button></div>`, 'row')}
</section>

<section class="card" aria-labelledby="ver-h">
<h2 id="ver-h">Versions</h2>
${live.length
  ? html`<div class="scroll"><table class="list"><thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${live.map((v) => html`<tr><td><a href="${path}/${seg(v.version)}">${v.version}</a></td><td>${when(v.created_at)}</td><td><a class="button danger small" href="${path}/-/delete?version=${v.id}" aria-label="Delete version ${v.version}">Delete…</a></td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No live versions.</p>`}
<h3>Deleted versions</h3>
${deleted.length
  ? html`<p class="help">Deleted versions can be restored for ${plural(web.core.config.restoreDays, 'day')}.</p><div class="scroll"><table class="list"><thead><tr><th scope="col">Version</th><th scope="col">Deleted</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${deleted.map((v) => html`<tr><td>${v.version}</td><td>${when(v.deleted_at)}</td><td>${form('restore-version', html`<input type="hidden" name="version" value="${v.id}"><button class="small" type="submit" aria-label="Restore version ${v.version}">Restore</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">None.</p>`}
</section>

${trust}

${signing}

<section class="card danger-zone" id="danger" aria-labelledby="danger-h">
<h2 id="danger-h">Danger zone</h2>
${pkg.deleted_at
  ? form('restore-package', html`<p>Restore ${packageName(pkg)} and its versions that were live when it was deleted.</p><button class="primary" type="submit">Restore package</button>`)
  : html`<p>Deleting the package stops every version from installing. It can be restored for ${plural(web.core.config.restoreDays, 'day')}.</p><a class="button danger" href="${path}/-/delete">Delete this package…</a>`}
</section>`,
    }),
    status,
  );
}

/** The confirmation page: names exactly what will be deleted; the package needs its name typed. */
export async function confirmDeletePage(web: Web, req: FastifyRequest, reply: FastifyReply, pkg: PackageRow) {
  await requireAdmin(web, req, pkg);
  const q = req.query as Record<string, string>;
  const path = packagePath(pkg);
  const ctx = web.ctx(req, reply);
  const full = packageName(pkg);
  let body;
  if (q.version !== undefined) {
    const v = await web.core.packages.versionById(idParam(q.version));
    if (!v || v.package_id !== pkg.id || v.deleted_at) throw notFound('no such live version');
    body = html`<h1>Delete version ${v.version} of ${full}?</h1>
<p>Version <strong>${v.version}</strong> of the ${pkg.type} package <strong>${full}</strong> will stop installing at once. Tags pointing at it stop resolving. It can be restored from the settings page for ${plural(web.core.config.restoreDays, 'day')}.</p>
<form class="stack" action="${path}/-/settings" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="delete-version"><input type="hidden" name="version" value="${v.id}">
<div class="actions"><button class="danger" type="submit">Delete version ${v.version}</button> <a class="button" href="${path}/-/settings">Cancel</a></div></form>`;
  } else {
    body = html`<h1>Delete the package ${full}?</h1>
<p>The ${pkg.type} package <strong>${full}</strong> and all its versions will stop installing at once. It can be restored from its settings page for ${plural(web.core.config.restoreDays, 'day')}.</p>
<form class="stack" action="${path}/-/settings" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="delete-package">
<label for="confirm-name">To confirm, type <strong>${full}</strong></label>
<input id="confirm-name" name="confirm" required autocomplete="off" spellcheck="false">
<div class="actions"><button class="danger" type="submit">Delete this package</button> <a class="button" href="${path}/-/settings">Cancel</a></div></form>`;
  }
  return web.send(reply, layout(ctx, { title: `Delete · ${full}`, main: html`<section class="narrow confirm">${body}</section>` }));
}

export async function settingsPost(web: Web, req: FastifyRequest, reply: FastifyReply, pkg: PackageRow) {
  const { core } = web;
  await requireAdmin(web, req, pkg);
  const f = web.form(req);
  const action = f.get('action') ?? '';
  const settings = packageSettings(core);
  const versionOf = async () => {
    const v = await core.packages.versionById(idParam(f.get('version') ?? undefined));
    if (!v || v.package_id !== pkg.id) throw notFound('no such version');
    return v;
  };
  try {
    switch (action) {
      case 'visibility':
        await settings.update(pkg, { visibility: checkVisibility(f.get('visibility') ?? '') }, req.actor);
        break;
      case 'link':
        await settings.update(pkg, { repository: f.get('repository') ?? '' }, req.actor);
        break;
      case 'unlink':
        await settings.update(pkg, { repository: null }, req.actor);
        break;
      case 'inherit':
        await settings.update(pkg, { inheritAccess: f.get('inherit') === '1' }, req.actor);
        break;
      case 'grant':
        await settings.grant(pkg, (f.get('grantee') ?? '').trim(), checkRole(f.get('role') ?? ''), req.actor);
        break;
      case 'revoke':
        await settings.revoke(pkg, (f.get('grantee') ?? '').trim(), req.actor);
        break;
      case 'delete-version':
        await core.authz.authorize(req.actor, 'delete', pkg);
        await core.publisher.deleteVersion(pkg.id, (await versionOf()).id, req.actor);
        break;
      case 'restore-version':
        await core.authz.authorize(req.actor, 'delete', pkg);
        await core.publisher.restoreVersion(pkg.id, (await versionOf()).id, req.actor);
        break;
      case 'delete-package':
        await core.authz.authorize(req.actor, 'delete', pkg);
        if ((f.get('confirm') ?? '').trim().toLowerCase() !== packageName(pkg).toLowerCase()) throw invalid(`type ${packageName(pkg)} to confirm the deletion`);
        await core.publisher.deletePackage(pkg.id, req.actor);
        break;
      case 'restore-package':
        await core.authz.authorize(req.actor, 'delete', pkg);
        await core.publisher.restorePackage(pkg.id, req.actor);
        break;
      case 'trust-publisher':
      case 'untrust-publisher':
        await trustAction(core, req.actor, f, pkg);
        break;
      case 'trust-key':
      case 'untrust-key':
      case 'trust-identity':
      case 'untrust-identity':
      case 'require-signed':
        if (!formatOf(pkg.type)?.signing) throw invalid(`${pkg.type} packages are not verified against signing keys`);
        await signingAction(core, req.actor, f, pkg.owner_id, pkg.name);
        break;
      default:
        throw invalid('unknown action');
    }
  } catch (e) {
    if (!isWharfError(e) || e.status >= 500 || e.kind === 'Forbidden') throw e;
    return settingsGet(web, req, reply, (await core.packages.byId(pkg.id))!, { error: e.message }, e.status);
  }
  return web.redirect(reply, `${packagePath(pkg)}/-/settings?done=${action}`);
}
