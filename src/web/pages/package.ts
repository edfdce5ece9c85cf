// The package page: name, type, visibility, linked repository, README, install command, versions with tags and
// downloads, a downloads chart, and the format's facts for one version. Everything format-specific comes from
// the Format (describe, versionMetadata, versionFacts); this file never looks at the package type's value.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { Core } from '../../core/core.ts';
import { invalid, isWharfError, notFound } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { PackageVersion } from '../../db/tables.ts';
import { formatOf } from '../../formats/index.ts';
import { PUBLISHED_VIA, type PublishedVia } from '../../core/auth/trusted-publishers.ts';
import { banner, copyBlock, count, downloadsChart, factsView, headingName, packageName, packagePath, plural, typeIcon, versionLabel, visibilityBadge, when } from '../components.ts';
import { html, seg, type Html } from '../html.ts';
import { csrfField, layout } from '../layout.ts';
import { renderMarkdown } from '../markdown.ts';
import type { Web } from '../web.ts';
import { safeJson } from './listing.ts';
import { confirmDeletePage, settingsGet, settingsPost } from './package-settings.ts';

/** May the actor do `action` on the package? (core.authz decides; this only turns its answer into a boolean.) */
export async function may(core: Core, actor: Actor, action: Action, pkg: PackageRow): Promise<boolean> {
  try {
    await core.authz.authorize(actor, action, pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * The package a URL names, if the actor may read it; a deleted one only for those who may restore it.
 * Anything else is a 404, the same as a package that does not exist.
 */
export async function packageFor(core: Core, actor: Actor, owner: string, type: string, name: string): Promise<PackageRow> {
  if (!formatOf(type)) throw notFound();
  const pkg = await core.packages.find(owner, type, name, { includeDeleted: true });
  if (!pkg || !(await core.authz.canRead(actor, pkg))) throw notFound();
  if (pkg.deleted_at && !(await may(core, actor, 'delete', pkg))) throw notFound();
  return pkg;
}

/** The version a package's install command names by default: the recorded latest while it is live (as the REST API does). */
export function defaultVersion(pkg: PackageRow, versions: PackageVersion[], tags: { name: string; version: string }[]): { install: string | null; shown: PackageVersion | undefined } {
  const latest = safeJson(pkg.metadata).latest;
  const live = (v: string) => versions.find((x) => x.version === v);
  if (typeof latest === 'string' && live(latest)) return { install: latest, shown: live(latest) };
  const tagged = tags.find((t) => t.name === 'latest');
  const fallback = (tagged && live(tagged.version)) ?? versions.at(-1);
  // Without a recorded latest, the format's own default applies where a 'latest' tag exists (an image's
  // :latest); otherwise the newest version is named, so the command shown always installs something.
  return { install: typeof latest === 'string' || !tagged ? (fallback?.version ?? null) : null, shown: fallback };
}

/**
 * A README worth showing, or ''. npm fills a package without one with the placeholder below ("ERROR: No README
 * data found!", read-package-json's text, kept by registries as published): that is no README, as is blank text.
 */
export function readmeText(text: unknown): string {
  if (typeof text !== 'string' || !text.trim()) return '';
  if (/^\s*ERROR: No README data found!\s*$/.test(text)) return '';
  return text;
}

/** Splits /OWNER/-/packages/TYPE/NAME/... into decoded segments after "packages". */
export function packageSegments(url: string): string[] | null {
  const pathOnly = url.split('?')[0];
  const i = pathOnly.indexOf('/-/packages/');
  if (i < 0) return null;
  try {
    return pathOnly.slice(i + '/-/packages/'.length).split('/').filter((s, j, a) => s !== '' || j < a.length - 1).map(decodeURIComponent);
  } catch {
    return null;
  }
}

export async function packagePages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function dispatch(req: FastifyRequest, reply: FastifyReply) {
    const parts = packageSegments(req.url);
    if (!parts || parts.length < 2) throw notFound();
    const [type, name, ...rest] = parts;
    const owner = (req.params as { owner: string }).owner;
    const pkg = await packageFor(core, req.actor, owner, type, name);
    if (rest[0] === '-' && rest.length === 2) {
      if (rest[1] === 'settings') return req.method === 'POST' ? settingsPost(web, req, reply, pkg) : settingsGet(web, req, reply, pkg);
      if (rest[1] === 'delete' && req.method === 'GET') return confirmDeletePage(web, req, reply, pkg);
      if (rest[1] === 'promote' && req.method === 'POST') return promotePost(req, reply, pkg);
      throw notFound();
    }
    if (req.method !== 'GET' || rest.length > 1) throw notFound();
    return packagePage(req, reply, pkg, rest[0]);
  }
  app.get('/:owner/-/packages/*', dispatch);
  app.post('/:owner/-/packages/*', dispatch);

  /** The Promote form of a version page (admins): to another owner here, or to another registry with a token. */
  async function promotePost(req: FastifyRequest, reply: FastifyReply, pkg: PackageRow) {
    web.requireUser(req);
    const f = web.form(req);
    const v = await core.packages.versionById(Number(f.get('version')) || -1);
    if (!v || v.package_id !== pkg.id || v.deleted_at) throw notFound();
    const owner = (f.get('to_owner') ?? '').trim();
    const url = (f.get('to') ?? '').trim();
    const opt = (k: string) => (f.get(k) ?? '').trim() || undefined;
    try {
      if (!owner === !url) throw invalid('give either an owner of this Wharf or a registry URL');
      // With a username, the secret field is its password; alone, it is a token.
      const user = opt('username');
      const to = owner ? { owner, name: opt('name') } : { url, credentials: user ? { username: user, password: opt('token') } : { token: opt('token') } };
      await core.promotions.promote(req.actor, { pkg, version: v, to }, formatOf(pkg.type)!.promoter!);
    } catch (e) {
      // A refusal is shown on the page (the actor may read it: packageFor checked); Forbidden and NotFound go to the handler.
      if (!isWharfError(e) || (e.status >= 500 && e.kind !== 'Upstream') || e.kind === 'Forbidden' || e.kind === 'NotFound') throw e;
      return packagePage(req, reply, pkg, v.version, { error: e.message, status: e.status });
    }
    return web.redirect(reply, `${packagePath(pkg)}/${seg(v.version)}?promoted=1`);
  }

  async function packagePage(req: FastifyRequest, reply: FastifyReply, pkg: PackageRow, versionParam: string | undefined, notice?: { error: string; status: number }) {
    const fmt = formatOf(pkg.type)!;
    const days = (req.query as Record<string, string>).days === '90' ? 90 : 30;
    const [all, tags, downloads, daily, visibility, isAdmin] = await Promise.all([
      core.packages.versions(pkg.id, { includeDeleted: true }),
      core.packages.tags(pkg.id),
      core.packages.downloadsByVersion(pkg.id),
      core.packages.downloadsByDay(pkg.id, days),
      core.authz.effectiveVisibility(pkg),
      may(core, req.actor, 'admin', pkg),
    ]);
    // One truth with the lists: deleted (yanked, unpublished) versions are not versions any more, but their
    // downloads still happened, so the total and the chart count them.
    const versions = all.filter((v) => !v.deleted_at);
    let shown: PackageVersion | undefined;
    let installVersion: string | null;
    if (versionParam !== undefined) {
      shown = versions.find((v) => v.version === versionParam) ?? versions.find((v) => v.lower_version === versionParam.toLowerCase());
      if (!shown) throw notFound();
      installVersion = shown.version;
    } else {
      ({ shown, install: installVersion } = defaultVersion(pkg, versions, tags));
    }
    const repo = pkg.repository_id != null ? await core.identity.repoById(pkg.repository_id) : undefined;
    const showRepo = repo && (await core.authz.canReadRepo(req.actor, repo));
    // A proxy's package (core/proxy): cached from its upstream, which the page names.
    const proxied = await core.proxies.byOwnerId(pkg.owner_id);

    const tagsOf = new Map<number, string[]>();
    for (const t of tags) tagsOf.set(t.version_id, [...(tagsOf.get(t.version_id) ?? []), t.name]);
    const dl = (id: number) => (downloads.get(id) ?? 0) + core.downloads.pendingFor(id);
    let total = 0;
    let pendingToday = 0;
    for (const v of all) {
      total += dl(v.id);
      pendingToday += core.downloads.pendingFor(v.id);
    }
    // Buffered counts are today's, not yet written: the chart shows them as the lists and the total do.
    const today = new Date().toISOString().slice(0, 10);
    const chartRows = pendingToday ? [...daily.filter((r) => r.day !== today), { day: today, count: (daily.find((r) => r.day === today)?.count ?? 0) + pendingToday }] : daily;

    const base = web.ctx(req, reply).base;
    const installId = versions.find((v) => v.version === installVersion)?.id;
    // The files of the version shown, for formats whose clients fetch files by name (generic packages).
    const installFiles = installId !== undefined ? (await core.packages.files(installId)).map((f) => f.name) : undefined;
    const install = fmt.describe(pkg, installVersion, base, installId !== undefined ? tagsOf.get(installId) : undefined, installFiles);
    const pkgMeta = safeJson(pkg.metadata);
    const shownMeta = shown ? safeJson(shown.metadata) : {};
    const description = typeof pkgMeta.description === 'string' ? pkgMeta.description : '';
    const readme = readmeText(shownMeta.readme) || description;

    let facts: Record<string, unknown> = {};
    if (shown) {
      facts = { ...(fmt.versionMetadata?.(shown, tagsOf.get(shown.id) ?? []) ?? {}) };
      const extra = (await fmt.versionFacts?.(core, pkg, shown).catch(() => ({}))) ?? {};
      for (const [k, val] of Object.entries(extra)) {
        const cur = facts[k];
        facts[k] = cur && typeof cur === 'object' && val && typeof val === 'object' ? { ...cur, ...val } : val;
      }
    }

    // A trusted publisher's run (as npmjs shows "published via GitHub Actions"): the provider, repository, workflow and run.
    const viaJson = shown ? (await core.packages.versionProperty([shown.id], PUBLISHED_VIA)).get(shown.id) : undefined;
    const via = viaJson ? (JSON.parse(viaJson) as PublishedVia) : null;
    // Where the shown version went (core/promote.ts); admins get the form that sends it further.
    const promotions = shown && versionParam !== undefined ? await core.promotions.list(shown.id) : [];
    const canPromote = isAdmin && !!shown && versionParam !== undefined && !pkg.deleted_at && !!fmt.promoter;
    const promoted = (req.query as Record<string, string>).promoted === '1';

    const ordered = [...versions].reverse();
    const ctx = web.ctx(req, reply, { forForm: canPromote });
    const path = packagePath(pkg);
    const title = packageName(pkg);
    return web.send(
      reply,
      layout(ctx, {
        title: shown && versionParam !== undefined ? `${title} ${shown.version}` : title,
        wide: true,
        main: html`<p class="crumbs"><a href="/${seg(pkg.owner_name)}">${pkg.owner_name}</a> / packages</p>
<header class="pkg-title">
  <h1>${typeIcon(pkg.type)} <span class="pkg-fullname">${headingName(pkg)}</span> ${visibilityBadge(visibility)}</h1>
  ${description ? html`<p class="lead">${description}</p>` : ''}
  <p class="meta">${showRepo ? html`<span>Repository <a href="/${seg(repo!.owner_name)}/${seg(repo!.name)}">${repo!.owner_name}/${repo!.name}</a></span>` : ''}${proxied ? html`<span class="proxied">Proxied from <code>${proxied.upstream}</code></span>` : ''}<span>${plural(versions.length, 'version')}</span><span>${plural(total, 'download')}</span><span>Updated ${when(pkg.updated_at)}</span>${isAdmin ? html`<a class="button small" href="${path}/-/settings">Package settings</a>` : ''}</p>
</header>
${notice ? banner('error', html`Not promoted: ${notice.error}`) : promoted && promotions.length ? banner('notice', html`Promoted to <code>${promotions[0].target}</code>; the copy was checked there.`) : ''}
${pkg.deleted_at ? banner('error', html`This package was deleted ${when(pkg.deleted_at)}. It no longer installs. ${isAdmin ? html`<a href="${path}/-/settings#danger">Restore it</a>` : ''}`) : ''}
<div class="columns">
<div class="main-col">
  <section aria-labelledby="install-h" class="card">
    <h2 id="install-h">Install${shown && versionParam !== undefined ? html` <span class="muted">${versionLabel(shown.version)}</span>` : ''}</h2>
    ${copyBlock('install-cmd', 'Install command', install.install)}
    ${install.setup ? html`<details class="setup"><summary>Set up your client</summary>${copyBlock('setup-cmd', 'Client setup', install.setup)}</details>` : ''}
  </section>
  ${shown && via ? publishedViaView(shown.version, via) : ''}
  ${readme ? html`<section aria-labelledby="readme-h" class="readme card"><h2 id="readme-h" class="sr-only">README</h2><div class="markdown">${renderMarkdown(readme)}</div></section>` : ''}
  ${shown && Object.keys(facts).length
    ? html`<section aria-labelledby="facts-h" class="card"><h2 id="facts-h">Details of ${versionLabel(shown.version)}</h2>${factsView(facts)}</section>`
    : ''}
</div>
<aside class="side-col">
  <section aria-labelledby="dl-h" class="card">
    <h2 id="dl-h">Downloads</h2>
    <nav class="chips" aria-label="Chart period"><a href="${path}${versionParam !== undefined ? `/${seg(versionParam)}` : ''}?days=30"${days === 30 ? html` aria-current="page"` : ''}>30 days</a><a href="${path}${versionParam !== undefined ? `/${seg(versionParam)}` : ''}?days=90"${days === 90 ? html` aria-current="page"` : ''}>90 days</a></nav>
    ${downloadsChart(chartRows, days)}
  </section>
  ${promotions.length ? html`<section aria-labelledby="promoted-h" class="card">
    <h2 id="promoted-h">Promoted</h2>
    <ul class="plain promotions">${promotions.map((p) => html`<li><code>${p.target}</code> <span class="muted">${when(p.created_at)}${p.actor ? html` by ${p.actor}` : ''}</span></li>`)}</ul>
  </section>` : ''}
  ${canPromote ? html`<section aria-labelledby="promote-h" class="card">
    <h2 id="promote-h">Promote ${versionLabel(shown!.version)}</h2>
    <p class="muted">Copies this version and every one of its files, byte for byte, and checks the copy there.</p>
    <form class="stack" action="${path}/-/promote" method="post">${csrfField(ctx)}<input type="hidden" name="version" value="${shown!.id}">
      <label for="promote-owner">To an owner of this Wharf</label><input id="promote-owner" name="to_owner" autocomplete="off" spellcheck="false" placeholder="organization">
      ${fmt.promoter!.renames ? html`<label for="promote-name">Name there <span class="muted">(optional)</span></label><input id="promote-name" name="name" autocomplete="off" spellcheck="false" placeholder="${pkg.name}">` : ''}
      <button type="submit">Promote to owner</button>
    </form>
    ${fmt.promoter!.push ? html`<form class="stack" action="${path}/-/promote" method="post">${csrfField(ctx)}<input type="hidden" name="version" value="${shown!.id}">
      <label for="promote-url">To another registry</label><input id="promote-url" name="to" type="url" autocomplete="off" spellcheck="false" placeholder="https://registry.example.com/">
      <label for="promote-user">Username <span class="muted">(optional)</span></label><input id="promote-user" name="username" autocomplete="off">
      <label for="promote-token">Token or password</label><input id="promote-token" name="token" type="password" autocomplete="off">
      <button type="submit">Promote to registry</button>
    </form>` : ''}
  </section>` : ''}
  <section aria-labelledby="tags-h" class="card">
    <h2 id="tags-h">Tags</h2>
    ${tags.length ? html`<ul class="plain tags">${tags.map((t) => html`<li><span class="tag">${t.name}</span> → <a href="${path}/${seg(t.version)}">${versionLabel(t.version)}</a></li>`)}</ul>` : html`<p class="muted">No tags.</p>`}
  </section>
</aside>
</div>
<section aria-labelledby="versions-h" class="card">
  <h2 id="versions-h">Versions <span class="muted">(${count(versions.length)})</span></h2>
  ${ordered.length
    ? html`<div class="scroll"><table class="list versions">
<thead><tr><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Published</th><th scope="col" class="num">Downloads</th></tr></thead>
<tbody>${ordered.map((v) => html`<tr${shown?.id === v.id ? html` class="current"` : ''}><td><a href="${path}/${seg(v.version)}">${versionLabel(v.version)}</a></td><td>${(tagsOf.get(v.id) ?? []).map((t) => html`<span class="tag">${t}</span> `)}</td><td>${when(v.created_at)}</td><td class="num">${count(dl(v.id))}</td></tr>`)}</tbody>
</table></div>`
    : html`<p class="muted">No live versions.${isAdmin ? html` Deleted ones can be restored in <a href="${path}/-/settings">settings</a>.` : ''}</p>`}
</section>`,
      }),
      notice?.status,
    );
  }
}

const PROVIDER_NAMES: Record<string, string> = { github: 'GitHub Actions', gitlab: 'GitLab CI', generic: 'OpenID Connect' };

/** "Published via GitHub Actions": the workflow run a trusted publisher's ID token named, and a link to it. */
function publishedViaView(version: string, via: PublishedVia) {
  const c = via.claims;
  const rows: [string, string | undefined][] = [
    ['Repository', c.repository ?? c.project_path], ['Workflow', c.workflow_ref ?? c.ci_config_ref_uri], ['Environment', c.environment],
    ['Ref', c.ref], ['Commit', c.sha ?? c.ci_config_sha], ['Triggered by', c.event_name], ['Subject', via.provider === 'generic' ? c.sub : undefined], ['Issuer', via.issuer],
  ];
  return html`<section aria-labelledby="via-h" class="card published-via"><h2 id="via-h">Published via ${PROVIDER_NAMES[via.provider] ?? via.provider}</h2>
<p class="help">${versionLabel(version)} was published by a trusted publisher: a CI job that proved who it is with an OpenID Connect ID token, with no stored secret.</p>
<dl class="facts">${rows.filter(([, v]) => v).map(([k, v]) => html`<dt>${k}</dt><dd><code>${v!}</code></dd>`)}</dl>
${via.run_url ? html`<p><a href="${via.run_url}" rel="nofollow noopener">View the run</a></p>` : ''}
</section>`;
}
