// Fuzzing npm's parsers with fast-check (seeded, see property.ts): the streaming publish-body parser at any
// chunking and with any text, the tarball reader on corrupt gzip and tar, and over HTTP, publishes with hostile
// bodies and package paths: a value or a client error, never a crash; a 4xx, never a 500.
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parsePublishBody } from '../../src/formats/npm/publish-body.ts';
import { inspectTarball, TarballInspector, type TarballLimits } from '../../src/formats/npm/tarball.ts';
import { pipeline } from 'node:stream/promises';
import { Readable as R, Writable } from 'node:stream';
import { npmTarball, publishBody, tarOf } from '../helpers/npm-body.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, mutated, mutatedText, params, returnsOrRefuses } from './property.ts';

const LIMITS: TarballLimits = { maxEntries: 50, maxManifest: 64 * 1024, maxUnpacked: 64 * 1024 * 1024, maxRatio: 100 };

/** Splits `buf` at the given cut points. */
function chunked(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(buf.subarray(from, c));
    from = c;
  }
  out.push(buf.subarray(from));
  return out.filter((b) => b.length);
}

/** JSON text with nesting as deep as a hostile client likes. */
const deepJson = fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom('[', '{"a":'), fc.jsonValue({ maxDepth: 2 })).map(([n, open, inner]) => {
  const close = open === '[' ? ']' : '}';
  return open.repeat(n) + JSON.stringify(inner) + close.repeat(n);
});

const drain = async (s: Readable) => {
  let n = 0;
  for await (const c of s) n += (c as Buffer).length;
  return n;
};

describe('npm publish body parser', () => {
  let sample: string;
  before(async () => {
    sample = JSON.stringify(publishBody({ name: '@a/b', version: '1.0.0', tarball: await npmTarball('@a/b', '1.0.0') }));
  });

  test('any text, at any chunking: the document, or a client error', async (t) => {
    const text = fc.oneof(fc.json({ maxDepth: 6 }), deepJson, fc.string({ unit: 'binary', maxLength: 200 }), fc.constant(sample).chain((s) => mutatedText(s)));
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(16, 64, 1 << 20), async (s, cuts, largeString) => {
        const buf = Buffer.from(s);
        await returnsOrRefuses(async () => {
          const r = await parsePublishBody(chunked(buf, cuts), { maxBody: 1 << 20, maxDocument: 256 * 1024, largeString }, drain);
          // Whatever it accepts is a document that can be walked and serialized again.
          JSON.stringify(r.doc);
        });
      }),
      params(t, 1500),
    );
  });

  test('a document without large strings parses exactly as JSON.parse does', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.json({ maxDepth: 8 }), fc.array(fc.nat(), { maxLength: 6 }), async (s, cuts) => {
        const r = await parsePublishBody(chunked(Buffer.from(s), cuts), { maxBody: 1 << 20, maxDocument: 1 << 20 }, async () => assert.fail('no large string'));
        assert.deepEqual(r.doc, JSON.parse(s));
      }),
      params(t, 500),
    );
  });
});

describe('npm tarball reader', () => {
  let good: Buffer;
  let goodTar: Buffer;
  before(async () => {
    good = await npmTarball('@a/b', '1.0.0', { description: 'x'.repeat(100) });
    goodTar = await tarOf([{ name: 'package/package.json', body: '{"name":"@a/b","version":"1.0.0"}' }, { name: 'package/index.js', body: 'module.exports = 1;\n'.repeat(20) }]);
  });

  test('corrupt gzip, in memory and streamed: facts or a client error', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(good), fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b))), async (bytes) => {
        await returnsOrRefuses(() => inspectTarball(bytes, LIMITS));
        await returnsOrRefuses(async () => {
          const insp = new TarballInspector(LIMITS);
          await pipeline(R.from([bytes]), insp, new Writable({ write: (_c, _e, cb) => cb() }));
          return insp.facts;
        });
      }),
      params(t, 1000),
    );
  });

  test('corrupt tar inside valid gzip: facts or a client error', async (t) => {
    await fc.assert(
      fc.asyncProperty(mutated(goodTar), async (tar) => {
        await returnsOrRefuses(() => inspectTarball(gzipSync(tar), LIMITS));
      }),
      params(t, 1000),
    );
  });
});

describe('npm over HTTP', () => {
  let s: TestServer;
  let token: string;
  let body: string;
  // One database is enough: what is fuzzed here is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    token = await s.userWithToken('alice');
    body = JSON.stringify(publishBody({ name: '@alice/f', version: '1.0.0', tarball: await npmTarball('@alice/f', '1.0.0') }));
  });
  after(() => s.stop());

  test('PUT /npm/@alice%2ff with a hostile body → 4xx (or 201 when still a valid publish), never 500', async (t) => {
    const hostile = fc.oneof(
      fc.constant(body).chain((b) => mutatedText(b, ['"_attachments"', '"versions"', '"dist-tags"', '"../x.tgz"', '"data":"', 'null', '"__proto__"', '"constructor"'])),
      fc.json({ maxDepth: 4 }),
      deepJson,
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (payload) => {
        // A publish that succeeds takes its version: the next cases keep being publishes of a new one.
        const text = typeof payload === 'string' ? payload.replaceAll('1.0.0', `1.0.${++n}`) : payload;
        const r = await s.app.inject({ method: 'PUT', url: '/npm/@alice%2ff', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: text });
        assertClientStatus(r.statusCode, r.body, 'PUT publish', true);
        if (r.statusCode >= 400) assert.ok(typeof JSON.parse(r.body).error === 'string', `npm's error format: ${r.body}`);
      }),
      params(t, 600),
    );
  });

  test('GET and PUT on hostile package paths → 4xx, never 500', async (t) => {
    const segment = fc.oneof(mutatedText('@alice%2ff', ['%2e%2e', '%252f', '%c0%af', '%ff', '%']), fc.string({ maxLength: 30 }).map(encodeURIComponent));
    const tail = fc.constantFrom('', '/1.0.0', '/latest', '/-/f-1.0.0.tgz', '/-rev/1-x', '/-/f-1.0.0.tgz/-rev/1-x', '/%ZZ', '/-/%E0%A4%A.tgz');
    await fc.assert(
      fc.asyncProperty(segment, tail, fc.constantFrom('GET', 'PUT', 'DELETE'), async (seg, rest, method) => {
        const r = await s.app.inject({ method, url: `/npm/${seg}${rest}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: method === 'PUT' ? '{}' : undefined });
        assert.ok(r.statusCode < 500, `${method} /npm/${seg}${rest} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
      }),
      params(t, 600),
    );
  });
});
