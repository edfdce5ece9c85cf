// Fuzzing the container registry with fast-check (seeded, see property.ts): the manifest parser on corrupt and
// hostile JSON with every media type, and over HTTP, manifest pushes with hostile bodies, blob uploads with hostile
// digests, ranges and sessions, and every route with hostile names and references: a value or a client error,
// never a crash; a 4xx in the distribution error format, never a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ALL_MANIFEST_TYPES, parseManifest } from '../../src/formats/oci/manifests.ts';
import { basic, imageIndex, imageManifest, pushImage, type Manifest } from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, encodeSegment, mutatedText, params, returnsOrRefusesSync } from './property.ts';

const JSON_BITS = ['"schemaVersion"', '"mediaType"', '"config"', '"layers"', '"manifests"', '"subject"', '"annotations"', '"digest"', '"size"', '"urls"', '"sha256:', '-1', '1e400', '9007199254740993', 'null', '[]', '{}', '"__proto__"', '"constructor"', '[[[[[[[[', ']]]]]]]]'];
const contentType = fc.oneof(fc.constantFrom(...ALL_MANIFEST_TYPES, undefined, 'application/json', 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'text/plain; charset=utf-8'), fc.string({ maxLength: 20 }));
const deepJson = fc.tuple(fc.integer({ min: 1, max: 20000 }), fc.constantFrom('[', '{"annotations":')).map(([n, open]) => `{"schemaVersion":2,"annotations":${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}}`);

describe('OCI manifest parser', () => {
  let image: Manifest;
  let index: Manifest;
  before(() => {
    image = imageManifest({ annotations: { a: 'b' }, subject: imageManifest() });
    index = imageIndex([{ manifest: imageManifest(), platform: { architecture: 'amd64', os: 'linux' } }, { manifest: imageManifest() }]);
  });

  test('corrupt and hostile manifests, any Content-Type: parsed or a client error', async (t) => {
    const text = fc.oneof(
      fc.constantFrom(image, index).chain((m) => mutatedText(m.bytes.toString(), JSON_BITS)),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ schemaVersion: 2, config: v, layers: [v], manifests: [v], subject: v })),
      deepJson,
    );
    fc.assert(
      fc.property(text, contentType, (s, ct) =>
        returnsOrRefusesSync(() => {
          const m = parseManifest(Buffer.from(s), ct);
          JSON.stringify(m); // what is accepted can be stored and served again
        }),
      ),
      params(t, 3000),
    );
  });
});

describe('OCI over HTTP', () => {
  let s: TestServer;
  let auth: string;
  let image: Manifest;
  // One database is enough: what is fuzzed here is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    auth = basic('alice', await s.userWithToken('alice'));
    image = await pushImage(s.url, 'alice/app', 'v1', imageManifest({ annotations: { a: 'b' } }), auth);
  });
  after(() => s.stop());

  const isOciError = (body: string) => {
    try {
      return Array.isArray(JSON.parse(body).errors);
    } catch {
      return false;
    }
  };

  test('PUT /v2/alice/app/manifests/TAG with a hostile manifest → 4xx (or 201), never 500', async (t) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedText(image.bytes.toString(), JSON_BITS), deepJson, fc.json({ maxDepth: 3 })), contentType, async (body, ct) => {
        const r = await s.app.inject({ method: 'PUT', url: `/v2/alice/app/manifests/fuzz${++n}`, headers: { authorization: auth, ...(ct ? { 'content-type': ct } : {}) }, payload: body });
        assertClientStatus(r.statusCode, r.body, 'PUT manifest', true);
        if (r.statusCode >= 400) assert.ok(isOciError(r.body), `the distribution error format: ${r.body}`);
      }),
      params(t, 800),
    );
  });

  test('blob uploads with hostile digests, ranges and sessions → 4xx (or 2xx), never 500', async (t) => {
    const digest = fc.oneof(fc.constantFrom(`sha256:${'a'.repeat(64)}`, 'sha256:', 'sha512:abc', 'md5:x', '', '%E0%A4%A', `sha256:${'A'.repeat(64)}`), mutatedText(image.blobs[0].digest, ['sha256:', ':', '%']));
    const range = fc.oneof(fc.constantFrom('0-0', '0-9', '5-1', '-1-3', 'bytes=0-9', '0-99999999999999999999', ''), fc.string({ maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(digest, range, fc.string({ maxLength: 40 }), fc.constantFrom('PATCH', 'PUT', 'GET', 'DELETE'), fc.boolean(), async (d, cr, body, method, fresh) => {
        let loc = `/v2/alice/app/blobs/uploads/${encodeSegment(d)}`;
        if (fresh) {
          const st = await s.app.inject({ method: 'POST', url: '/v2/alice/app/blobs/uploads/', headers: { authorization: auth } });
          assert.equal(st.statusCode, 202, st.body);
          loc = new URL(st.headers.location as string, 'http://x').pathname;
        }
        const url = method === 'PUT' ? `${loc}?digest=${encodeSegment(d)}` : loc;
        const r = await s.app.inject({ method, url, headers: { authorization: auth, 'content-type': 'application/octet-stream', ...(cr ? { 'content-range': cr } : {}) }, payload: method === 'GET' || method === 'DELETE' ? undefined : body });
        assertClientStatus(r.statusCode, r.body, `${method} ${url} (Content-Range ${cr})`, true);
      }),
      params(t, 600),
    );
  });

  test('every route with hostile names, references and digests → 4xx (or 2xx), never 500', async (t) => {
    const name = fc.oneof(mutatedText('alice/app', ['%2F', '%E0%A4%A', '..', '//', 'A', '_', '-', '.']), fc.string({ maxLength: 20 }));
    const ref = fc.oneof(mutatedText('v1', ['sha256:', '%', '..', ':', '@']), fc.constantFrom(image.digest, `sha256:${'0'.repeat(64)}`, 'sha256:zz', 'x'.repeat(200)));
    const kind = fc.constantFrom('manifests', 'blobs', 'tags/list', 'referrers', 'blobs/uploads');
    await fc.assert(
      fc.asyncProperty(name, ref, kind, fc.constantFrom('GET', 'HEAD', 'DELETE', 'PUT', 'POST'), fc.constantFrom('', '?n=-1', '?n=1e9&last=%E0%A4%A', '?artifactType=%ZZ', '?mount=sha256:x&from=..'), async (n, rf, k, method, q) => {
        const path = n.split('/').map((seg) => (/^[\x21-\x7e]*$/.test(seg) ? seg : encodeSegment(seg))).join('/');
        const url = `/v2/${path}/${k}${k === 'tags/list' ? '' : `/${encodeSegment(rf)}`}${q}`;
        const r = await s.app.inject({ method, url, headers: { authorization: auth }, payload: method === 'PUT' || method === 'POST' ? '{}' : undefined });
        assert.ok(r.statusCode < 500, `${method} ${url} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
      }),
      params(t, 1000),
    );
  });
});
