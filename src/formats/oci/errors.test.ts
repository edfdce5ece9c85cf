import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WharfError, invalid, notFound, unauthorized } from '../../core/errors.ts';
import { OCI_ERRORS, ociError, ociErrorOf } from './errors.ts';

const SPEC_CODES = ['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS'];

test('every error of the table sends one of the spec codes with a 4xx status (UNKNOWN alone is a 5xx: 500, or 502 for a proxy\'s upstream)', () => {
  for (const [name, e] of Object.entries(OCI_ERRORS)) {
    if (name === 'UNKNOWN') assert.equal(e.status, 500);
    else if (name === 'BAD_GATEWAY') assert.deepEqual([e.code, e.status], ['UNKNOWN', 502]);
    else {
      assert.ok(SPEC_CODES.includes(e.code), `${name}: ${e.code}`);
      assert.ok(e.status >= 400 && e.status < 500, `${name}: ${e.status}`);
    }
    assert.ok(e.message.length > 0);
  }
});

test('ociError(NAME) is answered with the table row: code, status, default message', () => {
  assert.deepEqual(ociErrorOf(ociError('MANIFEST_UNKNOWN')), OCI_ERRORS.MANIFEST_UNKNOWN);
  assert.equal(ociError('MANIFEST_UNKNOWN').message, 'manifest unknown');
  assert.equal(ociError('BLOB_UNKNOWN', 'blob x not found').message, 'blob x not found');
  assert.deepEqual([ociErrorOf(ociError('RANGE')).code, ociErrorOf(ociError('RANGE')).status], ['BLOB_UPLOAD_INVALID', 416]);
  assert.deepEqual([ociErrorOf(ociError('TOO_LARGE')).code, ociErrorOf(ociError('TOO_LARGE')).status], ['SIZE_INVALID', 413]);
  assert.equal(ociError('NAME_UNKNOWN').kind, 'NotFound');
  assert.equal(ociError('DENIED').kind, 'Forbidden');
});

test("the core's errors are answered by their OCI code when they carry one, else by their kind", () => {
  assert.equal(ociErrorOf(invalid('bad', 'DIGEST_INVALID')).code, 'DIGEST_INVALID');
  assert.deepEqual(ociErrorOf(new WharfError('Invalid', 'chunk out of order', 'RANGE')).status, 416);
  assert.equal(ociErrorOf(notFound()).code, 'NAME_UNKNOWN');
  assert.equal(ociErrorOf(unauthorized()).code, 'UNAUTHORIZED');
  // Another protocol's code is not sent to an OCI client.
  assert.deepEqual([ociErrorOf(new WharfError('Conflict', 'exists', 'EPUBLISHCONFLICT')).code, ociErrorOf(new WharfError('Conflict', 'exists', 'EPUBLISHCONFLICT')).status], ['DENIED', 409]);
});
