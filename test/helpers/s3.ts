// The real S3 the S3 tests run against: .ci/run starts one (../shared/tools/s3-server.sh) and exports
// WHARF_TEST_S3_ENDPOINT, WHARF_TEST_S3_ACCESS_KEY_ID, WHARF_TEST_S3_SECRET_ACCESS_KEY (and _REGION). In CI a missing
// S3 is a failure; elsewhere the S3 tests are skipped with a message saying how to run them.
import { randomUUID } from 'node:crypto';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/core/blobs/s3-store.ts';

export interface S3TestConfig {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

const HOW = 'run eval "$(../shared/tools/s3-server.sh)" and export WHARF_TEST_S3_ENDPOINT=$S3_ENDPOINT WHARF_TEST_S3_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID WHARF_TEST_S3_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY';

/** The test S3, or a reason to skip (outside CI). In CI, a missing S3 throws. */
export function s3TestConfig(): S3TestConfig | { skip: string } {
  const e = process.env;
  if (!e.WHARF_TEST_S3_ENDPOINT || !e.WHARF_TEST_S3_ACCESS_KEY_ID || !e.WHARF_TEST_S3_SECRET_ACCESS_KEY) {
    if (e.CI === 'true') throw new Error(`CI=true but no test S3 is configured: ${HOW}`);
    return { skip: `no test S3 (WHARF_TEST_S3_ENDPOINT unset): ${HOW}` };
  }
  return {
    endpoint: e.WHARF_TEST_S3_ENDPOINT,
    region: e.WHARF_TEST_S3_REGION || 'us-east-1',
    accessKeyId: e.WHARF_TEST_S3_ACCESS_KEY_ID,
    secretAccessKey: e.WHARF_TEST_S3_SECRET_ACCESS_KEY,
    bucket: e.WHARF_TEST_S3_BUCKET || 'wharf-tests',
  };
}

/** A store over the test bucket under a fresh prefix (one per test run). */
export function testS3Store(c: S3TestConfig, prefix = `run-${randomUUID()}/`, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    bucket: c.bucket,
    endpoint: c.endpoint,
    region: c.region,
    forcePathStyle: true,
    prefix,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    ...extra,
  });
}

/** Deletes every object and unfinished multipart upload under the store's prefix; returns how many objects were left. */
export async function emptyPrefix(store: S3BlobStore, prefix: string): Promise<string[]> {
  const { ListObjectsV2Command, DeleteObjectsCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const left: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) left.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (let i = 0; i < left.length; i += 1000) {
    await store.client.send(new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: left.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
  }
  const mp = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }));
  for (const u of mp.Uploads ?? []) {
    left.push(`${u.Key} (unfinished multipart upload)`);
    await store.client.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: u.Key!, UploadId: u.UploadId! }));
  }
  return left;
}
