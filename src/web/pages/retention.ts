// Retention settings of an owner (/OWNER/-/settings/retention): the rule for all its packages and per format,
// a preview of what a rule would delete before it is saved, and protected tags. Rules for one package are set over
// REST and the CLI (the most specific applies; they are listed here). Changes go through core.retention.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isWharfError, notFound } from '../../core/errors.ts';
import type { RetentionReport, RuleRow, Scope } from '../../core/retention/retention.ts';
import type { Owner } from '../../db/tables.ts';
import { formats } from '../../formats/index.ts';
import { banner, when } from '../components.ts';
import { html, seg, type Child } from '../html.ts';
import { csrfField, layout, type PageContext } from '../layout.ts';
import type { Web } from '../web.ts';
import { settingsNav } from './settings-nav.ts';

const DONE: Record<string, string> = { save: 'Rule saved.', remove: 'Rule removed.', protect: 'Tags protected.', unprotect: 'Protection removed.' };

/** The rule the form gives (empty fields left out). */
function ruleOf(f: URLSearchParams): Record<string, unknown> {
  const rule: Record<string, unknown> = {};
  const num = (field: string, key: string) => {
    const v = (f.get(field) ?? '').trim();
    if (v) rule[key] = Number(v);
  };
  num('keep_last', 'keep_last');
  num('older_than', 'delete_older_than_days');
  num('untagged_older_than', 'delete_untagged_older_than_days');
  num('keep_downloaded', 'keep_downloaded_within_days');
  const p = (f.get('keep_pattern') ?? '').trim();
  if (p) rule.keep_pattern = p;
  return rule;
}

const describeRule = (r: RuleRow['rule']) =>
  [
    r.keep_last !== undefined ? `keep the newest ${r.keep_last}` : '',
    r.delete_older_than_days !== undefined ? `delete after ${r.delete_older_than_days} days` : '',
    r.delete_untagged_older_than_days !== undefined ? `delete untagged after ${r.delete_untagged_older_than_days} days` : '',
    r.keep_pattern !== undefined ? `keep /${r.keep_pattern}/` : '',
    r.keep_downloaded_within_days !== undefined ? `keep what was downloaded in the last ${r.keep_downloaded_within_days} days` : '',
  ].filter(Boolean).join('; ');

