import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { inspectTarball, TarballInspector } from './tarball.ts';

async function makeTar(entries: { name: string; body?: string; type?: 'file' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname }, e.body ?? '');
  pack.finalize();
  const out: Buffer[] = [];
  for await (const c of pack) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function inspectStreaming(buf: Buffer, limits?: any) {
  const insp = new TarballInspector(limits);
  let passed = 0;
  await pipeline(Readable.from([buf]), insp, new Writable({ write(c, _e, cb) { passed += c.length; cb(); } }));
  const facts = await insp.facts;
  assert.equal(passed, buf.length, 'every byte passes through unchanged');
  return facts;
}

/** Both ways in (streaming, and in memory) must reach the same verdict: same facts, or the same error. */
async function inspect(buf: Buffer, limits?: any) {
  const settle = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: any) => ({ err: `${e.kind}: ${e.message}` }));
  const [a, b] = await Promise.all([settle(inspectStreaming(buf, limits)), settle(inspectTarball(buf, limits))]);
  assert.deepEqual(b, a, 'inspectTarball agrees with TarballInspector');
  return inspectTarball(buf, limits);
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
  await assert.rejects(inspect(bomb, { maxEntries: 10, maxUnpacked: 1_000_000, maxManifest: 1000, maxRatio: 100 }), (e: any) => e.kind === 'TooLarge');
  const many = gzipSync(await makeTar([{ name: 'package/package.json', body: '{}' }, ...Array.from({ length: 20 }, (_, i) => ({ name: `package/f${i}` }))]));
  await assert.rejects(inspect(many, { maxEntries: 10, maxUnpacked: 1e9, maxManifest: 1000, maxRatio: 100 }), /entries/);
});

test('in memory: a tarball that inflates past the synchronous bound is still checked, by streaming', async () => {
  // ~9 MB of tar from a few KB of gzip: beyond WHOLE_INFLATE_MAX, so inspectTarball falls back to the stream.
  const big = gzipSync(await makeTar([{ name: 'package/package.json', body: '{"name":"@a/b","version":"1.0.0"}' }, { name: 'package/zeros', body: '\0'.repeat(9_000_000) }]));
  assert.ok(big.length < 256 * 1024);
  const f = await inspect(big);
  assert.equal(f.unpackedSize, 9_000_000 + 33);
  await assert.rejects(inspect(big, { maxEntries: 10, maxUnpacked: 1_000_000, maxManifest: 1000, maxRatio: 100 }), (e: any) => e.kind === 'TooLarge');
});
