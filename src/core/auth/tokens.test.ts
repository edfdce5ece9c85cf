import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashToken, looksLikeToken, mintToken, parseDuration, parseScopes, sameHash } from './tokens.ts';

test('tokens carry a prefix and a checksum a scanner can verify offline', () => {
  const pat = mintToken('pat');
  const job = mintToken('job');
  assert.match(pat, /^whp_[0-9A-Za-z]{36}$/);
  assert.match(job, /^whj_[0-9A-Za-z]{36}$/);
  assert.ok(looksLikeToken(pat) && looksLikeToken(job));
  const flipped = pat.slice(0, 10) + (pat[10] === 'a' ? 'b' : 'a') + pat.slice(11);
  assert.equal(looksLikeToken(flipped), false, 'one changed character breaks the checksum');
  assert.equal(looksLikeToken('ghp_' + pat.slice(4)), false);
  assert.notEqual(mintToken('pat'), mintToken('pat'));
});

test('only a sha256 hash is kept, compared in constant time', () => {
  const t = mintToken('pat');
  const h = hashToken(t);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.ok(sameHash(h, hashToken(t)));
  assert.equal(sameHash(h, hashToken(mintToken('pat'))), false);
  assert.equal(sameHash(h, 'abcd'), false);
});

test('scopes: write and delete imply read; unknown scopes are refused', () => {
  assert.deepEqual([...parseScopes('write:packages')].sort(), ['read:packages', 'write:packages']);
  assert.deepEqual([...parseScopes('delete:packages, read:packages')].sort(), ['delete:packages', 'read:packages']);
  assert.throws(() => parseScopes('admin:everything'), /unknown scope/);
});

test('durations', () => {
  assert.equal(parseDuration('30d'), 30 * 864e5);
  assert.equal(parseDuration('1h'), 36e5);
  assert.throws(() => parseDuration('soon'), /bad duration/);
});
