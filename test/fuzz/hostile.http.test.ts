// Hostile uploads found when Wharf was attacked (issue 17, finding 7), over HTTP on every database: each one is
// refused with a 4xx in its protocol's error format, never a 500, and never stored. A declared Content-Length
// over the route's limit is answered 413 before any of the body is sent.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { buildNupkg, zipPacked } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildPortablePdb, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { buildGem, tarOf as gemTarOf } from '../../src/formats/rubygems/gem-fixture.ts';
import { npmTarball, publishBody, putPackage, tarOf } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { deflateBomb, npmTarballBomb } from './bombs.ts';

const MiB = 1024 * 1024;
const BLOB_LIMIT = 512 * MiB;
const NPM_LIMIT = 64 * MiB;
const MANIFEST_LIMIT = 64 * 1024;

function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs', 'sha256');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}

/** The multipart body NuGet sends around a package. */
function multipart(pkg: Buffer): { body: Buffer; type: string } {
  const b = 'fuzz-boundary-0123456789';
  const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n`), pkg, Buffer.from(`\r\n--${b}--\r\n`)]);
  return { body, type: `multipart/form-data; boundary="${b}"` };
}

/**
 * Sends only the headers of a request declaring `length` body bytes and waits for an answer: a server that waits
 * for the body gets none within 5 s (status 0).
 */
function declare(url: string, method: string, length: number, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { status: number; text: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = http.request(url, { method, headers: { ...headers, 'content-length': String(length) } });
    const timer = setTimeout(() => done({ status: 0, text: 'no answer while the body was not sent' }), 5000);
    req.on('response', async (res) => {
      let text = '';
      for await (const c of res) text += c;
      done({ status: res.statusCode!, text });
    });
    req.on('error', (e) => done({ status: -1, text: e.message }));
    req.flushHeaders();
  });
}

/** Runs `fn`, then fails if an uncaught exception (which would take a server process down) happened meanwhile. */
async function watchUncaught<T>(fn: () => Promise<T>): Promise<T> {
  const seen: Error[] = [];
  const listener = (e: Error) => seen.push(e);
  process.on('uncaughtException', listener);
  try {
    const r = await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen.map((e) => e.message), [], 'uncaught exceptions');
    return r;
  } finally {
    process.off('uncaughtException', listener);
  }
}

for (const dialect of dialects()) {
  describe(`hostile uploads over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    const auth = () => ({ authorization: `Bearer ${alice}` });
    const basicAuth = () => ({ authorization: `Basic ${Buffer.from(`alice:${alice}`).toString('base64')}` });

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: String(BLOB_LIMIT), WHARF_NPM_MAX_BODY: String(NPM_LIMIT), WHARF_MAX_MANIFEST_SIZE: String(MANIFEST_LIMIT) } });
      alice = await s.userWithToken('alice');
      await s.core.identity.createRepo(systemActor, 'alice', 'lib', 'public');
    });
    after(() => s.stop());

    const nugetPush = (pkg: Buffer, what = 'package') => {
      const { body, type } = multipart(pkg);
      return fetch(`${s.url}/nuget/alice/api/v2/${what}/`, { method: 'PUT', headers: { 'content-type': type, 'x-nuget-apikey': alice }, body: new Uint8Array(body) });
    };

    test('PUT .nupkg with an entry lib/%E0%A4%A/x.dll (a malformed %-escape) → 400, not a 500 URIError', async () => {
      const before = storedBlobs(s.dataDir).length;
      const r = await nugetPush(buildNupkg({ id: 'Bad.Escape', version: '1.0.0', files: { 'lib/%E0%A4%A/x.dll': 'MZ' } }));
      assert.equal(r.status, 400, await r.clone().text());
      assert.match(await r.text(), /%-escape/);
      assert.equal(storedBlobs(s.dataDir).length, before);
    });

    test('PUT npm publish whose manifest holds a 200,000-deep array → 400, not a 500 RangeError', async () => {
      const name = '@alice/deep';
      const tarball = await npmTarball(name, '1.0.0');
      const text = JSON.stringify(publishBody({ name, version: '1.0.0', tarball, manifest: { deep: '__DEEP__' } })).replace('"__DEEP__"', '['.repeat(200_000) + ']'.repeat(200_000));
      const r = await putPackage(s.url, alice, name, text);
      assert.equal(r.status, 400, await r.clone().text());
      assert.match(((await r.json()) as { error: string }).error, /nests deeper than/);
      assert.equal((await fetch(`${s.url}/npm/@alice%2fdeep`, { headers: auth() })).status, 404);
    });

    for (const key of ['../../../x.tgz', '@alice/other-1.0.0.tgz', '@alice/key-2.0.0.tgz', 'key-1.0.0.tgz/../../x.tgz']) {
      test(`PUT npm publish with the attachment key ${JSON.stringify(key)} → 400, nothing published`, async () => {
        const name = '@alice/key';
        const tarball = await npmTarball(name, '1.0.0');
        const body = publishBody({ name, version: '1.0.0', tarball }) as { _attachments: Record<string, unknown> };
        body._attachments = { [key]: Object.values(body._attachments)[0] };
        const r = await putPackage(s.url, alice, name, body);
        assert.equal(r.status, 400, await r.clone().text());
        assert.match(((await r.json()) as { error: string }).error, /attachment/);
        assert.equal((await fetch(`${s.url}/npm/@alice%2fkey`, { headers: auth() })).status, 404);
      });
    }

    test('PUT npm publish with the attachment keys npm (@alice/key-1.0.0.tgz) and older tools (key-1.0.0.tgz) send → 201', async () => {
      for (const [version, key] of [['1.0.0', '@alice/key-1.0.0.tgz'], ['1.0.1', 'key-1.0.1.tgz']]) {
        const tarball = await npmTarball('@alice/key', version);
        const body = publishBody({ name: '@alice/key', version, tarball }) as { _attachments: Record<string, unknown> };
        body._attachments = { [key]: Object.values(body._attachments)[0] };
        const r = await putPackage(s.url, alice, '@alice/key', body);
        assert.equal(r.status, 201, await r.clone().text());
      }
    });

    test('PUT npm publish of a 1 MB tarball that inflates to 1 GiB → 413 while streaming, nothing stored', async () => {
      const name = '@alice/bomb';
      const tarball = npmTarballBomb(name, '1.0.0', 1024 ** 3);
      assert.ok(tarball.length < 1.1 * MiB);
      const before = storedBlobs(s.dataDir).length;
      const started = Date.now();
      const r = await putPackage(s.url, alice, name, publishBody({ name, version: '1.0.0', tarball }));
      assert.equal(r.status, 413, await r.clone().text());
      assert.match(((await r.json()) as { error: string }).error, /compression bomb/);
      // Inflating the whole gigabyte takes seconds; stopping after a few megabytes does not.
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.equal(storedBlobs(s.dataDir).length, before);
    });

    test('PUT .snupkg of 300 KB declaring a 300 MiB PDB → 413 before anything is inflated or stored', async () => {
      assert.equal((await nugetPush(buildNupkg({ id: 'Sym.Bomb', version: '1.0.0' }))).status, 201);
      const pdb = deflateBomb(buildPortablePdb(pdbIdOf('00112233445566778899aabbccddeeff')), 300 * MiB);
      const nuspec = `<?xml version="1.0" encoding="utf-8"?><package><metadata><id>Sym.Bomb</id><version>1.0.0</version><description>d</description><packageTypes><packageType name="SymbolsPackage" /></packageTypes></metadata></package>`;
      const snupkg = zipPacked([
        { name: 'Sym.Bomb.nuspec', packed: deflateRawSync(nuspec), size: Buffer.byteLength(nuspec), crc: crc32(nuspec) },
        { name: 'lib/net6.0/Sym.Bomb.pdb', ...pdb },
      ]);
      assert.ok(snupkg.length < 320 * 1024);
      const before = storedBlobs(s.dataDir).length;
      const r = await nugetPush(snupkg, 'symbolpackage');
      assert.equal(r.status, 413, await r.clone().text());
      assert.match(await r.text(), /compression bomb/);
      assert.equal(storedBlobs(s.dataDir).length, before);
    });

    test('PUT npm publish whose tarball is a tar cut inside an entry → 400, and the server lives on (no uncaught exception)', async () => {
      const name = '@alice/cut';
      const tar = await tarOf([{ name: 'package/package.json', body: JSON.stringify({ name, version: '1.0.0' }) }, { name: 'package/index.js', body: 'x'.repeat(4000) }]);
      const tarball = gzipSync(tar.subarray(0, 2048));
      const r = await watchUncaught(() => putPackage(s.url, alice, name, publishBody({ name, version: '1.0.0', tarball })));
      assert.equal(r.status, 400, await r.clone().text());
      assert.equal((await fetch(`${s.url}/npm/@alice%2fcut`, { headers: auth() })).status, 404);
    });

    test('POST a .gem cut inside data.tar.gz (and one whose data.tar.gz holds a cut tar) → 400, and the server lives on', async () => {
      const g = { name: 'cut', version: '1.0.0' };
      const whole = await buildGem(g);
      const cutData = await buildGem(g, { data: gzipSync((await gemTarOf([{ name: 'lib/cut.rb', body: Buffer.alloc(4000, 0x61) }])).subarray(0, 1024)) });
      for (const gem of [whole.subarray(0, 1536 + 100), cutData]) {
        const r = await watchUncaught(() => fetch(`${s.url}/rubygems/alice/api/v1/gems`, { method: 'POST', headers: { authorization: alice, 'content-type': 'application/octet-stream' }, body: new Uint8Array(gem) }));
        assert.equal(r.status, 400, await r.clone().text());
      }
      assert.equal((await fetch(`${s.url}/rubygems/alice/api/v1/versions/cut.json`, { headers: { authorization: alice } })).status, 404);
    });

    // Every streamed upload route of every format, with its own limit.
    const declared: [string, string, string, () => number, () => Record<string, string>, RegExp][] = [
      ['npm publish', 'PUT', '/npm/@alice%2fhuge', () => NPM_LIMIT, () => ({ ...auth(), 'content-type': 'application/json' }), /"error"/],
      ['Maven deploy', 'PUT', '/maven/alice/lib/com/example/huge/1.0/huge-1.0.jar', () => BLOB_LIMIT, basicAuth, /./],
      ['NuGet push', 'PUT', '/nuget/alice/api/v2/package/', () => BLOB_LIMIT + 64 * 1024, () => ({ 'x-nuget-apikey': alice, 'content-type': 'multipart/form-data; boundary=x' }), /./],
      ['NuGet symbol push', 'PUT', '/nuget/alice/api/v2/symbolpackage/', () => BLOB_LIMIT + 64 * 1024, () => ({ 'x-nuget-apikey': alice, 'content-type': 'multipart/form-data; boundary=x' }), /./],
      ['gem push', 'POST', '/rubygems/alice/api/v1/gems', () => BLOB_LIMIT, () => ({ authorization: alice, 'content-type': 'application/octet-stream' }), /./],
      ['OCI monolithic blob upload', 'POST', `/v2/alice/huge/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, () => BLOB_LIMIT, basicAuth, /SIZE_INVALID/],
      ['OCI manifest', 'PUT', '/v2/alice/huge/manifests/latest', () => MANIFEST_LIMIT, () => ({ ...basicAuth(), 'content-type': 'application/vnd.oci.image.manifest.v1+json' }), /SIZE_INVALID/],
    ];
    for (const [what, method, url, limit, headers, format] of declared) {
      test(`${method} ${what} declaring Content-Length one byte over its limit → 413 before the body is sent`, async () => {
        const r = await declare(`${s.url}${url}`, method, limit() + 1, headers());
        assert.equal(r.status, 413, r.text);
        assert.match(r.text, format);
      });
    }

    test('OCI blob upload PATCH and PUT declaring Content-Length over WHARF_MAX_BLOB_SIZE → 413 SIZE_INVALID before the body is sent', async () => {
      const start = await fetch(`${s.url}/v2/alice/huge/blobs/uploads/`, { method: 'POST', headers: basicAuth() });
      assert.equal(start.status, 202);
      const location = new URL(start.headers.get('location')!, s.url);
      for (const [method, url] of [['PATCH', location.href], ['PUT', `${location.href}${location.search ? '&' : '?'}digest=sha256:${'0'.repeat(64)}`]]) {
        const r = await declare(url, method, BLOB_LIMIT + 1, { ...basicAuth(), 'content-type': 'application/octet-stream' });
        assert.equal(r.status, 413, `${method}: ${r.text}`);
        assert.match(r.text, /SIZE_INVALID/);
      }
    });

  });
}
