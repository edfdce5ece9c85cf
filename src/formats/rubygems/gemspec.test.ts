import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gemspecYaml } from './gem-fixture.ts';
import { parseGemspec } from './gemspec.ts';

test('a Psych gemspec → a typed spec; scalars stay strings (version 1.0 is not the number 1)', () => {
  const s = parseGemspec(gemspecYaml({ name: 'x', version: '1.0', deps: [['y', ['~> 2.0']]], devDeps: [['z', ['>= 0']]], metadata: { github_repo: 'alice/x' }, requiredRuby: ['>= 2.7'] }).replace("version: '2.0'", 'version: 2.0'));
  assert.equal(s.version, '1.0');
  assert.deepEqual(s.dependencies, [{ name: 'y', requirement: [['~>', '2.0']], type: 'runtime' }, { name: 'z', requirement: [['>=', '0']], type: 'development' }]);
  assert.deepEqual(s.requiredRubyVersion, [['>=', '2.7']]);
  assert.equal(s.platform, 'ruby');
  assert.equal(s.date, '2026-11-23');
  assert.equal(s.specificationVersion, 4);
});

test('!binary strings are decoded; a Gem::Platform mapping becomes its platform string', () => {
  const y = gemspecYaml({ name: 'x', version: '1.0' })
    .replace('summary: A test gem', 'summary: !binary |-\n  w6lsw6hnYW50')
    .replace('platform: ruby', 'platform: !ruby/object:Gem::Platform\n  cpu: x86_64\n  os: linux\n  version:');
  const s = parseGemspec(y);
  assert.equal(s.summary, 'élègant');
  assert.equal(s.platform, 'x86_64-linux');
});

test('refused: other documents, unknown tags, unknown dependency types, non-string metadata, duplicate keys', () => {
  assert.throws(() => parseGemspec('--- {name: x}\n'), /not a !ruby\/object:Gem::Specification/);
  assert.throws(() => parseGemspec('--- !ruby/object:Gem::Specification\nname: !ruby/hash:Foo {}\n'), /tag !ruby\/hash:Foo is not allowed/);
  assert.throws(() => parseGemspec(gemspecYaml({ name: 'x', version: '1.0', deps: [['y', ['>= 0']]] }).replace('type: :runtime', 'type: :evil')), /unknown type/);
  assert.throws(() => parseGemspec(gemspecYaml({ name: 'x', version: '1.0', metadata: { a: 'b' } }).replace('  a: b', '  a: [1, 2]')), /metadata "a" must be a string/);
  assert.throws(() => parseGemspec(gemspecYaml({ name: 'x', version: '1.0' }) + 'name: y\n'), /invalid YAML/);
  assert.throws(() => parseGemspec(gemspecYaml({ name: 'x', version: '1.0', deps: [['y', ['>= 0']]] }).replace('- - ">="', '- - "=~"')), /invalid requirement/);
});
