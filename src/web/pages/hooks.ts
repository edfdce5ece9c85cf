// Webhooks of an owner (user or org) or a repository: list, add, edit, delete, and each hook's recent deliveries
// with their status, duration, payload and response, and redelivery. The same core service as the REST API and
// the CLI (core.webhooks); who may manage them is decided by core.authz (canManageOwner, canManageRepo).
//
//   /OWNER/-/settings/hooks[/ID]         an owner's hooks
//   /OWNER/REPO/-/settings/hooks[/ID]    a repository's hooks
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, invalid, isWharfError, notFound } from '../../core/errors.ts';
import { HOOK_EVENTS, type HookInput, type HookScope } from '../../core/events/webhooks.ts';
import type { Webhook, WebhookDelivery } from '../../db/tables.ts';
import { idParam } from '../../http/rest/common.ts';
import { banner, when } from '../components.ts';
import { html, seg, type Child, type Html } from '../html.ts';
import { csrfField, layout, type PageContext } from '../layout.ts';
import type { Web } from '../web.ts';
import { repoSettingsNav, settingsNav } from './settings-nav.ts';

type P = Record<string, string>;

/** Where hooks live, as a page sees it. */
interface Place {
  scope: HookScope;
  /** Path of the hooks list page. */
  base: string;
  /** `alice` or `alice/hello`. */
  name: string;
  crumbs: Html;
  nav: Html;
}

const DONE: Record<string, string> = {
  created: 'Webhook added. Package events of this scope are now delivered to it.',
  updated: 'Webhook updated.',
  deleted: 'Webhook deleted.',
  redelivered: 'Redelivery queued: it appears below once sent.',
};

const EVENT_TEXT: Record<string, string> = {
  package: 'Package events: published, updated (tags), deleted, restored',
  '*': 'Every event',
};

function deliveryState(d: WebhookDelivery): Html {
  if (d.status === 'delivered') return html`<span class="badge ok">Delivered</span>`;
  if (d.status === 'failed') return html`<span class="badge failed">Failed</span>`;
  return html`<span class="badge warn">${d.attempts ? 'Retrying' : 'Pending'}</span>`;
}

