// The audit log pages in Chromium: a visibility change made in the package settings page is recorded as done by a
// web session from the browser's address; the org's log (/OWNER/-/settings/audit), reached from the settings nav,
// lists it beside the changes made with a token through the REST API, and filters by action; the user's own log
// (/-/settings/audit) has what was done to them; a member who is not an owner gets 404.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { publishNpm } from '../helpers/npm-publish.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

describe('audit log pages (Chromium)', () => {
  let s: TestServer;
  let b: Browser;

  before(async () => {
    s = await startWharf();
    const alice = await s.userWithToken('alice', undefined, { password: PASSWORD });
    await s.userWithToken('bob', undefined, { password: PASSWORD });
    await s.core.identity.createOrg(systemActor, 'acme', 'alice');
    await s.core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
    assert.equal((await publishNpm(s.url, alice, { scope: 'acme', name: 'app', version: '1.0.0' })).status, 201);
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${s.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${alice}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    assert.equal((await api('DELETE', '/orgs/acme/packages/npm/app')).status, 204);
    assert.equal((await api('POST', '/orgs/acme/packages/npm/app/restore')).status, 204);
    assert.equal((await api('PUT', '/orgs/acme/packages/npm/app/access/users/bob', { role: 'read' })).status, 200);
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
  });
  after(async () => {
    await b?.close();
    await s?.stop();
  });

  test('a change in the web UI is recorded as a web session; the org log, reached from the settings nav, lists it and filters', async () => {
    const { page } = b;
    await page.goto(`${s.url}/acme/-/packages/npm/app/-/settings`);
    await page.getByLabel(/^Public/).check();
    await Promise.all([page.waitForURL(/done=visibility|\/-\/settings/), page.getByRole('button', { name: 'Change visibility' }).click()]);

    await page.goto(`${s.url}/acme/-/settings/hooks`);
    await Promise.all([page.waitForURL(/\/acme\/-\/settings\/audit$/), page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Audit log' }).click()]);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = page.locator('table.audit tbody tr');
    // Newest first: what alice did in the page, then what the console did to set up acme.
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action'))), ['package.visibility', 'package.access_grant', 'package.restore', 'package.delete', 'org.add_member', 'org.create']);
    const first = rows.first();
    assert.match(await first.innerText(), /alice\s+web session/);
    assert.match(await first.innerText(), /127\.0\.0\.1/);
    assert.match(await first.innerText(), /previous visibility:\s*private/);
    assert.match(await rows.nth(3).innerText(), /alice\s+personal token/);
    await shot(page, 'audit-org');

    await page.getByLabel('Filter').fill('action:package.delete');
    await Promise.all([page.waitForURL(/phrase=/), page.getByRole('button', { name: 'Filter' }).click()]);
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action'))), ['package.delete']);
    assert.deepEqual(b.errors, []);
  });

  test("/-/settings/audit lists the user's own log; a member who is not an owner gets 404 for the org's", async () => {
    const bob = await openBrowser();
    try {
      await signIn(bob.page, s.url, 'bob', PASSWORD);
      await bob.page.goto(`${s.url}/-/settings/audit`);
      const actions = await bob.page.locator('table.audit tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));
      // What was done to bob: alice's grant, and at setup his membership of acme, his token and his account (by the console).
      assert.deepEqual(actions, ['package.access_grant', 'org.add_member', 'personal_access_token.create', 'user.create'], 'what was done to bob');
      const res = await bob.page.goto(`${s.url}/acme/-/settings/audit`);
      assert.equal(res?.status(), 404);
    } finally {
      await bob.close();
    }
  });
});
