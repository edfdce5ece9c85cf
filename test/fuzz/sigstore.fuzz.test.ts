// Fuzzing the Sigstore parsers with fast-check (seeded, see property.ts): bundle JSON (mutated real bundles and
// arbitrary JSON) through parseBundle, the statement and digest checks and the verifier, which answer or refuse
// but never crash; npm provenance checks; identity policies (regexp, issuer). Over HTTP: hostile identity
// policies, provenance attachments, attestation paths and bundle artifacts attached to a required-signed image:
// a 4xx (or a success), never a 500.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkProvenance, npmPurl } from '../../src/core/signing/provenance.ts';
import { bundleNamesDigest, checkIssuer, compileIdentity, parseBundle, SigstoreVerifier, statementOf } from '../../src/core/signing/sigstore.ts';
import { npmTarball, publishBody, putPackage } from '../helpers/npm-body.ts';
import { basic, imageManifest, pushImage } from '../helpers/oci.ts';
import { bundleArtifact, githubClaims, GITHUB_ISSUER, imageStatement, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, encodeSegment, mutatedText, params, returnsOrRefusesSync } from './property.ts';

const BITS = ['"dsseEnvelope"', '"messageSignature"', '"verificationMaterial"', '"certificate"', '"publicKey"', '"x509CertificateChain"', '"tlogEntries"', '"rawBytes"', '"payload"', '"signatures"', '"mediaType"', 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle+json;version=0.1', '"subject"', '"sha512"', '"sha256"', 'null', '[]', '{}', '"__proto__"', '"constructor"', 'AAAA', '=='];

describe('Sigstore parsers', () => {
  let mock: MockSigstore;
  let bundleText: string;
  let keylessText: string;
  let verifier: SigstoreVerifier;
  const digest = `sha256:${'ab'.repeat(32)}`;
  before(async () => {
    mock = await startMockSigstore();
    verifier = SigstoreVerifier.fromFile(mock.trustedRoot);
    keylessText = JSON.stringify(await mock.dsse(imageStatement('x/y', digest), githubClaims('alice/app')));
    bundleText = JSON.stringify(await mock.message(Buffer.from('manifest'), githubClaims('alice/app')));
  });
  after(() => mock.stop());

  test('bundle JSON: parsed, checked and verified to a verdict, or a client error; never a crash', async (t) => {
    const trust = { keys: [], identities: [{ id: 1, identity: '.*', issuer: GITHUB_ISSUER, scope: '' }] };
    fc.assert(
      fc.property(fc.oneof(mutatedText(keylessText, BITS), mutatedText(bundleText, BITS), fc.json({ maxDepth: 4 }), fc.string({ maxLength: 50 })), (text) => {
        returnsOrRefusesSync(() => {
          const b = parseBundle(Buffer.from(text));
          statementOf(b);
          bundleNamesDigest(b, digest);
          const v = verifier.verifyBundle(b, Buffer.from('manifest'), trust);
          assert.ok(['signed', 'invalid'].includes(v.state));
          verifier.buildFacts(b);
        });
        returnsOrRefusesSync(() => checkProvenance(text, npmPurl('@alice/x', '1.0.0'), 'ab'.repeat(64)));
      }),
      params(t, 600),
    );
  });

  test('a keyless certificate damaged at every position: build facts are read or left out, never a crash', () => {
    // The certificate's extensions are parsed lazily: a damaged one used to throw a TypeError out of buildFacts (the
    // fuzz test above found it with a mutated bundle; which mutation does it depends on the mock's fresh keys, so
    // this sweeps every position of the certificate's DER instead of waiting for a seed to land on one).
    const bundle = JSON.parse(bundleText);
    const chain = bundle.verificationMaterial.x509CertificateChain ?? { certificates: [bundle.verificationMaterial.certificate] };
    const der = Buffer.from(chain.certificates[0].rawBytes, 'base64');
    let parsed = 0;
    for (let at = 0; at < der.length; at++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const damaged = Buffer.from(der);
        damaged[at] ^= flip;
        const b = structuredClone(bundle);
        const certs = b.verificationMaterial.x509CertificateChain?.certificates ?? [b.verificationMaterial.certificate];
        certs[0].rawBytes = damaged.toString('base64');
        let parsedBundle;
        try {
          parsedBundle = parseBundle(Buffer.from(JSON.stringify(b)));
        } catch {
          continue; // refused as a bundle: fine
        }
        parsed++;
        const facts = verifier.buildFacts(parsedBundle);
        assert.equal(typeof facts, 'object');
      }
    }
    assert.ok(parsed > der.length, `most damaged certificates still parse as bundles (${parsed})`);
  });

  test('identity policies: a compiled pattern and an issuer, or a client error', (t) => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), mutatedText('https://github\\.com/alice/.*', ['(', ')', '[', '\\', '(?<', '{2,}', '*'])), fc.oneof(fc.string({ maxLength: 40 }), mutatedText(GITHUB_ISSUER)), (identity, issuer) => {
        returnsOrRefusesSync(() => compileIdentity(identity).test('https://github.com/alice/x'));
        returnsOrRefusesSync(() => checkIssuer(issuer));
      }),
      params(t, 2000),
    );
  });
});

