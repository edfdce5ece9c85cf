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
    // commit() renames synchronously, then waits on the directory's sync (held here).
    const a = first.commit().then(() => (firstDone = true));
    assert.ok(fs.existsSync(store.localPath(first.digest)), 'renamed into place');
    const b = second.commit().then(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(firstDone, false);
    assert.equal(secondDone, false, 'the duplicate must not return while the first rename may still be lost');
    t.release();
    await Promise.all([a, b]);
    assert.equal(fs.readdirSync(path.join(t.dir, 'tmp')).length, 0, "the duplicate's temp file is gone");
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
