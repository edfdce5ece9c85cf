// Fuzzing generic packages with fast-check (seeded, see property.ts): the path parser on hostile segments, and
// over HTTP uploads, downloads and deletes on hostile paths, downloads with hostile Range headers, and badges on
// hostile paths: a typed value or a client error, a 4xx (or a 2xx), never a 500; and whatever an upload accepted
// downloads again byte for byte.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseGenericPath } from '../../src/formats/generic/paths.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, encodeSegment, mutatedText, params, returnsOrRefusesSync } from './property.ts';

const BITS = ['alice', 'tool', '1.0.0', 'v2.0.0-rc.1+b.5', 'tool-1.0.0-linux-amd64.tar.gz', 'SHA256SUMS', '.', '..', '', '%2e%2e', '%2F', '%5C', '%00', '%0d%0a', '%E0%A4%A', '%', '~', '+', '"', ';', 'x'.repeat(250), 'Alice', '-', '_x'];
/** Generic-looking paths below /generic/, mutated and assembled from hostile segments. */
const genericPath = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...BITS), fc.string({ maxLength: 12 })), { minLength: 0, maxLength: 6 }).map((s) => s.join('/')),
  fc.constantFrom('alice/tool/1.0.0/tool-1.0.0-linux-amd64.tar.gz', 'alice/tool/1.0.0', 'alice/tool/v2.0.0-rc.1+b.5/SHA256SUMS').chain((p) => mutatedText(p, BITS)),
);
/** A segment as a client would send it: printable ASCII as is, anything else percent-encoded. */
const asUrl = (p: string) => p.split('/').map((seg) => (/^[\x21-\x7e]*$/.test(seg) && !seg.includes('?') && !seg.includes('#') ? seg : encodeSegment(seg))).join('/');

describe('generic path parser', () => {
  test('any path below /generic/: a typed path or a client error', (t) => {
    fc.assert(fc.property(genericPath, (raw) => returnsOrRefusesSync(() => parseGenericPath(asUrl(raw)))), params(t, 5000));
  });
});

describe('generic packages over HTTP', () => {
  let s: TestServer;
  let auth: string;
  // One database is enough: what is fuzzed is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    auth = `Basic ${Buffer.from(`alice:${await s.userWithToken('alice')}`).toString('base64')}`;
    const r = await s.app.inject({ method: 'PUT', url: '/generic/alice/tool/1.0.0/tool-1.0.0-linux-amd64.tar.gz', headers: { authorization: auth }, payload: 'the tarball' });
    assert.equal(r.statusCode, 201);
  });
  after(() => s.stop());

  test('GET, HEAD, PUT and DELETE on hostile paths → 4xx (or 2xx), never 500; what PUT accepted reads back', async (t) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(genericPath, fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'), fc.boolean(), async (p, method, signed) => {
        const url = `/generic/${asUrl(p)}`;
        const payload = method === 'PUT' ? `bytes ${++n}` : undefined;
        const r = await s.app.inject({ method, url, headers: signed ? { authorization: auth } : {}, payload });
        assertClientStatus(r.statusCode, r.body, `${method} ${url}`, true);
        if (method === 'PUT' && r.statusCode === 201) {
          const back = await s.app.inject({ method: 'GET', url, headers: { authorization: auth } });
          assert.equal(back.statusCode, 200, `GET ${url} after its PUT`);
          assert.equal(back.body, payload);
        }
      }),
      params(t, 1500),
    );
  });

  test('downloads with hostile Range headers → 200, 206 or 416, never 500', async (t) => {
    const range = fc.oneof(
      fc.tuple(fc.option(fc.integer({ min: -5, max: 40 })), fc.option(fc.integer({ min: -5, max: 40 }))).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
      mutatedText('bytes=0-5', ['bytes', '=', ',', '-', '9'.repeat(30), 'items=0-1']),
    );
    // A file of its own: the hostile DELETEs of the test before may have removed alice/tool's (seed 9001 does).
    const url = '/generic/alice/ranged/1.0.0/ranged.bin';
    assert.equal((await s.app.inject({ method: 'PUT', url, headers: { authorization: auth }, payload: 'the tarball' })).statusCode, 201);
    await fc.assert(
      fc.asyncProperty(range, async (h) => {
        const r = await s.app.inject({ method: 'GET', url, headers: { authorization: auth, range: h } });
        assert.ok([200, 206, 416].includes(r.statusCode), `Range: ${h} → ${r.statusCode}`);
        if (r.statusCode === 206) assert.ok('the tarball'.includes(r.body) && r.body.length > 0, `Range: ${h} → "${r.body}"`);
      }),
      params(t, 1000),
    );
  });

  test('badges on hostile paths → 404 (or 200), never 500', async (t) => {
    const badgePath = fc.oneof(
      fc.array(fc.oneof(fc.constantFrom('generic', 'npm', 'alice', 'tool', 'version.svg', 'downloads.json', '..', '%2F', ''), fc.string({ maxLength: 10 })), { maxLength: 6 }).map((s) => s.join('/')),
      mutatedText('generic/alice/tool/version.svg', BITS),
    );
    await fc.assert(
      fc.asyncProperty(badgePath, async (p) => {
        const url = `/badge/${asUrl(p)}`;
        const r = await s.app.inject({ method: 'GET', url });
        assertClientStatus(r.statusCode, r.body, `GET ${url}`, true);
      }),
      params(t, 1000),
    );
  });
});
