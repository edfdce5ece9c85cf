import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

test('defaults: port 8080, ./data, SQLite inside it', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, path.resolve('data'));
  assert.equal(c.databaseUrl, `sqlite:${path.resolve('data', 'wharf.db')}`);
  assert.ok(Object.isFrozen(c));
});

test('every bad key is named in one clear error', () => {
  assert.throws(
    () => loadConfig({ WHARF_PORT: 'eighty', WHARF_DATABASE_URL: 'mysql://x', WHARF_BASE_URL: 'not a url' }),
    (e: Error) => /WHARF_PORT/.test(e.message) && /WHARF_DATABASE_URL: must start with sqlite: or postgres:\/\//.test(e.message) && /WHARF_BASE_URL/.test(e.message),
  );
});

test('base URL loses its trailing slash; postgres URLs are taken as they are', () => {
  const c = loadConfig({ WHARF_BASE_URL: 'https://pkg.example.com/', WHARF_DATABASE_URL: 'postgres://u@h:5432/db' });
  assert.equal(c.baseUrl, 'https://pkg.example.com');
  assert.equal(c.databaseUrl, 'postgres://u@h:5432/db');
});

test('archive bounds: WHARF_MAX_UNPACKED_SIZE and WHARF_MAX_COMPRESSION_RATIO (defaults 4 GiB and 100:1)', () => {
  assert.deepEqual(loadConfig({}).inflation, { maxUnpacked: 4 * 1024 ** 3, maxRatio: 100 });
  assert.deepEqual(loadConfig({ WHARF_MAX_UNPACKED_SIZE: '1048576', WHARF_MAX_COMPRESSION_RATIO: '20' }).inflation, { maxUnpacked: 1048576, maxRatio: 20 });
  assert.throws(() => loadConfig({ WHARF_MAX_UNPACKED_SIZE: '0' }), /WHARF_MAX_UNPACKED_SIZE/);
});

test('blob delivery: S3 redirect needs the s3 store, X-Accel-Redirect the fs store; both off by default', () => {
  assert.deepEqual(loadConfig({}).blobDelivery, { s3Redirect: null, accelRedirect: null });
  const s3 = { WHARF_BLOB_STORE: 's3', WHARF_S3_BUCKET: 'wharf' };
  assert.deepEqual(loadConfig({ ...s3, WHARF_S3_REDIRECT: 'on' }).blobDelivery.s3Redirect, { minBytes: 1024 * 1024, expirySeconds: 300 });
  assert.deepEqual(loadConfig({ ...s3, WHARF_S3_REDIRECT: 'on', WHARF_S3_REDIRECT_MIN_BYTES: '0', WHARF_S3_REDIRECT_EXPIRY_SECONDS: '60' }).blobDelivery.s3Redirect, { minBytes: 0, expirySeconds: 60 });
  assert.throws(() => loadConfig({ WHARF_S3_REDIRECT: 'on' }), /WHARF_S3_REDIRECT: needs WHARF_BLOB_STORE=s3/);
  assert.throws(() => loadConfig({ ...s3, WHARF_S3_REDIRECT: 'maybe' }), /WHARF_S3_REDIRECT/);
  assert.equal(loadConfig({ WHARF_ACCEL_REDIRECT: '/_blobs/' }).blobDelivery.accelRedirect, '/_blobs/');
  assert.throws(() => loadConfig({ WHARF_ACCEL_REDIRECT: '_blobs' }), /WHARF_ACCEL_REDIRECT: must be a location path/);
  assert.throws(() => loadConfig({ ...s3, WHARF_ACCEL_REDIRECT: '/_blobs/' }), /WHARF_ACCEL_REDIRECT: needs WHARF_BLOB_STORE=fs/);
});

test('WHARF_TRUST_PROXY: off by default, on, or addresses and CIDRs', () => {
  assert.equal(loadConfig({}).trustProxy, false);
  assert.equal(loadConfig({ WHARF_TRUST_PROXY: 'on' }).trustProxy, true);
  assert.equal(loadConfig({ WHARF_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy, '127.0.0.1,10.0.0.0/8');
  assert.throws(() => loadConfig({ WHARF_TRUST_PROXY: 'nginx.internal' }), /WHARF_TRUST_PROXY/);
});
