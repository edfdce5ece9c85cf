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
    assert.deepEqual(t.synced, [fanOut], 'one write; its folder synced (the folder itself was made durable when the store opened)');
    assert.equal(firstDone, false, 'a commit returns only once its directory entry is durable');
    assert.equal(secondDone, false, 'the duplicate must not return while the first write may still be lost');
    t.release();
    await Promise.all([a, b]);
    assert.deepEqual(fs.readFileSync(store.localPath(first.digest)), data);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0, 'no temp file was used');
    t.cleanup();
  });

  test('every fan-out folder is made, and flushed into sha256/, when the store opens: a commit syncs only its own folder', async () => {
    const t = setup();
    const syncedAtOpen: string[] = [];
    const sha = path.join(t.dir, 'sha256');
    const store = new FsBlobStore(t.dir, { sync: t.sync, syncSync: (d) => syncedAtOpen.push(d) });
    const folders = fs.readdirSync(sha).sort();
    assert.equal(folders.length, 256);
    assert.deepEqual(folders, Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')));
    // sha256/ (the folders' entries) first, then the new sha256/ folder's own entry in its parent.
    assert.deepEqual(syncedAtOpen, [sha, t.dir]);
    const small = await store.putBytes(randomBytes(100));
    await small.commit();
    const big = await store.putBytes(randomBytes(300 * 1024));
    await big.commit();
    assert.deepEqual(t.synced, [path.dirname(store.localPath(small.digest)), path.dirname(store.localPath(big.digest))], 'each commit syncs its file\'s folder, never sha256/');
    // Reopened: the folders are there; sha256/ is flushed again (a folder an earlier process made and crashed
    // before flushing is covered too), and nothing else.
    syncedAtOpen.length = 0;
    fs.rmdirSync(path.join(sha, 'ab'));
    new FsBlobStore(t.dir, { sync: t.sync, syncSync: (d) => syncedAtOpen.push(d) });
    assert.ok(fs.statSync(path.join(sha, 'ab')).isDirectory(), 'a missing folder is made again');
    assert.deepEqual(syncedAtOpen, [sha]);
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
    assert.deepEqual(t.synced.sort(), [path.dirname(target), target].sort());
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
