// An owner's storage usage and quota in its settings, for those who manage it (core/usage.ts decides):
//   /OWNER/-/settings/usage   bytes stored (a blob once per owner), packages, versions, downloads, per package
import type { FastifyInstance } from 'fastify';
import { isWharfError, notFound } from '../../core/errors.ts';
import { formatSize } from '../../core/usage.ts';
import { html, seg } from '../html.ts';
import { layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { settingsNav } from './settings-nav.ts';

export async function usagePages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;
  app.get('/:owner/-/settings/usage', async (req, reply) => {
    web.requireUser(req);
    const name = (req.params as Record<string, string>).owner;
    let r;
    try {
      r = await core.publisher.usage.report(req.actor, name);
    } catch (e) {
      // Who may not manage the owner sees no page at all.
      if (isWharfError(e)) throw notFound();
      throw e;
    }
    const q = r.quota;
    const limit = (used: number, max: number | null, fmt: (n: number) => string) =>
      max == null ? html`${fmt(used)} <span class="muted">(no limit)</span>` : html`${fmt(used)} of ${fmt(max)} <meter min="0" max="${max}" value="${Math.min(used, max)}" high="${max * 0.9}">${Math.round((used / Math.max(max, 1)) * 100)}%</meter>`;
    return web.send(
      reply,
      layout(web.ctx(req, reply), {
        title: `Storage · ${r.owner.name}`,
        main: html`<p class="crumbs"><a href="/${seg(r.owner.name)}">${r.owner.name}</a> / Settings</p>
<h1>Storage and quota</h1>
${settingsNav(r.owner as { name: string; kind: 'user' | 'org' }, 'usage')}
<p class="lead">What the live versions of ${r.owner.name}'s packages hold. A file shared by several versions or packages (a base layer) counts once; deleted versions count again only when restored.</p>
<dl class="facts">
  <dt>Storage</dt><dd>${limit(r.usage.bytes, q.storageBytes, formatSize)}</dd>
  <dt>Packages</dt><dd>${limit(r.usage.packages, q.packages, String)}</dd>
  <dt>Versions</dt><dd>${r.usage.versions}</dd>
  <dt>Downloads</dt><dd>${r.usage.downloads}</dd>
  <dt>Quota</dt><dd>${q.override ? 'set for this owner by a site administrator' : 'the instance default'}</dd>
</dl>
${r.packages.length
  ? html`<table><thead><tr><th scope="col">Package</th><th scope="col">Type</th><th scope="col" class="num">Size</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Downloads</th></tr></thead><tbody>
${r.packages.map((p) => html`<tr><td><a href="/${seg(r.owner.name)}/-/packages/${seg(p.type)}/${seg(p.name)}">${p.name}</a></td><td>${p.type}</td><td class="num">${formatSize(p.bytes)}</td><td class="num">${p.versions}</td><td class="num">${p.downloads}</td></tr>`)}
</tbody></table>`
  : html`<p class="muted">No packages yet.</p>`}`,
      }),
    );
  });
}
