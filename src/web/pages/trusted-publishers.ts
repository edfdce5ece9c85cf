// The "Trusted publishers" card of a package's settings: the trust policies that let CI jobs publish it with no
// stored secret (OIDC trusted publishing), add one (GitHub Actions, GitLab CI or another issuer), remove one.
// Changes go through core.trustedPublishers, as the REST API's and the CLI's do.
import type { Actor } from '../../core/auth/actor.ts';
import type { PolicyInfo, PolicyTarget } from '../../core/auth/trusted-publishers.ts';
import type { Core } from '../../core/core.ts';
import { invalid } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { idParam } from '../../http/rest/common.ts';
import { when } from '../components.ts';
import { html, type Html } from '../html.ts';
import { csrfField, type PageContext } from '../layout.ts';

export const TRUST_DONE: Record<string, string> = {
  'trust-publisher': 'Trusted publisher added.',
  'untrust-publisher': 'Trusted publisher removed.',
};

/** The form's claim fields: the claim, its label, and the provider it belongs to. */
const FIELDS: [string, string, 'github' | 'gitlab' | 'any'][] = [
  ['repository', 'Repository (GitHub: OWNER/REPO)', 'github'],
  ['workflow_ref', 'Workflow (GitHub: OWNER/REPO/.github/workflows/FILE@REF)', 'github'],
  ['project_path', 'Project (GitLab: GROUP/PROJECT)', 'gitlab'],
  ['ci_config_ref_uri', 'Pipeline file (GitLab: HOST/GROUP/PROJECT//.gitlab-ci.yml@REF)', 'gitlab'],
  ['environment', 'Environment', 'any'],
  ['ref', 'Git ref (e.g. refs/heads/main; GitLab: main)', 'any'],
  ['sub', 'Subject (sub)', 'any'],
];

const targets = (pkg: PackageRow): PolicyTarget[] => [
  { kind: 'package', owner: pkg.owner_name, type: pkg.type, name: pkg.name },
  { kind: 'owner', owner: pkg.owner_name, type: pkg.type, name: pkg.name },
];

/** The policies that cover the package: its own, and its owner's for it (those that created it keep covering it). */
export async function policiesFor(core: Core, actor: Actor, pkg: PackageRow): Promise<PolicyInfo[] | null> {
  // A deleted package's settings page offers its restore, not its policies (the core knows live packages only).
  if (pkg.deleted_at) return null;
  if (!(await core.authz.mayManage(actor, { what: 'trusted-publishers', owner: { id: pkg.owner_id, kind: pkg.owner_kind }, pkg }))) return null;
  const own = await core.trustedPublishers.list(actor, targets(pkg)[0]);
  const byOwner = (await core.authz.mayManage(actor, { what: 'trusted-publishers', owner: { id: pkg.owner_id, kind: pkg.owner_kind } }))
    ? (await core.trustedPublishers.list(actor, { kind: 'owner', owner: pkg.owner_name })).filter((p) => p.package_type === pkg.type && p.package_name?.toLowerCase() === pkg.name.toLowerCase())
    : [];
  return [...own, ...byOwner];
}

export function trustSection(ctx: PageContext, action: string, policies: PolicyInfo[], issuers: string[]): Html {
  const form = (name: string, body: Html | string, cls = '') => html`<form class="${cls}" action="${action}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
  return html`<section class="card" id="trusted-publishers" aria-labelledby="tp-h">
<h2 id="tp-h">Trusted publishers</h2>
<p class="help">CI jobs whose OpenID Connect ID token matches a policy here publish this package with no stored secret: they exchange the ID token for a publish token valid 15 minutes (npm does it by itself; other clients call <code>POST /api/v1/oidc/token</code>). Such a token publishes; it never deletes or changes settings. <code>*</code> in a pattern matches anything.</p>
${policies.length
  ? html`<div class="scroll"><table class="list publishers"><thead><tr><th scope="col">Provider</th><th scope="col">Claims</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${policies.map((p) => html`<tr data-policy="${p.id}"><td>${p.provider}${p.scope === 'owner' ? html` <span class="badge">${p.owner}</span>` : ''}<br><span class="muted">${p.issuer}</span></td>
<td>${Object.entries(p.claims).map(([k, v]) => html`<div><code>${k}</code> = <code>${v}</code></div>`)}</td><td>${when(p.created_at)}</td>
<td>${form('untrust-publisher', html`<input type="hidden" name="policy" value="${p.id}"><input type="hidden" name="scope" value="${p.scope}"><button class="danger small" type="submit" aria-label="Remove trusted publisher ${p.id}">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No trusted publisher: only people and tokens with write access publish this package.</p>`}
${form('trust-publisher', html`<div class="field"><label for="tp-provider">Provider</label><select id="tp-provider" name="provider"><option value="github">GitHub Actions</option><option value="gitlab">GitLab CI</option><option value="generic">Other issuer</option></select></div>
<div class="field"><label for="tp-issuer">Issuer URL (empty: GitHub's or gitlab.com's)</label><input id="tp-issuer" name="issuer" list="tp-issuers" autocomplete="off" spellcheck="false"><datalist id="tp-issuers">${issuers.map((i) => html`<option value="${i}">`)}</datalist></div>
${FIELDS.map(([claim, label]) => html`<div class="field"><label for="tp-${claim}">${label}</label><input id="tp-${claim}" name="claim_${claim}" autocomplete="off" spellcheck="false"></div>`)}
<button class="primary" type="submit">Add trusted publisher</button>`, 'stack')}
</section>`;
}

/** Carries out a trusted-publisher form action on the package. */
export async function trustAction(core: Core, actor: Actor, f: URLSearchParams, pkg: PackageRow): Promise<void> {
  if (f.get('action') === 'trust-publisher') {
    const claims: Record<string, string> = {};
    for (const [claim] of FIELDS) {
      const v = (f.get(`claim_${claim}`) ?? '').trim();
      if (v) claims[claim] = v;
    }
    const issuer = (f.get('issuer') ?? '').trim();
    await core.trustedPublishers.add(actor, targets(pkg)[0], { provider: f.get('provider') ?? 'github', issuer: issuer || undefined, claims });
    return;
  }
  const target = targets(pkg)[f.get('scope') === 'owner' ? 1 : 0];
  if (f.get('action') !== 'untrust-publisher') throw invalid('unknown action');
  await core.trustedPublishers.remove(actor, target.kind === 'owner' ? { kind: 'owner', owner: target.owner } : target, idParam(f.get('policy') ?? undefined));
}
