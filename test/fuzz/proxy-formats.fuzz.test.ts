// Fuzzing the Maven, RubyGems and NuGet proxies (seeded, see property.ts): every document Wharf reads from an
// upstream is hostile input. Its parsers keep a document or refuse it with Upstream (a 502); over HTTP, a hostile
// upstream (any status, any body, checksums that match or not) and hostile paths get a 2xx, a 4xx or a 502,
// never a 500.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { systemActor } from '../../src/core/auth/actor.ts';
import { WharfError } from '../../src/core/errors.ts';
import { checkUpstreamMetadata, parseUpstreamChecksum } from '../../src/formats/maven/proxy.ts';
import { parseUpstreamRegistration, parseUpstreamRegistrationPage, parseUpstreamServiceIndex, parseUpstreamVersionList } from '../../src/formats/nuget/proxy.ts';
import { checkUpstreamVersions, parseUpstreamInfo } from '../../src/formats/rubygems/proxy.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { encodeSegment, mutatedText, params } from './property.ts';

/** GETs `path` exactly as written (no dot-segment resolution) and returns the status. */
function rawGet(base: string, path: string): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    http.get({ host: hostname, port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

const isUpstream = (e: unknown) => e instanceof WharfError && e.kind === 'Upstream';
const keptOrRefused = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (!isUpstream(e)) throw e;
  }
};

