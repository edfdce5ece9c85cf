// Marshal 4.8 against the real Ruby: what we dump, Ruby loads to the value we meant; what Ruby dumps, we load.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { dump, load, RFloat, RHash, RObject, RSymbol, RUserDefined, RUserMarshal, sym, type RValue } from './marshal.ts';

/** Runs Ruby with `input` on stdin; a missing ruby fails the test (it is a required test dependency). */
function ruby(script: string, input: Buffer | string = ''): Buffer {
  return execFileSync('ruby', ['-e', script], { input, maxBuffer: 64 * 1024 * 1024 });
}
const rubyInspect = (bytes: Buffer) => ruby('STDOUT.write Marshal.load(STDIN.read).inspect', bytes).toString('utf8');

describe('Marshal 4.8 writer, loaded by ruby', () => {
  const cases: [string, RValue, string][] = [
    ['nil', null, 'nil'],
    ['true', true, 'true'],
    ['false', false, 'false'],
    ['small ints', [0, 1, 122, 123, -1, -123, -124, 255, 256, -256, -257, 65535, 65536, 2 ** 24, 2 ** 30 - 1, -(2 ** 30)], '[0, 1, 122, 123, -1, -123, -124, 255, 256, -256, -257, 65535, 65536, 16777216, 1073741823, -1073741824]'],
    ['bignums', [2 ** 30, -(2 ** 30) - 1, 2 ** 40, 12345678901234567890n], '[1073741824, -1073741825, 1099511627776, 12345678901234567890]'],
    ['utf-8 string', 'héllo', '"héllo"'],
    ['empty string', '', '""'],
    ['binary string', Buffer.from([0, 255, 10]), '"\\x00\\xFF\\n"'],
    ['symbols, repeated', [sym('a'), sym('b'), sym('a'), sym('b')], '[:a, :b, :a, :b]'],
    ['float', [new RFloat(1.5), new RFloat(-0.25)], '[1.5, -0.25]'],
    ['nested array', [[1, [2, []]], 'x'], '[[1, [2, []]], "x"]'],
    ['hash with symbol keys', new RHash([[sym('name'), 'rails'], [sym('number'), '7.0.0'], [sym('dependencies'), [['rack', '>= 2']]]]), '{:name=>"rails", :number=>"7.0.0", :dependencies=>[["rack", ">= 2"]]}'],
    ['long string', 'x'.repeat(70000), `"${'x'.repeat(70000)}"`],
  ];
  for (const [name, value, expected] of cases) {
    test(`${name} → ${expected.length > 60 ? expected.slice(0, 60) + '…' : expected}`, () => {
      assert.equal(rubyInspect(dump(value)), expected);
    });
  }

  test('a Gem::Version (marshal_dump) and a Gem::Requirement load as RubyGems objects', () => {
    const v = new RUserMarshal('Gem::Version', ['1.0.0.pre']);
    const req = new RUserMarshal('Gem::Requirement', [[['>=', new RUserMarshal('Gem::Version', ['1.0'])], ['<', new RUserMarshal('Gem::Version', ['2'])]]]);
    const out = ruby('require "rubygems"; v, r = Marshal.load(STDIN.read); STDOUT.write [v.class, v.to_s, v.prerelease?, r.class, r.to_s, r.satisfied_by?(Gem::Version.new("1.5"))].inspect', dump([v, req])).toString();
    assert.equal(out, '[Gem::Version, "1.0.0.pre", true, Gem::Requirement, ">= 1.0, < 2", true]');
  });

  test('a plain object (Gem::Platform) loads with its instance variables', () => {
    const p = new RObject('Gem::Platform', [['cpu', 'x86_64'], ['os', 'linux'], ['version', null]]);
    assert.equal(ruby('require "rubygems"; STDOUT.write(Marshal.load(STDIN.read) == Gem::Platform.new("x86_64-linux")).inspect', dump(p)).toString(), 'true');
  });

  test('a user-defined object (_dump) is handed its bytes', () => {
    const bytes = dump(['a', 1]);
    const out = ruby('class Foo; attr_reader :a; def self._load(s) o = new; o.instance_variable_set(:@a, Marshal.load(s)); o; end; end; STDOUT.write Marshal.load(STDIN.read).a.inspect', dump(new RUserDefined('Foo', bytes)));
    assert.equal(out.toString(), '["a", 1]');
  });
});

describe('Marshal 4.8 reader, of what ruby dumps', () => {
  test('scalars, strings, symbols, arrays, hashes, links', () => {
    const bytes = ruby('s = "shared"; STDOUT.write Marshal.dump([nil, true, false, 0, 5, -5, 300, -300, 2**40, -(2**70), 1.5, "héllo", "bin".b, :sym, :sym, [s, s], {a: 1, "k" => [2]}])');
    const v = load(bytes) as RValue[];
    assert.deepEqual(v.slice(0, 10), [null, true, false, 0, 5, -5, 300, -300, 2 ** 40, -(2n ** 70n)]);
    assert.equal((v[10] as RFloat).value, 1.5);
    assert.equal(v[11], 'héllo');
    assert.deepEqual(v[12], Buffer.from('bin'));
    assert.equal((v[13] as RSymbol).name, 'sym');
    assert.equal((v[14] as RSymbol).name, 'sym');
    assert.deepEqual(v[15], ['shared', 'shared']);
    const h = v[16] as RHash;
    assert.equal(h.get(sym('a')), 1);
    assert.deepEqual(h.get('k'), [2]);
  });

  test('a Gem::Specification (_dump) round-trips: ruby → load → dump → ruby', () => {
    const script = 'require "rubygems"; s = Gem::Specification.new { |g| g.name = "x"; g.version = "1.2"; g.summary = "s"; g.authors = ["A"]; g.add_dependency "y", "~> 1.0" }; STDOUT.write Marshal.dump(s)';
    const bytes = ruby(script);
    const v = load(bytes) as RUserDefined;
    assert.equal(v.cls, 'Gem::Specification');
    const fields = load(v.bytes) as RValue[];
    assert.equal(fields[2], 'x');
    assert.deepEqual((fields[3] as RUserMarshal).data, ['1.2']);
    const again = dump(v);
    const out = ruby('require "rubygems"; s = Marshal.load(STDIN.read); STDOUT.write [s.full_name, s.dependencies.map(&:to_s)].inspect', again).toString();
    assert.equal(out, '["x-1.2", ["y (~> 1.0)"]]');
  });

  test('hostile input: truncated, wrong version, too deep, bad links → errors, not crashes', () => {
    assert.throws(() => load(Buffer.from([4, 8, 0x5b, 10])), /truncated/);
    assert.throws(() => load(Buffer.from([4, 9, 0x30])), /not a Marshal 4.8/);
    assert.throws(() => load(Buffer.concat([Buffer.from([4, 8]), Buffer.alloc(1000, 0x5b).fill(Buffer.from([0x5b, 6]))])), /nested too deeply|truncated/);
    assert.throws(() => load(Buffer.from([4, 8, 0x40, 7])), /bad object link/);
    assert.throws(() => load(Buffer.from([4, 8, 0x30, 0x30])), /trailing bytes/);
    assert.throws(() => load(Buffer.from([4, 8, 0x5b, 4, 0xff, 0xff, 0xff, 0x7f])), /bad length/);
  });
});
