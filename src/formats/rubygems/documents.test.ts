// The index documents, checked by the real RubyGems where it reads them (Marshal, specs, gemspec.rz).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { compactEntry, dependenciesMarshal, gemspecMarshal, gemspecRz, infoFile, latestReleases, namesFile, specsIndex, versionsFile, type GemVersion, type GemVersionMeta } from './documents.ts';
import { parseGemspec } from './gemspec.ts';
import { gemspecYaml } from './gem-fixture.ts';

const ruby = (script: string, input: Buffer) => execFileSync('ruby', ['-e', script], { input }).toString();

function version(name: string, v: string, extra: Partial<GemVersionMeta> = {}): GemVersion {
  const spec = parseGemspec(gemspecYaml({ name, version: v }));
  const { name: _n, ...rest } = spec;
  return { name, createdAt: '2026-11-23T00:00:00.000Z', meta: { ...rest, sha256: createHash('sha256').update(`${name}-${v}`).digest('hex'), size: 10, ...extra } };
}

test('/info lines: runtime dependencies joined by "&", checksum and ruby requirement after "|"', () => {
  const a = version('a', '1.0.0');
  const b = version('a', '1.1.0', {
    dependencies: [
      { name: 'zeta', requirement: [['>=', '1.0'], ['<', '2']], type: 'runtime' },
      { name: 'alpha', requirement: [['~>', '0.1']], type: 'runtime' },
      { name: 'dev', requirement: [['>=', '0']], type: 'development' },
    ],
    requiredRubyVersion: [['>=', '2.7']],
  });
  const c = version('a', '1.2.0.pre', { platform: 'x86_64-linux' });
  assert.equal(
    infoFile([a, b, c]).toString(),
    `---\n1.0.0 |checksum:${a.meta.sha256}\n1.1.0 alpha:~> 0.1,zeta:>= 1.0&< 2|checksum:${b.meta.sha256},ruby:>= 2.7\n1.2.0.pre-x86_64-linux |checksum:${c.meta.sha256}\n`,
  );
  const { info, line } = compactEntry('a', [a, c]);
  assert.deepEqual(line, { name: 'a', versions: ['1.0.0', '1.2.0.pre-x86_64-linux'], infoMd5: createHash('md5').update(info).digest('hex') });
  assert.equal(versionsFile('2026-11-23T00:00:00.000Z', [line]).toString(), `created_at: 2026-11-23T00:00:00Z\n---\na 1.0.0,1.2.0.pre-x86_64-linux ${line.infoMd5}\n`);
  assert.equal(namesFile(['a', 'b']).toString(), '---\na\nb\n');
});

test('specs.4.8.gz loads in ruby as sorted [name, Gem::Version, platform] tuples; latest_specs keeps the newest release', () => {
  const vs = [version('b', '1.0'), version('a', '1.10'), version('a', '1.9'), version('a', '1.9', { platform: 'x86_64-linux' }), version('a', '2.0.pre')];
  const out = ruby('require "rubygems"; require "zlib"; STDOUT.write Marshal.load(Zlib.gunzip(STDIN.read)).map { |n, v, p| [n, v.class.name, v.to_s, p] }.inspect', specsIndex(vs.filter((v) => !v.meta.version.includes('pre'))));
  assert.equal(out, '[["a", "Gem::Version", "1.9", "ruby"], ["a", "Gem::Version", "1.9", "x86_64-linux"], ["a", "Gem::Version", "1.10", "ruby"], ["b", "Gem::Version", "1.0", "ruby"]]');
  assert.deepEqual(latestReleases(vs).map((v) => `${v.name}-${v.meta.version}-${v.meta.platform}`).sort(), ['a-1.10-ruby', 'a-1.9-x86_64-linux', 'b-1.0-ruby']);
});

test('a gemspec.rz loads in ruby as the Gem::Specification gem build made', () => {
  const v = version('demo', '1.0.0.pre', {
    platform: 'x86_64-linux',
    dependencies: [{ name: 'foo', requirement: [['>=', '1.0'], ['<', '2']], type: 'runtime' }, { name: 'bar', requirement: [['>=', '0']], type: 'development' }],
    metadata: { github_repo: 'ssh://github.com/alice/hello' },
    requiredRubyVersion: [['>=', '2.7']],
  });
  const out = ruby(
    'require "rubygems"; require "zlib"; s = Marshal.load(Zlib::Inflate.inflate(STDIN.read)); STDOUT.write [s.class, s.full_name, s.version.prerelease?, s.platform.to_s, s.original_platform, s.dependencies.map(&:to_s), s.runtime_dependencies.size, s.required_ruby_version.to_s, s.metadata, s.authors, s.date.year, s.summary, Gem::Platform.match_spec?(s)].inspect',
    gemspecRz('demo', v.meta),
  );
  assert.equal(out, '[Gem::Specification, "demo-1.0.0.pre-x86_64-linux", true, "x86_64-linux", "x86_64-linux", ["foo (>= 1.0, < 2)", "bar (>= 0, development)"], 1, ">= 2.7", {"github_repo"=>"ssh://github.com/alice/hello"}, ["Alice"], 2026, "A test gem", true]');
  assert.ok(gemspecMarshal('demo', v.meta).length > 100);
  assert.ok(gunzipSync(specsIndex([])).length > 0);
});

test('the dependency API document loads in ruby as Bundler reads it', () => {
  const v = version('a', '1.0', { dependencies: [{ name: 'b', requirement: [['>=', '1.0'], ['<', '2']], type: 'runtime' }] });
  const out = ruby('STDOUT.write Marshal.load(STDIN.read).inspect', dependenciesMarshal([v]));
  assert.equal(out, '[{:name=>"a", :number=>"1.0", :platform=>"ruby", :dependencies=>[["b", ">= 1.0, < 2"]]}]');
});
