// The audit log in the web UI, newest first, filtered by GitHub's search phrase and paged by cursor:
//   /-/settings/audit          the signed-in user's: what they did, what was done to their account, and what
//                              happened in their own namespace (GET /api/v1/user/audit-log)
//   /OWNER/-/settings/audit    an organization's (its owners and site admins; GET /api/v1/orgs/:org/audit-log),
//                              or a user namespace's for a site admin
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parsePhrase, type AuditQuery } from '../../core/audit/audit.ts';
import { isWharfError, notFound } from '../../core/errors.ts';
import type { AuditLogRow, Owner } from '../../db/tables.ts';
import { decodeCursor, encodeCursor } from '../../http/rest/audit.ts';
import { banner, when } from '../components.ts';
import { html, seg, type Html } from '../html.ts';
import { layout } from '../layout.ts';
import type { Web } from '../web.ts';
import { settingsNav } from './settings-nav.ts';

const PER_PAGE = 50;

const CREDENTIAL_TEXT: Record<string, string> = {
  password: 'password', token: 'personal token', job: 'job token', registry: 'registry token', session: 'web session', system: 'wharf CLI', anonymous: 'anonymous',
};

/** The facts of an entry as `key: value` pairs (values are data, escaped like everything else). */
function facts(r: AuditLogRow): Html {
  const d = JSON.parse(r.details) as Record<string, unknown>;
  const pairs = Object.entries(d).filter(([k]) => k !== 'package_type' && k !== 'package' && k !== 'version');
  return html`${pairs.map(([k, v]) => html`<span class="fact"><span class="muted">${k.replace(/_/g, ' ')}:</span> <code>${typeof v === 'string' ? v : JSON.stringify(v)}</code></span> `)}`;
}

function rows(entries: AuditLogRow[]): Html {
  return html`<div class="scroll"><table class="list audit">
<thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">From</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead>
<tbody>${entries.map((r) => html`<tr data-action="${r.action}">
<td>${when(r.created_at)}</td>
<td><code>${r.action}</code></td>
<td>${r.actor_name ?? html`<span class="muted">${r.credential === 'system' ? 'system' : 'anonymous'}</span>`} <span class="badge">${CREDENTIAL_TEXT[r.credential] ?? r.credential}</span></td>
<td>${r.client_ip ? html`<code>${r.client_ip}</code>` : html`<span class="muted">—</span>`}</td>
<td>${r.target ?? r.user_name ?? r.repository_name ?? html`<span class="muted">—</span>`}${r.owner_name ? html` <span class="muted">in ${r.owner_name}</span>` : ''}</td>
<td>${facts(r)}</td>
</tr>`)}</tbody></table></div>`;
}

export async function auditPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function page(req: FastifyRequest, reply: FastifyReply, o: { scope: Pick<AuditQuery, 'ownerId' | 'relatedTo'>; path: string; title: string; crumbs: Html; nav: Html }) {
    const q = req.query as Record<string, string | undefined>;
    const phrase = (q.phrase ?? '').trim();
    let error: string | undefined;
    let result = { entries: [] as AuditLogRow[], next: null as number | null, prev: null as number | null };
    try {
      result = await core.audit.list({ ...o.scope, filter: parsePhrase(phrase), after: decodeCursor(q.after, 'after'), before: decodeCursor(q.before, 'before'), limit: PER_PAGE });
    } catch (e) {
      if (!isWharfError(e) || e.kind !== 'Invalid') throw e;
      error = e.message;
    }
    const link = (key: 'after' | 'before', id: number) => `${o.path}?${new URLSearchParams({ ...(phrase ? { phrase } : {}), [key]: encodeCursor(id) })}`;
    return web.send(
      reply,
      layout(web.ctx(req, reply), {
        title: o.title,
        wide: true,
        main: html`${o.crumbs}
<h1>Audit log</h1>
${o.nav}
<p class="lead">Security-relevant changes, newest first: tokens, sign-in failures, members and roles, visibility, package access, signing, webhooks, deleted and restored packages.</p>
<form class="row" action="${o.path}" method="get" role="search">
  <div class="field grow"><label for="audit-phrase">Filter</label>
  <input id="audit-phrase" name="phrase" value="${phrase}" placeholder="action:package actor:alice created:>=2026-01-01" aria-describedby="audit-phrase-help" spellcheck="false"></div>
  <button type="submit">Filter</button>
</form>
<p id="audit-phrase-help" class="help"><code>action:</code> (an action, or a category such as <code>org</code>), <code>-action:</code>, <code>actor:</code>, <code>user:</code>, <code>repo:</code>, <code>created:</code> (a date, <code>&gt;=</code>/<code>&lt;</code> a date, or <code>A..B</code>)</p>
${error ? banner('error', error) : ''}
${result.entries.length ? rows(result.entries) : html`<p class="muted">${phrase ? 'No entry matches.' : 'Nothing has been recorded yet.'}</p>`}
${result.next !== null || result.prev !== null
  ? html`<nav class="pager" aria-label="Pages">${result.prev !== null ? html`<a href="${link('before', result.prev)}" rel="prev">← Newer</a>` : html`<span></span>`}${result.next !== null ? html`<a href="${link('after', result.next)}" rel="next">Older →</a>` : ''}</nav>`
  : ''}`,
      }),
      error ? 400 : 200,
    );
  }

  app.get('/-/settings/audit', async (req, reply) => {
    const a = web.requireUser(req);
    const me: Pick<Owner, 'name' | 'kind'> = { name: a.user.name, kind: 'user' };
    return page(req, reply, { scope: { relatedTo: a.user.id }, path: '/-/settings/audit', title: 'Audit log', crumbs: html`<p class="crumbs"><a href="/${seg(a.user.name)}">${a.user.name}</a> / Settings</p>`, nav: settingsNav(me, 'audit') });
  });

  app.get('/:owner/-/settings/audit', async (req, reply) => {
    web.requireUser(req);
    const owner = await core.identity.findOwner((req.params as Record<string, string>).owner);
    if (!owner || !(await core.authz.mayManage(req.actor, { what: 'owner', owner }))) throw notFound();
    return page(req, reply, {
      scope: { ownerId: owner.id },
      path: `/${seg(owner.name)}/-/settings/audit`,
      title: `Audit log · ${owner.name}`,
      crumbs: html`<p class="crumbs"><a href="/${seg(owner.name)}">${owner.name}</a> / Settings</p>`,
      nav: settingsNav(owner, 'audit'),
    });
  });
}
