// The web UI: server-rendered pages over the same core services as the REST API. Registered from app.ts in its
// own encapsulated context, so its cookie session, form parser, CSRF check, security headers and HTML error
// pages apply to these routes only: a browser's session cookie never authenticates /npm, /v2 or /api/v1.
//
// URL layout (owner names cannot start with '-', so /-/... never meets an owner):
//   /                                   explore and search
//   /-/login /-/logout /-/signup        sign in and out, sign up (when WHARF_SIGNUP=open)
//   /-/settings/tokens                  personal access tokens;  /-/settings/audit  the user's audit log
//   /-/static/*                         the stylesheet, the small script and the icon (also at /favicon.ico)
//   /-/docs/NAME                        docs/NAME.md rendered (the footer links the REST API's, /-/docs/api)
//   /OWNER                              a user's or org's packages;  /OWNER/-/settings  org members and roles
//   /OWNER/-/settings/hooks[/ID]        an owner's webhooks;  /OWNER/-/settings/signing  trusted keys, policy
//   /OWNER/-/settings/audit             an organization's audit log;  /OWNER/-/settings/retention  rules, protected tags
//   /OWNER/REPO                         the packages linked to a repository
//   /OWNER/REPO/-/settings/hooks[/ID]   a repository's webhooks;  /OWNER/REPO/-/settings/access  visibility, collaborators
//   /-/new/org  /-/new/repo             create an organization, a repository
//   /-/admin/users[/NAME]               site administration: users
//   /OWNER/-/packages/TYPE/NAME[/VERSION]   a package (the URL the REST API advertises as html_url)
//   /OWNER/-/packages/TYPE/NAME/-/settings  its settings (and /-/delete for the confirmation page)
import fs from 'node:fs';
import path from 'node:path';
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../core/auth/actor.ts';
import { csrfTokenFor, Sessions, SESSION_TTL_MS } from '../core/auth/sessions.ts';
import type { Core } from '../core/core.ts';
import { forbidden, isWharfError, unauthorized } from '../core/errors.ts';
import { formats } from '../formats/index.ts';
import { baseUrlOf } from '../http/actor.ts';
import type { Html } from './html.ts';
import { errorPage, type PageContext } from './layout.ts';
import { accountPages } from './pages/account.ts';
import { auditPages } from './pages/audit.ts';
import { docsPages } from './pages/docs.ts';
import { explorePages } from './pages/explore.ts';
import { hookPages } from './pages/hooks.ts';
import { managePages } from './pages/manage.ts';
import { ownerPages } from './pages/owner.ts';
import { packagePages } from './pages/package.ts';
import { signingPages } from './pages/signing.ts';
import { retentionPages } from './pages/retention.ts';
import { usagePages } from './pages/usage.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The web session's cookie secret, when signed in through the web UI. */
    webSession: string | null;
    /** The CSRF token forms on this request's pages carry (null: a signed-out visitor without a form cookie yet). */
    webCsrf: string | null;
  }
}

type UserActor = Extract<Actor, { kind: 'user' }>;

/** What page modules get: the core, sessions, and helpers for context, forms and replies. */
export interface Web {
  core: Core;
  sessions: Sessions;
  /** The page context; `forForm` makes sure an anonymous visitor has a CSRF cookie (sign-in, sign-up pages). */
  ctx(req: FastifyRequest, reply: FastifyReply, opts?: { forForm?: boolean }): PageContext;
  /** Sends a page. */
  send(reply: FastifyReply, page: Html, status?: number): FastifyReply;
  /** The signed-in person, or Unauthorized (which the error handler turns into a sign-in redirect). */
  requireUser(req: FastifyRequest): UserActor;
  /** The submitted form (CSRF already checked). */
  form(req: FastifyRequest): URLSearchParams;
  /** Sets or clears the session cookie. */
  setSession(req: FastifyRequest, reply: FastifyReply, secret: string | null): void;
  /** A 303 redirect after a successful POST. */
  redirect(reply: FastifyReply, to: string): FastifyReply;
}

const SESSION_COOKIE = 'wharf_session';
const ANON_COOKIE = 'wharf_anon';
const STATIC_DIR = path.join(import.meta.dirname, 'static');

// No inline script or style anywhere: a README that slipped past every other layer still could not run code.
const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' https: data:", "connect-src 'self'",
  "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
].join('; ');

