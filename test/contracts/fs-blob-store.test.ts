import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { FsBlobStore } from '../../src/core/blobs/fs-store.ts';
import { tempDir } from '../helpers/wharf.ts';
import { blobStoreContract } from './blob-store.contract.ts';

blobStoreContract('filesystem', async () => {
  const dir = tempDir('wharf-blobs-');
  return {
    store: new FsBlobStore(dir),
    reopen: () => new FsBlobStore(dir),
    async cleanup() {
      // Nothing may be left in tmp/ once every put has been committed or cancelled.
      const left = fs.readdirSync(path.join(dir, 'tmp'));
      fs.rmSync(dir, { recursive: true, force: true });
      if (left.length) throw new Error(`temp files left behind: ${left.join(', ')}`);
    },
  };
});

describe('filesystem blob store: a duplicate is durable before its commit returns', () => {
  const setup = () => {
    const dir = tempDir('wharf-blobs-');
    const synced: string[] = [];
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const hold = { on: false };
    const sync = async (file: string) => {
      synced.push(file);
      if (hold.on && fs.statSync(file).isDirectory()) await held;
    };
    /** Stores `data` through a store of its own (another process, an earlier run): returns where it lies. */
    const storedElsewhere = async (data: Buffer) => {
      const other = new FsBlobStore(dir);
      const staged = await other.putBytes(data);
      await staged.commit();
      return other.localPath(staged.digest);
    };
    return { dir, synced, release, hold, sync, storedElsewhere, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  };

  test('a commit of content whose first commit is still syncing its directory waits for that sync', async () => {
    const t = setup();
    const store = new FsBlobStore(t.dir, { sync: t.sync });
    const data = randomBytes(1000);
    const first = await store.putBytes(data);
    const second = await store.putBytes(data);
    t.hold.on = true;
    let firstDone = false;
    let secondDone = false;
    // Small content is written under its final name at commit(), then its data and directory are synced (held here).
    const a = first.commit().then(() => (firstDone = true));
    const b = second.commit().then(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(fs.existsSync(store.localPath(first.digest)), 'written in place');
    const fanOut = path.dirname(store.localPath(first.digest));
    assert.deepEqual(t.synced, [path.dirname(fanOut), fanOut], 'one write; its folder, and the new folder\'s entry in sha256/, synced');
    assert.equal(firstDone, false, 'a commit returns only once its directory entry is durable');
    assert.equal(secondDone, false, 'the duplicate must not return while the first write may still be lost');
    t.release();
    await Promise.all([a, b]);
    assert.deepEqual(fs.readFileSync(store.localPath(first.digest)), data);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0, 'no temp file was used');
    t.cleanup();
  });

  test('a new fan-out folder is durable with the first file in it: sha256/ is synced beside that file, once per folder', async () => {
    const t = setup();
    const store = new FsBlobStore(t.dir, { sync: t.sync });
    const sha = path.join(t.dir, 'sha256');
    // Two contents whose digests share a fan-out folder, found by trying.
    const byFolder = new Map<string, Buffer[]>();
    while (![...byFolder.values()].some((l) => l.length >= 2)) {
      const data = randomBytes(100);
      const staged = await store.putBytes(data);
      const folder = path.dirname(store.localPath(staged.digest));
      await staged.cancel();
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), data]);
    }
    const [folder, [small, other]] = [...byFolder].find(([, l]) => l.length >= 2)!;
    t.hold.on = true;
    let done = false;
    const first = (await store.putBytes(small)).commit().then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(t.synced, [sha, folder], 'the folder\'s entry in sha256/ and the file\'s entry in the folder');
    assert.equal(done, false, 'the commit waits for both');
    t.release();
    await first;
    t.hold.on = false;
    t.synced.length = 0;
    await (await store.putBytes(other)).commit();
    assert.deepEqual(t.synced, [folder], 'a folder synced once is not synced again');
    // Content staged through a temp file takes the same path (a fresh store: a process that just started).
    t.synced.length = 0;
    const fresh = new FsBlobStore(t.dir, { sync: t.sync });
    const big = randomBytes(300 * 1024);
    const staged = await fresh.putBytes(big);
    await staged.commit();
    const bigFolder = path.dirname(fresh.localPath(staged.digest));
    assert.deepEqual(t.synced.sort(), [sha, bigFolder].sort(), 'a renamed file in a folder this process had not synced');
    t.cleanup();
  });

  test('a torn file a crash left under the content address is not trusted: stat says absent, a commit replaces it', async () => {
    const t = setup();
    const store = new FsBlobStore(t.dir, { sync: t.sync });
    const data = randomBytes(5000);
    const staged = await store.putBytes(data);
    const target = store.localPath(staged.digest);
    await staged.cancel();
    assert.equal(fs.existsSync(target), false, 'nothing is written before commit');
    // What a power cut may leave of a direct write: the name, and fewer (or zeroed) bytes than were written.
    fs.mkdirSync(path.dirname(target), { recursive: true });
    for (const torn of [data.subarray(0, 1234), Buffer.alloc(data.length)]) {
      fs.writeFileSync(target, torn);
      assert.equal(await new FsBlobStore(t.dir).stat(staged.digest), null, 'a torn file is not the blob');
      const again = await new FsBlobStore(t.dir, { sync: t.sync }).putBytes(data);
      await again.commit();
      assert.deepEqual(fs.readFileSync(target), data, 'replaced by the whole content');
      assert.deepEqual(await store.stat(staged.digest), { size: data.length });
    }
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0, 'the replacement went through a temp file, now renamed');
    t.cleanup();
  });

  test('a direct write whose sync fails leaves nothing under the address, and the commit can be tried again', async () => {
    const t = setup();
    let fail = true;
    const store = new FsBlobStore(t.dir, {
      sync: async (file) => {
        if (fail) throw Object.assign(new Error('EIO: the disk went away'), { code: 'EIO' });
        await t.sync(file);
      },
    });
    const data = randomBytes(2000);
    const staged = await store.putBytes(data);
    await assert.rejects(staged.commit(), /EIO/);
    assert.equal(fs.existsSync(store.localPath(staged.digest)), false, 'the unsynced file is removed');
    assert.equal(await store.stat(staged.digest), null);
    fail = false;
    await staged.commit();
    assert.deepEqual(fs.readFileSync(store.localPath(staged.digest)), data);
    t.cleanup();
  });

  test('large content still goes through a temp file: durable before it is renamed into place', async () => {
    const t = setup();
    const store = new FsBlobStore(t.dir, { sync: t.sync });
    const data = randomBytes(300 * 1024);
    const staged = await store.putBytes(data);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 1, 'staged in tmp/');
    assert.equal(fs.existsSync(store.localPath(staged.digest)), false);
    await staged.commit();
    assert.deepEqual(fs.readFileSync(store.localPath(staged.digest)), data);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0);
    t.cleanup();
  });

  test('a commit of content another process (or an earlier run) stored syncs that file and its directory', async () => {
    const t = setup();
    const data = randomBytes(1000);
    const target = await t.storedElsewhere(data);
    const store = new FsBlobStore(t.dir, { sync: t.sync });
    const again = await store.putBytes(data);
    await again.commit();
    assert.equal(store.localPath(again.digest), target);
    // And sha256/: the first commit into that folder in this process (the folder may be another process's, not yet synced).
    assert.deepEqual(t.synced.sort(), [path.dirname(path.dirname(target)), path.dirname(target), target].sort());
    t.cleanup();
  });

  test('a file collected between finding it and syncing it is reported as collected, not as ENOENT', async () => {
    const t = setup();
    const data = randomBytes(1000);
    const target = await t.storedElsewhere(data);
    // Garbage collection removes the file just as the duplicate's commit goes to sync it.
    const store = new FsBlobStore(t.dir, {
      sync: async (file) => {
        if (file === target) fs.rmSync(target);
        fs.closeSync(fs.openSync(file, 'r'));
      },
    });
    const again = await store.putBytes(data);
    await assert.rejects(again.commit(), /garbage-collected while being committed/);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0);
    t.cleanup();
  });
});
