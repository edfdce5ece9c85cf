// Explore: search every package the visitor may see, filtered by type and owner, sorted by relevance, downloads
// or last update.
import type { FastifyInstance } from 'fastify';
import { formats } from '../../formats/index.ts';
import { plural } from '../components.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { packageList, readable, summarize, totals } from './listing.ts';

const SORTS = { relevance: 'Best match', downloads: 'Most downloads', updated: 'Recently updated' } as const;
type Sort = keyof typeof SORTS;
const PER_PAGE = 30;
/** Matches looked at per search: enough for a self-hosted registry; the query is an indexed LIKE scan. */
const CANDIDATES = 2000;

/** What an empty registry says: every format it serves, from the one list of formats (so none is forgotten). */
export function emptyText(): string {
  const names = formats.map((f) => f.type);
  return `No packages yet. Publish one in any of the formats Wharf serves: ${names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join('')}.`;
}

export async function explorePages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;
  app.get('/', async (req, reply) => {
    const query = req.query as Record<string, string | undefined>;
    const q = (query.q ?? '').trim().slice(0, 200);
    const type = formats.some((f) => f.type === query.type) ? query.type! : '';
    const owner = (query.owner ?? '').trim().slice(0, 39);
    const sort: Sort = query.sort && query.sort in SORTS ? (query.sort as Sort) : q ? 'relevance' : 'updated';
    const page = Math.min(1000, Math.max(1, Math.floor(Number(query.page ?? 1)) || 1));

    let rows = await core.packages.search(type || undefined, q, CANDIDATES, 0);
    if (owner) rows = rows.filter((p) => p.owner_name.toLowerCase() === owner.toLowerCase());
    rows = await readable(core, req.actor, rows);
    const downloads = await totals(core, rows);
    const dl = (id: number) => downloads.get(id) ?? 0;
    const lq = q.toLowerCase();
    const score = (name: string) => {
      const n = name.toLowerCase();
      return n === lq ? 4 : n.startsWith(lq) ? 3 : n.includes(lq) ? 2 : 1;
    };
    const byUpdated = (a: { updated_at: string }, b: { updated_at: string }) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0);
    if (sort === 'downloads') rows.sort((a, b) => dl(b.id) - dl(a.id) || byUpdated(a, b));
    else if (sort === 'relevance' && q) rows.sort((a, b) => score(b.name) - score(a.name) || dl(b.id) - dl(a.id) || byUpdated(a, b));
    else rows.sort(byUpdated);

    const total = rows.length;
    const items = await summarize(core, rows.slice((page - 1) * PER_PAGE, page * PER_PAGE), downloads);
    const pages = Math.max(1, Math.ceil(total / PER_PAGE));
    const link = (p: number) => {
      const u = new URLSearchParams();
      if (q) u.set('q', q);
      if (type) u.set('type', type);
      if (owner) u.set('owner', owner);
      if (query.sort) u.set('sort', sort);
      u.set('page', String(p));
      return `/?${u}`;
    };
    const ctx = web.ctx(req, reply);
    return web.send(
      reply,
      layout(ctx, {
        title: q ? `“${q}” — packages` : 'Explore packages',
        q,
        main: html`<h1>${q ? html`Packages matching “${q}”` : 'Explore packages'}</h1>
<form class="filters" action="/" method="get" aria-label="Search and filter packages">
  <div class="field grow"><label for="f-q">Search</label><input id="f-q" type="search" name="q" value="${q}" placeholder="Name or description"></div>
  <div class="field"><label for="f-type">Type</label><select id="f-type" name="type"><option value="">All types</option>${formats.map((f) => html`<option value="${f.type}"${f.type === type ? html` selected` : ''}>${f.type}</option>`)}</select></div>
  <div class="field"><label for="f-owner">Owner</label><input id="f-owner" name="owner" value="${owner}" placeholder="any" autocomplete="off"></div>
  <div class="field"><label for="f-sort">Sort by</label><select id="f-sort" name="sort">${Object.entries(SORTS).map(([k, t]) => html`<option value="${k}"${k === sort ? html` selected` : ''}>${t}</option>`)}</select></div>
  <div class="field"><button class="primary" type="submit">Search</button></div>
</form>
<p class="count" role="status">${plural(total, 'package')}${total > PER_PAGE ? ` · page ${page} of ${pages}` : ''}</p>
${packageList(items, { empty: q || type || owner ? 'No package you may see matches. Try fewer words or another filter.' : emptyText() })}
${pages > 1
  ? html`<nav class="pager" aria-label="Pages">${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">← Previous</a>` : ''}${page < pages ? html`<a href="${link(page + 1)}" rel="next">Next →</a>` : ''}</nav>`
  : ''}`,
      }),
    );
  });
}
