// Webhooks and signing in the web UI, in Chromium: a hook created from the owner's settings receives a delivery
// when a package is published, the delivery shows with its status and duration and is redelivered; a repository's
// hooks page; a trusted key pasted in a container package's settings and "require signed images" turned on make
// an unsigned pull fail with DENIED. Hostile hook URLs and response bodies stay inert text; forms need CSRF tokens;
// those who do not manage an owner or repository get 404 (or 403 on a repository they can see).
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateCosignKeyPair } from '../../src/core/signing/cosign-keys.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, imageManifest, pushImage } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';
const HOSTILE_BODY = '<img src=x onerror="window.__pwned=1;alert(1)" id="injected-img"><script>alert(2)</script>"><b id="injected-b">';

async function until<T>(what: string, fn: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('webhooks and signing in the web UI (Chromium)', () => {
  let s: TestServer;
  let alice: string;
  let b: Browser;
  let rx: http.Server;
  let hookUrl: string;
  const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    s = await startWharf({ env: { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WHARF_WEBHOOK_RETRY_SECONDS: '0.2' } });
    alice = await s.userWithToken('alice', undefined, { password: PASSWORD });
    await s.userWithToken('bob', undefined, { password: PASSWORD });
    await s.userWithToken('root', undefined, { password: PASSWORD, admin: true });
    await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    rx = http.createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      got.push({ headers: req.headers, body });
      res.setHeader('content-type', 'text/html');
      res.end(HOSTILE_BODY);
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
  });

  after(async () => {
    await b?.close();
    rx?.closeAllConnections();
    await new Promise((r) => rx?.close(r));
    await s?.stop();
  });

  test('owner hook: created from the settings, a publish delivers, the delivery shows and is redelivered; its private response body is for site admins, as text', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice`);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await page.getByLabel('Payload URL').fill(hookUrl);
    await page.getByLabel('Secret').fill('ui-secret');
    await Promise.all([page.waitForURL(/\/alice\/-\/settings\/hooks\/\d+\?done=created$/), page.getByRole('button', { name: 'Add webhook' }).click()]);
    await page.getByText('Webhook added.').waitFor();
    const hookId = Number(/hooks\/(\d+)/.exec(page.url())![1]);
    const [hook] = await s.core.webhooks.list(systemActor, { ownerId: (await s.core.identity.findOwner('alice'))!.id });
    assert.equal(hook.id, hookId);
    assert.equal(hook.url, hookUrl);
    assert.equal(hook.secret, 'ui-secret');
    await page.getByText('No deliveries yet.').waitFor();

    assert.equal((await publish(s.url, alice, '@alice/hooked', '1.0.0')).status, 201);
    await until('the delivery', () => got.length >= 1);
    const row = page.locator('tr.delivery');
    await until('the delivery on the page', async () => {
      await page.reload();
      return (await row.count()) === 1 && (await row.first().getByText('Delivered').count()) === 1;
    });
    const first = row.first();
    assert.equal(await first.getAttribute('data-delivery'), got[0].headers['x-github-delivery']);
    assert.equal((await first.locator('.status-code').textContent())?.trim(), '200');
    assert.match((await first.locator('.duration').textContent())!, /^\d+ ms$/);
    // The payload; the response came from 127.0.0.1 (allowed by the admin), so alice sees its status code only.
    await first.locator('summary').click();
    assert.match((await first.locator('pre.payload').textContent())!, /"name": "hooked"/);
    assert.equal(await first.locator('pre.response').count(), 0);
    assert.match((await first.locator('.response-hidden').textContent())!, /only site admins see its body/);
    // A site admin sees the (hostile) response body, as text.
    const root = await openBrowser();
    try {
      await signIn(root.page, s.url, 'root', PASSWORD);
      await root.page.goto(page.url());
      const theirs = root.page.locator('tr.delivery').first();
      await theirs.locator('summary').click();
      assert.equal(await theirs.locator('pre.response').textContent(), HOSTILE_BODY);
      assert.equal(await root.page.locator('#injected-img, #injected-b').count(), 0, 'no element from the response body');
      await shot(root.page, 'webhook-deliveries', { docs: true });
      assert.deepEqual(root.errors, []);
    } finally {
      await root.close();
    }

    await Promise.all([page.waitForURL(/done=redelivered/), first.getByRole('button', { name: /Redeliver/ }).click()]);
    await page.getByText('Redelivery queued').waitFor();
    await until('the redelivery', () => got.length >= 2);
    assert.notEqual(got[1].headers['x-github-delivery'], got[0].headers['x-github-delivery']);
    await until('two deliveries on the page', async () => {
      await page.reload();
      return (await page.locator('tr.delivery').count()) === 2 && (await page.getByText('redelivery', { exact: true }).count()) === 1;
    });

    // Edit: deactivate. Then the list shows it inactive with its last delivery.
    await page.getByLabel('Active (deliver events to this URL)').uncheck();
    await Promise.all([page.waitForURL(/done=updated/), page.getByRole('button', { name: 'Update webhook' }).click()]);
    assert.equal((await s.core.webhooks.byId(hookId)).active, 0);
    assert.equal((await s.core.webhooks.byId(hookId)).secret, 'ui-secret', 'an empty secret field keeps the secret');
    await page.goto(`${s.url}/alice/-/settings/hooks`);
    await page.locator(`tr[data-hook="${hookId}"]`).getByText('Inactive').waitFor();
    assert.deepEqual(b.dialogs, []);
    assert.deepEqual(b.errors, []);
  });

  test('repository hook: reachable from the repository page; a hostile URL is shown as text; deleting it removes it', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice/hello`);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(/\/alice\/hello\/-\/settings\/hooks$/);
    const evil = `${hookUrl}/x'onmouseover='alert(1)'/"><script>alert(2)</script>?q="><img src=x id=injected-img>`;
    await page.getByLabel('Payload URL').fill(evil);
    await page.getByLabel('Every event').check();
    await page.getByLabel('Content type').selectOption('form');
    await Promise.all([page.waitForURL(/done=created/), page.getByRole('button', { name: 'Add webhook' }).click()]);
    const repo = (await s.core.identity.findRepo('alice', 'hello'))!;
    const [hook] = await s.core.webhooks.list(systemActor, { repositoryId: repo.id });
    assert.deepEqual([hook.content_type, hook.events], ['form', '["*"]']);
    assert.equal(await page.getByLabel('Payload URL').inputValue(), hook.url);
    await page.goto(`${s.url}/alice/hello/-/settings/hooks`);
    assert.equal(await page.locator('a.hook-url').textContent(), hook.url);
    assert.equal(await page.locator('#injected-img').count(), 0);
    await shot(page, 'webhooks-hostile-url');

    // Whatever a row holds (written straight into the database, past the URL check), it is shown as text and
    // never becomes a link target.
    const raw = `javascript:alert(3)"><img src=x id=injected-raw onerror=alert(4)>`;
    const now = new Date().toISOString();
    const rawHook = await s.core.db.insertInto('webhooks').values({ owner_id: null, repository_id: repo.id, url: raw, secret: null, content_type: 'json', events: '["package"]', active: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
    await s.core.db.insertInto('webhook_deliveries').values({
      id: '00000000-0000-4000-8000-000000000000', hook_id: rawHook.id, event: 'package', action: 'published', payload: '{"x":"</pre><img src=x id=injected-payload>"}', status: 'failed', attempts: 8,
      next_attempt_at: null, claimed_until: null, response_status: 500, response_body: null, error: '<img src=x id=injected-error>', duration_ms: 3, redelivery: 0, created_at: now, delivered_at: null,
    }).execute();
    await page.goto(`${s.url}/alice/hello/-/settings/hooks`);
    assert.equal(await page.locator(`tr[data-hook="${rawHook.id}"] a.hook-url`).textContent(), raw);
    assert.equal(await page.locator(`tr[data-hook="${rawHook.id}"] a.hook-url`).getAttribute('href'), `/alice/hello/-/settings/hooks/${rawHook.id}`);
    await page.goto(`${s.url}/alice/hello/-/settings/hooks/${rawHook.id}`);
    await page.locator('tr.delivery summary').click();
    assert.equal(await page.locator('.delivery-error').textContent(), '<img src=x id=injected-error>');
    assert.match((await page.locator('pre.payload').textContent())!, /<\/pre><img src=x id=injected-payload>/);
    assert.equal(await page.locator('#injected-raw, #injected-error, #injected-payload').count(), 0);
    await s.core.db.deleteFrom('webhooks').where('id', '=', rawHook.id).execute();

    // A bad URL is refused with a message, and nothing is created.
    await page.goto(`${s.url}/alice/hello/-/settings/hooks`);
    await page.getByLabel('Payload URL').fill('ftp://example.com/');
    // type=url accepts ftp:, so the browser submits it and the server refuses it.
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByText('a webhook URL must be http or https').waitFor();
    assert.equal((await s.core.webhooks.list(systemActor, { repositoryId: repo.id })).length, 1);
    // So is a private address (the cloud metadata endpoint), in the form and when editing.
    await page.getByLabel('Payload URL').fill('http://169.254.169.254/latest/meta-data/');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByText(/169\.254\.169\.254 is a loopback, private, link-local or otherwise special address/).waitFor();
    assert.equal((await s.core.webhooks.list(systemActor, { repositoryId: repo.id })).length, 1);
    await page.goto(`${s.url}/alice/hello/-/settings/hooks/${hook.id}`);
    await page.getByLabel('Payload URL').fill('http://[::ffff:10.0.0.1]/');
    await page.getByRole('button', { name: 'Update webhook' }).click();
    await page.getByText(/is a loopback, private, link-local or otherwise special address/).waitFor();
    assert.equal((await s.core.webhooks.byId(hook.id)).url, hook.url);

    await page.goto(`${s.url}/alice/hello/-/settings/hooks/${hook.id}`);
    await Promise.all([page.waitForURL(/\/alice\/hello\/-\/settings\/hooks\?done=deleted$/), page.getByRole('button', { name: 'Delete webhook' }).click()]);
    await page.getByText('No webhooks yet.').waitFor();
    assert.deepEqual(b.dialogs, []);
  });

  test('only who manages an owner or repository sees its hooks; forms without the CSRF token are refused', async () => {
    const bob = await openBrowser();
    try {
      await signIn(bob.page, s.url, 'bob', PASSWORD);
      for (const path of ['/alice/-/settings/hooks', '/alice/-/settings/signing']) {
        const r = await bob.page.goto(`${s.url}${path}`);
        assert.equal(r!.status(), 404, path);
      }
      const r = await bob.page.goto(`${s.url}/alice/hello/-/settings/hooks`);
      assert.equal(r!.status(), 403, 'a public repository bob may read, but not manage');
      await bob.page.goto(`${s.url}/alice/hello`);
      assert.equal(await bob.page.getByRole('link', { name: 'Webhooks' }).count(), 0, 'no link for bob');
    } finally {
      await bob.close();
    }
    // alice's own session, but a form without the token (a cross-site forgery): refused, nothing created.
    const cookies = (await b.context.cookies(s.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    const before = (await s.core.db.selectFrom('webhooks').select('id').execute()).length;
    const forged = await fetch(`${s.url}/alice/-/settings/hooks`, { method: 'POST', headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ url: hookUrl, events: 'package', active: '1' }) });
    assert.equal(forged.status, 403);
    const signing = await fetch(`${s.url}/alice/-/settings/signing`, { method: 'POST', headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ action: 'require-signed', required: '1' }) });
    assert.equal(signing.status, 403);
    assert.equal((await s.core.db.selectFrom('webhooks').select('id').execute()).length, before);
    assert.equal(await s.core.signing.requiredAt((await s.core.identity.findOwner('alice'))!.id, null), false);
  });

  test('signing: a key pasted in a container package\'s settings and "require signed images" make an unsigned pull fail with DENIED', async () => {
    const auth = basic('alice', alice);
    const img = await pushImage(s.url, 'alice/app', '1', imageManifest(), auth);
    const pull = () => fetch(`${s.url}/v2/alice/app/manifests/1`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal((await pull()).status, 200);
    const page = b.page;
    await page.goto(`${s.url}/alice/-/packages/container/app/-/settings`);
    await page.getByRole('heading', { name: 'Signing' }).waitFor();
    await page.getByText('No key is trusted here.').waitFor();

    // Garbage is refused with a message and trusts nothing.
    await page.getByLabel('Public key (PEM)').fill('<script>alert(1)</script>');
    await page.getByRole('button', { name: 'Trust key' }).click();
    await page.getByText(/not a usable public key/).waitFor();

    const { publicPem } = generateCosignKeyPair('pw');
    await page.getByLabel('Public key (PEM)').fill(publicPem);
    await Promise.all([page.waitForURL(/done=trust-key/), page.getByRole('button', { name: 'Trust key' }).click()]);
    const pkg = (await s.core.packages.find('alice', 'container', 'app'))!;
    const [key] = await s.core.signing.keysAt(pkg.owner_id, 'app');
    assert.equal(await page.locator('code.fingerprint').textContent(), key.fingerprint);
    // The same key again is a conflict, shown on the page.
    await page.getByLabel('Public key (PEM)').fill(publicPem);
    await page.getByRole('button', { name: 'Trust key' }).click();
    await page.getByText('is trusted here already').waitFor();

    await page.getByLabel(/Require signed images/).check();
    await Promise.all([page.waitForURL(/done=require-signed/), page.getByRole('button', { name: 'Save policy' }).click()]);
    assert.equal(await page.getByLabel(/Require signed images/).isChecked(), true);
    await shot(page, 'package-signing', { docs: true });

    const denied = await pull();
    assert.equal(denied.status, 403);
    const body = await denied.json();
    assert.equal(body.errors[0].code, 'DENIED');
    assert.equal((await fetch(`${s.url}/v2/alice/app/manifests/${img.digest}`, { headers: { authorization: auth } })).status, 403);

    // Turn it off and remove the key again.
    await page.getByLabel(/Require signed images/).uncheck();
    await Promise.all([page.waitForURL(/done=require-signed/), page.getByRole('button', { name: 'Save policy' }).click()]);
    assert.equal((await pull()).status, 200);
    await Promise.all([page.waitForURL(/done=untrust-key/), page.getByRole('button', { name: /Remove key/ }).click()]);
    assert.deepEqual(await s.core.signing.keysAt(pkg.owner_id, 'app'), []);

    // An npm package has no signing section.
    assert.equal((await publish(s.url, alice, '@alice/plain', '1.0.0')).status, 201);
    await page.goto(`${s.url}/alice/-/packages/npm/plain/-/settings`);
    await page.getByRole('heading', { name: 'Visibility' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Signing' }).count(), 0);
  });

  test('owner signing: reachable from the owner page; the owner-wide policy refuses unsigned pulls of every image', async () => {
    const auth = basic('alice', alice);
    await pushImage(s.url, 'alice/other', '1', imageManifest(), auth);
    const page = b.page;
    await page.goto(`${s.url}/alice`);
    await page.getByRole('link', { name: 'Signing' }).click();
    await page.waitForURL(/\/alice\/-\/settings\/signing$/);
    const { publicPem } = generateCosignKeyPair('pw');
    await page.getByLabel('Public key (PEM)').fill(publicPem);
    await Promise.all([page.waitForURL(/done=trust-key/), page.getByRole('button', { name: 'Trust key' }).click()]);
    await page.getByLabel(/Require signed images/).check();
    await Promise.all([page.waitForURL(/done=require-signed/), page.getByRole('button', { name: 'Save policy' }).click()]);
    const r = await fetch(`${s.url}/v2/alice/other/manifests/1`, { headers: { authorization: auth } });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).errors[0].code, 'DENIED');
    // The image's settings say the owner requires signatures.
    await page.goto(`${s.url}/alice/-/packages/container/other/-/settings`);
    await page.getByText('alice requires signed images for all its packages.').waitFor();
    await page.goto(`${s.url}/alice/-/settings/signing`);
    await page.getByLabel(/Require signed images/).uncheck();
    await Promise.all([page.waitForURL(/done=require-signed/), page.getByRole('button', { name: 'Save policy' }).click()]);
    assert.equal((await fetch(`${s.url}/v2/alice/other/manifests/1`, { headers: { authorization: auth } })).status, 200);
    assert.deepEqual(b.dialogs, []);
  });
});
