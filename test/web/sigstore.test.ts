// Keyless signing in the web UI (Chromium through playwright-core): trusting a workflow's identity in a container
// package's settings (a bad pattern is refused with its reason), the version page showing who signed the image
// (identity, issuer, time) or why its signature fails, and removing the identity again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, imageManifest, pushImage } from '../helpers/oci.ts';
import { bundleArtifact, githubClaims, GITHUB_ISSUER, imageStatement, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

describe('keyless signing in the web UI', { timeout: 180_000 }, () => {
  let s: TestServer;
  let mock: MockSigstore;
  let b: Browser;
  let token: string;

  before(async () => {
    mock = await startMockSigstore();
    s = await startWharf({ env: { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot } });
    token = await s.userWithToken('alice', undefined, { password: PASSWORD });
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
  });
  after(async () => {
    await b?.close();
    await s?.stop();
    await mock?.stop();
  });

  test('trust an identity in the package settings; the version page shows who signed, or why not', async () => {
    const auth = basic('alice', token);
    const img = await pushImage(s.url, 'alice/app', '1', imageManifest(), auth);
    const art = bundleArtifact(await mock.dsse(imageStatement('localhost/alice/app', img.digest), githubClaims('alice/app')), img);
    await pushImage(s.url, 'alice/app', art.digest, art, auth);
    const page = b.page;

    // Before: the version page says why the signature does not count.
    await page.goto(`${s.url}/alice/-/packages/container/app/${img.digest}`);
    await page.getByText(/but no identity is trusted here/).waitFor();

    await page.goto(`${s.url}/alice/-/packages/container/app/-/settings`);
    await page.getByText('No identity is trusted here.').waitFor();
    await page.getByLabel('Certificate identity').fill('https://github\\.com/alice/(');
    await page.locator('#signing').getByLabel('Issuer', { exact: true }).fill(GITHUB_ISSUER);
    await page.getByRole('button', { name: 'Trust identity' }).click();
    await page.getByText(/not a valid regular expression/).waitFor();

    await page.getByLabel('Certificate identity').fill('https://github\\.com/alice/app/.*');
    await page.locator('#signing').getByLabel('Issuer', { exact: true }).fill(GITHUB_ISSUER);
    await Promise.all([page.waitForURL(/done=trust-identity/), page.getByRole('button', { name: 'Trust identity' }).click()]);
    assert.equal(await page.locator('table.identities code').first().textContent(), 'https://github\\.com/alice/app/.*');
    await shot(page, 'package-signing-identities');

    // After: signed, keyless, by the workflow, from the issuer.
    await page.goto(`${s.url}/alice/-/packages/container/app/${img.digest}`);
    await page.getByText('https://github.com/alice/app/.github/workflows/release.yml@refs/heads/main').waitFor();
    const details = await page.locator('#facts-h').locator('..').textContent();
    assert.match(details!, /keyless/);
    assert.match(details!, /token\.actions\.githubusercontent\.com/);
    await shot(page, 'version-signed-keyless');

    await page.goto(`${s.url}/alice/-/packages/container/app/-/settings`);
    await Promise.all([page.waitForURL(/done=untrust-identity/), page.getByRole('button', { name: /Remove identity/ }).click()]);
    await page.getByText('No identity is trusted here.').waitFor();
    assert.deepEqual(b.dialogs, []);
  });
});
