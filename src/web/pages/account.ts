// Signing in and out, signing up (only where the admin opened it), and personal access tokens.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isLockout } from '../../core/auth/authenticate.ts';
import { checkKnownTypes, formatResource, parseResource, type ResourceSpec } from '../../core/auth/selection.ts';
import { parseDuration, SCOPES } from '../../core/auth/tokens.ts';
import type { TokenInfo } from '../../core/auth/token-service.ts';
import { isWharfError, notFound } from '../../core/errors.ts';
import { formats } from '../../formats/index.ts';
import { idParam } from '../../http/rest/common.ts';
import { banner, copyBlock, when } from '../components.ts';
import { html, type Child } from '../html.ts';
import { csrfField, layout, type PageContext } from '../layout.ts';
import type { Web } from '../web.ts';

/** Only same-site paths are followed after sign-in (an open redirect would make phishing easy). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\u0000-\u001f]/.test(next)) return '/';
  if (next.startsWith('/-/login') || next.startsWith('/-/signup')) return '/';
  return next;
}

const EXPIRIES: [string, string][] = [['7d', '7 days'], ['30d', '30 days'], ['90d', '90 days'], ['365d', '1 year'], ['never', 'No expiration']];
const SCOPE_TEXT: Record<string, string> = {
  'read:packages': 'Download and read packages',
  'write:packages': 'Publish packages (includes read)',
  'delete:packages': 'Delete and restore packages (includes read)',
};

function loginPage(ctx: PageContext, next: string, error?: string, name = ''): Child {
  return layout(ctx, {
    title: 'Sign in',
    main: html`<section class="narrow">
<h1>Sign in to Wharf</h1>
${error ? banner('error', error) : ''}
<form class="stack" action="/-/login" method="post">
  ${csrfField(ctx)}
  <input type="hidden" name="next" value="${next}">
  <label for="login-user">Username</label>
  <input id="login-user" name="username" autocomplete="username" required value="${name}" autofocus>
  <label for="login-password">Password</label>
  <input id="login-password" name="password" type="password" autocomplete="current-password" required>
  <button class="primary" type="submit">Sign in</button>
</form>
${ctx.signupOpen ? html`<p>New here? <a href="/-/signup">Create an account</a>.</p>` : html`<p class="muted">Accounts are created by the administrator of this Wharf.</p>`}
</section>`,
  });
}

function signupPage(ctx: PageContext, error?: string, name = '', email = ''): Child {
  return layout(ctx, {
    title: 'Sign up',
    main: html`<section class="narrow">
<h1>Create your account</h1>
${error ? banner('error', error) : ''}
<form class="stack" action="/-/signup" method="post">
  ${csrfField(ctx)}
  <label for="su-user">Username</label>
  <input id="su-user" name="username" autocomplete="username" required value="${name}" pattern="[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}" aria-describedby="su-user-help">
  <p id="su-user-help" class="help">Letters, digits and single hyphens; it becomes your npm scope and image namespace.</p>
  <label for="su-email">Email</label>
  <input id="su-email" name="email" type="email" autocomplete="email" value="${email}">
  <label for="su-password">Password</label>
  <input id="su-password" name="password" type="password" autocomplete="new-password" minlength="10" required aria-describedby="su-pw-help">
  <p id="su-pw-help" class="help">At least 10 characters.</p>
  <button class="primary" type="submit">Create account</button>
</form>
</section>`,
  });
}

/** The selection a form's "Limit to" box names, one resource a line (the CLI's form); null when empty. */
function formSelection(text: string): ResourceSpec[] | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return null;
  const specs = lines.map(parseResource);
  checkKnownTypes(specs, formats.map((f) => f.type));
  return specs;
}

/** What a token reaches, as the list says it. */
function reaches(t: TokenInfo): Child {
  if (!t.resources) return html`<span class="muted">everything you can reach</span>`;
  return html`limited to ${t.resources.map((r, i) => html`${i ? ', ' : ''}<code class="resource">${formatResource(r)}</code>`)}`;
}