/** Cookie header → name/value map (first occurrence wins, values URL-decoded when possible). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {}
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

function cookie(name: string, value: string, o: { secure: boolean; maxAgeS: number }): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${o.maxAgeS}${o.secure ? '; Secure' : ''}`;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export async function webUi(app: FastifyInstance, core: Core): Promise<void> {
  const sessions = new Sessions(core.db);
  await sessions.loadCsrfKey();
  const isSecure = (req: FastifyRequest) => req.protocol === 'https' || (core.config.baseUrl?.startsWith('https:') ?? false);
  // The first path segments other parts of Wharf own: a web route must never answer for them.
  const reserved = new Set(['api', 'healthz', 'badge', ...formats.map((f) => f.prefix.split('/')[1])]);

  app.decorateRequest('webSession', null);
  app.decorateRequest('webCsrf', null);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, new URLSearchParams(String(body)));
  });

  app.addHook('onRequest', async (req, reply) => {
    const first = req.url.split(/[/?#]/)[1] ?? '';
    if (reserved.has(first.toLowerCase())) {
      // Reached only when the owning routes had no match (the router backtracks to our parametric routes).
      return reply.code(404).type('application/json; charset=utf-8').send({ message: 'Not Found' });
    }
    req.webSession = null;
    // A page is for a person signed in through this UI: only the session cookie authenticates here. A bearer
    // token or Basic credentials on a page request are not a session — the forms below would otherwise let a
    // read-only token do what its scopes deny.
    req.actor = { kind: 'anonymous', via: { credential: 'anonymous', ip: req.ip } };
    const secret = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (secret) {
      const actor = await sessions.actorFor(secret);
      if (actor) {
        req.actor = { ...actor, via: { credential: 'session', ip: req.ip } };
        req.webSession = secret;
      }
    }
    // The CSRF token of this request's forms: bound to the session, or (signed out) to the visitor's cookie
    // under a server secret.
    const anon = parseCookies(req.headers.cookie).get(ANON_COOKIE);
    req.webCsrf = req.webSession ? csrfTokenFor(req.webSession) : anon && /^[A-Za-z0-9_-]{43}$/.test(anon) ? sessions.anonymousCsrf(anon) : null;
  });

  // Every state change is a POST carrying the form's CSRF token, from our own origin.
  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const origin = req.headers.origin;
    if (origin && origin !== 'null' && origin !== new URL(baseUrlOf(core, req)).origin) throw forbidden('cross-site form submissions are refused');
    const form = req.body instanceof URLSearchParams ? req.body : null;
    const sent = form?.get('_csrf') ?? '';
    if (!req.webCsrf || !sameToken(sent, req.webCsrf)) throw forbidden('the form has expired or did not come from this site: reload the page and try again');
  });

  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
  });

  const web: Web = {
    core,
    sessions,
    ctx(req, reply, opts = {}) {
      const actor = req.actor;
      if (!req.webCsrf && opts.forForm) {
        const anon = randomBytes(32).toString('base64url');
        reply.header('set-cookie', cookie(ANON_COOKIE, anon, { secure: isSecure(req), maxAgeS: 86400 }));
        req.webCsrf = sessions.anonymousCsrf(anon);
      }
      return {
        actor,
        userName: actor.kind === 'user' ? actor.user.name : null,
        csrf: req.webCsrf ?? '',
        base: baseUrlOf(core, req),
        url: req.url,
        signupOpen: core.config.signup === 'open',
      };
    },
    send(reply, page, status = 200) {
      return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.value);
    },
    requireUser(req) {
      if (req.actor.kind === 'anonymous') throw unauthorized();
      if (req.actor.kind !== 'user') throw forbidden('this page is for people, not job tokens');
      return req.actor;
    },
    form(req) {
      return req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
    },
    setSession(req, reply, secret) {
      reply.header('set-cookie', cookie(SESSION_COOKIE, secret ?? '', { secure: isSecure(req), maxAgeS: secret ? Math.floor(SESSION_TTL_MS / 1000) : 0 }));
    },
    redirect(reply, to) {
      return reply.code(303).header('location', to).send();
    },
  };

  app.setErrorHandler((err, req, reply) => {
    const ctx = web.ctx(req, reply);
    if (isWharfError(err)) {
      if (err.kind === 'Unauthorized' && req.method === 'GET') return web.redirect(reply, `/-/login?next=${encodeURIComponent(req.url)}`);
      return web.send(reply, errorPage(ctx, err.status, err.message), err.status);
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return web.send(reply, errorPage(ctx, status, status === 413 ? 'The form is too large.' : undefined), status);
    req.log.error({ err }, 'web page failed');
    return web.send(reply, errorPage(ctx, 500), 500);
  });
  app.setNotFoundHandler((req, reply) => web.send(reply, errorPage(web.ctx(req, reply), 404), 404));

  // One stylesheet and one small script, read once.
  const assets: Record<string, { body: Buffer; type: string }> = {
    'style.css': { body: fs.readFileSync(path.join(STATIC_DIR, 'style.css')), type: 'text/css; charset=utf-8' },
    'app.js': { body: fs.readFileSync(path.join(STATIC_DIR, 'app.js')), type: 'text/javascript; charset=utf-8' },
    'favicon.svg': { body: fs.readFileSync(path.join(STATIC_DIR, 'favicon.svg')), type: 'image/svg+xml' },
  };
  app.get('/-/static/:file', async (req, reply) => {
    const a = assets[(req.params as { file: string }).file];
    if (!a) return web.send(reply, errorPage(web.ctx(req, reply), 404), 404);
    return reply.type(a.type).header('cache-control', 'public, max-age=300').send(a.body);
  });
  // Browsers ask for /favicon.ico on their own (and on pages that are not HTML): point them at the icon.
  app.get('/favicon.ico', async (_req, reply) => reply.code(301).header('location', '/-/static/favicon.svg').send());

  await accountPages(app, web);
  await explorePages(app, web);
  await packagePages(app, web);
  await hookPages(app, web);
  await signingPages(app, web);
  await retentionPages(app, web);
  await auditPages(app, web);
  await usagePages(app, web);
  await managePages(app, web);
  await docsPages(app, web);
  // Last: /:owner and /:owner/:repo are the most general routes.
  await ownerPages(app, web);
}
