// Retention settings in the web UI, in Chromium: an owner previews a rule (the list of what it would delete, and
// why) before saving it, saves it, protects a tag pattern; the saved rule then deletes exactly what the preview
// listed. Bob, who does not manage alice, gets 404.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publish } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

describe('retention settings in the web UI (Chromium)', () => {
  let s: TestServer;
  let b: Browser;
  let alice: string;

  before(async () => {
    s = await startWharf();
    alice = await s.userWithToken('alice', undefined, { password: PASSWORD });
    await s.userWithToken('bob', undefined, { password: PASSWORD });
    for (const v of ['1.0.0', '1.1.0-beta.1', '1.1.0-beta.2', '1.1.0']) assert.equal((await publish(s.url, alice, '@alice/web', v)).status, 201);
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
  });
  after(async () => {
    await b?.close();
    await s?.stop();
  });

  test('preview before saving, save, protect a tag; the run deletes what the preview showed', async () => {
    const page = b.page;
    await page.goto(`${s.url}/alice/-/settings/signing`);
    await page.getByRole('link', { name: 'Retention' }).click();
    await page.getByRole('heading', { name: 'Retention', level: 1 }).waitFor();
    await page.getByText('No retention rule').waitFor();
    await page.getByLabel('Applies to').selectOption('npm');
    await page.getByLabel('Keep the newest N versions').fill('1');
    await page.getByLabel('Keep versions or tags matching (regular expression)').fill('^\\d+\\.\\d+\\.\\d+$');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { name: /Preview: 2 versions in 1 package would be deleted now/ }).waitFor();
    const rows = await page.locator('table.preview tbody tr').allInnerTexts();
    assert.equal(rows.length, 2);
    assert.ok(rows.some((r) => r.includes('1.1.0-beta.1') && r.includes('not among the newest 1')), rows.join('\n'));
    assert.equal(await page.getByLabel('Keep the newest N versions').inputValue(), '1', 'the form keeps what was typed');
    assert.deepEqual((await s.core.retention.listRules((await import('../../src/core/auth/actor.ts')).systemActor, { owner: (await s.core.identity.requireOwner('alice')) })).length, 0, 'a preview saves nothing');
    await shot(page, 'retention-preview');
    await Promise.all([page.waitForURL(/done=save$/), page.getByRole('button', { name: 'Save rule' }).click()]);
    await page.getByText('Rule saved.').waitFor();
    await page.locator('table.rules').getByText('keep the newest 1').waitFor();

    await page.getByLabel('Format').selectOption('npm');
    await page.getByLabel('Pattern').fill('stable');
    await Promise.all([page.waitForURL(/done=protect$/), page.getByRole('button', { name: 'Protect' }).click()]);
    await page.locator('table.protected').getByText('stable').waitFor();

    const owner = await s.core.identity.requireOwner('alice');
    const { systemActor } = await import('../../src/core/auth/actor.ts');
    const run = await s.core.retention.run(systemActor, { owner });
    assert.deepEqual(run.deleted.map((d) => d.version).sort(), ['1.1.0-beta.1', '1.1.0-beta.2']);
    // An invalid rule shows its error, and saves nothing.
    await page.getByLabel('Keep the newest N versions').fill('3');
    await page.getByLabel('Keep versions or tags matching (regular expression)').fill('(a+)+');
    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.getByText(/exponential time/).waitFor();
  });

  test('someone who does not manage alice gets 404', async () => {
    const other = await openBrowser();
    try {
      await signIn(other.page, s.url, 'bob', PASSWORD);
      const r = await other.page.goto(`${s.url}/alice/-/settings/retention`);
      assert.equal(r?.status(), 404);
    } finally {
      await other.close();
    }
  });
});