function tokensPage(ctx: PageContext, tokens: TokenInfo[], o: { created?: { token: string; name: string }; error?: string; notice?: string; form?: { resources: string } } = {}): Child {
  return layout(ctx, {
    title: 'Personal access tokens',
    main: html`<h1>Personal access tokens</h1>
<p class="lead">Tokens let npm, docker, Maven and other clients act as you. Give each the fewest scopes it needs.</p>
${o.notice ? banner('notice', o.notice) : ''}
${o.error ? banner('error', o.error) : ''}
${o.created
  ? html`<section class="created" aria-labelledby="new-token-h">
  <h2 id="new-token-h">Your new token “${o.created.name}”</h2>
  <p><strong>Copy it now: it is shown only once.</strong> Wharf stores only a hash of it.</p>
  ${copyBlock('new-token', 'Token', o.created.token)}
</section>`
  : ''}
<section aria-labelledby="create-h" class="card">
<h2 id="create-h">Create a token</h2>
<form class="stack" action="/-/settings/tokens" method="post">
  ${csrfField(ctx)}
  <label for="tok-name">Name</label>
  <input id="tok-name" name="name" required maxlength="100" placeholder="e.g. laptop npm, CI deploy">
  <fieldset>
    <legend>Scopes</legend>
    ${SCOPES.map((s, i) => html`<div class="check"><input type="checkbox" id="scope-${i}" name="scopes" value="${s}"${s === 'read:packages' ? html` checked` : ''}><label for="scope-${i}"><code>${s}</code> — ${SCOPE_TEXT[s]}</label></div>`)}
  </fieldset>
  <label for="tok-res">Limit to (optional)</label>
  <textarea id="tok-res" name="resources" rows="3" maxlength="20000" spellcheck="false" aria-describedby="tok-res-help" placeholder="npm:${ctx.userName ?? 'you'}/web=write">${o.form?.resources ?? ''}</textarea>
  <p id="tok-res-help" class="help">Leave empty for a token that reaches every package you can. Otherwise it is a <strong>fine-grained token</strong>: it reaches only what you list, one per line — an owner (<code>acme</code>), a repository's packages (<code>acme/app</code>) or one package (<code>npm:acme/web</code>, <code>container:acme/api</code>), each optionally followed by <code>=read</code>, <code>=write</code>, <code>=delete</code> or <code>=admin</code> (default: as far as its scopes go). It holds package scopes only and manages nothing.</p>
  <label for="tok-exp">Expiration</label>
  <select id="tok-exp" name="expires">${EXPIRIES.map(([v, t]) => html`<option value="${v}"${v === '30d' ? html` selected` : ''}>${t}</option>`)}</select>
  <button class="primary" type="submit">Create token</button>
</form>
</section>
<section aria-labelledby="list-h">
<h2 id="list-h">Your tokens</h2>
${tokens.length
  ? html`<div class="scroll"><table class="list">
<thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Reaches</th><th scope="col">Starts with</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>${tokens.map((t) => html`<tr>
<td>${t.name}${t.kind === 'job' ? html` <span class="badge">job</span>` : ''}</td>
<td>${t.scopes.map((s) => html`<code class="scope">${s}</code> `)}</td>
<td>${reaches(t)}</td>
<td><code>${t.token_prefix}…</code></td>
<td>${t.expires_at ? (t.expires_at <= new Date().toISOString() ? html`<span class="badge warn">expired</span>` : t.expires_at.slice(0, 10)) : 'never'}</td>
<td>${t.last_used_at ? when(t.last_used_at) : html`<span class="muted">never</span>`}</td>
<td><form action="/-/settings/tokens/${t.id}/revoke" method="post">${csrfField(ctx)}<button class="danger small" type="submit" aria-label="Revoke token ${t.name}">Revoke</button></form></td>
</tr>`)}</tbody></table></div>`
  : html`<p class="muted">You have no tokens yet.</p>`}
</section>`,
  });
}