function prettyJson(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

/** A delivery's response body, or why it is not shown (a private target's is for site admins only). */
function responseBody(r: { body: string | null; hidden: boolean }): Html {
  if (r.hidden) return html`<p class="muted response-hidden">The response came from a private address a site admin allowed; only site admins see its body (the status code is shown).</p>`;
  return r.body ? html`<pre class="plain response">${r.body}</pre>` : html`<p class="muted">None.</p>`;
}

/** The fields shared by the add and edit forms. */
function hookFields(hook: Webhook | null, input?: Partial<HookInput>): Html {
  const url = input?.url ?? hook?.url ?? '';
  const ct = input?.contentType ?? hook?.content_type ?? 'json';
  const events = input?.events ?? (hook ? (JSON.parse(hook.events) as string[]) : ['package']);
  const active = input?.active ?? (hook ? hook.active === 1 : true);
  return html`<div class="field wide"><label for="hook-url">Payload URL</label><input id="hook-url" name="url" type="url" required value="${url}" placeholder="https://ci.example.com/wharf-hook" autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="hook-ct">Content type</label><select id="hook-ct" name="content_type"><option value="json"${ct === 'json' ? html` selected` : ''}>application/json</option><option value="form"${ct === 'form' ? html` selected` : ''}>application/x-www-form-urlencoded</option></select></div>
<div class="field wide"><label for="hook-secret">Secret</label><input id="hook-secret" name="secret" type="password" autocomplete="new-password" aria-describedby="hook-secret-help">
<p id="hook-secret-help" class="help">${hook ? (hook.secret ? 'A secret is set; leave this empty to keep it.' : 'No secret is set.') : 'Optional.'} Each delivery carries <code>X-Hub-Signature-256</code>: the HMAC-SHA256 of the body with this secret.</p></div>
${hook?.secret ? html`<div class="check"><input type="checkbox" id="hook-nosecret" name="remove_secret" value="1"><label for="hook-nosecret">Remove the secret</label></div>` : ''}
<fieldset><legend>Events</legend>
${HOOK_EVENTS.map((e, i) => html`<div class="check"><input type="radio" id="hook-ev-${i}" name="events" value="${e}"${events.includes(e) ? html` checked` : ''}><label for="hook-ev-${i}">${EVENT_TEXT[e] ?? e}</label></div>`)}
</fieldset>
<div class="check"><input type="checkbox" id="hook-active" name="active" value="1"${active ? html` checked` : ''}><label for="hook-active">Active (deliver events to this URL)</label></div>`;
}

/** Reads the add/edit form. */
function readForm(f: URLSearchParams, editing: Webhook | null): Partial<HookInput> {
  const ct = f.get('content_type') ?? 'json';
  if (ct !== 'json' && ct !== 'form') throw invalid('content type must be json or form');
  const ev = f.get('events') ?? 'package';
  const input: Partial<HookInput> = { url: (f.get('url') ?? '').trim(), contentType: ct, events: [ev], active: f.get('active') === '1' };
  if (!input.url) throw invalid('a payload URL is required');
  const secret = f.get('secret') ?? '';
  if (editing && f.get('remove_secret') === '1') input.secret = null;
  else if (secret || !editing) input.secret = secret || null;
  return input;
}

export async function hookPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function ownerPlace(req: FastifyRequest): Promise<Place> {
    web.requireUser(req);
    const owner = await core.identity.findOwner((req.params as P).owner);
    if (!owner || !(await core.authz.mayManage(req.actor, { what: 'owner-hooks', owner }))) throw notFound();
    const base = `/${seg(owner.name)}/-/settings/hooks`;
    return {
      scope: { ownerId: owner.id }, base, name: owner.name,
      crumbs: html`<a href="/${seg(owner.name)}">${owner.name}</a> / Settings`,
      nav: settingsNav(owner, 'hooks'),
    };
  }

  async function repoPlace(req: FastifyRequest): Promise<Place> {
    const a = web.requireUser(req);
    const p = req.params as P;
    const repo = await core.identity.findRepo(p.owner, p.repo);
    if (!repo || !(await core.authz.canReadRepo(a, repo))) throw notFound();
    await core.authz.manage(a, { what: 'repo-hooks', repo });
    const path = `/${seg(repo.owner_name)}/${seg(repo.name)}`;
    return {
      scope: { repositoryId: repo.id }, base: `${path}/-/settings/hooks`, name: `${repo.owner_name}/${repo.name}`,
      crumbs: html`<a href="/${seg(repo.owner_name)}">${repo.owner_name}</a> / <a href="${path}">${repo.name}</a> / Settings`,
      nav: repoSettingsNav(repo, 'hooks'),
    };
  }

  const page = (ctx: PageContext, reply: FastifyReply, title: string, main: Child, status = 200) => web.send(reply, layout(ctx, { title, main }), status);

  async function listPage(req: FastifyRequest, reply: FastifyReply, place: Place, msg: { error?: string; input?: Partial<HookInput> } = {}, status = 200) {
    const hooks = await core.webhooks.list(req.actor, place.scope);
    const last = await Promise.all(hooks.map(async (h) => (await core.webhooks.deliveries(h.id, 1))[0]));
    const done = DONE[(req.query as P).done ?? ''];
    const ctx = web.ctx(req, reply);
    return page(ctx, reply, `Webhooks · ${place.name}`, html`<p class="crumbs">${place.crumbs}</p>
<h1>Webhooks</h1>
${place.nav}
<p class="lead">Wharf sends a POST request to each webhook's URL when a package of ${place.name} is published, updated, deleted or restored, with GitHub's <code>package</code> event payload and headers.</p>
${done ? banner('notice', done) : ''}${msg.error ? banner('error', msg.error) : ''}
${hooks.length
  ? html`<div class="scroll"><table class="list hooks"><thead><tr><th scope="col">Payload URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Last delivery</th></tr></thead><tbody>
${hooks.map((h, i) => html`<tr data-hook="${h.id}"><td><a class="hook-url" href="${place.base}/${h.id}">${h.url}</a></td><td>${(JSON.parse(h.events) as string[]).join(', ')}</td>
<td>${h.active ? html`<span class="badge ok">Active</span>` : html`<span class="badge">Inactive</span>`}</td>
<td>${last[i] ? html`${deliveryState(last[i]!)} ${when(last[i]!.created_at)}` : html`<span class="muted">None yet</span>`}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No webhooks yet.</p>`}
<section class="card" aria-labelledby="add-h"><h2 id="add-h">Add a webhook</h2>
<form class="stack" action="${place.base}" method="post">${csrfField(ctx)}
${hookFields(null, msg.input)}
<button class="primary" type="submit">Add webhook</button>
</form></section>`, status);
  }

  async function hookPage(req: FastifyRequest, reply: FastifyReply, place: Place, hook: Webhook, msg: { error?: string; input?: Partial<HookInput> } = {}, status = 200) {
    const deliveries = await core.webhooks.deliveries(hook.id, 50);
    const done = DONE[(req.query as P).done ?? ''];
    const ctx = web.ctx(req, reply);
    const self = `${place.base}/${hook.id}`;
    return page(ctx, reply, `Webhook ${hook.id} · ${place.name}`, html`<p class="crumbs">${place.crumbs} / <a href="${place.base}">Webhooks</a></p>
<h1>Webhook <span class="muted">${hook.url}</span></h1>
${done ? banner('notice', done) : ''}${msg.error ? banner('error', msg.error) : ''}
<section class="card" aria-labelledby="edit-h"><h2 id="edit-h">Settings</h2>
<form class="stack" action="${self}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="update">
${hookFields(hook, msg.input)}
<button class="primary" type="submit">Update webhook</button>
</form></section>

<section class="card" aria-labelledby="del-h"><h2 id="del-h">Recent deliveries</h2>
${deliveries.length
  ? html`<div class="scroll"><table class="list deliveries"><thead><tr><th scope="col">Delivery</th><th scope="col">Action</th><th scope="col">Result</th><th scope="col">Response</th><th scope="col">Duration</th><th scope="col">When</th><th scope="col">Attempts</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${deliveries.map((d) => html`<tr class="delivery" data-delivery="${d.id}">
<td><details><summary><code>${d.id.slice(0, 8)}</code>${d.redelivery ? html` <span class="badge">redelivery</span>` : ''}</summary>
<p class="muted">ID <code>${d.id}</code> (<code>X-GitHub-Delivery</code>)${d.next_attempt_at && d.status === 'pending' ? html`; next attempt ${when(d.next_attempt_at)}` : ''}</p>
${d.error ? html`<p class="delivery-error">${d.error}</p>` : ''}
<h3>Request payload</h3><pre class="plain payload">${prettyJson(d.payload)}</pre>
<h3>Response body</h3>${responseBody(core.webhooks.responseFor(req.actor, d))}
</details></td>
<td>${d.action}</td><td>${deliveryState(d)}</td><td class="status-code">${d.response_status ?? '—'}</td>
<td class="duration">${d.duration_ms !== null ? `${d.duration_ms} ms` : '—'}</td><td>${when(d.created_at)}</td><td>${d.attempts}</td>
<td><form action="${self}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="redeliver"><input type="hidden" name="delivery" value="${d.id}"><button class="small" type="submit" aria-label="Redeliver ${d.id}">Redeliver</button></form></td>
</tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No deliveries yet. Publish a package of ${place.name} to send one.</p>`}
</section>

<section class="card danger-zone" aria-labelledby="danger-h"><h2 id="danger-h">Delete this webhook</h2>
<form action="${self}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="delete"><p>Deliveries stop at once and their log is deleted with it.</p><button class="danger" type="submit">Delete webhook</button></form>
</section>`, status);
  }

  /** Client errors go back to the form with the message; anything else to the error page. */
  const shown = (e: unknown) => isWharfError(e) && e.status < 500 && e.kind !== 'Forbidden' && e.kind !== 'NotFound';

  for (const [prefix, placeOf] of [['/:owner/-/settings/hooks', ownerPlace], ['/:owner/:repo/-/settings/hooks', repoPlace]] as const) {
    app.get(prefix, async (req, reply) => listPage(req, reply, await placeOf(req)));

    app.post(prefix, async (req, reply) => {
      const place = await placeOf(req);
      const f = web.form(req);
      let input: Partial<HookInput> | undefined;
      try {
        input = readForm(f, null);
        const h = await core.webhooks.create(req.actor, place.scope, input as HookInput);
        return web.redirect(reply, `${place.base}/${h.id}?done=created`);
      } catch (e) {
        if (!shown(e)) throw e;
        return listPage(req, reply, place, { error: (e as Error).message, input: input ?? { url: f.get('url') ?? '' } }, (e as { status: number }).status);
      }
    });

    app.get(`${prefix}/:id`, async (req, reply) => {
      const place = await placeOf(req);
      const hook = await core.webhooks.get(req.actor, place.scope, idParam((req.params as P).id));
      return hookPage(req, reply, place, hook);
    });

    app.post(`${prefix}/:id`, async (req, reply) => {
      const place = await placeOf(req);
      const hook = await core.webhooks.get(req.actor, place.scope, idParam((req.params as P).id));
      const f = web.form(req);
      const self = `${place.base}/${hook.id}`;
      let input: Partial<HookInput> | undefined;
      try {
        switch (f.get('action')) {
          case 'update':
            input = readForm(f, hook);
            await core.webhooks.update(req.actor, place.scope, hook.id, input);
            return web.redirect(reply, `${self}?done=updated`);
          case 'delete':
            await core.webhooks.remove(req.actor, place.scope, hook.id);
            return web.redirect(reply, `${place.base}?done=deleted`);
          case 'redeliver':
            await core.webhooks.redeliver(req.actor, hook.id, f.get('delivery') ?? '');
            return web.redirect(reply, `${self}?done=redelivered`);
          default:
            throw invalid('unknown action');
        }
      } catch (e) {
        if (!shown(e)) throw e;
        return hookPage(req, reply, place, hook, { error: (e as Error).message, input }, (e as { status: number }).status);
      }
    });
  }
}
