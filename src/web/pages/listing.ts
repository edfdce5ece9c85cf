// Lists of packages (explore, owner and repository pages): filtering by access and the list markup.
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Visibility } from '../../db/tables.ts';
import { count, packagePath, typeIcon, visibilityBadge, when } from '../components.ts';
import { html, type Html } from '../html.ts';

export interface PackageSummary {
  pkg: PackageRow;
  visibility: Visibility;
  downloads: number;
  description: string;
  latest: string | null;
}

/** The packages of `rows` the actor may read (the one access decision: core.authz.canRead). */
export async function readable(core: Core, actor: Actor, rows: PackageRow[]): Promise<PackageRow[]> {
  const ok = await Promise.all(rows.map((p) => core.authz.canRead(actor, p)));
  return rows.filter((_, i) => ok[i]);
}

/** Total downloads per package, flushed and still buffered. */
export async function totals(core: Core, rows: PackageRow[]): Promise<Map<number, number>> {
  return core.packages.downloadTotals(rows.map((p) => p.id));
}

/** What a list row shows. */
export async function summarize(core: Core, rows: PackageRow[], downloads?: Map<number, number>): Promise<PackageSummary[]> {
  const d = downloads ?? (await totals(core, rows));
  return Promise.all(
    rows.map(async (pkg) => {
      const meta = safeJson(pkg.metadata) as { description?: unknown; latest?: unknown };
      return {
        pkg,
        visibility: await core.authz.effectiveVisibility(pkg),
        downloads: d.get(pkg.id) ?? 0,
        description: typeof meta.description === 'string' ? meta.description : '',
        latest: typeof meta.latest === 'string' ? meta.latest : null,
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

export function packageList(items: PackageSummary[], opts: { showOwner?: boolean; empty?: string } = {}): Html {
  if (!items.length) return html`<p class="empty">${opts.empty ?? 'No packages here yet.'}</p>`;
  return html`<ul class="pkglist">${items.map(
    (s) => html`<li class="pkg">
  <div class="pkg-head">${typeIcon(s.pkg.type)} <a class="pkg-name" href="${packagePath(s.pkg)}">${opts.showOwner !== false ? html`<span class="owner">${s.pkg.owner_name}/</span>` : ''}${s.pkg.name}</a> ${visibilityBadge(s.visibility)}</div>
  ${s.description ? html`<p class="desc">${short(s.description)}</p>` : ''}
  <p class="meta">${s.latest ? html`<span>v${s.latest}</span>` : ''}<span>${count(s.downloads)} downloads</span><span>Updated ${when(s.pkg.updated_at)}</span></p>
</li>`,
  )}</ul>`;
}
