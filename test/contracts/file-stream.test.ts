// FileStream: the pooled pipe path must never hand a destination a buffer that is reused before the
// destination's write callback, must honour ranges, and must close its file however the destination ends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { once } from 'node:events';
import { test } from 'node:test';
import { FileStream } from '../../src/core/blobs/file-stream.ts';
import { tempDir } from '../helpers/wharf.ts';

const MiB = 1024 * 1024;

function fixture(size: number) {
  const dir = tempDir('wharf-filestream-');
  const file = path.join(dir, 'content');
  const data = randomBytes(size);
  fs.writeFileSync(file, data);
  return { file, data, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A destination that holds each chunk for a while before it acknowledges it, and copies it only then. */
function slowSink(delayMs: number) {
  const got: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        got.push(Buffer.from(chunk)); // what the chunk holds when the destination is done with it
        cb();
      }, delayMs);
    },
  });
  return { sink, got };
}

test('piped: bytes arrive intact although pooled buffers are reused across concurrent streams', async () => {
  const a = fixture(5 * MiB + 123);
  const b = fixture(3 * MiB + 7);
  try {
    const sa = slowSink(3);
    const sb = slowSink(5);
    const fa = await FileStream.open(a.file);
    const fb = await FileStream.open(b.file);
    fa.pipe(sa.sink);
    fb.pipe(sb.sink);
    await Promise.all([once(sa.sink, 'finish'), once(sb.sink, 'finish'), once(fa, 'close'), once(fb, 'close')]);
    assert.ok(Buffer.concat(sa.got).equals(a.data));
    assert.ok(Buffer.concat(sb.got).equals(b.data));
    // Again, now that the pool holds buffers the first round gave back.
    const sc = slowSink(1);
    const fc = await FileStream.open(a.file, { start: MiB - 10, end: 3 * MiB + 5 });
    fc.pipe(sc.sink);
    await once(sc.sink, 'finish');
    assert.ok(Buffer.concat(sc.got).equals(a.data.subarray(MiB - 10, 3 * MiB + 6)));
  } finally {
    a.done();
    b.done();
  }
});

test('read as an ordinary Readable: whole file and a range', async () => {
  const a = fixture(2 * MiB + 1);
  try {
    const all: Buffer[] = [];
    for await (const c of await FileStream.open(a.file)) all.push(c as Buffer);
    assert.ok(Buffer.concat(all).equals(a.data));
    const part: Buffer[] = [];
    for await (const c of await FileStream.open(a.file, { start: 5, end: 5 })) part.push(c as Buffer);
    assert.deepEqual(Buffer.concat(part), a.data.subarray(5, 6));
  } finally {
    a.done();
  }
});

test('over HTTP: full bodies, and a client that hangs up mid-body leaves no open file behind', async () => {
  const a = fixture(8 * MiB);
  const opened: FileStream[] = [];
  const server = http.createServer(async (_req, res) => {
    const s = await FileStream.open(a.file);
    opened.push(s);
    res.writeHead(200, { 'content-length': a.data.length });
    s.pipe(res);
    res.on('close', () => s.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    const bodies = await Promise.all(
      Array.from({ length: 4 }, async () => Buffer.from(await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer())),
    );
    for (const body of bodies) assert.ok(body.equals(a.data));
    // Hang up after the first bytes.
    await new Promise<void>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
    });
    const last = opened.at(-1)!;
    if (!last.closed) await once(last, 'close');
    for (const s of opened) assert.equal(s.closed, true);
  } finally {
    server.close();
    a.done();
  }
});

test('open of a missing file fails before anything is sent', async () => {
  await assert.rejects(FileStream.open('/nonexistent/wharf/file'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});