describe('Sigstore over HTTP with hostile input', { timeout: 600_000 }, () => {
  let s: TestServer;
  let mock: MockSigstore;
  let token: string;
  let auth: string;
  before(async () => {
    mock = await startMockSigstore();
    s = await startWharf({ env: { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot } });
    token = await s.userWithToken('alice');
    auth = basic('alice', token);
    await pushImage(s.url, 'alice/fuzz', '1', imageManifest(), auth);
  });
  after(async () => {
    await s.stop();
    await mock.stop();
  });

  test('identity policies over REST: 201 or a 4xx, never a 500', async (t) => {
    const body = fc.oneof(
      fc.record({ identity: fc.oneof(fc.string({ maxLength: 30 }), mutatedText('https://github\\.com/.*', ['(', '['])), issuer: fc.oneof(fc.string({ maxLength: 30 }), mutatedText(GITHUB_ISSUER)) }),
      fc.json({ maxDepth: 3 }).map((j) => JSON.parse(j)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await fetch(`${s.url}/api/v1/users/alice/packages/container/fuzz/signing/identities`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(b) });
        assertClientStatus(r.status, await r.text(), `POST identities ${JSON.stringify(b).slice(0, 200)}`, true);
      }),
      params(t, 150),
    );
  });

  test('provenance attachments and attestation paths: 201/200 or a 4xx, never a 500', async (t) => {
    const tarball = await npmTarball('@alice/fz', '1.0.0');
    const sha = createHash('sha512').update(tarball).digest('hex');
    const good = JSON.stringify(await mock.dsse({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: npmPurl('@alice/fz', '1.0.0'), digest: { sha512: sha } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }, githubClaims('alice/fz')));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedText(good, BITS), fc.json({ maxDepth: 3 })), fc.string({ maxLength: 30 }), async (data, path) => {
        const version = `1.0.${n++}`;
        const tb = await npmTarball('@alice/fz', version);
        const b = publishBody({ name: '@alice/fz', version, tarball: tb }) as { _attachments: Record<string, unknown> };
        b._attachments[`@alice/fz-${version}.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data, length: data.length };
        const r = await putPackage(s.url, token, '@alice/fz', b);
        assertClientStatus(r.status, await r.text(), 'publish with a hostile provenance attachment', true);
        const g = await fetch(`${s.url}/npm/-/npm/v1/attestations/${encodeSegment(path)}@${encodeSegment(path)}`, { headers: { authorization: `Bearer ${token}` } });
        assertClientStatus(g.status, await g.text(), `GET attestations ${path}`, true);
      }),
      params(t, 100),
    );
  });

  test('hostile bundle artifacts on a required-signed image: pulls answer 403 and the version detail answers, never a 500', async (t) => {
    assert.equal((await s.cli(['signing', 'require', 'alice/fuzzed'])).code, 0);
    const img = await pushImage(s.url, 'alice/fuzzed', '1', imageManifest(), auth);
    const good = JSON.stringify(await mock.dsse(imageStatement('x/alice/fuzzed', img.digest), githubClaims('alice/app')));
    await fc.assert(
      fc.asyncProperty(mutatedText(good, BITS), async (text) => {
        const art = bundleArtifact(JSON.parse('"x"'), img);
        // The layer carries the mutated text as is (JSON or not).
        const layer = { ...art.blobs[1], bytes: Buffer.from(text), size: Buffer.byteLength(text), digest: `sha256:${createHash('sha256').update(text).digest('hex')}` };
        const m = imageManifest({ config: art.blobs[0], layers: [layer], subject: img, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });
        await pushImage(s.url, 'alice/fuzzed', m.digest, m, auth);
        const r = await fetch(`${s.url}/v2/alice/fuzzed/manifests/1`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
        // No identity is trusted for alice/fuzzed: however hostile the bundles, the image never pulls.
        assert.equal(r.status, 403, await r.text());
      }),
      params(t, 60),
    );
    // Every run pushed a version of its own (newest first): page until the image's.
    let v: any;
    for (let page = 1; !v; page++) {
      const list = await (await fetch(`${s.url}/api/v1/users/alice/packages/container/fuzzed/versions?per_page=100&page=${page}`, { headers: { authorization: auth } })).json();
      assert.ok(list.length, `version ${img.digest} is not listed`);
      v = list.find((x: any) => x.name === img.digest);
    }
    const detail = await fetch(`${s.url}/api/v1/users/alice/packages/container/fuzzed/versions/${v.id}`, { headers: { authorization: auth } });
    assert.equal(detail.status, 200);
    assert.equal((await detail.json()).metadata.container.signature.state, 'invalid');
  });
});
