// Signing settings: the public keys and keyless identities trusted to sign an owner's images (or one image's),
// and the "require signed images" policy. Shown on the owner's settings (/OWNER/-/settings/signing) and in the settings of a package whose
// format verifies signatures (Format.signing). Changes go through core.signing, as the CLI's do.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { invalid, isWharfError, notFound } from '../../core/errors.ts';
import type { IdentityPolicy } from '../../core/signing/sigstore.ts';
import type { TrustedKey } from '../../core/signing/trust.ts';
import { idParam } from '../../http/rest/common.ts';
import { banner, when } from '../components.ts';
import { html, seg, type Child, type Html } from '../html.ts';
import { csrfField, layout, type PageContext } from '../layout.ts';
import type { Web } from '../web.ts';
import { settingsNav } from './settings-nav.ts';

export const SIGNING_DONE: Record<string, string> = {
  'trust-key': 'Key trusted.',
  'untrust-key': 'Key removed.',
  'trust-identity': 'Identity trusted.',
  'untrust-identity': 'Identity removed.',
  'require-signed': 'Signing policy saved.',
};

/** The signing card: trusted keys (add by pasting a PEM, remove) and the policy toggle. */
export function signingSection(ctx: PageContext, o: { action: string; keys: TrustedKey[]; identities: IdentityPolicy[]; required: boolean; what: string; note?: Child; keyless?: boolean }): Html {
  const form = (name: string, body: Child, cls = '') => html`<form class="${cls}" action="${o.action}" method="post">${csrfField(ctx)}<input type="hidden" name="action" value="${name}">${body}</form>`;
  return html`<section class="card" id="signing" aria-labelledby="sign-h">
<h2 id="sign-h">Signing</h2>
<p class="help">Wharf verifies cosign signatures of ${o.what}: legacy signatures (the <code>sha256-HEX.sig</code> tag) and Sigstore bundles attached through the referrers API. A key-based signature must verify with a key trusted here; a keyless one (a Fulcio certificate) must chain to the server's Sigstore trusted root and name an identity trusted here.</p>
${o.note ?? ''}
<h3>Trusted keys</h3>
${o.keys.length
  ? html`<div class="scroll"><table class="list keys"><thead><tr><th scope="col">Fingerprint</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${o.keys.map((k) => html`<tr data-key="${k.id}"><td><code class="fingerprint">${k.fingerprint}</code></td><td>${when(k.createdAt)}</td>
<td>${form('untrust-key', html`<input type="hidden" name="key" value="${k.id}"><button class="danger small" type="submit" aria-label="Remove key ${k.fingerprint}">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No key is trusted here.</p>`}
${form('trust-key', html`<label for="trust-pem">Public key (PEM)</label>
<textarea id="trust-pem" name="pem" rows="5" required spellcheck="false" placeholder="-----BEGIN PUBLIC KEY-----" aria-describedby="trust-pem-help"></textarea>
<p id="trust-pem-help" class="help">Paste a <code>cosign.pub</code> (from <code>wharf signing keygen</code> or <code>cosign generate-key-pair</code>).</p>
<button class="primary" type="submit">Trust key</button>`, 'stack')}
<h3>Trusted identities (keyless)</h3>
${o.keyless === false ? html`<p class="help">This server has no Sigstore trusted root (<code>WHARF_SIGSTORE_TRUSTED_ROOT</code>): keyless signatures cannot verify until its operator sets one.</p>` : ''}
${o.identities.length
  ? html`<div class="scroll"><table class="list identities"><thead><tr><th scope="col">Certificate identity (regular expression)</th><th scope="col">Issuer</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${o.identities.map((i) => html`<tr data-identity="${i.id}"><td><code>${i.identity}</code></td><td><code>${i.issuer}</code></td><td>${when(i.createdAt)}</td>
<td>${form('untrust-identity', html`<input type="hidden" name="identity" value="${i.id}"><button class="danger small" type="submit" aria-label="Remove identity ${i.identity}">Remove</button>`)}</td></tr>`)}
</tbody></table></div>`
  : html`<p class="muted">No identity is trusted here.</p>`}
${form('trust-identity', html`<label for="trust-identity">Certificate identity</label>
<input id="trust-identity" name="identity" required spellcheck="false" placeholder="https://github\.com/OWNER/REPO/\.github/workflows/.*" aria-describedby="trust-identity-help">
<p id="trust-identity-help" class="help">A regular expression the whole identity must match: a workflow URL for GitHub Actions or GitLab CI, an email address for a person.</p>
<label for="trust-issuer">Issuer</label>
<input id="trust-issuer" name="issuer" type="url" required spellcheck="false" placeholder="https://token.actions.githubusercontent.com">
<button class="primary" type="submit">Trust identity</button>`, 'stack')}
<h3>Policy</h3>
${form('require-signed', html`<div class="check"><input type="checkbox" id="require-signed" name="required" value="1"${o.required ? html` checked` : ''}><label for="require-signed">Require signed images: pulls of ${o.what} not signed by a trusted key or identity are refused (<code>DENIED</code>)</label></div>
<button type="submit">Save policy</button>`, 'stack')}
</section>`;
}

/** Carries out a signing form action at a scope (`packageName` null: the owner's). */
export async function signingAction(core: Core, actor: Actor, f: URLSearchParams, ownerId: number, packageName: string | null): Promise<void> {
  switch (f.get('action')) {
    case 'trust-key': {
      const pem = (f.get('pem') ?? '').trim();
      if (!pem) throw invalid('paste a public key in PEM form');
      await core.signing.trustAt(actor, ownerId, packageName, `${pem}\n`);
      return;
    }
    case 'untrust-key':
      await core.signing.untrustAt(actor, ownerId, packageName, idParam(f.get('key') ?? undefined));
      return;
    case 'trust-identity':
      await core.signing.addIdentityAt(actor, ownerId, packageName, (f.get('identity') ?? '').trim(), (f.get('issuer') ?? '').trim());
      return;
    case 'untrust-identity':
      await core.signing.removeIdentityAt(actor, ownerId, packageName, idParam(f.get('identity') ?? undefined));
      return;
    case 'require-signed':
      await core.signing.setRequiredAt(actor, ownerId, packageName, f.get('required') === '1');
      return;
    default:
      throw invalid('unknown action');
  }
}

export async function signingPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  async function ownerFor(req: FastifyRequest) {
    web.requireUser(req);
    const owner = await core.identity.findOwner((req.params as Record<string, string>).owner);
    if (!owner || !(await core.authz.mayManage(req.actor, { what: 'owner', owner }))) throw notFound();
    return owner;
  }

  async function page(req: FastifyRequest, reply: FastifyReply, msg: { error?: string } = {}, status = 200) {
    const owner = await ownerFor(req);
    const [keys, identities, required] = await Promise.all([core.signing.keysAt(owner.id, null), core.signing.identitiesAt(owner.id, null), core.signing.requiredAt(owner.id, null)]);
    const ctx = web.ctx(req, reply);
    const done = SIGNING_DONE[(req.query as Record<string, string>).done ?? ''];
    return web.send(
      reply,
      layout(ctx, {
        title: `Signing · ${owner.name}`,
        main: html`<p class="crumbs"><a href="/${seg(owner.name)}">${owner.name}</a> / Settings</p>
<h1>Signing</h1>
${settingsNav(owner, 'signing')}
${done ? banner('notice', done) : ''}${msg.error ? banner('error', msg.error) : ''}
${signingSection(ctx, { action: `/${seg(owner.name)}/-/settings/signing`, keys, identities, keyless: !!core.signing.sigstore.root, required, what: `every container image of ${owner.name}`, note: html`<p class="help">Keys, identities and the policy can also be set for one image, in its package settings.</p>` })}`,
      }),
      status,
    );
  }

  app.get('/:owner/-/settings/signing', async (req, reply) => page(req, reply));
  app.post('/:owner/-/settings/signing', async (req, reply) => {
    const owner = await ownerFor(req);
    const f = web.form(req);
    try {
      await signingAction(core, req.actor, f, owner.id, null);
    } catch (e) {
      if (!isWharfError(e) || e.status >= 500 || e.kind === 'Forbidden') throw e;
      return page(req, reply, { error: e.message }, e.status);
    }
    return web.redirect(reply, `/${seg(owner.name)}/-/settings/signing?done=${encodeURIComponent(f.get('action') ?? '')}`);
  });
}
