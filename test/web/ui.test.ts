// The web UI in a real browser (Debian's Chromium through playwright-core) against a real Wharf: signing in,
// explore and search, a package page with its install command copied, tokens created and revoked, visibility
// changed and an anonymous browser losing access, versions deleted and restored, org members, sign-up, errors.
// Every test saves a screenshot under test-results/; the ones the issue asks for also go to docs/screenshots/.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { publish } from '../helpers/npm-body.ts';
import { basic, multiPlatform, pushIndex } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

/** Seeds daily download counts for the last `days` days (a chart with something in it). */
async function seedDownloads(s: TestServer, versionId: number, days: number, per: (i: number) => number) {
  for (let i = 0; i < days; i++) {
    const day = new Date(Date.now() - i * 864e5).toISOString().slice(0, 10);
    await s.core.db.insertInto('downloads').values({ version_id: versionId, day, count: per(i) }).execute();
  }
}

describe('web UI in Chromium', () => {
  let s: TestServer;
  let alice: string;
  let b: Browser;
  let anon: Browser;

  before(async () => {
    s = await startWharf();
    alice = await s.userWithToken('alice', undefined, { password: PASSWORD });
    await s.userWithToken('bob', undefined, { password: PASSWORD });
    await s.core.identity.createOrg(systemActor, 'acme', 'alice');
    await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    const readme = '# hello\n\nA friendly greeting library.\n\n```js\nimport { hello } from "@alice/hello";\nhello("world");\n```\n\n- tiny\n- typed\n\nSee the [docs](https://example.com/docs).';
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      const r = await publish(s.url, alice, '@alice/hello', v, { description: 'Says hello, politely', readme, repository: { type: 'git', url: `git+${s.url}/alice/hello.git` } });
      assert.equal(r.status, 201, await r.text());
    }
    for (const [name, desc] of [['@alice/utils', 'Little helpers for strings and dates'], ['@acme/widgets', 'UI widgets for acme dashboards'], ['@alice/hello-cli', 'Command line for hello']] as const) {
      const r = await publish(s.url, alice, name, '0.1.0', { description: desc });
      assert.equal(r.status, 201, await r.text());
    }
    await pushIndex(s.url, 'alice/app', '1', multiPlatform(), basic('alice', alice));
    const settings = async (owner: string, type: string, name: string) => {
      const p = (await s.core.packages.find(owner, type, name))!;
      await s.core.publisher.updateSettings(p.id, { visibility: 'public' }, systemActor);
      return p;
    };
    const hello = await settings('alice', 'npm', 'hello');
    await settings('alice', 'npm', 'utils');
    await settings('acme', 'npm', 'widgets');
    await settings('alice', 'container', 'app');
    const v12 = (await s.core.packages.version(hello.id, '1.2.0'))!;
    const v11 = (await s.core.packages.version(hello.id, '1.1.0'))!;
    await seedDownloads(s, v12.id, 20, (i) => 40 + ((i * 37) % 25));
    await seedDownloads(s, v11.id, 60, (i) => 10 + ((i * 13) % 9));
    b = await openBrowser({ clipboard: true });
    anon = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await anon?.close();
    await s?.stop();
  });

  test('sign in: a wrong password is refused, the right one signs in with an HttpOnly SameSite=Lax cookie', async () => {
    const page = b.page;
    await page.goto(`${s.url}/-/login`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Incorrect username or password.').waitFor();
    await shot(page, 'sign-in-refused');
    await signIn(page, s.url, 'alice', PASSWORD);
    await page.getByRole('button', { name: /Sign out/ }).waitFor();
    const cookie = (await b.context.cookies(s.url)).find((c) => c.name === 'wharf_session');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    // Only a hash of the session is stored.
    const rows = await s.core.db.selectFrom('sessions').select('id_hash').execute();
    assert.ok(rows.length >= 1 && rows.every((r) => r.id_hash !== cookie.value && /^[0-9a-f]{64}$/.test(r.id_hash)));
    await shot(page, 'signed-in');
  });

  test('explore: search, filter by type and owner, sort by downloads; anonymous sees public packages only', async () => {
    const page = anon.page;
    await page.goto(`${s.url}/`);
    await page.getByRole('heading', { name: 'Explore packages' }).waitFor();
    await page.getByLabel('Search', { exact: true }).fill('hello');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=hello/);
    const names = await page.locator('.pkg-name').allTextContents();
    assert.deepEqual(names.slice(0, 1), ['@alice/hello'], 'the exact name match comes first');
    assert.ok(!names.includes('@alice/hello-cli'), 'a private package is not listed to anonymous visitors');
    await page.getByLabel('Type').selectOption('container');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No package you may see matches').waitFor();
    await page.goto(`${s.url}/?owner=acme`);
    assert.deepEqual(await page.locator('.pkg-name').allTextContents(), ['@acme/widgets']);
    await page.goto(`${s.url}/?sort=downloads`);
    assert.equal((await page.locator('.pkg-name').first().textContent())?.trim(), '@alice/hello');
    await shot(page, 'explore-anonymous');
    // Signed in, alice also sees her private package; this is the docs screenshot of the explore page.
    await b.page.goto(`${s.url}/`);
    await b.page.getByText('alice/hello-cli').waitFor();
    await shot(b.page, 'explore', { docs: true });
  });

  test('package page: README, versions, downloads chart; the install command is copied to the clipboard', async () => {
    const page = b.page;
    await page.goto(`${s.url}/`);
    await page.getByRole('link', { name: '@alice/hello', exact: true }).click();
    await page.waitForURL(/\/alice\/-\/packages\/npm\/hello$/);
    await page.getByRole('heading', { name: /hello/, level: 1 }).waitFor();
    assert.equal(await page.locator('.markdown h1').count(), 0, 'README headings sit below the page title');
    assert.equal(await page.locator('#install-cmd').textContent(), 'npm install @alice/hello@1.2.0');
    assert.equal(await page.locator('.markdown h2').textContent(), 'hello');
    assert.equal(await page.locator('table.versions tbody tr').count(), 3);
    assert.match((await page.locator('.chart figcaption').textContent()) ?? '', /downloads in the last 30 days/);
    assert.ok(await page.getByRole('link', { name: 'alice/hello' }).count(), 'linked repository shown');
    await page.getByRole('button', { name: 'Copy', exact: true }).first().click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'npm install @alice/hello@1.2.0');
    await page.getByRole('link', { name: '90 days' }).click();
    await page.waitForURL(/days=90/);
    assert.match((await page.locator('.chart figcaption').textContent()) ?? '', /last 90 days/);
    await page.goto(`${s.url}/alice/-/packages/npm/hello`);
    await shot(page, 'package-npm', { docs: true });
    // A version's own page installs that version.
    await page.getByRole('link', { name: '1.0.0' }).first().click();
    assert.equal(await page.locator('#install-cmd').textContent(), 'npm install @alice/hello@1.0.0');
    await shot(page, 'package-npm-version');
  });

  test('container page: tags, digests, platforms of the multi-arch index, layer sizes, signature state', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice/-/packages/container/app`);
    const install = (await page.locator('#install-cmd').textContent()) ?? '';
    assert.match(install, /^docker pull 127\.0\.0\.1:\d+\/alice\/app/);
    const facts = page.locator('section[aria-labelledby=facts-h]');
    await facts.getByRole('heading', { name: /Platforms/ }).waitFor();
    const platformText = (await facts.textContent()) ?? '';
    assert.match(platformText, /amd64/);
    assert.match(platformText, /arm64/);
    assert.match(platformText, /unsigned/);
    assert.equal(await page.locator('table.versions tbody tr').count(), 3, 'the index and its two platform manifests');
    assert.ok(await page.locator('.tag', { hasText: '1' }).count());
    await shot(page, 'package-container', { docs: true });
    // A platform manifest shows its layers with sizes.
    await page.locator('table.versions tbody tr').filter({ hasNot: page.locator('.tag') }).first().locator('a').click();
    await page.locator('section[aria-labelledby=facts-h]').getByRole('heading', { name: /Layers/ }).waitFor();
    assert.match((await page.locator('section[aria-labelledby=facts-h]').textContent()) ?? '', /\d+ B/);
    await shot(page, 'package-container-platform');
  });

  test('tokens: created with scopes and expiry, shown once with a copy button, listed, then revoked', async () => {
    const page = b.page;
    await page.goto(`${s.url}/-/settings/tokens`);
    await page.getByLabel('Name').fill('laptop npm');
    await page.getByLabel(/write:packages/).check();
    await page.getByLabel('Expiration').selectOption('90d');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = ((await page.locator('#new-token').textContent()) ?? '').trim();
    assert.match(token, /^whp_[0-9A-Za-z]{36}$/);
    await page.locator('.created').getByRole('button', { name: 'Copy' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await shot(page, 'tokens', { docs: true });
    const who = await fetch(`${s.url}/api/v1/user`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(who.status, 200);
    const listed = await s.core.tokens.listForUser(systemActor, (await s.core.identity.requireUser('alice')).id);
    const info = listed.find((t) => t.name === 'laptop npm')!;
    assert.deepEqual([...info.scopes].sort(), ['read:packages', 'write:packages']);
    assert.ok(info.expires_at && Date.parse(info.expires_at) - Date.now() > 89 * 864e5);
    // Shown once: the list page never contains it again.
    await page.goto(`${s.url}/-/settings/tokens`);
    assert.ok(!(await page.content()).includes(token));
    await page.getByRole('button', { name: 'Revoke token laptop npm' }).click();
    await page.getByText('The token was revoked.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Revoke token laptop npm' }).count(), 0);
    assert.equal((await fetch(`${s.url}/api/v1/user`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
    await shot(page, 'tokens-revoked');
  });

  test('visibility: made private, an anonymous browser gets a 404; made public again, it sees the package', async () => {
    const url = `${s.url}/alice/-/packages/npm/utils`;
    let r = await anon.page.goto(url);
    assert.equal(r?.status(), 200);
    const page = b.page;
    await page.goto(url);
    await page.getByRole('link', { name: 'Package settings' }).click();
    await page.getByLabel(/Private/).check();
    await page.getByRole('button', { name: 'Change visibility' }).click();
    await page.getByText('Visibility changed.').waitFor();
    await shot(page, 'settings-private');
    r = await anon.page.goto(url);
    assert.equal(r?.status(), 404);
    await anon.page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await shot(anon.page, 'anonymous-404');
    assert.equal((await fetch(`${s.url}/npm/@alice%2futils`)).status, 401, 'the registry agrees');
    // Not in explore either.
    await anon.page.goto(`${s.url}/?q=utils`);
    assert.equal(await anon.page.locator('.pkg-name').count(), 0);
    await page.getByLabel(/Public/).check();
    await page.getByRole('button', { name: 'Change visibility' }).click();
    await page.getByText('Visibility changed.').waitFor();
    r = await anon.page.goto(url);
    assert.equal(r?.status(), 200);
  });

  test('delete a version after a confirmation naming it, then restore it', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice/-/packages/npm/hello/-/settings`);
    await page.getByRole('link', { name: 'Delete version 1.0.0' }).click();
    await page.getByRole('heading', { name: 'Delete version 1.0.0 of @alice/hello?' }).waitFor();
    await shot(page, 'delete-version-confirm');
    await page.getByRole('button', { name: 'Delete version 1.0.0' }).click();
    await page.getByText('Version deleted.').waitFor();
    const packument = await (await fetch(`${s.url}/npm/@alice%2fhello`)).json();
    assert.ok(!('1.0.0' in packument.versions), 'the deleted version no longer installs');
    await shot(page, 'version-deleted');
    await page.getByRole('button', { name: 'Restore version 1.0.0' }).click();
    await page.getByText('Version restored.').waitFor();
    const again = await (await fetch(`${s.url}/npm/@alice%2fhello`)).json();
    assert.ok('1.0.0' in again.versions);
    await shot(page, 'version-restored');
  });

  test('delete the package only after typing its name; restore it', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice/-/packages/npm/hello-cli/-/settings`);
    await page.getByRole('link', { name: 'Delete this package…' }).click();
    await page.getByText('The npm package @alice/hello-cli and all its versions will stop installing').waitFor();
    await page.getByLabel(/To confirm, type/).fill('wrong');
    await page.getByRole('button', { name: 'Delete this package' }).click();
    await page.getByText('type @alice/hello-cli to confirm').waitFor();
    await page.goto(`${s.url}/alice/-/packages/npm/hello-cli/-/delete`);
    await page.getByLabel(/To confirm, type/).fill('@alice/hello-cli');
    await page.getByRole('button', { name: 'Delete this package' }).click();
    await page.getByText('Package deleted.').waitFor();
    assert.equal((await fetch(`${s.url}/npm/@alice%2fhello-cli`, { headers: { authorization: `Bearer ${alice}` } })).status, 404);
    await page.getByRole('button', { name: 'Restore package' }).click();
    await page.getByText('Package restored.').waitFor();
    assert.equal((await fetch(`${s.url}/npm/@alice%2fhello-cli`, { headers: { authorization: `Bearer ${alice}` } })).status, 200);
    await shot(page, 'package-restored');
  });

  test('grants: a user granted read sees a private package, revoked loses it; linking a repository', async () => {
    const page = b.page;
    const bob = await openBrowser();
    try {
      await signIn(bob.page, s.url, 'bob', PASSWORD);
      const url = `${s.url}/alice/-/packages/npm/hello-cli`;
      assert.equal((await bob.page.goto(url))?.status(), 404);
      await page.goto(`${url}/-/settings`);
      await page.getByLabel('User or repository').fill('bob');
      await page.getByLabel('Role').selectOption('read');
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.getByText('Access granted.').waitFor();
      // Granular grants apply when the package does not inherit from a repository (it has none here).
      assert.equal((await bob.page.goto(url))?.status(), 200);
      await page.getByRole('button', { name: 'Revoke access of bob' }).click();
      await page.getByText('Access revoked.').waitFor();
      assert.equal((await bob.page.goto(url))?.status(), 404);
      await page.getByLabel('Link to a repository').selectOption('alice/hello');
      await page.getByRole('button', { name: 'Link', exact: true }).click();
      await page.getByText('Repository linked.').waitFor();
      await shot(page, 'settings-linked');
      await page.goto(`${s.url}/alice/hello`);
      await page.getByRole('link', { name: 'alice/hello-cli' }).waitFor();
      await page.goto(`${url}/-/settings`);
      await page.getByRole('button', { name: 'Unlink repository' }).click();
      await page.getByText('Repository unlinked.').waitFor();
    } finally {
      await bob.close();
    }
  });

  test('org settings: members listed, a member added and promoted; the last owner cannot be demoted', async () => {
    const page = b.page;
    await page.goto(`${s.url}/acme`);
    await page.getByRole('link', { name: 'Members and roles' }).click();
    await page.getByLabel('Username').fill('bob');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByText('Members updated.').waitFor();
    assert.equal(await s.core.identity.orgRole((await s.core.identity.requireOrg('acme')).id, (await s.core.identity.requireUser('bob')).id), 'member');
    await page.getByLabel('Role of bob', { exact: true }).selectOption('owner');
    await page.getByRole('button', { name: 'Save role of bob' }).click();
    await page.getByText('Members updated.').waitFor();
    assert.equal(await s.core.identity.orgRole((await s.core.identity.requireOrg('acme')).id, (await s.core.identity.requireUser('bob')).id), 'owner');
    await page.getByLabel('Role of bob', { exact: true }).selectOption('member');
    await page.getByRole('button', { name: 'Save role of bob' }).click();
    await page.getByLabel('Role of alice', { exact: true }).selectOption('member');
    await page.getByRole('button', { name: 'Save role of alice' }).click();
    await page.getByText('an organization needs at least one owner').waitFor();
    await shot(page, 'org-members');
  });

  test('forms need their CSRF token and our origin; pages send a strict CSP', async () => {
    const cookie = (await b.context.cookies(s.url)).find((c) => c.name === 'wharf_session')!;
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${s.url}/-/settings/tokens`, { method: 'POST', redirect: 'manual', headers: { cookie: `wharf_session=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });
    const before = (await s.core.tokens.listForUser(systemActor, (await s.core.identity.requireUser('alice')).id)).length;
    assert.equal((await post({ name: 'x', scopes: 'read:packages', expires: '7d' })).status, 403);
    assert.equal((await post({ name: 'x', scopes: 'read:packages', expires: '7d', _csrf: 'forged' })).status, 403);
    await b.page.goto(`${s.url}/-/settings/tokens`);
    const csrf = await b.page.locator('input[name=_csrf]').first().inputValue();
    assert.equal((await post({ name: 'x', scopes: 'read:packages', expires: '7d', _csrf: csrf }, { origin: 'https://evil.example' })).status, 403);
    assert.equal((await s.core.tokens.listForUser(systemActor, (await s.core.identity.requireUser('alice')).id)).length, before, 'no token was made');
    const page = await fetch(`${s.url}/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    // The session cookie is no credential for the registry or the REST API.
    assert.equal((await fetch(`${s.url}/api/v1/user`, { headers: { cookie: `wharf_session=${cookie.value}` } })).status, 401);
  });

  test('errors are readable pages; protocol and API paths are never answered with HTML', async () => {
    const r = await anon.page.goto(`${s.url}/nobody-here/-/packages/npm/nothing`);
    assert.equal(r?.status(), 404);
    await anon.page.getByRole('heading', { name: 'Page not found' }).waitFor();
    assert.ok(!(await anon.page.content()).includes('at '), 'no stack trace');
    assert.equal((await anon.page.goto(`${s.url}/alice/-/packages/unknown-type/x`))?.status(), 404);
    const signedOut = await anon.page.goto(`${s.url}/-/settings/tokens`);
    assert.match(anon.page.url(), /\/-\/login\?next=/, 'a page for people redirects to sign in');
    assert.equal(signedOut?.status(), 200);
    await shot(anon.page, 'error-sign-in-needed');
    for (const p of ['/api/v1', '/api/v1/nothing', '/npm/-/nothing/here', '/npm/@alice%2fnothing', '/v2', '/v2/alice/app/tags/list', '/healthz', '/rubygems/alice/nothing/x', '/maven/alice/x']) {
      const res = await fetch(`${s.url}${p}`);
      assert.ok(!(res.headers.get('content-type') ?? '').includes('text/html'), `${p} answered with HTML`);
    }
  });

  test('a phone-sized browser gets a usable package page; keyboard reaches the copy button', async () => {
    const phone = await openBrowser({ phone: true });
    try {
      await phone.page.goto(`${s.url}/alice/-/packages/npm/hello`);
      const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 400, `no horizontal scrolling (${width}px)`);
      await phone.page.keyboard.press('Tab');
      assert.equal(await phone.page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
      let found = false;
      for (let i = 0; i < 30 && !found; i++) {
        await phone.page.keyboard.press('Tab');
        found = await phone.page.evaluate(() => (document.activeElement as HTMLElement | null)?.classList.contains('copy') ?? false);
      }
      assert.ok(found, 'the copy button is reachable with Tab');
      await shot(phone.page, 'package-npm-phone');
    } finally {
      await phone.close();
    }
  });

  test('sign out ends the session', async () => {
    const page = b.page;
    await page.goto(`${s.url}/`);
    const cookie = (await b.context.cookies(s.url)).find((c) => c.name === 'wharf_session')!;
    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    // The old cookie value no longer signs anyone in.
    const r = await fetch(`${s.url}/-/settings/tokens`, { redirect: 'manual', headers: { cookie: `wharf_session=${cookie.value}` } });
    assert.equal(r.status, 303);
    await shot(page, 'signed-out');
    assert.deepEqual(b.dialogs, []);
    assert.deepEqual(b.errors, []);
  });
});

