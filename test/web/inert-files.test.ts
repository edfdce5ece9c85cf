// A signed-in user opening a hostile package file directly in Chromium (issue 17, finding 4): a POM, a Maven
// .xml/.xhtml/.svg/.html/.js and a nuspec whose script would read /-/settings/tokens with the user's cookies.
// None runs in Wharf's origin: the files are downloads, and even rendered (the disposition stripped) the CSP
// sandbox keeps their script off. A control without Wharf's headers shows the script would otherwise run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { MAVEN_BASE, mavenFiles, NUSPEC_PATH, publishHostileFiles, PWNED_TITLE } from '../helpers/hostile-files.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

describe('hostile package files opened in Chromium by a signed-in user', () => {
  let s: TestServer;
  let b: Browser;
  /** Requests the script makes when it runs: the token page, then the report. */
  const stolen: string[] = [];
  const paths = [...Object.keys(mavenFiles).map((n) => `${MAVEN_BASE}/${n}`), NUSPEC_PATH, '/maven/mallory/tools/com/evil/tool/maven-metadata.xml'];

  before(async () => {
    s = await startWharf();
    await publishHostileFiles(s, 'mallory password');
    await s.userWithToken('alice', undefined, { password: PASSWORD });
    b = await openBrowser();
    await signIn(b.page, s.url, 'alice', PASSWORD);
    b.context.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/-/settings/tokens' || u.pathname === '/-/pwned') stolen.push(`${r.method()} ${u.pathname}`);
    });
  });

  after(async () => {
    await b?.close();
    await s?.stop();
  });

  /** Opens `path` in a fresh tab as a link would; returns the page's title once any script had time to run. */
  async function open(path: string, strip: string[] = []): Promise<string> {
    const page: Page = await b.context.newPage();
    try {
      if (strip.length) {
        await page.route(`${s.url}${path}`, async (route) => {
          const response = await route.fetch();
          const headers = Object.fromEntries(Object.entries(response.headers()).filter(([k]) => !strip.includes(k.toLowerCase())));
          await route.fulfill({ response, headers });
        });
      }
      // A download rejects the navigation ("Download is starting"): that is one of the outcomes we want.
      await page.goto(`${s.url}${path}`).catch(() => {});
      await page.waitForTimeout(400);
      return await page.title().catch(() => '');
    } finally {
      await page.close();
    }
  }

  test('control: served without nosniff, CSP and disposition, the POM runs its script and reads the token page', async () => {
    await open(`${MAVEN_BASE}/tool-1.0.pom`, ['content-security-policy', 'content-disposition', 'x-content-type-options']);
    await waitFor(() => stolen.length >= 2);
    assert.deepEqual(stolen.splice(0), ['GET /-/settings/tokens', 'GET /-/pwned']);
  });

  test('each file, opened directly → no script runs in Wharf\'s origin', async () => {
    for (const p of paths) {
      const title = await open(p);
      assert.notEqual(title, PWNED_TITLE, p);
      assert.deepEqual(stolen, [], `${p} ran its script`);
    }
    assert.deepEqual(b.dialogs, []);
  });

  test('each file rendered anyway (Content-Disposition stripped) → the CSP sandbox keeps its script off', async () => {
    for (const p of paths) {
      const title = await open(p, ['content-disposition']);
      assert.notEqual(title, PWNED_TITLE, p);
      assert.deepEqual(stolen, [], `${p} ran its script`);
    }
    assert.deepEqual(b.dialogs, []);
  });

  test('alice still has only the token she started with', async () => {
    const u = await s.core.identity.findOwner('alice');
    const tokens = await s.core.db.selectFrom('tokens').select('id').where('user_id', '=', u!.id).execute();
    assert.equal(tokens.length, 1);
  });
});

async function waitFor(ok: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}
