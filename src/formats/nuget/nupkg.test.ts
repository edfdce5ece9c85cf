import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readNupkg } from './nupkg.ts';
import { buildNupkg, nuspecOf, zipOf } from './nupkg-fixture.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nupkg-test-'));
function write(b: Buffer, prefix = Buffer.alloc(0)) {
  const f = path.join(dir, `${Math.random()}.bin`);
  fs.writeFileSync(f, Buffer.concat([prefix, b]));
  return { f, offset: prefix.length, length: b.length };
}

test('readNupkg: the .nuspec, the README and the target frameworks, from a range of a file', async () => {
  const b = buildNupkg({ id: 'Hello', version: '1.0', extra: '<readme>README.md</readme>', deps: [['Dep', '1.0']], files: { 'README.md': '# Hello' } });
  const { f, offset, length } = write(b, Buffer.from('--boundary\r\nheaders\r\n\r\n'));
  const facts = await readNupkg(f, offset, length);
  assert.equal(facts.nuspec.id, 'Hello');
  assert.equal(facts.readme, '# Hello');
  assert.deepEqual(facts.frameworks, ['net6.0']);
});

test('readNupkg refuses traversal, two or nested .nuspecs, too many entries and junk', async () => {
  const spec = nuspecOf({ id: 'a', version: '1.0.0' });
  const cases: [Buffer, RegExp][] = [
    [zipOf([['a.nuspec', spec], ['../evil.txt', 'x']]), /invalid relative path|corrupt|not a valid/],
    [zipOf([['a.nuspec', spec], ['b.nuspec', spec]]), /exactly one \.nuspec/],
    [zipOf([['sub/a.nuspec', spec]]), /exactly one \.nuspec/],
    [Buffer.from('not a zip at all'), /not a valid \.nupkg/],
  ];
  for (const [b, re] of cases) {
    const { f, offset, length } = write(b);
    await assert.rejects(readNupkg(f, offset, length), re);
  }
  const many = zipOf([['a.nuspec', spec], ...Array.from({ length: 20 }, (_, i): [string, string] => [`f${i}`, 'x'])]);
  const w = write(many);
  await assert.rejects(readNupkg(w.f, w.offset, w.length, { maxEntries: 10, maxUnpacked: 1e9, maxRatio: 100, maxReadme: 100 }), /more than 10 entries/);
});