describe('sign-up', () => {
  test('closed by default: no sign-up page', async () => {
    // The browser first: a missing Chromium then fails the test without leaving a server running (which kept the
    // test file from ever ending).
    const b = await openBrowser();
    const s = await startWharf();
    try {
      assert.equal((await b.page.goto(`${s.url}/-/signup`))?.status(), 404);
      await b.page.goto(`${s.url}/-/login`);
      assert.equal(await b.page.getByRole('link', { name: 'Create an account' }).count(), 0);
      await shot(b.page, 'signup-closed');
    } finally {
      await b.close();
      await s.stop();
    }
  });

  test('WHARF_SIGNUP=open: a person creates an account and is signed in', async () => {
    const b = await openBrowser();
    const s = await startWharf({ env: { WHARF_SIGNUP: 'open' } });
    try {
      await b.page.goto(`${s.url}/-/login`);
      await b.page.getByRole('link', { name: 'Create an account' }).click();
      await b.page.getByLabel('Username').fill('carol');
      await b.page.getByLabel('Email').fill('carol@example.com');
      await b.page.getByLabel('Password').fill('short');
      await b.page.getByRole('button', { name: 'Create account' }).click();
      // The browser's own check (minlength) or the server's refuses a short password.
      assert.equal(await s.core.identity.findOwner('carol'), undefined);
      await b.page.getByLabel('Password').fill('a long enough password');
      await b.page.getByRole('button', { name: 'Create account' }).click();
      await b.page.waitForURL(/\/carol$/);
      await b.page.getByRole('button', { name: /Sign out/ }).waitFor();
      assert.equal((await s.core.identity.findOwner('carol'))?.kind, 'user');
      await shot(b.page, 'signup-done');
    } finally {
      await b.close();
      await s.stop();
    }
  });
});
