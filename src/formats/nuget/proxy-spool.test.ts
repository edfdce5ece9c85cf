// The NuGet proxy spools an upstream .nupkg to a file while it streams into the store. A body that fails while a
// write to the spool is pending (a connection reset mid-download, a body over the size limit) must fail that one
// fetch: the spool's own error is handled, never thrown out of the process.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { DEFAULT_NUPKG_LIMITS } from './nupkg.ts';
import { nupkgSpool } from './proxy.ts';

for (const how of ['the upstream resets the connection', 'the store refuses the body as too large']) {
  test(`a body that fails while the spool is written (${how}) rejects that fetch, leaves no file, throws nothing`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-spool-'));
    const file = path.join(dir, 'nuget', 'x.nupkg');
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const { through, result } = nupkgSpool(file, DEFAULT_NUPKG_LIMITS);
      const rejected = assert.rejects(result);
      // As the proxy streams a body: upstream → spool → the blob store (here a sink that takes its time).
      let n = 0;
      const upstream = new Readable({
        read() {
          if (how.includes('resets') && ++n > 200) return this.destroy(new Error('connection reset by the upstream'));
          this.push(Buffer.alloc(64 * 1024, n));
        },
      });
      let stored = 0;
      const store = new Writable({
        write(chunk: Buffer, _enc, cb) {
          stored += chunk.length;
          if (how.includes('too large') && stored > 5_000_000) return cb(new Error('content exceeds the limit'));
          setImmediate(cb);
        },
      });
      await assert.rejects(pipeline(upstream, through, store));
      await rejected;
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(uncaught.map((e) => e.message), []);
      assert.equal(fs.existsSync(file), false, 'the spool file is removed');
    } finally {
      process.off('uncaughtException', onUncaught);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a spool that cannot be written (its folder is a file) fails the fetch instead of the process', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-spool-'));
  fs.mkdirSync(path.join(dir, 'nuget'));
  const file = path.join(dir, 'nuget', 'x.nupkg');
  fs.mkdirSync(file); // the spool's path is taken by a directory: opening it for writing fails
  const uncaught: Error[] = [];
  const onUncaught = (e: Error) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const { through, result } = nupkgSpool(file, DEFAULT_NUPKG_LIMITS);
    const failed = new Promise<Error>((resolve) => through.on('error', resolve));
    const rejected = assert.rejects(result);
    through.resume();
    through.write(Buffer.alloc(1024));
    through.end();
    await rejected;
    assert.ok(await failed, 'the stream fails');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(uncaught.map((e) => e.message), []);
  } finally {
    process.off('uncaughtException', onUncaught);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
