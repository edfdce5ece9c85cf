// Promoting an npm version that carries provenance to another registry: the Sigstore bundle travels with the
// tarball (as `npm publish --provenance` sends it), the target serves that very bundle at npm's attestations
// endpoint, and the promotion checks it there. The target here is a second Wharf, which serves attestations.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { npmTarball, publishBody, putPackage } from '../helpers/npm-body.ts';
import { githubClaims, npmProvenanceStatement, SLSA_V1, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`promotion of npm provenance on ${dialect}`, () => {
    let mock: MockSigstore;
    let source: TestServer;
    let target: TestServer;
    let alice: string;
    let aliceThere: string;

    before(async () => {
      mock = await startMockSigstore();
      const env = { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot, WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' };
      source = await startWharf({ dialect, env });
      target = await startWharf({ dialect, env });
      alice = await source.userWithToken('alice', EVERY_SCOPE);
      aliceThere = await target.userWithToken('alice', EVERY_SCOPE);
    });
    after(async () => {
      await source.stop();
      await target.stop();
      await mock.stop();
    });

    const versionId = async (name: string, version: string) => {
      const r = await fetch(`${source.url}/api/v1/users/alice/packages/npm/${name}/versions`, { headers: { authorization: `Bearer ${alice}` } });
      return ((await r.json()) as { id: number; name: string }[]).find((v) => v.name === version)!.id;
    };
    const promote = (name: string, id: number) =>
      fetch(`${source.url}/api/v1/users/alice/packages/npm/${name}/versions/${id}/promotions`, {
        method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: `${target.url}/npm/`, token: aliceThere }),
      });
    const attestations = async (s: TestServer, token: string, spec: string) => {
      const r = await fetch(`${s.url}/npm/-/npm/v1/attestations/${spec}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: r.status === 200 ? ((await r.json()) as { attestations: { predicateType: string; bundle: unknown }[] }) : null };
    };

    test('the bundle arrives with the tarball; the target serves it where its packument says; the check names it', async () => {
      const tarball = await npmTarball('@alice/built', '1.0.0');
      const subject = { name: 'pkg:npm/%40alice/built@1.0.0', digest: { sha512: createHash('sha512').update(tarball).digest('hex') } };
      const bundle = await mock.dsse(npmProvenanceStatement(subject, 'alice/built'), githubClaims('alice/built'));
      const body = publishBody({ name: '@alice/built', version: '1.0.0', tarball }) as Record<string, any>;
      const data = JSON.stringify(bundle);
      body._attachments['@alice/built-1.0.0.sigstore'] = { content_type: (bundle as { mediaType: string }).mediaType, data, length: data.length };
      assert.equal((await putPackage(source.url, alice, '@alice/built', body)).status, 201);

      const r = await promote('built', await versionId('built', '1.0.0'));
      assert.equal(r.status, 201, await r.clone().text());
      const { checked } = (await r.json()) as { checked: { file: string; digest: string }[] };
      assert.ok(checked.some((c) => c.file === '@alice/built-1.0.0.sigstore (attestations)'), JSON.stringify(checked));

      const there = await attestations(target, aliceThere, '@alice/built@1.0.0');
      assert.equal(there.status, 200);
      assert.equal(there.body!.attestations[0].predicateType, SLSA_V1);
      assert.deepEqual(there.body!.attestations[0].bundle, bundle, 'byte for byte the bundle published to the source');
      const doc = await (await fetch(`${target.url}/npm/@alice%2fbuilt`, { headers: { authorization: `Bearer ${aliceThere}` } })).json();
      assert.equal(doc.versions['1.0.0'].dist.attestations.provenance.predicateType, SLSA_V1);
    });

    test('a version without provenance promotes as before, with no attestations there', async () => {
      const tarball = await npmTarball('@alice/plain', '1.0.0');
      assert.equal((await putPackage(source.url, alice, '@alice/plain', publishBody({ name: '@alice/plain', version: '1.0.0', tarball }))).status, 201);
      const r = await promote('plain', await versionId('plain', '1.0.0'));
      assert.equal(r.status, 201, await r.clone().text());
      const { checked } = (await r.json()) as { checked: { file: string }[] };
      assert.ok(!checked.some((c) => c.file.endsWith('(attestations)')));
      assert.equal((await attestations(target, aliceThere, '@alice/plain@1.0.0')).status, 404);
    });
  });
}
