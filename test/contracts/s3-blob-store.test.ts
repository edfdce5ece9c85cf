// The blob-store contract on the S3 driver, against a real S3 (see test/helpers/s3.ts), plus what is S3's own.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { emptyPrefix, s3TestConfig, testS3Store } from '../helpers/s3.ts';
import { blobStoreContract } from './blob-store.contract.ts';

const config = s3TestConfig();

if ('skip' in config) {
  test('S3 blob store', { skip: config.skip }, () => {});
} else {
  const c = config;
  await testS3Store(c).init();
  // Streams staged through S3 staging keys whatever their size (the path of large layers).
  const make = (inMemoryMax?: number) => async () => {
    const prefix = `run-${randomUUID()}/`;
    const store = testS3Store(c, prefix, { inMemoryMax });
    return {
      store,
      reopen: () => testS3Store(c, prefix, { inMemoryMax }),
      async cleanup() {
        // Nothing may be left but committed blobs once every put has been committed or cancelled.
        const left = (await emptyPrefix(store, prefix)).filter((k) => !k.startsWith(`${prefix}sha256/`));
        store.destroy();
        if (left.length) throw new Error(`left behind: ${left.slice(0, 5).join(', ')}`);
      },
    };
  };
  // 1100 blobs: more than one ListObjectsV2 page, at radosgw's ~200 PUTs a second here.
blobStoreContract('s3 (streams staged in S3)', make(0), { listCount: 1100 });

  describe('S3 blob store: its own', () => {
    test('small streams are kept in memory and written once at commit: nothing in S3 before, nothing to sweep', async () => {
      const { store, cleanup } = await make()();
      const data = randomBytes(100_000);
      const staged = await store.put(Readable.from([data]));
      assert.equal(await store.stat(staged.digest), null);
      assert.deepEqual(await store.sweepTemp(Date.now() + 60_000, true), { files: 0, bytes: 0 });
      await staged.commit();
      assert.deepEqual(await store.stat(staged.digest), { size: data.length });
      await cleanup();
    });

    test('a missing bucket is created at start; an unreachable S3 is a clear error', async () => {
      const bucket = `wharf-test-${randomUUID().slice(0, 8)}`;
      const store = testS3Store({ ...c, bucket });
      await store.init();
      await store.init(); // exists now
      const s = await store.putBytes(Buffer.from('x'));
      await s.commit();
      await store.remove(s.digest);
      const { DeleteBucketCommand } = await import('@aws-sdk/client-s3');
      await store.client.send(new DeleteBucketCommand({ Bucket: bucket }));
      store.destroy();
      const wrong = testS3Store({ ...c, secretAccessKey: 'wrong' });
      await assert.rejects(wrong.init(), /S3 bucket wharf-tests is not reachable/);
      wrong.destroy();
    });
  });
}
