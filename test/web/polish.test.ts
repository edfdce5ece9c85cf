// The web UI's rough edges from issue 18 (item 7), in Chromium against a real Wharf: the footer's REST API link
// reaches a readable page, npm's placeholder README is no README, counts are pluralized, container tags show in
// lists, npm packages are named @scope/name, the empty state names every format, the favicon is served, and a
// yanked gem's versions and downloads agree on its page, in lists and in its chart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { formats } from '../../src/formats/index.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, blob, configBlob, imageManifest, pushImage, pushManifest } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, shot, type Browser } from './browser.ts';

const PLACEHOLDER = 'ERROR: No README data found!';

describe('web UI rough edges (issue 18, item 7)', () => {
  let s: TestServer;
  let alice: string;
  let b: Browser;

  const makePublic = async (owner: string, type: string, name: string) => {
    const p = (await s.core.packages.find(owner, type, name))!;
    await s.core.publisher.updateSettings(p.id, { visibility: 'public' }, systemActor);
  };
  const gemSource = () => `${s.url}/rubygems/alice`;
  const pushGem = async (version: string) => {
    const r = await fetch(`${gemSource()}/api/v1/gems`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', authorization: alice }, body: new Uint8Array(await buildGem({ name: 'shiny', version, summary: 'A shiny gem' })) });
    assert.equal(r.status, 200, await r.text());
  };
  const downloadGem = async (version: string, times: number) => {
    for (let i = 0; i < times; i++) {
      const r = await fetch(`${gemSource()}/gems/shiny-${version}.gem`);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
  };
  /** The text of an element, its text nodes joined by spaces (meta items are separate spans), whitespace collapsed. */
  const text = async (selector: string) =>
    (await b.page.locator(selector).first().evaluate((el) => {
      const out: string[] = [];
      const walk = el.ownerDocument.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) out.push(n.textContent ?? '');
      return out.join(' ');
    })).replace(/\s+/g, ' ').trim();
  /** The list row (explore page) of a package, by its link text. */
  const row = (name: string) => b.page.locator('li.pkg', { has: b.page.getByRole('link', { name, exact: true }) });

  before(async () => {
    s = await startWharf();
    alice = await s.userWithToken('alice');
    // npm: one package whose README is npm's placeholder, one with an empty README; each with one version.
    let r = await publish(s.url, alice, '@alice/hello', '1.0.0', { description: 'Says hello', readme: PLACEHOLDER });
    assert.equal(r.status, 201, await r.text());
    r = await publish(s.url, alice, '@alice/blank', '1.0.0', { description: 'Nothing to read', readme: '  \n' });
    assert.equal(r.status, 201, await r.text());
    // A container image tagged latest and 1.0 (one manifest, two tags).
    const image = imageManifest({ config: configBlob(), layers: [blob(2048)] });
    await pushImage(s.url, 'alice/app', 'latest', image, basic('alice', alice));
    assert.equal((await pushManifest(s.url, 'alice/app', '1.0', image, basic('alice', alice))).status, 201);
    // A gem with two versions, both downloaded.
    await pushGem('1.0.0');
    await pushGem('1.1.0');
    for (const [owner, type, name] of [['alice', 'npm', 'hello'], ['alice', 'npm', 'blank'], ['alice', 'container', 'app'], ['alice', 'rubygems', 'shiny']]) await makePublic(owner, type, name);
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await s?.stop();
  });

  test('the footer\'s "REST API" link leads a visitor to a readable page (HTML 200), not a JSON error', async () => {
    const page = b.page;
    await page.goto(`${s.url}/`);
    const [response] = await Promise.all([page.waitForNavigation(), page.locator('footer').getByRole('link', { name: 'REST API' }).click()]);
    assert.equal(response?.status(), 200);
    assert.match(response!.headers()['content-type'], /^text\/html/);
    await page.getByRole('heading', { name: 'REST API', level: 1 }).waitFor();
    // docs/api.md rendered: its sections and tables, no raw Markdown.
    await page.getByRole('heading', { name: 'Scopes: what a credential may do' }).waitFor();
    assert.ok(await page.locator('.markdown table').count());
    assert.equal(await page.getByText('Requires authentication').count(), 0);
    // A link inside the document to another one (security.md) works too; an unknown page is a 404.
    assert.equal((await fetch(`${s.url}/-/docs/security.md`)).status, 200);
    assert.equal((await fetch(`${s.url}/-/docs/nope`)).status, 404);
    assert.equal((await fetch(`${s.url}/-/docs/..%2fREADME`)).status, 404);
    await shot(page, 'docs-api');
  });

  test('npm\'s placeholder README and an empty README are shown as no README', async () => {
    const page = b.page;
    for (const name of ['hello', 'blank']) {
      await page.goto(`${s.url}/alice/-/packages/npm/${name}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      assert.equal(await page.getByText(PLACEHOLDER).count(), 0, `${name}: the placeholder is not shown`);
    }
    // The packument still says what was published: only the page treats it as no README.
    const packument = await (await fetch(`${s.url}/npm/@alice%2fhello`)).json();
    assert.equal(packument.readme, PLACEHOLDER);
  });

  test('npm packages are named @scope/name in lists, the page title and heading, and the install command', async () => {
    const page = b.page;
    await page.goto(`${s.url}/?type=npm`);
    const names = (await page.locator('.pkg-name').allTextContents()).map((t) => t.trim()).sort();
    assert.deepEqual(names, ['@alice/blank', '@alice/hello']);
    await page.goto(`${s.url}/alice?type=npm`);
    assert.deepEqual((await page.locator('.pkg-name').allTextContents()).map((t) => t.trim()).sort(), ['@alice/blank', '@alice/hello'], 'on the owner page too');
    await page.getByRole('link', { name: '@alice/hello', exact: true }).click();
    await page.waitForURL(/\/alice\/-\/packages\/npm\/hello$/);
    assert.equal(await page.title(), '@alice/hello · Wharf');
    assert.equal(await text('h1 .pkg-fullname'), '@alice/hello');
    assert.equal(await page.locator('#install-cmd').textContent(), 'npm install @alice/hello@1.0.0');
    // Other formats keep OWNER/NAME.
    await page.goto(`${s.url}/?type=rubygems`);
    assert.deepEqual((await page.locator('.pkg-name').allTextContents()).map((t) => t.trim()), ['alice/shiny']);
  });

  test('counts are pluralized: 1 version, 1 download, 1 package, 1 day', async () => {
    const page = b.page;
    const r = await fetch(`${s.url}/npm/@alice/hello/-/hello-1.0.0.tgz`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    await page.goto(`${s.url}/alice/-/packages/npm/hello`);
    const meta = await text('.pkg-title .meta');
    assert.match(meta, /\b1 version\b/);
    assert.match(meta, /\b1 download\b/);
    assert.equal(await text('.chart figcaption'), '1 download in the last 30 days');
    const wrong = /\b1 (downloads|versions|packages|tags|days|keys)\b/;
    assert.doesNotMatch(await text('main'), wrong);
    await page.goto(`${s.url}/?q=hello`);
    assert.equal(await text('.count'), '1 package');
    const listed = await text('li.pkg .meta');
    assert.match(listed, /\b1 version\b.*\b1 download\b/);
    assert.doesNotMatch(await text('main'), wrong);
    await page.goto(`${s.url}/?q=zzz-nothing`);
    assert.equal(await text('.count'), '0 packages');
  });

  test('container tags show in package lists', async () => {
    const page = b.page;
    await page.goto(`${s.url}/?type=container`);
    const tags = await row('alice/app').locator('.tag').allTextContents();
    assert.deepEqual(tags.sort(), ['1.0', 'latest']);
    assert.equal(await row('alice/app').locator('code').count(), 0, 'tags stand for the version: no digest beside them');
    await page.goto(`${s.url}/alice?type=container`);
    assert.deepEqual((await page.locator('li.pkg .tag').allTextContents()).sort(), ['1.0', 'latest'], 'on the owner page too');
    await shot(page, 'list-container-tags');
  });

  test('a yanked gem: its page, the lists and its chart agree on versions and downloads (yanked downloads still count)', async () => {
    const page = b.page;
    await downloadGem('1.0.0', 2);
    await downloadGem('1.1.0', 3);
    await s.core.flush();
    await downloadGem('1.1.0', 1); // still buffered, not written: it counts everywhere all the same
    const yank = await fetch(`${gemSource()}/api/v1/gems/yank`, { method: 'DELETE', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: alice }, body: 'gem_name=shiny&version=1.1.0' });
    assert.equal(yank.status, 200, await yank.text());

    const check = async (when: string) => {
      await page.goto(`${s.url}/alice/-/packages/rubygems/shiny`);
      const meta = await text('.pkg-title .meta');
      assert.match(meta, /\b1 version\b/, `${when}: page versions`);
      assert.match(meta, /\b6 downloads\b/, `${when}: page downloads`);
      assert.equal(await text('.chart figcaption'), '6 downloads in the last 30 days', `${when}: chart`);
      assert.equal(await page.locator('table.versions tbody tr').count(), 1);
      for (const url of [`${s.url}/?type=rubygems`, `${s.url}/alice?type=rubygems`]) {
        await page.goto(url);
        const listed = await text('li.pkg .meta');
        assert.match(listed, /\bv1\.0\.0\b/, `${when}: the yanked 1.1.0 is not shown as the latest (${url})`);
        assert.match(listed, /\b1 version\b/, `${when}: list versions (${url})`);
        assert.match(listed, /\b6 downloads\b/, `${when}: list downloads (${url})`);
      }
      // The REST API says the same.
      const api = (await (await fetch(`${s.url}/api/v1/users/alice/packages/rubygems/shiny`, { headers: { authorization: alice } })).json()) as { version_count: number; download_count: number };
      assert.deepEqual([api.version_count, api.download_count], [1, 6], `${when}: REST`);
    };
    await check('before the flush');
    await s.core.flush();
    await check('after the flush');
  });

  test('favicon: linked from every page and served; /favicon.ico is not a 404', async () => {
    const page = b.page;
    const icons: number[] = [];
    page.on('response', (r) => {
      if (/favicon/.test(r.url())) icons.push(r.status());
    });
    await page.goto(`${s.url}/`);
    const href = await page.locator('link[rel=icon]').getAttribute('href');
    assert.equal(href, '/-/static/favicon.svg');
    const svg = await fetch(`${s.url}${href}`);
    assert.equal(svg.status, 200);
    assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
    assert.match(await svg.text(), /^<svg /);
    const ico = await fetch(`${s.url}/favicon.ico`);
    assert.equal(ico.status, 200, 'followed to the icon');
    assert.equal(ico.headers.get('content-type'), 'image/svg+xml');
    assert.ok(!icons.some((st) => st >= 400), `no failed icon request: ${icons}`);
  });
});

describe('an empty registry', () => {
  let s: TestServer;
  before(async () => {
    s = await startWharf();
  });
  after(() => s?.stop());

  test('the empty state names every format Wharf serves (from the format list)', async () => {
    const page = await (await fetch(`${s.url}/`)).text();
    const empty = /<p class="empty">([^<]*)<\/p>/.exec(page)?.[1];
    assert.ok(empty, 'an empty-state paragraph');
    for (const f of formats) assert.match(empty, new RegExp(`\\b${f.type}\\b`), `${f.type} is named`);
    assert.match(empty, /nuget/);
  });
});
