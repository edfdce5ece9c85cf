// The whole server on the S3 blob store: two Wharf nodes (each with its own WHARF_DATA, sharing the database and
// the bucket) serve npm and OCI; a chunked OCI upload moves between the nodes chunk by chunk; nothing but scratch
// is kept on either node's disk. Runs against the real S3 of test/helpers/s3.ts (skipped without it, outside CI).
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { S3BlobStore } from '../../src/core/blobs/s3-store.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { basic, blob, imageManifest, pushImage, resolveLocation, sha256 } from '../helpers/oci.ts';
import { dialects } from '../helpers/databases.ts';
import { emptyPrefix, s3TestConfig } from '../helpers/s3.ts';
import { startWharf, tempDir, type TestServer } from '../helpers/wharf.ts';

const config = s3TestConfig();

test('WHARF_BLOB_STORE=s3 settings are checked at start', () => {
  assert.throws(() => loadConfig({ WHARF_BLOB_STORE: 's3' }), /WHARF_S3_BUCKET: is required with WHARF_BLOB_STORE=s3/);
  assert.throws(() => loadConfig({ WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'Bad_Bucket' }), /WHARF_S3_BUCKET: must be a valid S3 bucket name/);
  assert.throws(() => loadConfig({ WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'b1', WHARF_S3_ENDPOINT: 'not a url' }), /WHARF_S3_ENDPOINT/);
  assert.throws(() => loadConfig({ WHARF_BLOB_STORE: 'nfs' }), /WHARF_BLOB_STORE/);
  assert.throws(() => loadConfig({ WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'b12', WHARF_S3_FORCE_PATH_STYLE: 'maybe' }), /WHARF_S3_FORCE_PATH_STYLE/);
  const c = loadConfig({ WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'b12', WHARF_S3_PREFIX: 'wharf', WHARF_S3_FORCE_PATH_STYLE: 'true', WHARF_S3_ENDPOINT: 'http://127.0.0.1:7480' });
  assert.deepEqual(c.blobStore, { kind: 's3', bucket: 'b12', endpoint: 'http://127.0.0.1:7480', region: undefined, forcePathStyle: true, prefix: 'wharf/' });
  assert.deepEqual(loadConfig({}).blobStore, { kind: 'fs' });
});

if ('skip' in config) {
  test('Wharf on S3', { skip: config.skip }, () => {});
} else {
  const c = config;
  // The fleet's database when there is one (PostgreSQL); SQLite otherwise (both nodes in this process share its file).
  const dialect = dialects().at(-1)!;
  describe(`Wharf on S3: two nodes sharing a bucket and a database (${dialect})`, () => {
    let a: TestServer;
    let b: TestServer;
    let token: string;
    let A: string;
    const prefix = `smoke-${randomUUID()}`;
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

    before(async () => {
      // Credentials come from the AWS SDK's chain, as in production: here, the environment.
      process.env.AWS_ACCESS_KEY_ID = c.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = c.secretAccessKey;
      const env = { WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: c.bucket, WHARF_S3_ENDPOINT: c.endpoint, WHARF_S3_REGION: c.region, WHARF_S3_FORCE_PATH_STYLE: 'true', WHARF_S3_PREFIX: prefix };
      a = await startWharf({ env, dialect });
      b = await startWharf({ env, reuse: { dataDir: tempDir(), db: a.db } });
      token = await a.userWithToken('alice');
      A = basic('alice', token);
    });
    after(async () => {
      const store = a.core.blobs as S3BlobStore;
      const left = await emptyPrefix(store, `${prefix}/`);
      await b?.stop({ keep: true });
      fs.rmSync(b.dataDir, { recursive: true, force: true });
      await a?.stop();
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      assert.deepEqual(left.filter((k) => !k.startsWith(`${prefix}/sha256/`)), [], 'only committed blobs are left in the bucket');
    });

    test('npm: publish on one node, packument and tarball from the other', async () => {
      const r = await publishNpm(a.url, token, { scope: 'alice', name: 'on-s3', version: '1.0.0' });
      assert.equal(r.status, 201, await r.clone().text());
      const doc = await (await fetch(`${b.url}/npm/@alice%2fon-s3`, { headers: { authorization: `Bearer ${token}` } })).json();
      const dist = doc.versions['1.0.0'].dist;
      const tgz = await fetch(dist.tarball.replace(a.url, b.url), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(tgz.status, 200);
      const bytes = Buffer.from(await tgz.arrayBuffer());
      assert.equal(`sha512-${createHash('sha512').update(bytes).digest('base64')}`, dist.integrity);
    });

    test('OCI: a chunked upload whose PATCHes alternate between the nodes, then push and pull of an image', async () => {
      const layer = blob(6 * 1024 * 1024 + 12_345);
      const call = (url: string, method: string, headers: Record<string, string> = {}, body?: Buffer) =>
        fetch(url, { method, headers: { authorization: A, ...headers }, body: body ? new Uint8Array(body) : undefined, redirect: 'manual' });
      const start = await call(`${a.url}/v2/alice/s3app/blobs/uploads/`, 'POST', { 'content-length': '0' });
      assert.equal(start.status, 202);
      let loc = start.headers.get('location')!;
      // Odd small chunks, then one past the S3 multipart minimum, each PATCH on the other node.
      const sizes = [1, 4095, 65_537, 5 * 1024 * 1024 + 3, 7];
      let at = 0;
      for (const [i, n] of sizes.entries()) {
        const node = i % 2 ? b : a;
        const r = await call(resolveLocation(node.url, loc), 'PATCH', { 'content-type': 'application/octet-stream', 'content-range': `${at}-${at + n - 1}` }, layer.bytes.subarray(at, at + n));
        assert.equal(r.status, 202, `chunk ${i}: ${await r.clone().text()}`);
        at += n;
        assert.equal(r.headers.get('range'), `0-${at - 1}`);
        loc = r.headers.get('location')!;
      }
      const fin = await call(resolveLocation(b.url, loc, { digest: layer.digest }), 'PUT', { 'content-type': 'application/octet-stream' }, layer.bytes.subarray(at));
      assert.equal(fin.status, 201, await fin.clone().text());
      const img = await pushImage(b.url, 'alice/s3app', 'v1', imageManifest({ layers: [layer, blob(100)] }), A);
      const m = await call(`${a.url}/v2/alice/s3app/manifests/v1`, 'GET', { accept: img.mediaType });
      assert.equal(m.status, 200);
      assert.equal(sha256(Buffer.from(await m.arrayBuffer())), img.digest);
      const full = await call(`${a.url}/v2/alice/s3app/blobs/${layer.digest}`, 'GET');
      assert.equal(full.status, 200);
      assert.ok(Buffer.from(await full.arrayBuffer()).equals(layer.bytes));
      const part = await call(`${b.url}/v2/alice/s3app/blobs/${layer.digest}`, 'GET', { range: 'bytes=5242870-5242889' });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(layer.bytes.subarray(5242870, 5242890)));
    });

    test('the nodes keep no blobs on their disks; the bucket has them', async () => {
      for (const node of [a, b]) assert.ok(!fs.existsSync(path.join(node.dataDir, 'blobs', 'sha256')), `${node.dataDir} has no blob folder`);
      const listed = [];
      for await (const x of a.core.blobs.listBlobs()) listed.push(x.digest);
      assert.ok(listed.length >= 5, `blobs in the bucket: ${listed.length}`);
      const gc = await a.cli(['gc', '--dry-run']);
      assert.equal(gc.code, 0, gc.stderr);
    });
  });
}
