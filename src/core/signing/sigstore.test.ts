import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { githubClaims, GITHUB_ISSUER, imageStatement, startMockSigstore, type MockSigstore } from '../../../test/helpers/sigstore.ts';
import { checkProvenance, npmPurl, summaryOf } from './provenance.ts';
import { compileIdentity, loadTrustedRoot, parseBundle, SigstoreVerifier } from './sigstore.ts';

// The public-good instance's trusted_root.json, as npm ships it (the seed of @sigstore/tuf in npm 11).
const PUBLIC_GOOD = path.resolve(import.meta.dirname, '../../../test/fixtures/sigstore-public-good-trusted_root.json');
const ALL = [{ id: 1, identity: '.*', issuer: GITHUB_ISSUER, scope: '' }];
let mock: MockSigstore;
before(async () => {
  mock = await startMockSigstore();
});
after(() => mock.stop());

test('the public-good trusted root loads as is; a mock-signed keyless bundle does not verify under it', async () => {
  const v = SigstoreVerifier.fromFile(PUBLIC_GOOD);
  assert.ok(v.root!.certificateAuthorities.length >= 1 && v.root!.tlogs.length >= 1);
  const b = parseBundle(JSON.stringify(await mock.dsse(imageStatement('x', `sha256:${'ab'.repeat(32)}`), githubClaims('alice/app'))));
  const r = v.verifyBundle(b, undefined, { keys: [], identities: ALL });
  assert.equal(r.state, 'invalid');
  // The same bundle verifies under the mock's root.
  assert.equal(SigstoreVerifier.fromFile(mock.trustedRoot).verifyBundle(b, undefined, { keys: [], identities: ALL }).state, 'signed');
});

test('a trusted root that is missing or not one stops with a reason naming the setting', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-root-'));
  assert.throws(() => loadTrustedRoot(path.join(dir, 'missing.json')), /WHARF_SIGSTORE_TRUSTED_ROOT: cannot read/);
  fs.writeFileSync(path.join(dir, 'empty.json'), '{}');
  assert.throws(() => loadTrustedRoot(path.join(dir, 'empty.json')), /WHARF_SIGSTORE_TRUSTED_ROOT: .* is not a Sigstore trusted root/);
});

test('without a trusted root a keyless bundle is invalid and says why', async () => {
  const b = parseBundle(JSON.stringify(await mock.dsse(imageStatement('x', `sha256:${'ab'.repeat(32)}`), githubClaims('alice/app'))));
  assert.deepEqual(new SigstoreVerifier(null).verifyBundle(b, undefined, { keys: [], identities: ALL }), { state: 'invalid', detail: 'a keyless signature, but no Sigstore trusted root is configured (WHARF_SIGSTORE_TRUSTED_ROOT)' });
});

test('identity patterns match the whole identity, as anchored regular expressions', () => {
  const re = compileIdentity('https://github\\.com/alice/.*');
  assert.ok(re.test('https://github.com/alice/app/.github/workflows/x.yml@refs/heads/main'));
  assert.ok(!re.test('https://github.com/alice'));
  assert.ok(!re.test('evil https://github.com/alice/x'), 'anchored at the start');
  assert.ok(!compileIdentity('alice@example\\.com').test('alice@example.com.evil'), 'anchored at the end');
  assert.ok(!compileIdentity('a|b').test('ab'), 'alternation stays inside the anchors');
});

test('provenance: exactly one subject, this purl and this sha512; a summary from the certificate', () => {
  const statement = (subject: unknown[]) => ({ _type: 'https://in-toto.io/Statement/v1', subject, predicateType: 'https://slsa.dev/provenance/v1', predicate: {} });
  const sha = 'ab'.repeat(64);
  assert.equal(npmPurl('@alice/hello', '1.0.0'), 'pkg:npm/%40alice/hello@1.0.0');
  return (async () => {
    const ok = await mock.dsse(statement([{ name: npmPurl('@alice/hello', '1.0.0'), digest: { sha512: sha } }]), githubClaims('alice/hello'));
    assert.equal(checkProvenance(JSON.stringify(ok), npmPurl('@alice/hello', '1.0.0'), sha).predicateType, 'https://slsa.dev/provenance/v1');
    const two = await mock.dsse(statement([{ name: npmPurl('@alice/hello', '1.0.0'), digest: { sha512: sha } }, { name: 'x', digest: { sha512: sha } }]), githubClaims('alice/hello'));
    assert.throws(() => checkProvenance(JSON.stringify(two), npmPurl('@alice/hello', '1.0.0'), sha), /exactly one subject/);
    const msg = await mock.message(Buffer.from('x'), githubClaims('alice/hello'));
    assert.throws(() => checkProvenance(JSON.stringify(msg), npmPurl('@alice/hello', '1.0.0'), sha), /DSSE envelope/);
    assert.equal(summaryOf({ repository: 'https://github.com/a/b', workflow: 'https://github.com/a/b/.github/workflows/r.yml@refs/tags/v1', commit: 'c0ffee' }, 'id'), 'Built by workflow .github/workflows/r.yml@refs/tags/v1 in repository https://github.com/a/b from commit c0ffee');
  })();
});
