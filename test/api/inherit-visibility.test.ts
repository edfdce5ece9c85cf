// A package that inherits access from its repository takes the repository's visibility. Setting the package's own
// visibility then would change nothing, so every entry point refuses it with the same message naming the repository
// and the way out — the REST API (409), the CLI (exit 1, with the command that stops inheriting) and the settings
// page (the choice is shown as the repository's and disabled; a forced post shows the error) — and nothing changes:
// anonymous installs keep working, no audit entry is written. Turning inheritance off with the visibility in one
// PATCH works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, signIn, type Browser } from '../web/browser.ts';

type Json = any;
const PASSWORD = 'correct horse battery staple';
const MESSAGE = /npm package alice\/hello inherits its visibility from the repository alice\/hello \(public\): change the repository's visibility, or stop inheriting access first/;

for (const dialect of dialects()) {
  describe(`visibility of a package that inherits from its repository, on ${dialect}`, () => {
    let s: TestServer;
    let token: string;

    before(async () => {
      s = await startWharf({ dialect });
      token = await s.userWithToken('alice', EVERY_SCOPE, { password: PASSWORD });
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
      const r = await publishNpm(s.url, token, { scope: 'alice', name: 'hello', version: '1.0.0', repository: 'https://github.com/alice/hello.git' });
      assert.equal(r.status, 201);
    });
    after(() => s.stop());

    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${s.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    const anonymousInstall = async () => (await fetch(`${s.url}/npm/@alice%2fhello`)).status;
    const visibilityEntries = async () => (await s.core.db.selectFrom('audit_log').select('id').where('action', '=', 'package.visibility').execute()).length;

    test('REST: PATCH of the visibility alone is refused with 409 and the reason; nothing changes', async () => {
      const before = await visibilityEntries();
      const r = await api('PATCH', '/users/alice/packages/npm/hello', { visibility: 'private' });
      assert.equal(r.status, 409);
      assert.match(((await r.json()) as Json).message, MESSAGE);
      const pkg = (await (await api('GET', '/users/alice/packages/npm/hello')).json()) as Json;
      assert.equal(pkg.visibility, 'public');
      assert.equal(await anonymousInstall(), 200);
      assert.equal(await visibilityEntries(), before);
      // The repository's own visibility is no change at all (a client echoing what it read).
      assert.equal((await api('PATCH', '/users/alice/packages/npm/hello', { visibility: 'public' })).status, 200);
    });

    test('CLI: `wharf package visibility` exits 1 with the reason and the command that stops inheriting', async () => {
      const r = await s.cli(['package', 'visibility', 'npm', 'alice/hello', 'private']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, MESSAGE);
      assert.match(r.stderr, /wharf package inherit npm alice\/hello off/);
      assert.equal(await anonymousInstall(), 200);
    });

    test('settings page: the choice shows the repository visibility, disabled; a forced post shows the error and changes nothing', { skip: dialect !== 'sqlite' && 'the page is the same on every database' }, async () => {
      let b: Browser | undefined;
      try {
        b = await openBrowser();
        await signIn(b.page, s.url, 'alice', PASSWORD);
        const { page } = b;
        await page.goto(`${s.url}/alice/-/packages/npm/hello/-/settings`);
        const publicChoice = page.getByLabel(/^Public/);
        assert.equal(await publicChoice.isChecked(), true);
        assert.equal(await publicChoice.isDisabled(), true);
        assert.equal(await page.getByRole('button', { name: 'Change visibility' }).isDisabled(), true);
        assert.match(await page.locator('#vis-h').locator('..').innerText(), /inherits access from alice\/hello/);
        // A stale or crafted form still reaches the core, which refuses.
        await page.evaluate(() => {
          const form = document.querySelector<HTMLInputElement>('#vis-private')!.form!;
          form.querySelectorAll('input,button').forEach((e) => ((e as HTMLInputElement).disabled = false));
          document.querySelector<HTMLInputElement>('#vis-private')!.checked = true;
          form.submit();
        });
        await page.waitForLoadState();
        assert.match(await page.locator('.banner, [role=alert]').first().innerText(), MESSAGE);
        assert.equal(await anonymousInstall(), 200);
      } finally {
        await b?.close();
      }
    });

    test('turning inheritance off with the visibility in one PATCH works', async () => {
      const r = await api('PATCH', '/users/alice/packages/npm/hello', { visibility: 'private', inherit_access: false });
      assert.equal(r.status, 200);
      const pkg = (await r.json()) as Json;
      assert.equal(pkg.visibility, 'private');
      assert.equal(await anonymousInstall(), 401, "npm asks for credentials for what it may not see");
      // And the CLI's own visibility then applies.
      const c = await s.cli(['package', 'visibility', 'npm', 'alice/hello', 'public']);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(await anonymousInstall(), 200);
    });
  });
}
