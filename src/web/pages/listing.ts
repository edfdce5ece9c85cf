// Lists of packages (explore, owner and repository pages): filtering by access and the list markup.
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { packageDownloadTotals } from '../../core/model/downloads.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Visibility } from '../../db/tables.ts';
import { packageName, packagePath, plural, typeIcon, versionLabel, visibilityBadge, when } from '../components.ts';
import { html, type Html } from '../html.ts';

export interface PackageSummary {
  pkg: PackageRow;
  visibility: Visibility;
  /** Every download, of live and of deleted (yanked, unpublished) versions: the package page counts the same. */
  downloads: number;
  description: string;
  /** Live versions: what the package page counts. */
  versions: number;
  /** The version the package page shows by default (see defaultVersion), and its tags. */
  latest: string | null;
  tags: string[];
}

/** The packages of `rows` the actor may read (the one access decision: core.authz.canRead). */
export async function readable(core: Core, actor: Actor, rows: PackageRow[]): Promise<PackageRow[]> {
  const ok = await Promise.all(rows.map((p) => core.authz.canRead(actor, p)));
  return rows.filter((_, i) => ok[i]);
}

/** Total downloads per package (core/model/downloads.ts: the REST API counts the same). */
export const totals = (core: Core, rows: PackageRow[]) => packageDownloadTotals(core, rows.map((p) => p.id));

/** What a list row shows. */
export async function summarize(core: Core, rows: PackageRow[], downloads?: Map<number, number>): Promise<PackageSummary[]> {
  const d = downloads ?? (await totals(core, rows));
  const metas = new Map(rows.map((p) => [p.id, safeJson(p.metadata) as { description?: unknown; latest?: unknown }]));
  const recorded = new Map<number, string>();
  for (const [id, m] of metas) if (typeof m.latest === 'string') recorded.set(id, m.latest);
  const facts = await core.packages.listFacts(rows.map((p) => p.id), recorded);
  return Promise.all(
    rows.map(async (pkg) => {
      const meta = metas.get(pkg.id)!;
      const f = facts.get(pkg.id);
      // The package page's rule (defaultVersion): the recorded latest while it is live, else the version tagged
      // latest, else the newest live one. A yanked latest is never shown here.
      const latest = !f ? null : f.wantedLive ? recorded.get(pkg.id)! : (f.tags.find((t) => t.name === 'latest')?.version ?? f.newest);
      return {
        pkg,
        visibility: await core.authz.effectiveVisibility(pkg),
        downloads: d.get(pkg.id) ?? 0,
        description: typeof meta.description === 'string' ? meta.description : '',
        versions: f?.versions ?? 0,
        latest,
        tags: f && latest !== null ? f.tags.filter((t) => t.version === latest).map((t) => t.name) : [],
      };
    }),
  );
}

export function safeJson(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** Plain-text summary of a description (first 200 characters; Markdown shown as typed, never rendered here). */
const short = (s: string) => (s.length > 200 ? `${s.slice(0, 199)}…` : s);

/** At most this many tags of a list row's version are shown (an image can have hundreds). */
const LIST_TAGS = 5;

/** A list row's name: the format's own spelling (npm's `@alice/hello`) or OWNER/NAME, the owner part dimmed. */
function rowName(pkg: PackageRow, showOwner: boolean): Html {
  const full = packageName(pkg);
  const cut = full.lastIndexOf('/') + 1;
  // On an owner's page the owner is implied, unless it is part of the name the format's clients use (npm's scope).
  if (!showOwner && full === `${pkg.owner_name}/${pkg.name}`) return html`${pkg.name}`;
  return html`<span class="owner">${full.slice(0, cut)}</span>${full.slice(cut)}`;
}

export function packageList(items: PackageSummary[], opts: { showOwner?: boolean; empty?: string } = {}): Html {
  if (!items.length) return html`<p class="empty">${opts.empty ?? 'No packages here yet.'}</p>`;
  return html`<ul class="pkglist">${items.map((s) => {
    // A tag reads better than a digest: an image's row shows its tags alone.
    const digest = s.latest !== null && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(s.latest);
    const tags = s.tags.slice(0, LIST_TAGS);
    return html`<li class="pkg">
  <div class="pkg-head">${typeIcon(s.pkg.type)} <a class="pkg-name" href="${packagePath(s.pkg)}">${rowName(s.pkg, opts.showOwner !== false)}</a> ${visibilityBadge(s.visibility)}</div>
  ${s.description ? html`<p class="desc">${short(s.description)}</p>` : ''}
  <p class="meta">${s.latest !== null && !(digest && tags.length) ? html`<span>${digest ? versionLabel(s.latest) : `v${s.latest}`}</span>` : ''}${tags.length ? html`<span class="row-tags" aria-label="Tags">${tags.map((t) => html`<span class="tag">${t}</span> `)}${s.tags.length > LIST_TAGS ? html`<span class="muted">+${s.tags.length - LIST_TAGS} more</span>` : ''}</span>` : ''}<span>${plural(s.versions, 'version')}</span><span>${plural(s.downloads, 'download')}</span><span>Updated ${when(s.pkg.updated_at)}</span></p>
</li>`;
  })}</ul>`;
}
