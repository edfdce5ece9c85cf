// "Require signed images" with cosign v3 signatures, end to end: podman builds and pushes two images, one gets a
// keyless Sigstore bundle (made offline against @sigstore/mock) attached through the referrers API as cosign v3
// sends it (an OCI artifact manifest over the distribution API: there is no cosign binary here), the owner trusts
// the signing workflow's identity and requires signatures with the CLI, and podman pulls the signed image while
// the unsigned one is refused with DENIED.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic, pushImage, sha256, type Manifest } from '../helpers/oci.ts';
import { bundleArtifact, githubClaims, GITHUB_ISSUER, imageStatement, startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { fails, Machine, ok } from './helpers-oci.ts';

describe('podman pulls under "require signed images" with Sigstore bundles', { timeout: 600_000 }, () => {
  let s: TestServer;
  let mock: MockSigstore;
  let token: string;
  let host: string;
  const machines: Machine[] = [];
  const tls = '--tls-verify=false';
  const machine = () => {
    const m = new Machine();
    machines.push(m);
    return m;
  };

  before(async () => {
    mock = await startMockSigstore();
    s = await startWharf({ env: { WHARF_SIGSTORE_TRUSTED_ROOT: mock.trustedRoot } });
    host = s.url.replace(/^http:\/\//, '');
    token = await s.userWithToken('alice');
  });
  after(async () => {
    for (const m of machines) m.dispose();
    await s.stop();
    await mock.stop();
  });

  /** podman build (FROM scratch + /hello.txt) and push; the pushed manifest as Wharf stores it. */
  async function buildAndPush(m: Machine, tag: string, hello: string): Promise<Manifest> {
    const ctx = m.mkdir(`ctx-${tag}`);
    fs.writeFileSync(path.join(ctx, 'hello.txt'), hello);
    fs.writeFileSync(path.join(ctx, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    ok(await m.podman(['build', '-t', `${host}/alice/signed:${tag}`, ctx]), 'podman build');
    const digestFile = path.join(m.dir, `digest-${tag}`);
    ok(await m.podman(['push', tls, '--creds', `alice:${token}`, '--digestfile', digestFile, `${host}/alice/signed:${tag}`]), 'podman push');
    const digest = fs.readFileSync(digestFile, 'utf8').trim();
    const r = await fetch(`${s.url}/v2/alice/signed/manifests/${digest}`, { headers: { authorization: basic('alice', token), accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    assert.equal(r.status, 200);
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.equal(sha256(bytes), digest);
    return { bytes, digest, size: bytes.length, mediaType: r.headers.get('content-type')!, json: JSON.parse(bytes.toString()), blobs: [] };
  }

  test('the signed image pulls, the unsigned one and one signed by an untrusted workflow are DENIED', async () => {
    const builder = machine();
    const signed = await buildAndPush(builder, 'good', 'signed\n');
    const unsigned = await buildAndPush(builder, 'plain', 'unsigned\n');
    const other = await buildAndPush(builder, 'other', 'other workflow\n');
    const auth = basic('alice', token);
    for (const [img, repo] of [[signed, 'alice/app'], [other, 'mallory/app']] as const) {
      const art = bundleArtifact(await mock.dsse(imageStatement(`${host}/alice/signed`, img.digest), githubClaims(repo)), img);
      await pushImage(s.url, 'alice/signed', art.digest, art, auth);
    }
    // The referrers API lists the bundle as cosign finds it.
    const refs = await (await fetch(`${s.url}/v2/alice/signed/referrers/${signed.digest}?artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson`, { headers: { authorization: auth } })).json();
    assert.equal(refs.manifests.length, 1);

    const trust = await s.cli(['signing', 'identity', 'alice/signed', '--identity', 'https://github\\.com/alice/app/\\.github/workflows/release\\.yml@refs/heads/main', '--issuer', GITHUB_ISSUER]);
    assert.equal(trust.code, 0, trust.stderr);
    assert.equal((await s.cli(['signing', 'require', 'alice/signed'])).code, 0);

    const puller = machine();
    ok(await puller.podman(['pull', tls, '--creds', `alice:${token}`, `${host}/alice/signed:good`]), 'podman pull of the signed image');
    const plain = fails(await puller.podman(['pull', tls, '--creds', `alice:${token}`, `${host}/alice/signed:plain`]), 'podman pull of the unsigned image');
    assert.match(plain.output, /denied|not signed by a trusted key or identity/i);
    const wrong = fails(await puller.podman(['pull', tls, '--creds', `alice:${token}`, `${host}/alice/signed:other`]), 'podman pull of an image signed by another workflow');
    assert.match(wrong.output, /denied/i);
    assert.ok(unsigned.digest !== signed.digest);

    // Turning the requirement off lets the unsigned image through again.
    assert.equal((await s.cli(['signing', 'require', 'alice/signed', '--off'])).code, 0);
    ok(await puller.podman(['pull', tls, '--creds', `alice:${token}`, `${host}/alice/signed:plain`]), 'podman pull with the requirement off');
  });
});