const INFO = `---\n1.0.0 |checksum:${'a'.repeat(64)}\n1.1.0 greeter:~> 1.0&>= 1.0.1|checksum:${'b'.repeat(64)},ruby:>= 2.7\n1.0.0-x86_64-linux |checksum:${'c'.repeat(64)}\n`;
const VERSIONS = `created_at: 2026-01-01T00:00:00Z\n---\ngreeter 1.0.0,1.1.0 ${'d'.repeat(32)}\nfancy 0.1.0 ${'e'.repeat(32)}\n`;
const ORIGIN = 'http://up.example';
const SERVICE_INDEX = JSON.stringify({ version: '3.0.0', resources: [
  { '@id': `${ORIGIN}/v3/flat/`, '@type': 'PackageBaseAddress/3.0.0' }, { '@id': `${ORIGIN}/v3/registration-semver2/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
] });
const LEAF = (v: string) => ({ catalogEntry: { id: 'Contoso.App', version: v, listed: true, authors: 'a', description: 'd', tags: ['x'], dependencyGroups: [{ targetFramework: 'net472', dependencies: [{ id: 'Contoso.Dep', range: '[1.0.0, )' }] }], packageHash: 'AAAA', packageHashAlgorithm: 'SHA512' } });
const REGISTRATION = JSON.stringify({ count: 2, items: [{ items: [LEAF('1.0.0'), LEAF('2.0.0-rc.1')] }, { '@id': `${ORIGIN}/v3/registration-semver2/contoso.app/page/3.0.0/4.0.0.json` }] });
const METADATA = '<?xml version="1.0"?><metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning><latest>1.0</latest><release>1.0</release><versions><version>1.0</version></versions></versioning></metadata>';

describe('proxy parsers of upstream documents', () => {
  test('maven-metadata.xml and checksum files: kept or Upstream (502)', (t) => {
    fc.assert(
      fc.property(fc.oneof(mutatedText(METADATA), fc.string(), fc.constantFrom('<!DOCTYPE x [<!ENTITY a "b">]><metadata/>', '<metadata>', '<project/>', '')), (text) => {
        keptOrRefused(() => checkUpstreamMetadata(Buffer.from(text)));
        keptOrRefused(() => parseUpstreamChecksum(Buffer.from(text), 'sha1'));
        keptOrRefused(() => parseUpstreamChecksum(Buffer.from(text), 'sha256'));
      }),
      params(t, 500),
    );
  });

  test('compact index info and versions: kept or Upstream (502)', (t) => {
    fc.assert(
      fc.property(fc.oneof(mutatedText(INFO), mutatedText(VERSIONS), fc.string(), fc.constantFrom('---', '---\n', '', '---\n__proto__ |checksum:x')), (text) => {
        keptOrRefused(() => parseUpstreamInfo(Buffer.from(text), 'greeter'));
        keptOrRefused(() => checkUpstreamVersions(Buffer.from(text)));
      }),
      params(t, 500),
    );
  });

  test('NuGet service index, version lists and registrations: parsed or Upstream (502)', (t) => {
    const hostileJson = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? ''), mutatedText(REGISTRATION), mutatedText(SERVICE_INDEX), fc.constantFrom('{"versions":["1.0.0","x"]}', '{"versions":"1"}', '{"items":[{"@id":"http://elsewhere/p.json"}]}', '{"items":[{"items":[{"catalogEntry":{"version":"1.0.0","id":"Other"}}]}]}'));
    fc.assert(
      fc.property(hostileJson, (text) => {
        const b = Buffer.from(text);
        keptOrRefused(() => parseUpstreamServiceIndex(b, ORIGIN));
        keptOrRefused(() => parseUpstreamVersionList(b));
        keptOrRefused(() => JSON.stringify(parseUpstreamRegistration(b, 'Contoso.App', ORIGIN)));
        keptOrRefused(() => JSON.stringify(parseUpstreamRegistrationPage(b, 'Contoso.App')));
      }),
      params(t, 500),
    );
  });
});

/** An upstream answering every request with `next`; checksum files optionally the true checksum of `next.body`. */
class HostileUpstream {
  next: { status: number; body: string; consistent: boolean } = { status: 200, body: '', consistent: false };
  private server!: http.Server;
  origin = '';

  async start() {
    this.server = http.createServer((req, res) => {
      const { status, body, consistent } = this.next;
      const algo = /\.(sha1|sha256)$/.exec(req.url!.split('?')[0])?.[1];
      if (algo && consistent) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(createHash(algo).update(body).digest('hex'));
      }
      res.writeHead(status, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('Maven, RubyGems and NuGet proxies over HTTP with a hostile upstream', { timeout: 300_000 }, () => {
  let server: TestServer;
  const upstream = new HostileUpstream();

  before(async () => {
    await upstream.start();
    server = await startWharf();
    // TTL 0: every request asks the upstream again.
    await server.core.proxies.create(systemActor, 'mvn', { format: 'maven', upstream: upstream.origin, ttlSeconds: 0, timeoutMs: 2000 });
    await server.core.proxies.create(systemActor, 'nu', { format: 'nuget', upstream: `${upstream.origin}/index.json`, ttlSeconds: 0, timeoutMs: 2000 });
    await server.core.proxies.create(systemActor, 'gems', { format: 'rubygems', upstream: upstream.origin, ttlSeconds: 0, timeoutMs: 2000 });
  });

  after(async () => {
    await server?.stop();
    await upstream.stop();
  });

  const answers = (base: string) => fc.record({
    status: fc.constantFrom(200, 200, 200, 304, 401, 404, 410, 500, 502),
    body: fc.oneof(mutatedText(base), fc.string(), fc.constant(base)),
    consistent: fc.boolean(),
  });

  /** Any upstream answer to any of `paths`: 2xx, 4xx or 502, never another 5xx. */
  async function hostile(t: test.TestContext, paths: string[], base: string, runs: number) {
    await fc.assert(
      fc.asyncProperty(answers(base), fc.constantFrom(...paths), async (next, p) => {
        upstream.next = next;
        const r = await fetch(`${server.url}${p}`);
        const body = await r.text();
        assert.ok(r.status < 500 || r.status === 502, `${p} with upstream ${next.status} ${next.body.slice(0, 80)} → ${r.status} ${body.slice(0, 200)}`);
      }),
      params(t, runs),
    );
  }

  test('Maven: metadata, its checksums, jars, poms and their checksums', async (t) => {
    let n = 0;
    // Each run asks for a new version's files, so nothing kept by an earlier run answers for the upstream.
    const paths = Array.from({ length: 40 }, () => {
      n++;
      return [`/maven/mvn/com/example/lib/${n}.0/lib-${n}.0.jar`, `/maven/mvn/com/example/lib/${n}.0/lib-${n}.0.pom.sha1`];
    }).flat();
    await hostile(t, ['/maven/mvn/com/example/lib/maven-metadata.xml', '/maven/mvn/com/example/lib/maven-metadata.xml.sha1', '/maven/mvn/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml', ...paths], METADATA, 200);
  });

  test('Maven: hostile paths under a proxy are 4xx, never 500', async (t) => {
    upstream.next = { status: 404, body: '', consistent: false };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('..', 'maven-metadata.xml', 'lib-1.0.jar', '1.0', 'x.sha1')), { minLength: 1, maxLength: 6 }), async (segs) => {
        // Sent as is: fetch() would resolve `..` segments before sending (a client such as `curl --path-as-is` does not).
        const status = await rawGet(server.url, `/maven/mvn/${segs.map(encodeSegment).join('/')}`);
        assert.ok(status >= 400 && status < 500, `${segs.join('/')} → ${status}`);
      }),
      params(t, 300),
    );
  });

  test('RubyGems: versions, info, gems and gemspecs', async (t) => {
    await hostile(t, ['/rubygems/gems/versions', '/rubygems/gems/info/greeter', '/rubygems/gems/gems/greeter-1.0.0.gem', '/rubygems/gems/quick/Marshal.4.8/greeter-1.1.0.gemspec.rz', '/rubygems/gems/gems/greeter-1.0.0-x86_64-linux.gem'], INFO, 200);
  });

  test('RubyGems: hostile names under a proxy are 4xx, never 500', async (t) => {
    upstream.next = { status: 404, body: '', consistent: false };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('info/', 'gems/', 'quick/Marshal.4.8/'), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('a-1.gem', '-1.gem', 'x-1-1.gemspec.rz', '%2e%2e')).filter((n) => n !== '.' && n !== '..'), async (where, name) => {
        const r = await fetch(`${server.url}/rubygems/gems/${where}${encodeSegment(name)}`);
        await r.arrayBuffer();
        assert.ok(r.status >= 400 && r.status < 500, `${where}${name} → ${r.status}`);
      }),
      params(t, 300),
    );
  });

  test('NuGet: service index, version lists, registrations and packages', async (t) => {
    // The service index the hostile upstream answers with names itself, so later documents come from it too.
    const index = SERVICE_INDEX.replaceAll(ORIGIN, upstream.origin);
    const answers = fc.record({
      status: fc.constantFrom(200, 200, 200, 304, 401, 404, 500),
      body: fc.oneof(mutatedText(index), mutatedText(REGISTRATION.replaceAll(ORIGIN, upstream.origin)), fc.constant(index), fc.constant(REGISTRATION.replaceAll(ORIGIN, upstream.origin)), fc.string()),
      consistent: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(answers, fc.constantFrom('/nuget/nu/index.json', '/nuget/nu/v3/flat/contoso.app/index.json', '/nuget/nu/v3/registration-semver2/contoso.app/index.json', '/nuget/nu/v3/registration/contoso.app/1.0.0.json', '/nuget/nu/v3/flat/contoso.app/1.0.0/contoso.app.1.0.0.nupkg'), async (next, p) => {
        upstream.next = next;
        const r = await fetch(`${server.url}${p}`);
        const body = await r.text();
        assert.ok(r.status < 500 || r.status === 502, `${p} with upstream ${next.status} ${next.body.slice(0, 80)} → ${r.status} ${body.slice(0, 200)}`);
      }),
      params(t, 200),
    );
  });
});
