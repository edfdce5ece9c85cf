// Badges render in Chromium as a README embeds them (an <img> on another origin), at the width the SVG declares;
// a private package's badge is a broken image, its owner signed in or not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { openBrowser, type Browser } from './browser.ts';

describe('badges in Chromium', { timeout: 120_000 }, () => {
  let s: TestServer;
  let b: Browser;
  before(async () => {
    s = await startWharf();
    const token = await s.userWithToken('alice');
    const headers = { authorization: `Bearer ${token}` };
    for (const name of ['tool', 'secret']) assert.equal((await fetch(`${s.url}/generic/alice/${name}/1.2.3/f.bin`, { method: 'PUT', headers, body: 'x' })).status, 201);
    const r = await fetch(`${s.url}/api/v1/users/alice/packages/generic/tool`, { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ visibility: 'public' }) });
    assert.equal(r.status, 200);
    b = await openBrowser();
  });
  after(async () => {
    await b?.close();
    await s?.stop();
  });

  test('version.svg and downloads.svg load as images of their declared width; a private badge does not', async () => {
    const src = (p: string) => `${s.url}/badge/generic/alice/${p}`;
    await b.page.setContent(`<p><img id="v" src="${src('tool/version.svg')}"> <img id="d" src="${src('tool/downloads.svg')}"> <img id="p" src="${src('secret/version.svg')}"></p>`, { waitUntil: 'load' });
    const sizes = await b.page.evaluate(() => ['v', 'd', 'p'].map((id) => {
      const img = document.getElementById(id) as HTMLImageElement;
      return { complete: img.complete, w: img.naturalWidth, h: img.naturalHeight };
    }));
    const declared = async (p: string) => Number(/width="(\d+)"/.exec(await (await fetch(src(p))).text())![1]);
    assert.deepEqual(sizes[0], { complete: true, w: await declared('tool/version.svg'), h: 20 });
    assert.deepEqual(sizes[1], { complete: true, w: await declared('tool/downloads.svg'), h: 20 });
    assert.equal(sizes[2].w, 0, 'the private badge is a broken image');
    assert.deepEqual(b.errors, []);
  });
});
