// Fuzzing the npm proxy (seeded, see property.ts): an upstream's packument is hostile input as much as a client's
// request. The parser returns a document whose rewrites serialize, or refuses with Upstream (a 502); over HTTP, a
// hostile upstream (any status, any body, for packuments and tarballs) and hostile paths get a 4xx or a 502, never
// a 500; block patterns are accepted or refused, never a crash.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { systemActor } from '../../src/core/auth/actor.ts';
import { WharfError } from '../../src/core/errors.ts';
import { blockMatches, checkBlockPattern } from '../../src/core/proxy/proxies.ts';
import { parseUpstreamPackument, proxiedAbbreviatedPackument, proxiedFullPackument, parseUpstreamName } from '../../src/formats/npm/proxy-packument.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { mutatedText, params, returnsOrRefuses } from './property.ts';

const isUpstream = (e: unknown) => e instanceof WharfError && e.kind === 'Upstream';

const goodDoc = (name: string) => ({
  name, 'dist-tags': { latest: '1.0.0' },
  versions: { '1.0.0': { name, version: '1.0.0', dependencies: { x: '^1' }, dist: { tarball: `http://up/${name}/-/${name}-1.0.0.tgz`, integrity: 'sha512-AAAA', shasum: 'a'.repeat(40) } } },
});

/** Any JSON value where a packument's parts go, or a packument with hostile parts. */
const hostileDoc = fc.oneof(
  fc.jsonValue(),
  fc.record({ name: fc.oneof(fc.constant('px'), fc.jsonValue()), versions: fc.dictionary(fc.string(), fc.jsonValue()), 'dist-tags': fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({
    versions: fc.dictionary(fc.constantFrom('1.0.0', '2.0.0-rc.1', 'x', '__proto__', 'constructor'), fc.record({ version: fc.jsonValue(), dist: fc.oneof(fc.jsonValue(), fc.record({ tarball: fc.jsonValue(), integrity: fc.jsonValue(), shasum: fc.jsonValue() })) }, { requiredKeys: [] })),
  }),
);

describe('npm proxy parsers', () => {
  test('upstream packuments: a document that rewrites and serializes, or Upstream (502)', (t) => {
    fc.assert(
      fc.property(fc.oneof(hostileDoc.map((d) => JSON.stringify(d) ?? ''), mutatedText(JSON.stringify(goodDoc('px'))), fc.string()), (text) => {
        let parsed;
        try {
          parsed = parseUpstreamPackument(Buffer.from(text), 'px');
        } catch (e) {
          if (!isUpstream(e)) throw e;
          return;
        }
        const input = { name: parseUpstreamName('px')!, parsed, tarballUrl: (v: string) => `http://wharf/npm/up/px/-/px-${v}.tgz` };
        for (const doc of [proxiedFullPackument(input), proxiedAbbreviatedPackument(input)]) {
          const back = JSON.parse(JSON.stringify(doc));
          for (const [v, m] of Object.entries(back.versions as Record<string, any>)) assert.equal(m.dist.tarball, `http://wharf/npm/up/px/-/px-${v}.tgz`);
        }
      }),
      params(t, 500),
    );
  });

  test('block patterns: accepted or refused, and matching never throws', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), async (p, name) => {
        await returnsOrRefuses(() => blockMatches(checkBlockPattern(p), name));
      }),
      params(t, 500),
    );
  });
});

describe('npm proxy over HTTP with a hostile upstream', { timeout: 120_000 }, () => {
  let server: TestServer;
  let upstream: http.Server;
  let next: { status: number; body: string } = { status: 200, body: '' };

  before(async () => {
    upstream = http.createServer((req, res) => {
      res.writeHead(next.status, { 'content-type': 'application/json' });
      res.end(next.body);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    server = await startWharf();
    const origin = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    await server.core.proxies.create(systemActor, 'up', { format: 'npm', upstream: origin, ttlSeconds: 0, timeoutMs: 2000, isDefault: true });
  });

  after(async () => {
    await server?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  test('any upstream answer to a packument or tarball request: 2xx, 4xx or 502, never 500', async (t) => {
    const origin = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    const withUrl = goodDoc('px');
    withUrl.versions['1.0.0'].dist.tarball = `${origin}/px/-/px-1.0.0.tgz`;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 200, 200, 304, 401, 404, 500, 502),
        fc.oneof(hostileDoc.map((d) => JSON.stringify(d) ?? ''), mutatedText(JSON.stringify(withUrl)), fc.constant(JSON.stringify(withUrl))),
        fc.constantFrom('/npm/px', '/npm/up/px', '/npm/up/px/-/px-1.0.0.tgz', '/npm/px/-/px-1.0.0.tgz'),
        async (status, body, path) => {
          next = { status, body };
          const r = await fetch(`${server.url}${path}`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
          await r.arrayBuffer();
          assert.ok(r.status < 500 || r.status === 502, `${path} with upstream ${status} ${body.slice(0, 80)} → ${r.status}`);
        },
      ),
      params(t, 150),
    );
  });

  test('hostile paths under a proxy: 4xx, never 500', async (t) => {
    next = { status: 404, body: '{}' };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('-', '@x', '@x%2fy', '%2e%2e', 'px-1.0.0.tgz')), { minLength: 1, maxLength: 5 }), async (segs) => {
        const r = await fetch(`${server.url}/npm/up/${segs.map((s) => encodeURIComponent(s)).join('/')}`);
        await r.arrayBuffer();
        assert.ok(r.status >= 400 && r.status < 500, `${segs.join('/')} → ${r.status}`);
      }),
      params(t, 300),
    );
  });
});
