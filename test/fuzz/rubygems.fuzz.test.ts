// Fuzzing RubyGems' parsers with fast-check (seeded, see property.ts): the .gem reader (outer tar, metadata.gz,
// data.tar.gz, checksums.yaml.gz) on corrupt gems, the gemspec YAML parser on hostile YAML, Marshal.load on
// corrupt documents, and over HTTP, pushes of corrupt gems and requests with hostile names and files: a value
// or a client error, never a crash; a 4xx, never a 500.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DEFAULT_GEM_LIMITS, GemInspector } from '../../src/formats/rubygems/gem-archive.ts';
import { buildGem, gemspecYaml, tarOf, type FixtureGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { parseGemspec } from '../../src/formats/rubygems/gemspec.ts';
import { dump, load, RFloat, RHash, RObject, RUserDefined, sym } from '../../src/formats/rubygems/marshal.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, mutated, mutatedText, params, returnsOrRefuses, returnsOrRefusesSync } from './property.ts';

const LIMITS = { ...DEFAULT_GEM_LIMITS, maxUnpacked: 64 * 1024 * 1024 };
const GEM: FixtureGem = { name: 'fuzz', version: '1.0.0', deps: [['rake', ['>= 1.0', '< 2']]], devDeps: [['minitest', ['~> 5.0']]], metadata: { source_code_uri: 'https://x' }, requiredRuby: ['>= 2.7'] };

/** Marshal.load's own errors are its typed errors: they all say "marshal:". */
const marshalError = (e: unknown) => e instanceof Error && e.constructor === Error && e.message.startsWith('marshal:');

async function inspect(bytes: Buffer) {
  const insp = new GemInspector(LIMITS);
  await pipeline(Readable.from([bytes]), insp, new Writable({ write: (_c, _e, cb) => cb() }));
  return insp.facts;
}

describe('RubyGems parsers', () => {
  let gem: Buffer;
  let yaml: string;
  before(async () => {
    gem = await buildGem(GEM);
    yaml = gemspecYaml(GEM);
  });

  test('.gem reader on corrupt gems: facts or a client error', async (t) => {
    await fc.assert(
      fc.asyncProperty(mutated(gem), (bytes) => returnsOrRefuses(() => inspect(bytes))),
      params(t, 800),
    );
  });

  test('.gem reader with corrupt parts inside a valid tar (data.tar.gz, metadata.gz, checksums): facts or a client error', async (t) => {
    const data = await tarOf([{ name: 'lib/fuzz.rb', body: Buffer.from('puts 1\n'.repeat(50)) }, { name: 'bin/x', type: 'symlink', body: Buffer.alloc(0), linkname: '../lib/fuzz.rb' }]);
    const part = fc.constantFrom('data', 'dataTar', 'metadata', 'checksums');
    await fc.assert(
      fc.asyncProperty(part, mutated(data), mutatedText(yaml, ['!ruby/object:Gem::Version', '*a', '&a', '!!binary', '<<:', '- ', ': ', '---']), async (which, tar, text) => {
        const parts = which === 'data' ? { data: gzipSync(tar).subarray(0, 40 + (tar.length % 200)) } : which === 'dataTar' ? { data: gzipSync(tar) } : which === 'metadata' ? { metadata: gzipSync(text) } : { checksums: gzipSync(text) };
        await returnsOrRefuses(async () => inspect(await buildGem(GEM, parts)));
      }),
      params(t, 800),
    );
  });

  test('gemspec parser on hostile YAML: a GemSpec or a client error', async (t) => {
    const aliasBomb = fc.integer({ min: 2, max: 12 }).map((n) => `--- !ruby/object:Gem::Specification\na0: &a0 [x, x]\n${Array.from({ length: n }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}, *a${i}]`).join('\n')}\nname: *a${n}\n`);
    const deep = fc.integer({ min: 1, max: 400 }).map((n) => `--- !ruby/object:Gem::Specification\nname: ${'['.repeat(n)}${']'.repeat(n)}\n`);
    await fc.assert(
      fc.property(fc.oneof(mutatedText(yaml, ['!ruby/object:Gem::Requirement', '!ruby/object:Object', '!!js/function', '*x', '&x', '<<: *x', 'version: ', 'name: ', '- !ruby/object:Gem::Dependency', '\t']), aliasBomb, deep, fc.string({ maxLength: 100 })), (text) =>
        returnsOrRefusesSync(() => parseGemspec(text)),
      ),
      params(t, 1200),
    );
  });

  test('Marshal.load on corrupt documents: a value or its own "marshal:" error', async (t) => {
    const doc = dump([null, true, 1, -300, 2 ** 40, 'str', Buffer.from([1, 2]), sym('s'), sym('s'), new RFloat(1.5), new RHash([[sym('k'), ['v']]]), new RObject('Gem::Version', [['version', '1.0']]), new RUserDefined('Gem::Version', Buffer.from('x'))]);
    await fc.assert(
      fc.property(fc.oneof(mutated(doc), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from([4, 8, ...b]))), (bytes) => returnsOrRefusesSync(() => load(bytes), marshalError)),
      params(t, 3000),
    );
  });
});

describe('RubyGems over HTTP', () => {
  let s: TestServer;
  let token: string;
  // One database is enough: what is fuzzed here is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    token = await s.userWithToken('alice');
    const r = await s.app.inject({ method: 'POST', url: '/rubygems/alice/api/v1/gems', headers: { authorization: token, 'content-type': 'application/octet-stream' }, payload: await buildGem(GEM) });
    assert.equal(r.statusCode, 200, r.body);
  });
  after(() => s.stop());

  test('POST /api/v1/gems with a corrupt .gem → 4xx (or 200), never 500', async (t) => {
    const gem = await buildGem({ ...GEM, name: 'fuzz-push' });
    await fc.assert(
      fc.asyncProperty(mutated(gem), async (bytes) => {
        const r = await s.app.inject({ method: 'POST', url: '/rubygems/alice/api/v1/gems', headers: { authorization: token, 'content-type': 'application/octet-stream' }, payload: bytes });
        assertClientStatus(r.statusCode, r.body, 'POST gem', true);
      }),
      params(t, 500),
    );
  });

  test('GET gem paths with hostile names and files → 4xx (or 200), never 500', async (t) => {
    const name = fc.oneof(mutatedText('fuzz-1.0.0', ['%E0%A4%A', '%', '%2F', '..', '.gem', '.gemspec.rz', '.json', '-x86_64-linux']), fc.string({ maxLength: 20 }).map(encodeURIComponent));
    const where = fc.constantFrom('info/', 'gems/', 'quick/Marshal.4.8/', 'api/v1/gems/', 'api/v1/versions/', 'api/v1/dependencies?gems=', 'api/v1/dependencies.json?gems=');
    await fc.assert(
      fc.asyncProperty(where, name, async (w, n) => {
        const url = `/rubygems/alice/${w}${n}`;
        const r = await s.app.inject({ method: 'GET', url, headers: { authorization: token } });
        assert.ok(r.statusCode < 500, `GET ${url} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
      }),
      params(t, 500),
    );
  });
});
