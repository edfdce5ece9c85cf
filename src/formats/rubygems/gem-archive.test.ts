import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GemInspector, type GemFacts, type GemLimits, DEFAULT_GEM_LIMITS } from './gem-archive.ts';
import { buildGem, gemspecYaml, tarOf } from './gem-fixture.ts';

async function inspect(bytes: Buffer, limits: GemLimits = DEFAULT_GEM_LIMITS): Promise<{ facts: GemFacts; passed: number }> {
  const inspector = new GemInspector(limits);
  let passed = 0;
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((passed += c.length), cb()) });
  // Small chunks, as a network delivers them.
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
  await pipeline(Readable.from(chunks), inspector, sink);
  return { facts: await inspector.facts, passed };
}

describe('reading a .gem', () => {
  test('a gem built by `gem build` → its spec, dependencies, platform and verified checksums', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-gem-'));
    try {
      fs.mkdirSync(path.join(dir, 'lib'));
      fs.writeFileSync(path.join(dir, 'lib/demo.rb'), 'module Demo; end\n');
      fs.writeFileSync(
        path.join(dir, 'demo.gemspec'),
        'Gem::Specification.new do |s|\n s.name = "demo"; s.version = "1.0.0.pre"; s.summary = "Demo"; s.authors = ["A"]; s.files = ["lib/demo.rb"]\n s.platform = "x86_64-linux"; s.add_dependency "foo", ">= 1.0", "< 2"; s.add_development_dependency "bar"\n s.metadata = { "github_repo" => "ssh://github.com/alice/hello" }; s.license = "MIT"\nend\n',
      );
      execFileSync('gem', ['build', 'demo.gemspec'], { cwd: dir, env: { ...process.env, HOME: dir }, stdio: 'pipe' });
      const bytes = fs.readFileSync(path.join(dir, 'demo-1.0.0.pre-x86_64-linux.gem'));
      const { facts, passed } = await inspect(bytes);
      assert.equal(passed, bytes.length, 'every byte passes through to the store');
      assert.equal(facts.spec.name, 'demo');
      assert.equal(facts.spec.version, '1.0.0.pre');
      assert.equal(facts.spec.platform, 'x86_64-linux');
      assert.deepEqual(facts.spec.dependencies, [
        { name: 'foo', requirement: [['>=', '1.0'], ['<', '2']], type: 'runtime' },
        { name: 'bar', requirement: [['>=', '0']], type: 'development' },
      ]);
      assert.deepEqual(facts.spec.metadata, { github_repo: 'ssh://github.com/alice/hello' });
      assert.deepEqual(facts.spec.requiredRubygemsVersion, [['>', '1.3.1']]);
      assert.deepEqual(facts.verified, ['SHA256', 'SHA512']);
      assert.equal(facts.fileCount, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const g = { name: 'x', version: '1.0.0' };
  const refused: [string, () => Promise<Buffer>, RegExp][] = [
    ['not a tar', async () => Buffer.from('hello, this is not a gem at all'.repeat(40)), /not a valid \.gem/],
    ['an unexpected entry', async () => buildGem(g, { extra: [{ name: '../../etc/passwd', body: Buffer.from('x') }] }), /unexpected entry "\.\.\/\.\.\/etc\/passwd"/],
    ['a duplicated entry', async () => buildGem(g, { extra: [{ name: 'metadata.gz', body: gzipSync('x') }] }), /appears twice/],
    ['no metadata.gz', async () => tarOf([{ name: 'data.tar.gz', body: gzipSync(await tarOf([])) }]), /metadata\.gz is missing/],
    ['metadata.gz not gzip', async () => buildGem(g, { metadata: Buffer.from('plain'), checksums: null }), /metadata\.gz is not valid gzip/],
    ['a YAML tag for another class', async () => buildGem(g, { metadata: gzipSync(gemspecYaml(g).replace('!ruby/object:Gem::Version', '!ruby/object:ERB')) }), /tag !ruby\/object:ERB is not allowed/],
    ['broken YAML', async () => buildGem(g, { metadata: gzipSync('--- !ruby/object:Gem::Specification\nname: [x\n') }), /invalid YAML/],
    ['alias bomb', async () => buildGem(g, { metadata: gzipSync(`--- !ruby/object:Gem::Specification\na: &a [x,x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 8 }, (_, i) => `${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [${Array(10).fill(i ? '*' + 'b'.repeat(i) : '*a').join(',')}]`).join('\n')}\nname: x\n`) }), /invalid YAML|alias/i],
    ['a bad gem name', async () => buildGem({ name: '../evil', version: '1.0', files: { 'lib/x.rb': '' } }), /invalid gem name/],
    ['a bad version', async () => buildGem({ name: 'x', version: '1.0/../..' }), /invalid version/],
    ['a checksum mismatch', async () => buildGem(g, { checksums: gzipSync(`SHA256:\n  metadata.gz: ${'0'.repeat(64)}\n`) }), /checksum mismatch: SHA256 of metadata\.gz/],
    ['data.tar.gz with a traversal path', async () => buildGem(g, { data: gzipSync(await tarOf([{ name: '../../evil.rb', body: Buffer.from('x') }])) }), /points outside the gem/],
    ['data.tar.gz with an escaping symlink', async () => buildGem(g, { data: gzipSync(await tarOf([{ name: 'lib/x', body: Buffer.alloc(0), type: 'symlink', linkname: '/etc/passwd' }])) }), /points outside the gem/],
    ['data.tar.gz not gzip', async () => buildGem(g, { data: Buffer.from('nope') }), /data\.tar\.gz is not valid gzip/],
  ];
  for (const [what, make, message] of refused) {
    test(`${what} → refused: ${message.source}`, async () => {
      await assert.rejects(inspect(await make()), message);
    });
  }

  test('a truncated gem → refused', async () => {
    const bytes = await buildGem(g);
    await assert.rejects(inspect(bytes.subarray(0, 1500)), /not a valid \.gem|missing/);
  });

  test('inflation bombs: data.tar.gz past maxUnpacked, metadata past maxMetadata → TooLarge', async () => {
    const big = gzipSync(await tarOf([{ name: 'big', body: Buffer.alloc(3 * 1024 * 1024) }]));
    await assert.rejects(inspect(await buildGem(g, { data: big }), { ...DEFAULT_GEM_LIMITS, maxUnpacked: 1024 * 1024 }), /inflates to more than/);
    const meta = gzipSync(gemspecYaml(g) + `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    await assert.rejects(inspect(await buildGem(g, { metadata: meta }), { ...DEFAULT_GEM_LIMITS, maxMetadata: 1024 * 1024 }), /inflates to more than/);
    const many = gzipSync(await tarOf(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, body: Buffer.from('x') }))));
    await assert.rejects(inspect(await buildGem(g, { data: many }), { ...DEFAULT_GEM_LIMITS, maxDataEntries: 10 }), /more than 10 entries/);
  });
});
