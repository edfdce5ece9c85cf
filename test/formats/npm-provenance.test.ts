// npm provenance: the publish body `npm publish --provenance` sends (libnpmpublish: the Sigstore bundle as JSON text
// in `_attachments["NAME-VERSION.sigstore"]`), with a bundle made offline against @sigstore/mock for the statement
// npm builds in GitHub Actions. Wharf stores it when its subject is this tarball, serves it where
// `dist.attestations.url` points (checked as pacote checks it, then verified against the mock's trusted root) and
// shows who built the version.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { dialects } from '../helpers/databases.ts';
import { npmTarball, publishBody, putPackage } from '../helpers/npm-body.ts';
import { githubClaims, npmProvenanceStatement, SLSA_V1, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const purl = (name: string, version: string) => `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;
const sha512Hex = (b: Buffer) => createHash('sha512').update(b).digest('hex');

/** A publish body with provenance, exactly as libnpmpublish's buildMetadata adds it. */
function withProvenance(body: Record<string, any>, name: string, version: string, bundle: unknown): Record<string, any> {
  const data = JSON.stringify(bundle);
  body._attachments[`${name}-${version}.sigstore`] = { content_type: (bundle as { mediaType: string }).mediaType, data, length: data.length };
  return body;
}

for (const dialect of dialects()) {
  describe(`npm provenance on ${dialect}`, () => {
    let s: TestServer;
    let mock: MockSigstore;
    let token: string;

    before(async () => {
      mock = await startMockSigstore();
      s = await startWharf({ dialect, env: { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot } });
      token = await s.userWithToken('alice');
    });
    after(async () => {
      await s.stop();
      await mock.stop();
    });

    async function provenanceFor(name: string, version: string, tarball: Buffer, o: { subject?: { name: string; digest: { sha512: string } }; untrusted?: boolean } = {}) {
      const subject = o.subject ?? { name: purl(name, version), digest: { sha512: sha512Hex(tarball) } };
      return mock.dsse(npmProvenanceStatement(subject, 'alice/hello'), githubClaims('alice/hello'), { untrusted: o.untrusted });
    }

    test('publish with provenance → dist.attestations in both packuments → the attestations endpoint → verifiable as npm checks it', async () => {
      const tarball = await npmTarball('@alice/hello', '1.0.0');
      const bundle = await provenanceFor('@alice/hello', '1.0.0', tarball);
      const r = await putPackage(s.url, token, '@alice/hello', withProvenance(publishBody({ name: '@alice/hello', version: '1.0.0', tarball }), '@alice/hello', '1.0.0', bundle));
      assert.equal(r.status, 201, await r.text());

      const url = `${s.url}/npm/-/npm/v1/attestations/@alice/hello@1.0.0`;
      for (const accept of ['application/json', 'application/vnd.npm.install-v1+json']) {
        const doc = await (await fetch(`${s.url}/npm/@alice%2fhello`, { headers: { authorization: `Bearer ${token}`, accept } })).json();
        assert.deepEqual(doc.versions['1.0.0'].dist.attestations, { url, provenance: { predicateType: SLSA_V1 } }, accept);
      }
      // pacote: the pathname of dist.attestations.url, resolved against the registry.
      const res = await fetch(new URL(new URL(url).pathname, `${s.url}/npm/`), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const { attestations } = await res.json();
      assert.equal(attestations.length, 1);
      assert.equal(attestations[0].predicateType, SLSA_V1);
      const served = attestations[0].bundle as { dsseEnvelope: { payload: string; signatures: { keyid?: string }[] } };
      assert.deepEqual(served, bundle);
      // What pacote checks before sigstore.verify: subject name = purl, subject sha512 = the integrity's hex digest.
      const statement = JSON.parse(Buffer.from(served.dsseEnvelope.payload, 'base64').toString());
      assert.equal(statement.subject[0].name, 'pkg:npm/%40alice/hello@1.0.0');
      assert.equal(statement.subject[0].digest.sha512, sha512Hex(tarball));
      assert.ok(!served.dsseEnvelope.signatures[0].keyid, 'keyless: no keyid, so no registry key is needed');
      // sigstore.verify, against the trusted root npm would take from its TUF cache (here: the mock's).
      const root = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(mock.trustedRoot, 'utf8'))));
      const signer = new Verifier(root).verify(toSignedEntity(bundleFromJSON(served as object)));
      assert.equal(signer.identity?.subjectAlternativeName, 'https://github.com/alice/hello/.github/workflows/release.yml@refs/heads/main');
      // Scoped name with %2f, unknown version, unknown package.
      assert.equal((await fetch(`${s.url}/npm/-/npm/v1/attestations/@alice%2fhello@1.0.0`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await fetch(`${s.url}/npm/-/npm/v1/attestations/@alice/hello@9.9.9`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
      assert.equal((await fetch(`${s.url}/npm/-/npm/v1/attestations/@alice/nothing@1.0.0`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
      assert.equal((await fetch(`${s.url}/npm/-/npm/v1/attestations/%E0%A4%A@1`, { headers: { authorization: `Bearer ${token}` } })).status, 400, "a malformed escape");
    });

    test('the version shows who built it, verified against the trusted root (REST and web page)', async () => {
      const list = await (await fetch(`${s.url}/api/v1/users/alice/packages/npm/hello/versions`, { headers: { authorization: `Bearer ${token}` } })).json();
      const v = list.find((x: any) => x.name === '1.0.0');
      const detail = await (await fetch(`${s.url}/api/v1/users/alice/packages/npm/hello/versions/${v.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
      const p = detail.metadata.provenance;
      assert.equal(p.state, 'verified');
      assert.equal(p.summary, `Built by workflow .github/workflows/release.yml@refs/heads/main in repository https://github.com/alice/hello from commit ${'a'.repeat(40)}`);
      assert.equal(p.issuer, 'https://token.actions.githubusercontent.com');
      assert.equal(p.run, 'https://github.com/alice/hello/actions/runs/42/attempts/1');
      // The web page, read anonymously once the package is public.
      const patch = await fetch(`${s.url}/api/v1/users/alice/packages/npm/hello`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ visibility: 'public' }) });
      assert.equal(patch.status, 200);
      const page = await (await fetch(`${s.url}/alice/-/packages/npm/hello/1.0.0`)).text();
      assert.ok(page.includes('Built by workflow .github/workflows/release.yml@refs/heads/main in repository https://github.com/alice/hello'), 'the version page says who built it');
    });

    test('provenance signed by a CA outside the trusted root is stored but shown as failing', async () => {
      const tarball = await npmTarball('@alice/outside', '1.0.0');
      const bundle = await provenanceFor('@alice/outside', '1.0.0', tarball, { untrusted: true });
      assert.equal((await putPackage(s.url, token, '@alice/outside', withProvenance(publishBody({ name: '@alice/outside', version: '1.0.0', tarball }), '@alice/outside', '1.0.0', bundle))).status, 201);
      const list = await (await fetch(`${s.url}/api/v1/users/alice/packages/npm/outside/versions`, { headers: { authorization: `Bearer ${token}` } })).json();
      const detail = await (await fetch(`${s.url}/api/v1/users/alice/packages/npm/outside/versions/${list[0].id}`, { headers: { authorization: `Bearer ${token}` } })).json();
      assert.equal(detail.metadata.provenance.state, 'invalid');
      assert.match(detail.metadata.provenance.detail, /^CERTIFICATE_ERROR/);
    });

    test('refused with 400 and nothing written: another tarball\'s digest, another package, two subjects, not a bundle, data not text', async () => {
      const tarball = await npmTarball('@alice/bad', '1.0.0');
      const other = await npmTarball('@alice/bad', '1.0.1');
      const body = () => publishBody({ name: '@alice/bad', version: '1.0.0', tarball });
      const cases: [string, Record<string, any>, RegExp][] = [
        ['digest', withProvenance(body(), '@alice/bad', '1.0.0', await provenanceFor('@alice/bad', '1.0.0', other)), /not this tarball's sha512/],
        ['name', withProvenance(body(), '@alice/bad', '1.0.0', await provenanceFor('@alice/bad', '1.0.0', tarball, { subject: { name: purl('@alice/hello', '1.0.0'), digest: { sha512: sha512Hex(tarball) } } })), /is not this package/],
        ['not a bundle', withProvenance(body(), '@alice/bad', '1.0.0', { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', hello: 1 }), /not a valid Sigstore bundle/],
      ];
      const two = body() as { _attachments: Record<string, unknown> };
      two._attachments['@alice/bad-1.0.0.sigstore'] = { content_type: 'x', data: { not: 'text' } };
      cases.push(['data not text', two, /JSON text/]);
      for (const [what, b, message] of cases) {
        const r = await putPackage(s.url, token, '@alice/bad', b);
        assert.equal(r.status, 400, what);
        assert.match((await r.json()).error, message, what);
      }
      assert.equal((await fetch(`${s.url}/npm/@alice%2fbad`, { headers: { authorization: `Bearer ${token}` } })).status, 404, 'nothing was written');
    });
  });
}
