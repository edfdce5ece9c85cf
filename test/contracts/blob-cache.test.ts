// BlobCache: small content from memory, large content streamed, and a full cache that a one-pass scan cannot
// flush while content asked for again and again still gets in.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { BlobCache } from '../../src/core/blobs/blob-cache.ts';
import { FsBlobStore } from '../../src/core/blobs/fs-store.ts';
import { tempDir } from '../helpers/wharf.ts';

const KiB = 1024;

async function setup(count: number, size: number) {
  const dir = tempDir('wharf-blobcache-');
  const store = new FsBlobStore(dir);
  const blobs: { digest: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const data = randomBytes(size);
    const staged = await store.put(Readable.from([data]));
    await staged.commit();
    blobs.push({ digest: staged.digest, data });
  }
  return { dir, store, blobs, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function bytesOf(x: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(x)) return x;
  const parts: Buffer[] = [];
  for await (const c of x) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('small content comes from memory once read; large content always streams', async () => {
  const s = await setup(2, 8 * KiB);
  try {
    const cache = new BlobCache(s.store, 64 * KiB, 16 * KiB);
    const [a] = s.blobs;
    const first = await cache.content(a.digest, a.data.length);
    assert.ok(Buffer.isBuffer(first) && first.equals(a.data));
    fs.rmSync(s.store.localPath(a.digest)); // served from memory from now on
    const again = await cache.content(a.digest, a.data.length);
    assert.ok(Buffer.isBuffer(again) && again.equals(a.data));

    const big = await setup(1, 32 * KiB);
    try {
      const b = big.blobs[0];
      const out = await new BlobCache(big.store, 64 * KiB, 16 * KiB).content(b.digest, b.data.length);
      assert.ok(!Buffer.isBuffer(out), 'content over maxItem streams');
      assert.ok((await bytesOf(out)).equals(b.data));
    } finally {
      big.done();
    }
  } finally {
    s.done();
  }
});

test('a full cache: a scan streams from disk and leaves the hot set in memory; content asked for repeatedly gets in', async () => {
  const s = await setup(12, 80 * KiB); // above the size read whole on a miss, so what is not kept streams
  try {
    const cache = new BlobCache(s.store, 320 * KiB, 128 * KiB); // room for 4
    const hot = s.blobs.slice(0, 4);
    for (let round = 0; round < 3; round++) for (const b of hot) assert.ok(Buffer.isBuffer(await cache.content(b.digest, b.data.length)));
    // A scan over 8 other blobs, each once: every one streams, correct bytes, nothing displaced.
    for (const b of s.blobs.slice(4)) {
      const out = await cache.content(b.digest, b.data.length);
      assert.ok(!Buffer.isBuffer(out), 'a one-off read of a full cache streams');
      assert.ok((await bytesOf(out)).equals(b.data));
    }
    for (const b of hot) assert.ok(Buffer.isBuffer(await cache.content(b.digest, b.data.length)), 'the hot set stayed');
    // One blob asked for more often than the least used entry: it gets in.
    const riser = s.blobs[11];
    let last: Buffer | Readable | undefined;
    for (let i = 0; i < 6 && !Buffer.isBuffer(last); i++) last = await cache.content(riser.digest, riser.data.length);
    assert.ok(Buffer.isBuffer(last) && last.equals(riser.data), 'repeated demand earns a place');
  } finally {
    s.done();
  }
});

test('content the metadata mis-sizes is served but never kept; missing content is NotFound', async () => {
  const s = await setup(1, 4 * KiB);
  try {
    const cache = new BlobCache(s.store, 64 * KiB, 16 * KiB);
    const [a] = s.blobs;
    const short = await cache.content(a.digest, a.data.length + 10);
    assert.ok(Buffer.isBuffer(short) && short.equals(a.data));
    fs.rmSync(s.store.localPath(a.digest));
    await assert.rejects(cache.content(a.digest, a.data.length + 10), (e: any) => e.kind === 'NotFound');
    await assert.rejects(cache.content(a.digest, a.data.length), (e: any) => e.kind === 'NotFound');
  } finally {
    s.done();
  }
});

test('a full cache serves small content it does not keep as a whole buffer, read from disk each time', async () => {
  const s = await setup(6, 4 * KiB);
  try {
    const cache = new BlobCache(s.store, 16 * KiB, 8 * KiB); // room for 4
    for (let round = 0; round < 2; round++) for (const b of s.blobs.slice(0, 4)) await cache.content(b.digest, b.data.length);
    const [x] = s.blobs.slice(4);
    const out = await cache.content(x.digest, x.data.length);
    assert.ok(Buffer.isBuffer(out) && out.equals(x.data));
    fs.rmSync(s.store.localPath(x.digest)); // not kept: the next read goes to disk and finds nothing
    await assert.rejects(cache.content(x.digest, x.data.length), (e: any) => e.kind === 'NotFound');
    for (const b of s.blobs.slice(0, 4)) {
      fs.rmSync(s.store.localPath(b.digest));
      assert.ok(Buffer.isBuffer(await cache.content(b.digest, b.data.length)), 'the hot set is still in memory');
    }
  } finally {
    s.done();
  }
});
