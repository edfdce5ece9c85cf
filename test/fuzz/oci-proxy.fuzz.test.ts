// Fuzzing the container proxy (seeded, see property.ts): what an upstream registry sends is hostile input. The
// WWW-Authenticate parser and the tag-list reader never crash; over HTTP, an upstream answering anything (any
// status, body, challenge, declared length) for tags, manifests, blobs and tag lists gets the client a 4xx or a
// 502, never a 500, and nothing unverified is kept.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { systemActor } from '../../src/core/auth/actor.ts';
import { parseChallenge } from '../../src/core/proxy/upstream-auth.ts';
import { tagsOf } from '../../src/formats/oci/proxy.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { mutatedText, params } from './property.ts';

const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('container proxy parsers', () => {
  test('WWW-Authenticate challenges: a scheme and parameters, or nothing; never a crash', (t) => {
    const good = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutatedText(good), fc.constant(null)), (h) => {
        const c = parseChallenge(h);
        if (c) {
          assert.equal(typeof c.scheme, 'string');
          for (const v of Object.values(c.params)) assert.equal(typeof v, 'string');
        }
      }),
      params(t, 1000),
    );
    assert.deepEqual(parseChallenge(good)?.params, { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' });
  });

  test('tag lists: valid tags, or refused', (t) => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? ''), mutatedText('{"name":"library/a","tags":["1","latest"]}'), fc.string()), (text) => {
        const tags = tagsOf(Buffer.from(text));
        if (tags) for (const x of tags) assert.match(x, /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/);
      }),
      params(t, 1000),
    );
  });
});

describe('a hostile upstream registry', () => {
  let server: TestServer;
  let upstream: http.Server;
  /** What the upstream answers next. */
  let answer: { status: number; headers: Record<string, string>; body: Buffer } = { status: 200, headers: {}, body: Buffer.alloc(0) };

  before(async () => {
    upstream = http.createServer((req, res) => {
      req.resume();
      try {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch {
        res.destroy();
      }
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    server = await startWharf();
    // TTL 0: every tag and tag list is asked again, so each case meets the upstream.
    await server.core.proxies.create(systemActor, 'evil', { format: 'container', upstream: origin, ttlSeconds: 0, timeoutMs: 2000 });
  });

  after(async () => {
    await server?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf('{}'), size: 2 }, layers: [],
  }));

  test('any answer, for any resource: a 4xx or a 502, never a 500', async (t) => {
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      mutatedText(manifest.toString()).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.constant(manifest),
    );
    const headers = fc.record({
      'content-type': fc.constantFrom('application/json', 'application/vnd.oci.image.manifest.v1+json', 'text/html'),
      'www-authenticate': fc.oneof(fc.string({ maxLength: 80 }), fc.constant('Bearer realm="http://127.0.0.1:1/token",service="x"'), fc.constant('Basic realm="x"')),
      location: fc.oneof(fc.constant('http://127.0.0.1:1/x'), fc.string({ maxLength: 30 })),
    }, { requiredKeys: [] });
    const paths = fc.constantFrom(
      '/v2/evil/library/a/manifests/latest', `/v2/evil/library/a/manifests/${digestOf(manifest)}`, `/v2/evil/library/a/manifests/${digestOf('nope')}`,
      `/v2/evil/library/a/blobs/${digestOf('{}')}`, '/v2/evil/library/a/tags/list',
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(200, 200, 200, 301, 307, 401, 403, 404, 500, 503), headers, bodies, paths, async (status, h, body, path) => {
        const safe: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) if (/^[\t\x20-\x7e]*$/.test(v)) safe[k] = v;
        answer = { status, headers: safe, body };
        const r = await fetch(`${server.url}${path}`);
        const got = Buffer.from(await r.arrayBuffer().catch(() => new ArrayBuffer(0)));
        assert.ok((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500) || r.status === 502, `${status} ${JSON.stringify(safe)} ${path} → ${r.status}`);
        if (r.status === 200 && path.includes('/blobs/')) assert.equal(digestOf(got), digestOf('{}'), 'a blob served is the one asked for');
      }),
      params(t, 150),
    );
  });
});
