// The page frame every web page shares: header with search and account menu, main, footer; and error pages.
import type { Actor } from '../core/auth/actor.ts';
import { html, seg, type Child, type Html } from './html.ts';

/** What every page knows about the request. */
export interface PageContext {
  actor: Actor;
  /** The signed-in person's name, or null. */
  userName: string | null;
  /** The CSRF token to put in every form (empty when the page has no form for this visitor). */
  csrf: string;
  /** Public base URL without trailing slash. */
  base: string;
  /** The current path and query (for `next` after sign-in). */
  url: string;
  signupOpen: boolean;
}

/** A hidden CSRF field: every form carries one. */
export const csrfField = (ctx: PageContext) => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;

export function layout(ctx: PageContext, opts: { title: string; main: Child; q?: string; wide?: boolean }): Html {
  const user = ctx.userName;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Wharf</title>
<link rel="icon" href="/-/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/-/static/style.css">
<script src="/-/static/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <nav class="bar" aria-label="Site">
    <a class="brand" href="/"><svg aria-hidden="true" width="22" height="22" viewBox="0 0 24 24"><path fill="currentColor" d="M12 2 3 6.5v11L12 22l9-4.5v-11L12 2Zm0 2.2 6.6 3.3L12 10.8 5.4 7.5 12 4.2ZM5 9.1l6 3v7.6l-6-3V9.1Zm8 10.6v-7.6l6-3v7.6l-6 3Z"/></svg>Wharf</a>
    <form class="search" role="search" action="/" method="get">
      <label class="sr-only" for="site-q">Search packages</label>
      <input id="site-q" type="search" name="q" value="${opts.q ?? ''}" placeholder="Search packages" autocomplete="off">
    </form>
    <ul class="menu">
      <li><a href="/">Explore</a></li>
      ${user
        ? html`<li><a href="/${seg(user)}">Your packages</a></li>
      <li><a href="/-/settings/tokens">Tokens</a></li>
      <li><a href="/-/new/repo">New repository</a></li>
      <li><a href="/-/new/org">New organization</a></li>
      ${ctx.actor.kind === 'user' && ctx.actor.user.isAdmin ? html`<li><a href="/-/admin/users">Site admin</a></li>` : ''}
      <li><form action="/-/logout" method="post">${csrfField(ctx)}<button class="linkish" type="submit">Sign out <span class="who">${user}</span></button></form></li>`
        : html`<li><a href="/-/login?next=${encodeURIComponent(ctx.url)}">Sign in</a></li>${ctx.signupOpen ? html`<li><a href="/-/signup">Sign up</a></li>` : ''}`}
    </ul>
  </nav>
</header>
<main id="main" class="${opts.wide ? 'wide' : ''}" tabindex="-1">
${opts.main}
</main>
<footer class="foot"><p>Wharf — a self-hosted package and container registry · <a href="/-/docs/api">REST API</a></p></footer>
</body>
</html>
`;
}

const TITLES: Record<number, [string, string]> = {
  400: ['That did not work', 'The request could not be carried out.'],
  401: ['Sign in required', 'You need to sign in to see this page.'],
  403: ['Not allowed', 'You do not have permission to do this.'],
  404: ['Page not found', 'There is nothing here — or it is private and you may not see it.'],
  409: ['Conflict', 'That conflicts with what already exists.'],
  500: ['Something went wrong', 'The server could not handle this request. The details are in its log.'],
};

/** A readable error page (never a stack trace). `message` is shown for client errors only. */
export function errorPage(ctx: PageContext, status: number, message?: string): Html {
  const [title, text] = TITLES[status] ?? TITLES[status >= 500 ? 500 : 400];
  return layout(ctx, {
    title,
    main: html`<section class="error-page">
  <p class="code" aria-hidden="true">${status}</p>
  <h1>${title}</h1>
  <p>${text}</p>
  ${message && status < 500 && message !== text ? html`<p class="detail">${message}</p>` : ''}
  <p><a href="/">Explore packages</a>${ctx.userName ? '' : html` · <a href="/-/login?next=${encodeURIComponent(ctx.url)}">Sign in</a>`}</p>
</section>`,
  });
}
