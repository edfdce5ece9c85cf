// Badges: a public package's latest version and downloads as SVG (well-formed, the right text, escaped) and as a
// shields.io endpoint document; private and internal packages are a 404 to everyone, their owner included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

/** The texts an SVG badge draws (each is drawn twice: shadow, then text). */
function svgTexts(svg: string): string[] {
  assert.equal(XMLValidator.validate(svg), true, 'well-formed XML');
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg);
  assert.equal(doc.svg['@_xmlns'], 'http://www.w3.org/2000/svg');
  const texts: string[] = doc.svg.g[1].text.map((t: Record<string, unknown>) => String(t['#text']));
  return [texts[1], texts[3]];
}

/** shields.io's endpoint schema: schemaVersion 1, label and message strings, an optional colour. */
function assertEndpoint(j: Record<string, unknown>) {
  assert.deepEqual(Object.keys(j).sort(), ['color', 'label', 'message', 'schemaVersion']);
  assert.equal(j.schemaVersion, 1);
  assert.equal(typeof j.label, 'string');
  assert.equal(typeof j.message, 'string');
  assert.ok((j.message as string).length > 0);
  assert.match(j.color as string, /^[a-z]+$/);
}

for (const dialect of dialects()) {
  describe(`badges on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    const auth = () => ({ authorization: `Bearer ${alice}` });
    const put = (p: string, body: string) => fetch(`${s.url}${p}`, { method: 'PUT', headers: auth(), body });
    const setVisibility = (name: string, visibility: string) =>
      fetch(`${s.url}/api/v1/users/alice/packages/generic/${name}`, { method: 'PATCH', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ visibility }) });

    before(async () => {
      s = await startWharf({ dialect });
      alice = await s.userWithToken('alice');
      for (const [name, version] of [['tool', '1.0.0'], ['tool', '1.2.0-rc.1'], ['secret', '1.0'], ['inside', '2.0'], ['x-y', '1.0']]) {
        assert.equal((await put(`/generic/alice/${name}/${version}/f.bin`, `${name} ${version}`)).status, 201);
      }
      assert.equal((await setVisibility('tool', 'public')).status, 200);
      assert.equal((await setVisibility('x-y', 'public')).status, 200);
      assert.equal((await setVisibility('inside', 'internal')).status, 200);
      for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/generic/alice/tool/1.0.0/f.bin`)).arrayBuffer();
    });
    after(() => s.stop());

    test('version.svg: well-formed, "generic | v1.2.0-rc.1", short cache, inert but shown inline', async () => {
      const r = await fetch(`${s.url}/badge/generic/alice/tool/version.svg`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^image\/svg\+xml/);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=300, s-maxage=300');
      assert.equal(r.headers.get('content-disposition'), 'inline');
      assert.match(r.headers.get('content-security-policy')!, /sandbox/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(svgTexts(await r.text()), ['generic', 'v1.2.0-rc.1']);
    });

    test('downloads.svg and downloads.json count every download', async () => {
      assert.deepEqual(svgTexts(await (await fetch(`${s.url}/badge/generic/alice/tool/downloads.svg`)).text()), ['downloads', '3']);
      const j = (await (await fetch(`${s.url}/badge/generic/alice/tool/downloads.json`)).json()) as Record<string, unknown>;
      assertEndpoint(j);
      assert.deepEqual(j, { schemaVersion: 1, label: 'downloads', message: '3', color: 'brightgreen' });
    });

    test('version.json matches the shields.io endpoint schema', async () => {
      const r = await fetch(`${s.url}/badge/generic/alice/tool/version.json`);
      assert.match(r.headers.get('content-type')!, /^application\/json/);
      const j = (await r.json()) as Record<string, unknown>;
      assertEndpoint(j);
      assert.deepEqual(j, { schemaVersion: 1, label: 'generic', message: 'v1.2.0-rc.1', color: 'blue' });
    });

    test('after the latest version is deleted, the badge names the one before', async () => {
      const pkg = (await s.core.packages.find('alice', 'generic', 'tool'))!;
      const v = (await s.core.packages.version(pkg.id, '1.2.0-rc.1'))!;
      assert.equal((await fetch(`${s.url}/api/v1/users/alice/packages/generic/tool/versions/${v.id}`, { method: 'DELETE', headers: auth() })).status, 204);
      const j = (await (await fetch(`${s.url}/badge/generic/alice/tool/version.json`)).json()) as Record<string, unknown>;
      assert.equal(j.message, 'v1.0.0');
    });

    test('private and internal packages → 404 to everyone, their owner signed in included; so do unknown ones', async () => {
      for (const p of ['/badge/generic/alice/secret/version.svg', '/badge/generic/alice/secret/downloads.json', '/badge/generic/alice/inside/version.svg', '/badge/generic/alice/inside/downloads.json',
        '/badge/generic/alice/nope/version.svg', '/badge/npm/alice/tool/version.svg', '/badge/nope/alice/tool/version.svg', '/badge/generic/alice/tool/other.svg',
        '/badge/generic/alice/tool', '/badge/generic/nobody/tool/version.svg']) {
        for (const headers of [{}, auth()]) {
          const r = await fetch(`${s.url}${p}`, { headers });
          assert.equal(r.status, 404, `${p} ${JSON.stringify(headers).length > 2 ? 'as alice' : 'anonymous'}`);
          assert.equal(r.headers.get('cache-control'), 'no-store');
        }
      }
    });

    test('a malformed URL is a client error', async () => {
      const r = await fetch(`${s.url}/badge/generic/alice/%E0%A4%A/version.svg`);
      assert.ok(r.status >= 400 && r.status < 500, String(r.status));
    });

    test('a package made private stops showing', async () => {
      assert.equal((await setVisibility('x-y', 'private')).status, 200);
      assert.equal((await fetch(`${s.url}/badge/generic/alice/x-y/version.svg`)).status, 404);
    });
  });
}