export async function retentionPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function ownerFor(req: FastifyRequest): Promise<Owner> {
    web.requireUser(req);
    const owner = await core.identity.findOwner((req.params as Record<string, string>).owner);
    if (!owner || !(await core.authz.mayManage(req.actor, { what: 'owner', owner }))) throw notFound();
    return owner;
  }

  async function page(req: FastifyRequest, reply: FastifyReply, o: { error?: string; preview?: RetentionReport; form?: URLSearchParams } = {}, status = 200) {
    const owner = await ownerFor(req);
    const [rules, protectedTags] = await Promise.all([core.retention.listRules(req.actor, { owner }), core.retention.protectedTags(req.actor, owner)]);
    const ctx = web.ctx(req, reply);
    const done = DONE[(req.query as Record<string, string>).done ?? ''];
    const action = `/${seg(owner.name)}/-/settings/retention`;
    const form = (name: string, body: Child, cls = '') => html`<form class="${cls}" action="${action}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
    const f = o.form;
    const val = (k: string) => f?.get(k) ?? '';
    return web.send(
      reply,
      layout(ctx, {
        title: `Retention · ${owner.name}`,
        main: html`<p class="crumbs"><a href="/${seg(owner.name)}">${owner.name}</a> / Settings</p>
<h1>Retention</h1>
${settingsNav(owner, 'retention')}
${done ? banner('notice', done) : ''}${o.error ? banner('error', o.error) : ''}
<section class="card" id="rules" aria-labelledby="rules-h">
<h2 id="rules-h">Rules</h2>
<p class="help">A rule deletes old versions on a schedule (restorable for ${core.config.restoreDays} days, each with an audit entry and a <code>deleted</code> webhook event). Nothing a kept version needs is deleted: an image index keeps its platform manifests, and signatures, SBOMs and other referrers stay with what they refer to. A version tagged <code>latest</code> or with a protected tag always stays. The most specific rule applies: a package's, else its format's, else the owner's.</p>
${rules.length
  ? html`<div class="scroll"><table class="list rules"><thead><tr><th scope="col">Applies to</th><th scope="col">Rule</th><th scope="col">Changed</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${rules.map((r) => html`<tr data-rule="${r.id}"><td>${r.package ? html`<code>${r.type}</code> ${owner.name}/${r.package}` : r.type ? html`every <code>${r.type}</code> package` : 'every package'}</td><td>${describeRule(r.rule)}</td><td>${when(r.updated_at)}</td>
<td>${r.package ? '' : form('remove', html`<input type="hidden" name="scope" value="${r.type ?? ''}"><button class="danger small" type="submit">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No retention rule: nothing is deleted on a schedule.</p>`}
<h3>Set a rule</h3>
${form('save', html`<label for="r-scope">Applies to</label>
<select id="r-scope" name="scope"><option value="">every package</option>${formats.map((fmt) => html`<option value="${fmt.type}"${val('scope') === fmt.type ? html` selected` : ''}>${fmt.type} packages</option>`)}</select>
<label for="r-keep-last">Keep the newest N versions</label><input id="r-keep-last" name="keep_last" type="number" min="1" value="${val('keep_last')}">
<label for="r-older">Delete versions older than (days)</label><input id="r-older" name="older_than" type="number" min="1" value="${val('older_than')}">
<label for="r-untagged">Delete untagged versions older than (days)</label><input id="r-untagged" name="untagged_older_than" type="number" min="1" value="${val('untagged_older_than')}">
<label for="r-pattern">Keep versions or tags matching (regular expression)</label><input id="r-pattern" name="keep_pattern" spellcheck="false" placeholder="^v?\\d+\\.\\d+\\.\\d+$" value="${val('keep_pattern')}">
<label for="r-downloaded">Keep versions downloaded in the last (days)</label><input id="r-downloaded" name="keep_downloaded" type="number" min="1" value="${val('keep_downloaded')}">
<p class="help">With only "keep the newest N", older versions are deleted; with an age limit too, the newest N are kept whatever their age.</p>
<div class="row"><button type="submit" formaction="${action}?preview=1">Preview</button> <button class="primary" type="submit">Save rule</button></div>`, 'stack')}
${o.preview
  ? html`<section aria-labelledby="preview-h" id="preview"><h3 id="preview-h">Preview: ${o.preview.deleted.length} version${o.preview.deleted.length === 1 ? '' : 's'} in ${o.preview.packages} package${o.preview.packages === 1 ? '' : 's'} would be deleted now</h3>
${o.preview.deleted.length
  ? html`<div class="scroll"><table class="list preview"><thead><tr><th scope="col">Package</th><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Why</th></tr></thead><tbody>
${o.preview.deleted.map((d) => html`<tr><td><code>${d.type}</code> ${d.owner}/${d.package}</td><td><code>${d.version}</code></td><td>${d.tags.join(', ')}</td><td>${d.reason}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">Nothing would be deleted.</p>`}</section>`
  : ''}
</section>
<section class="card" id="protected-tags" aria-labelledby="prot-h">
<h2 id="prot-h">Protected tags</h2>
<p class="help">Container tags or npm dist-tags matching a pattern (<code>*</code> any characters, <code>?</code> one) cannot be moved to another version or removed once set, by any client; an owner admin may override explicitly (<code>wharf tag set … --override</code> or the REST API).</p>
${protectedTags.length
  ? html`<div class="scroll"><table class="list protected"><thead><tr><th scope="col">Format</th><th scope="col">Pattern</th><th scope="col">Since</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${protectedTags.map((t) => html`<tr><td><code>${t.type}</code></td><td><code>${t.pattern}</code></td><td>${when(t.created_at)}</td>
<td>${form('unprotect', html`<input type="hidden" name="type" value="${t.type}"><input type="hidden" name="pattern" value="${t.pattern}"><button class="danger small" type="submit" aria-label="Unprotect ${t.pattern}">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No protected tags.</p>`}
${form('protect', html`<label for="p-type">Format</label><select id="p-type" name="type"><option value="container">container tags</option><option value="npm">npm dist-tags</option></select>
<label for="p-pattern">Pattern</label><input id="p-pattern" name="pattern" required spellcheck="false" placeholder="v*">
<button class="primary" type="submit">Protect</button>`, 'stack')}
</section>`,
      }),
      status,
    );
  }

  app.get('/:owner/-/settings/retention', async (req, reply) => page(req, reply));
  app.post('/:owner/-/settings/retention', async (req, reply) => {
    const owner = await ownerFor(req);
    const f = web.form(req);
    const act = f.get('action') ?? '';
    const scope: Scope = { owner, type: f.get('scope') || undefined };
    try {
      if (act === 'save' && (req.query as Record<string, string>).preview === '1') {
        return page(req, reply, { preview: await core.retention.preview(req.actor, scope, ruleOf(f)), form: f });
      }
      if (act === 'save') await core.retention.setRule(req.actor, scope, ruleOf(f));
      else if (act === 'remove') await core.retention.removeRule(req.actor, scope);
      else if (act === 'protect') await core.retention.protectTag(req.actor, owner, f.get('type') ?? '', (f.get('pattern') ?? '').trim());
      else if (act === 'unprotect') await core.retention.unprotectTag(req.actor, owner, f.get('type') ?? '', f.get('pattern') ?? '');
      else return page(req, reply, { error: 'unknown action' }, 400);
    } catch (e) {
      if (!isWharfError(e) || e.status >= 500 || e.kind === 'Forbidden') throw e;
      return page(req, reply, { error: e.message, form: f }, e.status);
    }
    return web.redirect(reply, `/${seg(owner.name)}/-/settings/retention?done=${encodeURIComponent(act)}`);
  });
}

