// Cosign-compatible signatures: keys from `wharf signing keygen`, signatures found by tag scheme and referrers,
// verified by Wharf against trusted keys; "require signed images" refuses unsigned pulls.
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decryptCosignKey } from '../../src/core/signing/cosign-keys.ts';
import { dialects } from '../helpers/databases.ts';
import { basic, blob, emptyConfig, imageManifest, multiPlatform, pushImage, pushIndex, type Manifest } from '../helpers/oci.ts';
import { startWharf, tempDir, type TestServer } from '../helpers/wharf.ts';

const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** What cosign pushes for a signature: the simple-signing payload as a layer, its signature in an annotation. */
function cosignSignature(key: ReturnType<typeof decryptCosignKey>, reference: string, digest: string, opts: { tamper?: boolean; subject?: Manifest } = {}) {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
  let sig = sign('sha256', payload, key);
  if (opts.tamper) sig = Buffer.from(sig.map((b, i) => (i === 10 ? b ^ 1 : b)));
  const layer = blob(payload, SIMPLE_SIGNING);
  const m = imageManifest({
    config: emptyConfig(), layers: [layer], subject: opts.subject,
    ...(opts.subject ? { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' } : {}),
  });
  // cosign puts the signature on the layer descriptor.
  const doc = m.json as { layers: Record<string, unknown>[] };
  doc.layers[0].annotations = { 'dev.cosignproject.cosign/signature': sig.toString('base64') };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...m, bytes, size: bytes.length, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` } as Manifest;
}

for (const dialect of dialects()) {
  describe(`container signatures on ${dialect}`, () => {
    let s: TestServer;
    let auth: string;
    let key: ReturnType<typeof decryptCosignKey>;
    let otherKey: ReturnType<typeof decryptCosignKey>;
    let pub: string;
    const dir = tempDir('wharf-keys-');

    const state = async (name: string, digest: string) => {
      const list = await (await fetch(`${s.url}/api/v1/users/alice/packages/container/${encodeURIComponent(name)}/versions`, { headers: { authorization: auth } })).json();
      const v = list.find((x: any) => x.name === digest);
      const detail = await (await fetch(`${s.url}/api/v1/users/alice/packages/container/${encodeURIComponent(name)}/versions/${v.id}`, { headers: { authorization: auth } })).json();
      return detail.metadata.container.signature;
    };
    const pull = (name: string, ref: string) => fetch(`${s.url}/v2/alice/${name}/manifests/${ref}`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' } });

    before(async () => {
      s = await startWharf({ dialect });
      auth = basic('alice', await s.userWithToken('alice'));
      // Keys in cosign's format, made by the CLI as a user would.
      const r = await s.cli(['signing', 'keygen', '--output-prefix', path.join(dir, 'cosign')]);
      assert.equal(r.code, 2, 'no COSIGN_PASSWORD: refused');
      const ok = await new Promise<{ code: number }>((resolve) => {
        process.env.COSIGN_PASSWORD = 'correct horse';
        s.cli(['signing', 'keygen', '--output-prefix', path.join(dir, 'cosign')]).then(resolve);
      });
      delete process.env.COSIGN_PASSWORD;
      assert.equal(ok.code, 0);
      key = decryptCosignKey(fs.readFileSync(path.join(dir, 'cosign.key'), 'utf8'), 'correct horse');
      assert.throws(() => decryptCosignKey(fs.readFileSync(path.join(dir, 'cosign.key'), 'utf8'), 'wrong'), /wrong password/);
      pub = path.join(dir, 'cosign.pub');
      otherKey = decryptCosignKey((await import('../../src/core/signing/cosign-keys.ts')).generateCosignKeyPair('x').privatePem, 'x');
    });
    after(() => s.stop());

    test('unsigned → signature without a trusted key is invalid → trusted: signed by the key', async () => {
      const img = await pushImage(s.url, 'alice/app', '1', imageManifest(), auth);
      assert.equal((await state('app', img.digest)).state, 'unsigned');
      const sig = cosignSignature(key, '127.0.0.1:5000/alice/app', img.digest);
      await pushImage(s.url, 'alice/app', `${img.digest.replace(':', '-')}.sig`, sig, auth);
      assert.deepEqual(await state('app', img.digest), { state: 'invalid', detail: 'no trusted key for this image: register one with `wharf signing trust`' });
      const t = await s.cli(['signing', 'trust', 'alice', '--key', pub]);
      assert.equal(t.code, 0, t.stderr);
      const st = await state('app', img.digest);
      assert.equal(st.state, 'signed');
      assert.match(st.key, /^SHA256:/);
      assert.ok(t.stdout.includes(st.key));
    });

    test('a tampered signature, a signature for another digest and one by an untrusted key are invalid', async () => {
      const a = await pushImage(s.url, 'alice/tampered', '1', imageManifest(), auth);
      await pushImage(s.url, 'alice/tampered', `${a.digest.replace(':', '-')}.sig`, cosignSignature(key, 'wharf.example/alice/tampered', a.digest, { tamper: true }), auth);
      assert.deepEqual(await state('tampered', a.digest), { state: 'invalid', detail: 'signature does not match any trusted key' });
      const b = await pushImage(s.url, 'alice/other', '1', imageManifest(), auth);
      const c = await pushImage(s.url, 'alice/other', '2', imageManifest(), auth);
      await pushImage(s.url, 'alice/other', `${b.digest.replace(':', '-')}.sig`, cosignSignature(key, 'wharf.example/alice/other', c.digest), auth);
      assert.deepEqual(await state('other', b.digest), { state: 'invalid', detail: 'the signature is for another digest' });
      const d = await pushImage(s.url, 'alice/untrusted', '1', imageManifest(), auth);
      await pushImage(s.url, 'alice/untrusted', `${d.digest.replace(':', '-')}.sig`, cosignSignature(otherKey, 'wharf.example/alice/untrusted', d.digest), auth);
      assert.equal((await state('untrusted', d.digest)).state, 'invalid');
    });

    test('signatures attached through the referrers API (subject) are found too', async () => {
      const img = await pushImage(s.url, 'alice/referred', '1', imageManifest(), auth);
      const sig = cosignSignature(key, 'localhost/alice/referred:1', img.digest, { subject: img });
      await pushImage(s.url, 'alice/referred', sig.digest, sig, auth);
      assert.equal((await state('referred', img.digest)).state, 'signed');
    });

    test('require signed images: unsigned pulls are DENIED, signed ones (and a signed index\'s children) pass; pushes are not blocked', async () => {
      const signed = await pushImage(s.url, 'alice/policy', 'signed', imageManifest(), auth);
      await pushImage(s.url, 'alice/policy', `${signed.digest.replace(':', '-')}.sig`, cosignSignature(key, 'wharf.example/alice/policy', signed.digest), auth);
      const multi = multiPlatform();
      await pushIndex(s.url, 'alice/policy', 'multi', multi, auth);
      await pushImage(s.url, 'alice/policy', `${multi.index.digest.replace(':', '-')}.sig`, cosignSignature(key, 'wharf.example/alice/policy', multi.index.digest), auth);
      assert.equal((await s.cli(['signing', 'require', 'alice/policy'])).code, 0);
      const unsigned = await pushImage(s.url, 'alice/policy', 'unsigned', imageManifest(), auth);
      const denied = await pull('policy', 'unsigned');
      assert.equal(denied.status, 403);
      const body = await denied.json();
      assert.equal(body.errors[0].code, 'DENIED');
      assert.match(body.errors[0].message, /not signed by a trusted key/);
      assert.equal((await pull('policy', unsigned.digest)).status, 403);
      assert.equal((await pull('policy', 'signed')).status, 200);
      assert.equal((await pull('policy', 'multi')).status, 200);
      assert.equal((await pull('policy', multi.amd64.digest)).status, 200, 'a child of a signed index');
      assert.equal((await pull('policy', `${signed.digest.replace(':', '-')}.sig`)).status, 200, 'signatures stay pullable');
      assert.equal((await pull('app', '1')).status, 200, 'the policy is per image here');
      assert.equal((await s.cli(['signing', 'require', 'alice/policy', '--off'])).code, 0);
      assert.equal((await pull('policy', 'unsigned')).status, 200);
    });
  });
}