export async function accountPages(app: FastifyInstance, web: Web): Promise<void> {
  const { core } = web;

  app.get('/-/login', async (req, reply) => {
    const next = safeNext((req.query as Record<string, string>).next);
    if (req.actor.kind === 'user') return web.redirect(reply, next);
    return web.send(reply, html`${loginPage(web.ctx(req, reply, { forForm: true }), next)}`);
  });

  app.post('/-/login', async (req, reply) => {
    const f = web.form(req);
    const name = (f.get('username') ?? '').trim();
    const next = safeNext(f.get('next'));
    try {
      const actor = await core.authn.password(name, f.get('password') ?? '', req.ip);
      if (actor.kind !== 'user') throw new Error('not a user');
      const { secret } = await web.sessions.create(actor.user.id);
      web.setSession(req, reply, secret);
      return web.redirect(reply, next);
    } catch (e) {
      if (isLockout(e)) {
        // The same words whether or not the password was right: a lockout must not confirm a guess.
        reply.header('retry-after', String(e.retryAfter));
        const wait = e.retryAfter < 90 ? `${e.retryAfter} seconds` : `${Math.ceil(e.retryAfter / 60)} minutes`;
        return web.send(reply, html`${loginPage(web.ctx(req, reply, { forForm: true }), next, `Too many failed sign-ins for this account or from your network. Try again in ${wait}.`, name)}`, 429);
      }
      if (!isWharfError(e) && (e as Error).message !== 'not a user') throw e;
      return web.send(reply, html`${loginPage(web.ctx(req, reply, { forForm: true }), next, 'Incorrect username or password.', name)}`, 401);
    }
  });

  app.post('/-/logout', async (req, reply) => {
    if (req.webSession) await web.sessions.destroy(req.webSession);
    web.setSession(req, reply, null);
    return web.redirect(reply, '/');
  });

  const signupOpen = () => {
    if (core.config.signup !== 'open') throw notFound('sign-up is closed on this Wharf: ask its administrator for an account');
  };
  app.get('/-/signup', async (req, reply) => {
    signupOpen();
    if (req.actor.kind === 'user') return web.redirect(reply, '/');
    return web.send(reply, html`${signupPage(web.ctx(req, reply, { forForm: true }))}`);
  });
  app.post('/-/signup', async (req, reply) => {
    signupOpen();
    const f = web.form(req);
    const name = (f.get('username') ?? '').trim();
    const email = (f.get('email') ?? '').trim();
    const password = f.get('password') ?? '';
    try {
      if (password.length < 10) throw Object.assign(new Error('The password must have at least 10 characters.'), { kind: 'Invalid' });
      const user = await core.identity.createUser(req.actor, { name, email: email || null, password });
      const { secret } = await web.sessions.create(user.id);
      web.setSession(req, reply, secret);
      return web.redirect(reply, `/${encodeURIComponent(user.name)}`);
    } catch (e) {
      if (!isWharfError(e) && (e as { kind?: string }).kind !== 'Invalid') throw e;
      return web.send(reply, html`${signupPage(web.ctx(req, reply, { forForm: true }), (e as Error).message, name, email)}`, 400);
    }
  });

  const list = (req: FastifyRequest) => {
    const a = web.requireUser(req);
    return core.tokens.listForUser(a, a.user.id);
  };
  app.get('/-/settings/tokens', async (req, reply) => {
    const tokens = (await list(req)).filter((t) => t.kind === 'pat');
    const notice = (req.query as Record<string, string>).revoked === '1' ? 'The token was revoked.' : undefined;
    return web.send(reply, html`${tokensPage(web.ctx(req, reply), tokens, { notice })}`);
  });

  app.post('/-/settings/tokens', async (req, reply) => {
    const a = web.requireUser(req);
    const f = web.form(req);
    const name = (f.get('name') ?? '').trim().slice(0, 100) || 'token';
    const scopes = f.getAll('scopes');
    const expires = f.get('expires') ?? '30d';
    const resourceText = (f.get('resources') ?? '').slice(0, 20000);
    let error: string | undefined;
    let created: { token: string; name: string } | undefined;
    if (!scopes.length) error = 'Choose at least one scope.';
    else if (!EXPIRIES.some(([v]) => v === expires)) error = 'Choose an expiration from the list.';
    else {
      try {
        const resources = formSelection(resourceText);
        const { token } = await core.tokens.createPersonal(a, a.user.name, { scopes: scopes.join(','), name, expiresInMs: expires === 'never' ? null : parseDuration(expires), resources });
        created = { token, name };
      } catch (e) {
        if (!isWharfError(e)) throw e;
        error = e.message;
      }
    }
    const tokens = (await list(req)).filter((t) => t.kind === 'pat');
    // The clear token is in this response only: never cached, never in a URL.
    // A refused selection stays in the box to be corrected.
    return web.send(reply, html`${tokensPage(web.ctx(req, reply), tokens, { created, error, form: error ? { resources: resourceText } : undefined })}`, error ? 400 : 201);
  });

  app.post('/-/settings/tokens/:id/revoke', async (req, reply) => {
    const a = web.requireUser(req);
    await core.tokens.revoke(a, idParam((req.params as { id: string }).id), a.user.id);
    return web.redirect(reply, '/-/settings/tokens?revoked=1');
  });
}
