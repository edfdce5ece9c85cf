// Blob store throughput, filesystem vs S3: put+commit, read, and a resumable upload (one long chunk) finished,
// of SIZE MiB (default 100) streamed from memory. S3 from WHARF_TEST_S3_* (see test/helpers/s3.ts).
// Usage: node --import tsx scripts/bench-blobs.ts [SIZE_MIB]
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { BlobStore } from '../src/core/blobs/blob-store.ts';
import { FsBlobStore } from '../src/core/blobs/fs-store.ts';
import { S3BlobStore } from '../src/core/blobs/s3-store.ts';

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 100);
const block = randomBytes(MiB);
const gen = () => Readable.from((function* () { for (let i = 0; i < size; i++) yield Buffer.from(block); })());
const rate = (ms: number) => `${(size / (ms / 1000)).toFixed(0)} MiB/s`;

async function bench(name: string, store: BlobStore) {
  let t = Date.now();
  const staged = await store.put(gen());
  await staged.commit();
  const put = Date.now() - t;
  t = Date.now();
  let n = 0;
  for await (const c of await store.open(staged.digest)) n += (c as Buffer).length;
  const get = Date.now() - t;
  if (n !== size * MiB) throw new Error('short read');
  await store.remove(staged.digest);
  const id = randomUUID();
  t = Date.now();
  await store.appendUpload(id, gen(), 0, 1e12);
  const s = await store.finishUpload(id);
  await s.commit();
  const up = Date.now() - t;
  await store.remove(s.digest);
  console.log(`${name}: put+commit ${put} ms (${rate(put)}), get ${get} ms (${rate(get)}), upload+finish+commit ${up} ms (${rate(up)})`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-blobs-'));
await bench('fs', new FsBlobStore(dir));
fs.rmSync(dir, { recursive: true, force: true });
const e = process.env;
if (e.WHARF_TEST_S3_ENDPOINT) {
  const s3 = new S3BlobStore({ bucket: 'wharf-tests', endpoint: e.WHARF_TEST_S3_ENDPOINT, forcePathStyle: true, prefix: `bench-${randomUUID()}/`, credentials: { accessKeyId: e.WHARF_TEST_S3_ACCESS_KEY_ID!, secretAccessKey: e.WHARF_TEST_S3_SECRET_ACCESS_KEY! } });
  await s3.init();
  await bench('s3', s3);
  s3.destroy();
}
