import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { TarballInspector } from './tarball.ts';

async function makeTar(entries: { name: string; body?: string; type?: 'file' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.body ?? '');
  pack.finalize();
  const out: Buffer[] = [];
  for await (const c of pack) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function inspect(buf: Buffer, limits?: any) {
  const insp = new TarballInspector(limits);
  let passed = 0;
  await pipeline(Readable.from([buf]), insp, new Writable({ write(c, _e, cb) { passed += c.length; cb(); } }));
  const facts = await insp.facts;
  assert.equal(passed, buf.length, 'every byte passes through unchanged');
  return facts;
}

test('a valid tarball yields its package.json and counts', async () => {
  const tgz = gzipSync(await makeTar([{ name: 'package/package.json', body: '{"name":"@a/b","version":"1.0.0"}' }, { name: 'package/index.js', body: 'x' }]));
  const f = await inspect(tgz);
  assert.deepEqual(f.manifest, { name: '@a/b', version: '1.0.0' });
  assert.equal(f.fileCount, 2);
});

test('non-gzip, truncated, missing package.json and traversal are refused', async () => {
  const good = gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, { name: 'package/big', body: 'y'.repeat(100000) }]));
  await assert.rejects(inspect(Buffer.from('not gzip at all')), /not valid gzip/);
  await assert.rejects(inspect(good.subarray(0, good.length - 20)), /gzip|tar/);
  await assert.rejects(inspect(gzipSync(await makeTar([{ name: 'package/index.js', body: 'x' }]))), /no package.json/);
  await assert.rejects(inspect(gzipSync(await makeTar([{ name: 'package/package.json', body: '{' }]))), /not valid JSON/);
  await assert.rejects(inspect(gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, { name: 'package/../../etc/x', body: 'x' }]))), /outside the package/);
  await assert.rejects(inspect(gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, { name: 'package/l', type: 'symlink', linkname: '../../etc/passwd' }]))), /outside the package/);
});

test('inflation and entry limits stop a bomb while streaming', async () => {
  const bomb = gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, { name: 'package/zeros', body: '\0'.repeat(5_000_000) }]));
  await assert.rejects(inspect(bomb, { maxEntries: 10, maxUnpacked: 1_000_000, maxManifest: 1000 }), (e: any) => e.kind === 'TooLarge');
  const many = gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, ...Array.from({ length: 20 }, (_, i) => ({ name: `package/f${i}` }))]));
  await assert.rejects(inspect(many, { maxEntries: 10, maxUnpacked: 1e9, maxManifest: 1000 }), /entries/);
});
