// Streams, not buffers: a 200 MB tarball is published (as npm sends it: base64 inside JSON) and downloaded
// through a real server process, whose peak memory must stay flat.
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { spawnWharf, type ChildServer } from '../helpers/wharf.ts';

const SIZE = 200 * 1024 * 1024;
const NAME = '@alice/big';

/** Peak resident memory (VmHWM) of a process, in MiB. */
const peakMiB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Deterministic incompressible bytes (AES-CTR keystream), produced lazily. */
function noise(size: number): Readable {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 2));
  const zero = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, zero.length);
      left -= n;
      this.push(cipher.update(zero.subarray(0, n)));
    },
  });
}

/** A .tgz stream of package.json + SIZE bytes of noise (gzip level 0: stored, so the tarball is ~SIZE). */
function bigTarball(version: string): Readable {
  const pack = tar.pack();
  pack.entry({ name: 'package/package.json' }, JSON.stringify({ name: NAME, version }));
  const entry = pack.entry({ name: 'package/blob.bin', size: SIZE }, (err) => (err ? pack.destroy(err) : pack.finalize()));
  noise(SIZE).pipe(entry);
  const gz = createGzip({ level: 0 });
  (pack as unknown as Readable).pipe(gz);
  return gz;
}

/** Base64-encodes a stream in 3-byte groups. */
function base64(): Transform {
  let rest: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      const all = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      const n = all.length - (all.length % 3);
      rest = all.subarray(n);
      cb(null, all.subarray(0, n).toString('base64'));
    },
    flush(cb) {
      cb(null, rest.toString('base64'));
    },
  });
}

let s: ChildServer;
let token: string;
before(async () => {
  s = await spawnWharf();
  assert.equal((await s.cli(['user', 'create', 'alice'])).code, 0);
  token = (await s.cli(['token', 'create', 'alice', '--scopes', 'read:packages,write:packages'])).stdout.trim();
});
after(() => s.stop());

/**
 * A GET as alice. A connection error is retried once while the server is still running (a client reusing a socket
 * the server is closing is not the server's fault; seen once in CI as a bare "fetch failed"); when the server has
 * died, or it fails again, the error names its cause and the server's output.
 */
async function get(url: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (attempt === 1 && s.proc.exitCode === null && s.proc.signalCode === null) continue;
      throw new Error(`GET ${url}: ${(e as Error).message} (${cause?.code ?? ''} ${cause?.message ?? ''}); server exit ${s.proc.exitCode ?? s.proc.signalCode}; output:\n${s.output()}`);
    }
  }
}

test('publishing and downloading a 200 MB tarball keeps the server\'s memory flat', { timeout: 180_000 }, async () => {
  const baseline = peakMiB(s.proc.pid!);
  const sha512 = createHash('sha512');
  let tarballBytes = 0;
  const head = JSON.stringify({ _id: NAME, name: NAME, 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: NAME, version: '1.0.0', dist: {} } } });
  const body = new PassThrough();
  const req = http.request(`${s.url}/npm/@alice%2fbig`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', async (res) => {
      let text = '';
      for await (const c of res) text += c;
      resolve({ status: res.statusCode!, text });
    });
    req.on('error', reject);
  });
  const send = pipeline(body, req);
  body.write(`${head.slice(0, -1)},"_attachments":{"big-1.0.0.tgz":{"content_type":"application/octet-stream","data":"`);
  const tgz = bigTarball('1.0.0');
  tgz.on('data', (c: Buffer) => {
    sha512.update(c);
    tarballBytes += c.length;
  });
  await pipeline(tgz, base64(), new Writable({
    write(chunk, _e, cb) {
      if (body.write(chunk)) cb();
      else body.once('drain', () => cb());
    },
  }));
  body.end('"}}}');
  await send;
  const { status, text } = await response;
  assert.equal(status, 201, text);
  assert.ok(tarballBytes > SIZE);
  const afterPublish = peakMiB(s.proc.pid!);
  assert.ok(afterPublish - baseline < 120, `peak RSS grew by ${(afterPublish - baseline).toFixed(0)} MiB publishing ${(tarballBytes / 2 ** 20).toFixed(0)} MiB`);

  const doc = await (await get(`${s.url}/npm/@alice%2fbig`)).json();
  const integrity = `sha512-${sha512.digest('base64')}`;
  assert.equal(doc.versions['1.0.0'].dist.integrity, integrity, 'the server hashed exactly the bytes sent');

  const res = await get(doc.versions['1.0.0'].dist.tarball);
  assert.equal(res.status, 200);
  assert.equal(Number(res.headers.get('content-length')), tarballBytes);
  const down = createHash('sha512');
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) down.update(c);
  assert.equal(`sha512-${down.digest('base64')}`, integrity, 'downloaded bytes are the published bytes');
  const afterDownload = peakMiB(s.proc.pid!);
  assert.ok(afterDownload - baseline < 120, `peak RSS grew by ${(afterDownload - baseline).toFixed(0)} MiB after the download`);
  console.log(`# peak RSS: baseline ${baseline.toFixed(0)} MiB, after 200 MB publish ${afterPublish.toFixed(0)} MiB, after download ${afterDownload.toFixed(0)} MiB`);
});
