// Fine-grained tokens in the web UI (issue 20), in a real browser: the token form's "Limit to" box makes a token
// that reaches only what it lists, the list says "limited to …", and a refused selection stays in the box.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishNpm } from '../helpers/npm-publish.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

describe('fine-grained tokens in the web UI', () => {
  let s: TestServer;
  let b: Browser;

  before(async () => {
    s = await startWharf();
    const alice = await s.userWithToken('alice', undefined, { password: PASSWORD });
    for (const name of ['hello', 'other']) assert.equal((await publishNpm(s.url, alice, { scope: 'alice', name, version: '1.0.0' })).status, 201);
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
  });
  after(async () => {
    await b?.close();
    await s?.stop();
  });

  test('a token limited to one package: created from the form, listed as "limited to …", publishes that package only', async () => {
    const page = b.page;
    await page.goto(`${s.url}/-/settings/tokens`);
    await page.getByLabel('Name').fill('ci hello');
    await page.getByLabel(/write:packages/).check();
    await page.getByLabel('Limit to (optional)').fill('npm:alice/hello=write\n');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = ((await page.locator('#new-token').textContent()) ?? '').trim();
    assert.match(token, /^whp_/);
    const row = page.getByRole('row').filter({ hasText: 'ci hello' });
    assert.match((await row.textContent()) ?? '', /limited to\s*npm:alice\/hello=write/);
    await shot(page, 'tokens-fine-grained');
    assert.equal((await publishNpm(s.url, token, { scope: 'alice', name: 'hello', version: '1.0.1' })).status, 201);
    // Another private package of alice's does not exist for it: refused as a new package would be.
    assert.equal((await publishNpm(s.url, token, { scope: 'alice', name: 'other', version: '1.0.1' })).status, 403);
    // A classic token says it reaches everything.
    assert.match((await page.getByRole('row').filter({ hasText: 'token' }).first().textContent()) ?? '', /everything you can reach/);
  });

  test('a refused selection → 400 with the reason, the box keeps what was typed, and no token is made', async () => {
    const page = b.page;
    await page.goto(`${s.url}/-/settings/tokens`);
    const rows = await page.getByRole('row').count();
    await page.getByLabel('Name').fill('bad');
    await page.getByLabel('Limit to (optional)').fill('npm:alice/hello\npypi:alice/x');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Create token' }).click()]);
    assert.equal(response.status(), 400);
    await page.getByText('unknown package type "pypi"').waitFor();
    assert.equal(await page.getByLabel('Limit to (optional)').inputValue(), 'npm:alice/hello\npypi:alice/x');
    assert.equal(await page.getByRole('row').count(), rows);
    assert.equal(await page.locator('#new-token').count(), 0);
  });
});
