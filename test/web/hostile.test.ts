// A hostile package: README and description with <script>, javascript: links, onerror attributes, SVG with
// scripts, and a name crafted to break out of HTML attributes. Its pages must show all of it as inert text: no
// dialog opens, no script runs, no injected element exists.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { publish } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, signIn, type Browser } from './browser.ts';

const PASSWORD = 'correct horse battery staple';

const HOSTILE = [
  '# Totally normal <script>alert("readme-script")</script>',
  '',
  '<script>window.__pwned = 1; alert(1)</script>',
  '',
  '<img src="x" onerror="window.__pwned = 2; alert(2)" id="injected-img">',
  '',
  '<svg id="injected-svg" onload="alert(3)"><script>alert(4)</script></svg>',
  '',
  '[click me](javascript:alert(5)) [again](JaVaScRiPt:alert(6)) [tabbed](java\tscript:alert(7)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==)',
  '',
  '![pic](javascript:alert(9)) <a href="javascript:alert(10)" id="injected-a">raw link</a>',
  '',
  '<iframe id="injected-iframe" src="javascript:alert(11)"></iframe> <form id="injected-form" action="https://evil.example"><button>go</button></form>',
  '',
  '<div style="position:fixed;inset:0" onmouseover="alert(12)" id="injected-div">cover</div>',
  '',
  '"><script>alert(13)</script><input autofocus onfocus="alert(14)" id="injected-input">',
  '',
  '[ref]: javascript:alert(15)',
  '',
  'A [reference link][ref] and <https://example.com/ok> and `<script>alert(16)</script>` in code.',
].join('\n');

const DESCRIPTION = '"><img src=x onerror=alert(17) id=injected-desc><script>alert(18)</script> javascript:alert(19)';

describe('hostile package in Chromium', () => {
  let s: TestServer;
  let token: string;
  let b: Browser;
  const injected = ['#injected-img', '#injected-svg', '#injected-a', '#injected-iframe', '#injected-form', '#injected-div', '#injected-input', '#injected-desc', '#injected-tag'];

  before(async () => {
    s = await startWharf();
    token = await s.userWithToken('mallory', undefined, { password: PASSWORD });
    const r = await publish(s.url, token, '@mallory/innocent', '1.0.0', { description: DESCRIPTION, readme: HOSTILE, keywords: ['<script>alert(20)</script>'] });
    assert.equal(r.status, 201, await r.text());
    const pkg = (await s.core.packages.find('mallory', 'npm', 'innocent'))!;
    await s.core.publisher.updateSettings(pkg.id, { visibility: 'public' }, systemActor);
    // Names no registry would accept, written straight into the model: the page must stay inert whatever it holds.
    const evil = `x"onmouseover="alert(21)"><img src=x onerror=alert(22) id=injected-tag>`;
    await s.core.publisher.createVersion({
      ownerId: pkg.owner_id, type: 'npm', name: evil, version: `1.0.0"><script>alert(23)</script>`,
      metadata: { readme: HOSTILE }, packageMetadata: { description: DESCRIPTION, latest: `1.0.0"><script>alert(23)</script>` },
      files: [], repositoryId: null, actor: systemActor,
    });
    const evilPkg = (await s.core.packages.find('mallory', 'npm', evil))!;
    await s.core.publisher.updateSettings(evilPkg.id, { visibility: 'public' }, systemActor);
    await s.core.publisher.setTag(evilPkg.id, `t"><b id="injected-tag">`.replace(/[^A-Za-z0-9._-]/g, '') || 'x', `1.0.0"><script>alert(23)</script>`, systemActor);
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await s?.stop();
  });

  async function assertInert(label: string) {
    const page = b.page;
    // Give any payload a chance: hover everything, focus, wait.
    await page.mouse.move(200, 300);
    await page.mouse.move(600, 500);
    await page.waitForTimeout(300);
    assert.deepEqual(b.dialogs, [], `${label}: a dialog opened`);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, `${label}: script ran`);
    for (const sel of injected) assert.equal(await page.locator(sel).count(), 0, `${label}: ${sel} was injected`);
    assert.equal(await page.locator('main script, main iframe, main svg script, main form[action^="https://evil"]').count(), 0, `${label}: active element in main`);
    const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    assert.ok(hrefs.every((h) => /^(https?|mailto):/.test(h)), `${label}: a link with another scheme: ${hrefs.filter((h) => !/^(https?|mailto):/.test(h))}`);
    const handlers = await page.evaluate(() => [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${el.tagName}.${a.name}`)));
    assert.deepEqual(handlers, [], `${label}: event handler attributes`);
  }

  test('the README, description and keywords render as text on the package page', async () => {
    const page = b.page;
    const r = await page.goto(`${s.url}/mallory/-/packages/npm/innocent`);
    assert.equal(r?.status(), 200);
    const text = (await page.locator('.markdown').textContent()) ?? '';
    assert.match(text, /<script>window\.__pwned = 1; alert\(1\)<\/script>/, 'the script tag is shown as text');
    assert.match(text, /<img src="x" onerror=/);
    assert.ok(await page.getByText('click me').count(), 'an unsafe link keeps its text');
    assert.equal(await page.getByRole('link', { name: 'click me' }).count(), 0, 'but is no link');
    assert.equal(await page.getByRole('link', { name: 'https://example.com/ok' }).count(), 1, 'safe links still work');
    assert.match((await page.locator('.pkg-title .lead').textContent()) ?? '', /<img src=x onerror=alert\(17\)/);
    await assertInert('package page');
    await shot(page, 'hostile-package');
  });

  test('a name crafted to break out of attributes stays a name everywhere it appears', async () => {
    const page = b.page;
    for (const url of [`${s.url}/`, `${s.url}/?q=onmouseover`, `${s.url}/mallory`]) {
      await page.goto(url);
      await assertInert(url);
    }
    await page.goto(`${s.url}/mallory`);
    await page.getByRole('link', { name: /onmouseover/ }).click();
    assert.equal(await page.locator('.pkg-fullname').textContent(), `@mallory/x"onmouseover="alert(21)"><img src=x onerror=alert(22) id=injected-tag>`);
    await assertInert('evil name page');
    await shot(page, 'hostile-name');
    // Its owner's settings pages (every form field carries the name) are inert too.
    await signIn(page, s.url, 'mallory', PASSWORD);
    await page.goto(`${s.url}/mallory`);
    await page.getByRole('link', { name: /onmouseover/ }).click();
    await page.getByRole('link', { name: 'Package settings' }).click();
    await assertInert('evil name settings');
    await page.locator('a.button.danger', { hasText: 'Delete this package' }).click();
    await assertInert('evil name delete confirmation');
    assert.match((await page.locator('h1').textContent()) ?? '', /onmouseover="alert\(21\)"/);
    await shot(page, 'hostile-name-delete');
  });
});
