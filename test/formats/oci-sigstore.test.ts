// Cosign v3 signatures: Sigstore bundles attached to an image through the referrers API (an artifact manifest of
// type application/vnd.dev.sigstore.bundle.v0.3+json whose subject is the image), made offline with
// @sigstore/sign against @sigstore/mock's Fulcio, Rekor and TSA, verified by Wharf against a trusted root built
// from the mock's keys and the identity policies set with the CLI and the REST API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decryptCosignKey, generateCosignKeyPair } from '../../src/core/signing/cosign-keys.ts';
import { dialects } from '../helpers/databases.ts';
import { basic, imageManifest, pushImage } from '../helpers/oci.ts';
import { bundleArtifact, githubClaims, GITHUB_ISSUER, imageStatement, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

for (const dialect of dialects()) {
  describe(`Sigstore bundles for images on ${dialect}`, () => {
    let s: TestServer;
    let mock: MockSigstore;
    let auth: string;
    let token: string;
    let bobAuth: string;
    const api = (p: string, init: RequestInit = {}, a = auth) => fetch(`${s.url}/api/v1${p}`, { ...init, headers: { authorization: a, 'content-type': 'application/json', ...(init.headers ?? {}) } });

    const state = async (name: string, digest: string) => {
      const list = await (await api(`/users/alice/packages/container/${encodeURIComponent(name)}/versions`)).json();
      const v = list.find((x: any) => x.name === digest);
      const detail = await (await api(`/users/alice/packages/container/${encodeURIComponent(name)}/versions/${v.id}`)).json();
      return detail.metadata.container.signature;
    };
    const pull = (name: string, ref: string) => fetch(`${s.url}/v2/alice/${name}/manifests/${ref}`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    /** An image and a keyless bundle for it, attached through referrers. */
    async function signedImage(name: string, claims = githubClaims('alice/app'), opts: { untrusted?: boolean } = {}) {
      const img = await pushImage(s.url, `alice/${name}`, '1', imageManifest(), auth);
      const bundle = await mock.dsse(imageStatement(`127.0.0.1/alice/${name}`, img.digest), claims, opts);
      const art = bundleArtifact(bundle, img);
      await pushImage(s.url, `alice/${name}`, art.digest, art, auth);
      return { img, bundle, art };
    }

    before(async () => {
      mock = await startMockSigstore();
      s = await startWharf({ dialect, env: { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot } });
      token = await s.userWithToken('alice');
      auth = basic('alice', token);
      bobAuth = basic('bob', await s.userWithToken('bob'));
    });
    after(async () => {
      await s.stop();
      await mock.stop();
    });

    test('a keyless bundle: no identity trusted → invalid; identity trusted with the CLI → signed by that identity, issuer and time', async () => {
      const { img } = await signedImage('app');
      const before = await state('app', img.digest);
      assert.equal(before.state, 'invalid');
      assert.match(before.detail, /signed by https:\/\/github\.com\/alice\/app\/\.github\/workflows\/release\.yml@refs\/heads\/main from https:\/\/token\.actions\.githubusercontent\.com, but no identity is trusted here/);
      const r = await s.cli(['signing', 'identity', 'alice', '--identity', 'https://github\\.com/alice/.*', '--issuer', GITHUB_ISSUER]);
      assert.equal(r.code, 0, r.stderr);
      const st = await state('app', img.digest);
      assert.equal(st.state, 'signed');
      assert.equal(st.kind, 'keyless');
      assert.equal(st.identity, 'https://github.com/alice/app/.github/workflows/release.yml@refs/heads/main');
      assert.equal(st.issuer, GITHUB_ISSUER);
      assert.ok(Math.abs(Date.parse(st.time) - Date.now()) < 120_000, st.time);
      const list = await s.cli(['signing', 'list', 'alice']);
      assert.match(list.stdout, /identity\s+\d+\s+https:\/\/github\\\.com\/alice\/\.\* from https:\/\/token\.actions\.githubusercontent\.com/);
    });

    test('refused: another identity, another issuer, a tampered payload, a certificate outside the trusted root, a bundle for another image', async () => {
      const other = await signedImage('other-id', githubClaims('mallory/app'));
      assert.match((await state('other-id', other.img.digest)).detail, /signed by https:\/\/github\.com\/mallory\/app\/.* which no identity policy here allows/);

      const issuer = await signedImage('other-iss', { ...githubClaims('alice/app'), iss: 'https://gitlab.example' });
      assert.match((await state('other-iss', issuer.img.digest)).detail, /from https:\/\/gitlab\.example, which no identity policy here allows/);

      const untrusted = await signedImage('outside', githubClaims('alice/app'), { untrusted: true });
      assert.match((await state('outside', untrusted.img.digest)).detail, /^CERTIFICATE_ERROR/);

      // The payload changed after signing (another predicate, same subject): the signature no longer verifies.
      const img = await pushImage(s.url, 'alice/tampered', '1', imageManifest(), auth);
      const bundle = (await mock.dsse(imageStatement('127.0.0.1/alice/tampered', img.digest), githubClaims('alice/app'))) as any;
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
      statement.predicate = { evil: true };
      bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      const art = bundleArtifact(bundle, img);
      await pushImage(s.url, 'alice/tampered', art.digest, art, auth);
      const t = await state('tampered', img.digest);
      assert.equal(t.state, 'invalid');
      assert.match(t.detail, /SIGNATURE_ERROR|TLOG_BODY_ERROR/);

      // A valid bundle for image A attached to image B.
      const b = await pushImage(s.url, 'alice/app', '2', imageManifest(), auth);
      const a = await signedImage('swap');
      const moved = bundleArtifact(a.bundle, b);
      await pushImage(s.url, 'alice/app', moved.digest, moved, auth);
      assert.equal((await state('app', b.digest)).detail, 'the Sigstore bundle is for another digest');
    });

    test('a message-signature bundle over the manifest bytes, and a key-based bundle with a key trusted over REST', async () => {
      const img = await pushImage(s.url, 'alice/msg', '1', imageManifest(), auth);
      const msg = bundleArtifact(await mock.message(img.bytes, githubClaims('alice/app')), img);
      await pushImage(s.url, 'alice/msg', msg.digest, msg, auth);
      assert.equal((await state('msg', img.digest)).state, 'signed');

      const pair = generateCosignKeyPair('pw');
      const key = decryptCosignKey(pair.privatePem, 'pw');
      const k = await pushImage(s.url, 'alice/keyed', '1', imageManifest(), auth);
      const art = bundleArtifact(await mock.dsseWithKey(imageStatement('127.0.0.1/alice/keyed', k.digest), key, pair.publicPem), k);
      await pushImage(s.url, 'alice/keyed', art.digest, art, auth);
      assert.match((await state('keyed', k.digest)).detail, /no trusted key/);
      const added = await api('/users/alice/packages/container/keyed/signing/keys', { method: 'POST', body: JSON.stringify({ key: pair.publicPem }) });
      assert.equal(added.status, 201);
      const st = await state('keyed', k.digest);
      assert.deepEqual({ state: st.state, kind: st.kind, format: st.format }, { state: 'signed', kind: 'key', format: 'bundle' });
      assert.equal(st.key, (await added.json()).fingerprint);
    });

    test('REST: identities per image; bob may neither read nor change alice\'s trust; bad input is a 400', async () => {
      await pushImage(s.url, 'alice/rest-img', '1', imageManifest(), auth);
      const base = '/users/alice/packages/container/rest-img/signing';
      const add = await api(`${base}/identities`, { method: 'POST', body: JSON.stringify({ identity: 'https://github\\.com/alice/rest-img/.*', issuer: GITHUB_ISSUER }) });
      assert.equal(add.status, 201);
      const { id } = await add.json();
      assert.equal((await api(`${base}/identities`, { method: 'POST', body: JSON.stringify({ identity: 'https://github\\.com/alice/rest-img/.*', issuer: GITHUB_ISSUER }) })).status, 409);
      const view = await (await api(base)).json();
      assert.deepEqual(view.identities.map((i: any) => i.identity), ['https://github\\.com/alice/rest-img/.*']);
      assert.equal(view.required, false);
      assert.equal((await api(base, {}, bobAuth)).status, 404);
      assert.equal((await api(`${base}/identities`, { method: 'POST', body: JSON.stringify({ identity: '.*', issuer: GITHUB_ISSUER }) }, bobAuth)).status, 404);
      assert.equal((await api(`${base}/identities/${id}`, { method: 'DELETE' }, bobAuth)).status, 404);
      assert.equal((await api('/users/alice/signing', {}, bobAuth)).status, 404);
      for (const body of [{ identity: '(', issuer: GITHUB_ISSUER }, { identity: 'x', issuer: 'not a url' }, { identity: 'x' }, [], { identity: 7, issuer: GITHUB_ISSUER }]) {
        const r = await api(`${base}/identities`, { method: 'POST', body: JSON.stringify(body) });
        assert.equal(r.status, 400, JSON.stringify(body));
      }
      assert.equal((await api(`${base}/required`, { method: 'PUT', body: JSON.stringify({ required: 'yes' }) })).status, 400);
      assert.equal((await api('/users/alice/packages/npm/x/signing')).status, 404, 'npm packages have no image signing trust');
      assert.equal((await api(`${base}/identities/${id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await api(`${base}/identities/${id}`, { method: 'DELETE' })).status, 404);
    });

    test('require signed images: a keyless-signed image pulls, an unsigned one or one signed by another identity is DENIED', async () => {
      const good = await signedImage('policy');
      assert.equal((await api('/users/alice/packages/container/policy/signing/required', { method: 'PUT', body: JSON.stringify({ required: true }) })).status, 200);
      assert.equal((await pull('policy', '1')).status, 200);
      assert.equal((await pull('policy', good.art.digest)).status, 200, 'the bundle artifact itself stays pullable');
      const unsigned = await pushImage(s.url, 'alice/policy', '2', imageManifest(), auth);
      assert.equal((await pull('policy', unsigned.digest)).status, 403);
      const img = await pushImage(s.url, 'alice/policy', '3', imageManifest(), auth);
      const art = bundleArtifact(await mock.dsse(imageStatement('127.0.0.1/alice/policy', img.digest), githubClaims('mallory/app')), img);
      await pushImage(s.url, 'alice/policy', art.digest, art, auth);
      const denied = await pull('policy', '3');
      assert.equal(denied.status, 403);
      const body = await denied.json();
      assert.equal(body.errors[0].code, 'DENIED');
      assert.match(body.errors[0].message, /mallory.*which no identity policy here allows/);
    });
  });
}
