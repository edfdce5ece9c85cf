// The suite every BlobStore driver passes (the fs driver now, S3 later): one test file per driver calls it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { BlobStore } from '../../src/core/blobs/blob-store.ts';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const read = async (s: Readable) => Buffer.concat(await s.toArray());

export function blobStoreContract(name: string, make: () => Promise<{ store: BlobStore; cleanup(): Promise<void>; reopen?(): BlobStore }>) {
  describe(`BlobStore contract: ${name}`, () => {
    test('put → commit stores content under its sha256 with the extra digests asked for', async () => {
      const { store, cleanup } = await make();
      const data = randomBytes(300_000);
      const staged = await store.put(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { extraDigests: ['sha1', 'sha512', 'md5'] });
      assert.equal(staged.digest, sha256(data));
      assert.equal(staged.size, data.length);
      assert.equal(staged.extra.sha1, createHash('sha1').update(data).digest('hex'));
      assert.equal(staged.extra.sha512, createHash('sha512').update(data).digest('hex'));
      assert.equal(staged.extra.md5, createHash('md5').update(data).digest('hex'));
      assert.equal(await store.stat(staged.digest), null, 'not visible before commit');
      await staged.commit();
      await staged.commit(); // idempotent
      assert.deepEqual(await store.stat(staged.digest), { size: data.length });
      assert.deepEqual(await read(await store.open(staged.digest)), data);
      assert.deepEqual(await read(await store.open(staged.digest, { start: 10, end: 19 })), data.subarray(10, 20));
      await cleanup();
    });

    test('cancel drops staged content and is safe to call twice or after commit', async () => {
      const { store, cleanup } = await make();
      const staged = await store.put(Readable.from([Buffer.from('cancel me')]));
      await staged.cancel();
      await staged.cancel();
      await staged.commit(); // after cancel: nothing to commit
      assert.equal(await store.stat(staged.digest), null);
      const kept = await store.put(Readable.from([Buffer.from('keep me')]));
      await kept.commit();
      await kept.cancel();
      assert.ok(await store.stat(kept.digest));
      await cleanup();
    });

    test('sweepTemp counts and removes only temp content last written before the cutoff, never committed content', async () => {
      const { store, cleanup } = await make();
      const committed = await store.put(Readable.from([randomBytes(50)]));
      await committed.commit();
      const inFlight = await store.put(Readable.from([randomBytes(123)]));
      assert.deepEqual(await store.sweepTemp(Date.now() - 60_000, false), { files: 0, bytes: 0 }, 'written just now: not stale');
      assert.deepEqual(await store.sweepTemp(Date.now() + 60_000, true), { files: 1, bytes: 123 }, 'a dry run counts it');
      await inFlight.commit();
      assert.deepEqual(await store.sweepTemp(Date.now() + 60_000, false), { files: 0, bytes: 0 }, 'committed content is not temp');
      for (const b of [committed, inFlight]) assert.ok(await store.stat(b.digest));
      const abandoned = await store.put(Readable.from([randomBytes(77)]));
      assert.deepEqual(await store.sweepTemp(Date.now() + 60_000, false), { files: 1, bytes: 77 });
      await abandoned.cancel(); // what is gone stays gone; cancelling after a sweep is harmless
      assert.equal(await store.stat(abandoned.digest), null);
      await cleanup();
    });

    test('the same content twice is stored once', async () => {
      const { store, cleanup } = await make();
      const a = await store.put(Readable.from([Buffer.from('same')]));
      const b = await store.put(Readable.from([Buffer.from('same')]));
      await a.commit();
      await b.commit();
      assert.equal(a.digest, b.digest);
      assert.deepEqual(await read(await store.open(a.digest)), Buffer.from('same'));
      await cleanup();
    });

    test('maxSize fails the put while streaming (TooLarge) and leaves nothing behind', async () => {
      const { store, cleanup } = await make();
      await assert.rejects(store.put(Readable.from([randomBytes(1000), randomBytes(1000)]), { maxSize: 1500 }), (e: any) => e.kind === 'TooLarge');
      await cleanup();
    });

    test('a failing source rejects the put', async () => {
      const { store, cleanup } = await make();
      const src = new Readable({ read() {} });
      src.push(Buffer.from('partial'));
      setImmediate(() => src.destroy(new Error('client went away')));
      await assert.rejects(store.put(src), /client went away/);
      await cleanup();
    });

    test('uploads append in order, refuse a wrong offset, and finish into a blob — also after a restart', async () => {
      const { store, cleanup, reopen } = await make();
      const id = 'c0ffee00-0000-4000-8000-000000000001';
      const data = randomBytes(10_000);
      assert.equal(await store.appendUpload(id, Readable.from([data.subarray(0, 4000)]), 0, 1e9), 4000);
      await assert.rejects(store.appendUpload(id, Readable.from([data.subarray(4000)]), 3000, 1e9), (e: any) => e.code === 'EOFFSET');
      assert.equal(await store.uploadSize(id), 4000, 'a refused chunk leaves nothing');
      // A restart (or another node) continues the same upload without the in-memory hash.
      const again = reopen ? reopen() : store;
      assert.equal(await again.appendUpload(id, Readable.from([data.subarray(4000)]), 4000, 1e9), 10_000);
      const staged = await again.finishUpload(id);
      assert.equal(staged.digest, sha256(data));
      await staged.commit();
      assert.deepEqual(await read(await again.open(staged.digest)), data);
      assert.equal(await again.uploadSize(id), null);
      await assert.rejects(store.appendUpload(id, Readable.from([Buffer.alloc(600)]), 0, 500), (e: any) => e.kind === 'TooLarge');
      await store.removeUpload(id);
      await assert.rejects(async () => store.uploadSize('../../etc/passwd'), /bad upload id/);
      await cleanup();
    });

    test('putBytes stages in-memory content like put: digests, invisible until commit, deduplicated, maxSize', async () => {
      const { store, cleanup } = await make();
      // Small content takes the fs driver's synchronous path, larger content its streaming one: both must agree.
      for (const data of [randomBytes(17_000), randomBytes(700_000)]) {
        const staged = await store.putBytes(data, { extraDigests: ['sha1', 'sha512'] });
        assert.equal(staged.digest, sha256(data));
        assert.equal(staged.size, data.length);
        assert.equal(staged.extra.sha1, createHash('sha1').update(data).digest('hex'));
        assert.equal(staged.extra.sha512, createHash('sha512').update(data).digest('hex'));
        assert.equal(await store.stat(staged.digest), null, 'not visible before commit');
        await staged.commit();
        assert.deepEqual(await read(await store.open(staged.digest)), data);
        const again = await store.putBytes(data);
        await again.commit();
        assert.equal(again.digest, staged.digest);
        assert.deepEqual(await read(await store.open(staged.digest)), data, 'stored once, unchanged');
      }
      const dropped = await store.putBytes(Buffer.from('dropped'));
      await dropped.cancel();
      await dropped.commit();
      assert.equal(await store.stat(dropped.digest), null);
      await assert.rejects(store.putBytes(randomBytes(2000), { maxSize: 1500 }), (e: any) => e.kind === 'TooLarge');
      await cleanup();
    });

    test('open of missing content is NotFound; malformed digests are refused', async () => {
      const { store, cleanup } = await make();
      await assert.rejects(store.open(`sha256:${'0'.repeat(64)}`), (e: any) => e.kind === 'NotFound');
      await assert.rejects(async () => store.open('sha256:../../etc/passwd'), /bad digest/);
      await cleanup();
    });
  });
}
