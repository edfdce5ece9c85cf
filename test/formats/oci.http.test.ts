// The OCI Distribution Specification v1.1 over HTTP: one test per rule of its pull, push, content-discovery and
// content-management workflows (exact statuses, headers and error codes), Docker token authentication, Wharf's
// permission rules, and hostile inputs — each a spec error that writes nothing and leaks nothing.
// Rules are quoted from spec.md (v1.1.1) where a test checks one.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { ALL_SCOPES, type Actor } from '../../src/core/auth/actor.ts';
import { collectGarbage } from '../../src/core/blobs/gc.ts';
import { openCore } from '../../src/core/core.ts';
import { dialects } from '../helpers/databases.ts';
import {
  MEDIA,
  artifactManifest,
  basic,
  bearer,
  blob,
  configBlob,
  dockerManifest,
  emptyConfig,
  imageIndex,
  imageManifest,
  jwtPayload,
  multiPlatform,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  registryToken,
  resolveLocation,
  sha256,
  type Content,
  type Manifest,
} from '../helpers/oci.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const OCI_ACCEPT = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(', ');

/** A raw HTTP/1.1 exchange on a socket: for paths fetch would normalize (`..`) and bodies cut short. */
function rawRequest(port: number, head: string, body?: Buffer, opts: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 3000);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', finish);
    sock.write(head.replace(/\n/g, '\r\n') + '\r\n');
    if (body) sock.write(body);
    if (opts.halfClose) sock.end();
  });
}

/** "The `code` field MUST be one of the following" (spec, Error Codes), plus the legacy Docker codes it allows. */
const SPEC_CODES = new Set([
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
  'TAG_INVALID', 'MANIFEST_UNVERIFIED',
]);

/** The spec's error body: `{"errors":[{"code","message","detail"?}]}` with the spec's codes; returns the codes. */
async function errorCodes(r: Response): Promise<string[]> {
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON (${r.status}): ${text.slice(0, 200)}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `no errors array: ${text.slice(0, 200)}`);
  for (const e of body.errors) {
    assert.match(e.code, /^[A-Z_]+$/, 'code: only uppercase letters and underscores');
    if (r.status < 500) assert.ok(SPEC_CODES.has(e.code), `${e.code} is not one of the spec's error codes`);
    if (e.message !== undefined) assert.equal(typeof e.message, 'string');
  }
  return body.errors.map((e: { code: string }) => e.code);
}

/** Asserts status and (for anything but HEAD) that the first error code is one of `codes`. */
async function expectError(r: Response, status: number | number[], codes: string | string[], what = '') {
  const statuses = ([] as number[]).concat(status);
  const text = await r.clone().text();
  assert.ok(statuses.includes(r.status), `${what} expected ${statuses.join('/')} ${([] as string[]).concat(codes).join('/')}, got ${r.status} ${text.slice(0, 300)}`);
  if (!text) return; // HEAD: no body
  const got = await errorCodes(r);
  assert.ok(([] as string[]).concat(codes).includes(got[0]), `${what} expected code ${([] as string[]).concat(codes).join(' or ')}, got ${got.join(',')} (${r.status})`);
}

async function expectStatus(r: Response, status: number | number[], what = '') {
  const statuses = ([] as number[]).concat(status);
  if (!statuses.includes(r.status)) assert.fail(`${what} expected ${statuses.join('/')}, got ${r.status} ${(await r.text()).slice(0, 300)}`);
}

let counter = 0;

for (const dialect of dialects()) {
  describe(`OCI distribution over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let A: string; // alice, Basic with a read/write/delete token
    let B: string; // bob
    let aliceReadOnly: string;
    let aliceNoDelete: string;
    let aliceToken: string;
    let host: string;
    /** alice/app:v1 — private. */
    let img: Manifest;
    /** alice/pub:latest — public through its source label. */
    let pubImg: Manifest;
    /** bob/secret:v1 — bob's private image. */
    let bobImg: Manifest;
    /** bob/open:v1 — bob's public image. */
    let bobPub: Manifest;

    /** A repository name of alice's not used by any other test. */
    const fresh = (owner = 'alice') => `${owner}/t${++counter}-${dialect}`;

    const call = (method: string, path: string, o: { auth?: string; headers?: Record<string, string>; body?: Buffer | string } = {}) =>
      fetch(path.startsWith('http') ? path : `${s.url}${path}`, {
        method,
        headers: { ...(o.auth ? { authorization: o.auth } : {}), ...o.headers },
        body: Buffer.isBuffer(o.body) ? new Uint8Array(o.body) : o.body,
        redirect: 'manual',
      });
    const startUpload = async (name: string, auth = A) => {
      const r = await call('POST', `/v2/${name}/blobs/uploads/`, { auth, headers: { 'content-length': '0' } });
      await expectStatus(r, 202, `POST ${name}/blobs/uploads/`);
      await r.arrayBuffer();
      return r.headers.get('location')!;
    };
    const patch = (loc: string, bytes: Buffer, range?: string, auth = A) =>
      call('PATCH', resolveLocation(s.url, loc), {
        auth,
        headers: { 'content-type': 'application/octet-stream', ...(range ? { 'content-range': range } : {}) },
        body: bytes,
      });
    const headBlob = (name: string, digest: string, auth: string | null = A) => call('HEAD', `/v2/${name}/blobs/${digest}`, { auth: auth ?? undefined });
    /** GET a manifest; `auth` null for anonymous. */
    const getManifest = (name: string, ref: string, auth: string | null = A, accept = OCI_ACCEPT) => call('GET', `/v2/${name}/manifests/${ref}`, { auth: auth ?? undefined, headers: { accept } });
    const challengeFor = (scope?: string) => `Bearer realm="${s.url}/v2/token",service="${host}"${scope ? `,scope="${scope}"` : ''}`;

    before(async () => {
      s = await startWharf({ dialect });
      host = new URL(s.url).host;
      aliceToken = await s.userWithToken('alice');
      A = basic('alice', aliceToken);
      B = basic('bob', await s.userWithToken('bob'));
      aliceReadOnly = basic('alice', (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages' })).token);
      aliceNoDelete = basic('alice', (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages,write:packages' })).token);
      await s.core.identity.createRepo(systemActor, 'alice', 'pubrepo', 'public');
      await s.core.identity.createRepo(systemActor, 'bob', 'openrepo', 'public');
      img = await pushImage(s.url, 'alice/app', 'v1', imageManifest({ layers: [blob(2048), blob(100)] }), A);
      pubImg = await pushImage(s.url, 'alice/pub', 'latest', imageManifest({ config: configBlob({ labels: { 'org.opencontainers.image.source': 'https://github.com/alice/pubrepo' } }) }), A);
      bobImg = await pushImage(s.url, 'bob/secret', 'v1', imageManifest(), B);
      bobPub = await pushImage(s.url, 'bob/open', 'v1', imageManifest({ config: configBlob({ labels: { 'org.opencontainers.image.source': 'https://github.com/bob/openrepo' } }) }), B);
    });
    after(() => s.stop());

    test('fixtures: an image is private until linked to a public repository (anonymous GET of alice/pub works, of alice/app does not)', async () => {
      await expectStatus(await getManifest('alice/pub', 'latest', null), 200, 'anonymous GET public manifest');
      await expectStatus(await getManifest('alice/app', 'v1', null), 401, 'anonymous GET private manifest');
    });

    // ---- determining support ------------------------------------------------------------------------------

    describe('GET /v2/', () => {
      test('with credentials → 200 and Docker-Distribution-API-Version: registry/2.0', async () => {
        const r = await call('GET', '/v2/', { auth: A });
        await expectStatus(r, 200);
        assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
      });

      test('anonymous → 401 UNAUTHORIZED with a Bearer challenge naming the token realm and service', async () => {
        const r = await call('GET', '/v2/');
        await expectError(r, 401, 'UNAUTHORIZED');
        const ch = r.headers.get('www-authenticate')!;
        assert.ok(ch, 'WWW-Authenticate is set');
        assert.match(ch, /^Bearer /);
        assert.ok(ch.includes(`realm="${s.url}/v2/token"`), ch);
        assert.ok(ch.includes(`service="${host}"`), ch);
      });

      test('a bad token → 401 UNAUTHORIZED', async () => {
        await expectError(await call('GET', '/v2/', { auth: basic('alice', 'wharf_pat_not_a_real_token_00000000000000') }), 401, 'UNAUTHORIZED');
        await expectError(await call('GET', '/v2/', { auth: basic('alice', 'wrong password') }), 401, 'UNAUTHORIZED');
      });
    });

    // ---- pull ----------------------------------------------------------------------------------------------

    describe('pull: manifests', () => {
      let pretty: Manifest;
      before(async () => {
        // Odd whitespace: "the registry MUST store the manifest in the exact byte representation provided".
        pretty = await pushImage(s.url, 'alice/app', 'pretty', imageManifest({ pretty: true, annotations: { 'org.example.z': '1', 'org.example.a': '2' } }), A);
      });

      test('GET by tag → 200, the exact bytes pushed, Content-Type as pushed, Docker-Content-Digest of the body', async () => {
        const r = await getManifest('alice/app', 'pretty');
        await expectStatus(r, 200);
        const bytes = Buffer.from(await r.arrayBuffer());
        assert.ok(bytes.equals(pretty.bytes), 'byte-exact manifest');
        assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
        assert.equal(r.headers.get('docker-content-digest'), pretty.digest);
        assert.equal(sha256(bytes), pretty.digest);
      });

      test('GET by digest → 200 and the same bytes', async () => {
        const r = await getManifest('alice/app', pretty.digest);
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(pretty.bytes));
        assert.equal(r.headers.get('docker-content-digest'), pretty.digest);
      });

      test('HEAD by tag and by digest → 200 with Content-Length and Docker-Content-Digest, no body', async () => {
        for (const ref of ['pretty', pretty.digest]) {
          const r = await call('HEAD', `/v2/alice/app/manifests/${ref}`, { auth: A, headers: { accept: OCI_ACCEPT } });
          await expectStatus(r, 200, `HEAD ${ref}`);
          assert.equal(r.headers.get('content-length'), String(pretty.size));
          assert.equal(r.headers.get('docker-content-digest'), pretty.digest);
          assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
          assert.equal((await r.arrayBuffer()).byteLength, 0);
        }
      });

      test('GET/HEAD an unknown tag or digest → 404 MANIFEST_UNKNOWN', async () => {
        await expectError(await getManifest('alice/app', 'no-such-tag'), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest('alice/app', sha256('nothing')), 404, 'MANIFEST_UNKNOWN');
        await expectStatus(await call('HEAD', '/v2/alice/app/manifests/no-such-tag', { auth: A }), 404);
        await expectStatus(await call('HEAD', `/v2/alice/app/manifests/${sha256('nothing')}`, { auth: A }), 404);
      });

      test('GET a manifest of a repository that does not exist → 404 NAME_UNKNOWN', async () => {
        await expectError(await getManifest('alice/does-not-exist', 'v1'), 404, 'NAME_UNKNOWN');
        await expectError(await getManifest('nobody-at-all/app', 'v1'), 404, 'NAME_UNKNOWN');
        await expectStatus(await call('HEAD', '/v2/alice/does-not-exist/manifests/v1', { auth: A }), 404);
      });

      test('a manifest in another repository of the same owner is not in this one → 404 MANIFEST_UNKNOWN', async () => {
        await expectError(await getManifest('alice/pub', img.digest), 404, 'MANIFEST_UNKNOWN');
      });

      test('Accept negotiation: a client listing the stored type gets it; no Accept gets the stored type', async () => {
        let r = await getManifest('alice/app', 'v1', A, `${MEDIA.dockerManifest}, ${MEDIA.ociManifest};q=0.9`);
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
        r = await call('GET', '/v2/alice/app/manifests/v1', { auth: A });
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(img.bytes));
      });

      test('Accept negotiation: an Accept that excludes the stored type is never answered with a different document', async () => {
        const r = await getManifest('alice/app', 'v1', A, MEDIA.dockerManifest);
        if (r.status === 200) {
          assert.equal(r.headers.get('content-type'), MEDIA.dockerManifest, 'a 200 must be of an accepted type');
        } else {
          await expectError(r, [404, 406], ['MANIFEST_UNKNOWN', 'UNSUPPORTED']);
        }
      });

      test('a multi-platform image index: GET the index by tag (index type), each platform manifest by its digest', async () => {
        const mp = multiPlatform();
        await pushIndex(s.url, 'alice/multi', '1.0', mp, A);
        const r = await getManifest('alice/multi', '1.0');
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.ociIndex);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(mp.index.bytes));
        for (const m of [mp.amd64, mp.arm64]) {
          const c = await getManifest('alice/multi', m.digest);
          await expectStatus(c, 200);
          assert.ok(Buffer.from(await c.arrayBuffer()).equals(m.bytes));
        }
        // An index-only Accept still gets the index.
        const only = await getManifest('alice/multi', '1.0', A, MEDIA.ociIndex);
        await expectStatus(only, 200);
        assert.equal(only.headers.get('content-type'), MEDIA.ociIndex);
      });
    });

    describe('pull: blobs', () => {
      test('GET → 200 with the bytes and Docker-Content-Digest; HEAD → 200 with Content-Length and no body', async () => {
        const layer = img.blobs[1];
        const r = await call('GET', `/v2/alice/app/blobs/${layer.digest}`, { auth: A });
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer.bytes));
        assert.equal(r.headers.get('docker-content-digest'), layer.digest);
        const h = await headBlob('alice/app', layer.digest);
        await expectStatus(h, 200);
        assert.equal(h.headers.get('content-length'), String(layer.size));
        assert.equal(h.headers.get('docker-content-digest'), layer.digest);
        assert.equal((await h.arrayBuffer()).byteLength, 0);
      });

      test('GET/HEAD an unknown blob → 404 BLOB_UNKNOWN', async () => {
        await expectError(await call('GET', `/v2/alice/app/blobs/${sha256('unknown blob')}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        await expectStatus(await headBlob('alice/app', sha256('unknown blob')), 404);
      });

      test('a blob held only by another repository is not found in this one → 404 BLOB_UNKNOWN', async () => {
        await expectError(await call('GET', `/v2/alice/pub/blobs/${img.blobs[1].digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        await expectStatus(await headBlob('alice/pub', img.blobs[1].digest), 404);
      });

      test('GET a blob of a repository that does not exist → 404 NAME_UNKNOWN', async () => {
        await expectError(await call('GET', `/v2/alice/nothing-here/blobs/${img.blobs[1].digest}`, { auth: A }), 404, 'NAME_UNKNOWN');
      });

      test('Range: bytes=a-b → 206 with Content-Range and exactly those bytes; open-ended and suffix ranges too', async () => {
        const layer = img.blobs[1]; // 2048 bytes
        const cases: [string, number, number][] = [['bytes=10-19', 10, 19], ['bytes=2000-', 2000, 2047], ['bytes=-48', 2000, 2047], ['bytes=0-0', 0, 0], ['bytes=2040-9999', 2040, 2047]];
        for (const [range, start, end] of cases) {
          const r = await call('GET', `/v2/alice/app/blobs/${layer.digest}`, { auth: A, headers: { range } });
          await expectStatus(r, 206, range);
          assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${layer.size}`, range);
          const got = Buffer.from(await r.arrayBuffer());
          assert.ok(got.equals(layer.bytes.subarray(start, end + 1)), `${range}: bytes`);
        }
      });

      test('Range beyond the end → 416 with Content-Range: bytes */size', async () => {
        const layer = img.blobs[1];
        const r = await call('GET', `/v2/alice/app/blobs/${layer.digest}`, { auth: A, headers: { range: 'bytes=5000-6000' } });
        assert.equal(r.status, 416);
        assert.equal(r.headers.get('content-range'), `bytes */${layer.size}`);
      });

      test('RFC 9110: a Range with a unit the server does not understand is ignored → 200 and the whole blob', async () => {
        const layer = img.blobs[1];
        const r = await call('GET', `/v2/alice/app/blobs/${layer.digest}`, { auth: A, headers: { range: 'items=0-5' } });
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer.bytes));
      });

      test('RFC 9110: a satisfiable multi-range request → 200 (range ignored) or 206, never 416', async () => {
        const layer = img.blobs[1];
        const r = await call('GET', `/v2/alice/app/blobs/${layer.digest}`, { auth: A, headers: { range: 'bytes=0-1,5-6' } });
        await expectStatus(r, [200, 206]);
        if (r.status === 200) assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer.bytes));
      });

      test('an invalid blob digest in the path → 400 DIGEST_INVALID (or 404 BLOB_UNKNOWN), never a 5xx', async () => {
        for (const d of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'notadigest', 'sha256:' + 'a'.repeat(63)]) {
          await expectError(await call('GET', `/v2/alice/app/blobs/${d}`, { auth: A }), [400, 404], ['DIGEST_INVALID', 'BLOB_UNKNOWN'], d);
        }
      });
    });

    // ---- push: blobs ---------------------------------------------------------------------------------------

    describe('push: blob uploads', () => {
      test('POST /blobs/uploads/ → 202 with a Location holding a session id and Docker-Upload-UUID', async () => {
        const r = await call('POST', '/v2/alice/app/blobs/uploads/', { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 202);
        const loc = r.headers.get('location')!;
        const uuid = r.headers.get('docker-upload-uuid')!;
        assert.ok(loc, 'Location');
        assert.ok(uuid, 'Docker-Upload-UUID');
        assert.ok(loc.includes(uuid), `Location ${loc} contains the session id ${uuid}`);
        assert.ok(new URL(loc, s.url).pathname.startsWith('/v2/alice/app/blobs/uploads/'), loc);
      });

      test('POST then PUT <location>?digest= → 201 with a pullable Location and Docker-Content-Digest', async () => {
        const b = blob(3000);
        const loc = await startUpload('alice/app');
        const r = await call('PUT', resolveLocation(s.url, loc, { digest: b.digest }), { auth: A, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
        await expectStatus(r, 201);
        assert.equal(r.headers.get('docker-content-digest'), b.digest);
        const blobLoc = r.headers.get('location')!;
        assert.ok(blobLoc, 'Location');
        const g = await call('GET', resolveLocation(s.url, blobLoc), { auth: A });
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
      });

      test('single POST ?digest= (monolithic) → 201 with a pullable Location', async () => {
        const b = blob(5000);
        const r = await call('POST', `/v2/alice/app/blobs/uploads/?digest=${b.digest}`, { auth: A, headers: { 'content-type': 'application/octet-stream' }, body: b.bytes });
        await expectStatus(r, 201);
        assert.equal(r.headers.get('docker-content-digest'), b.digest);
        const g = await call('GET', resolveLocation(s.url, r.headers.get('location')!), { auth: A });
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
      });

      test('pushing a blob the repository already has → 201 again (idempotent)', async () => {
        const layer = img.blobs[1];
        await expectStatus(await pushBlob(s.url, 'alice/app', layer, A), 201);
        await expectStatus(await call('POST', `/v2/alice/app/blobs/uploads/?digest=${layer.digest}`, { auth: A, body: layer.bytes }), 201);
      });

      test('an empty blob can be pushed and pulled (size 0)', async () => {
        const b = blob(Buffer.alloc(0));
        await expectStatus(await pushBlob(s.url, 'alice/app', b, A), 201);
        const h = await headBlob('alice/app', b.digest);
        await expectStatus(h, 200);
        assert.equal(h.headers.get('content-length'), '0');
      });

      test('chunked: PATCH with Content-Range → 202 with Location and Range: 0-<end>; closing PUT with the last chunk → 201', async () => {
        const b = blob(250);
        const loc0 = await startUpload('alice/app');
        const r1 = await patch(loc0, b.bytes.subarray(0, 100), '0-99');
        await expectStatus(r1, 202, 'chunk 1');
        assert.equal(r1.headers.get('range'), '0-99');
        const uuid = r1.headers.get('docker-upload-uuid');
        if (uuid) assert.ok(new URL(r1.headers.get('location')!, s.url).pathname.includes(uuid), 'Docker-Upload-UUID names this session');
        const loc1 = r1.headers.get('location')!;
        assert.ok(loc1, 'Location after a chunk');
        const r2 = await patch(loc1, b.bytes.subarray(100, 200), '100-199');
        await expectStatus(r2, 202, 'chunk 2');
        assert.equal(r2.headers.get('range'), '0-199');
        const loc2 = r2.headers.get('location')!;
        const r3 = await call('PUT', resolveLocation(s.url, loc2, { digest: b.digest }), {
          auth: A,
          headers: { 'content-type': 'application/octet-stream', 'content-range': '200-249' },
          body: b.bytes.subarray(200),
        });
        await expectStatus(r3, 201, 'closing PUT');
        assert.equal(r3.headers.get('docker-content-digest'), b.digest);
        const g = await call('GET', `/v2/alice/app/blobs/${b.digest}`, { auth: A });
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
      });

      test('chunked: every chunk by PATCH, then a closing PUT with no body → 201', async () => {
        const b = blob(300);
        let loc = await startUpload('alice/app');
        for (let at = 0; at < 300; at += 100) {
          const r = await patch(loc, b.bytes.subarray(at, at + 100), `${at}-${at + 99}`);
          await expectStatus(r, 202);
          assert.equal(r.headers.get('range'), `0-${at + 99}`);
          loc = r.headers.get('location')!;
        }
        const r = await call('PUT', resolveLocation(s.url, loc, { digest: b.digest }), { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 201);
        await expectStatus(await headBlob('alice/app', b.digest), 200);
      });

      test('chunked: a PATCH without Content-Range (streamed, as docker sends it) appends and answers the Range', async () => {
        const b = blob(1000);
        const loc = await startUpload('alice/app');
        const r1 = await patch(loc, b.bytes.subarray(0, 400));
        await expectStatus(r1, 202);
        assert.equal(r1.headers.get('range'), '0-399');
        const r2 = await patch(r1.headers.get('location')!, b.bytes.subarray(400));
        await expectStatus(r2, 202);
        assert.equal(r2.headers.get('range'), '0-999');
        const r3 = await call('PUT', resolveLocation(s.url, r2.headers.get('location')!, { digest: b.digest }), { auth: A });
        await expectStatus(r3, 201);
      });

      test('chunked: a chunk out of order (a gap, a repeat, a first chunk not at 0) → 416; the upload is unchanged and resumes', async () => {
        const b = blob(300);
        const loc = await startUpload('alice/app');
        await expectStatus(await patch(loc, b.bytes.subarray(0, 100), '50-149'), 416, 'first chunk not at 0');
        const ok = await patch(loc, b.bytes.subarray(0, 100), '0-99');
        await expectStatus(ok, 202);
        const loc1 = ok.headers.get('location')!;
        await expectStatus(await patch(loc1, b.bytes.subarray(150, 250), '150-249'), 416, 'gap');
        await expectStatus(await patch(loc1, b.bytes.subarray(0, 100), '0-99'), 416, 'repeat');
        await expectStatus(await patch(loc1, b.bytes.subarray(50, 150), '50-149'), 416, 'overlap');
        // "A GET request may be used to retrieve the current valid offset and upload location."
        const st = await call('GET', resolveLocation(s.url, loc1), { auth: A });
        await expectStatus(st, 204);
        assert.equal(st.headers.get('range'), '0-99');
        const badClose = await call('PUT', resolveLocation(s.url, st.headers.get('location')!, { digest: b.digest }), {
          auth: A,
          headers: { 'content-range': '150-299' },
          body: b.bytes.subarray(150),
        });
        await expectStatus(badClose, 416, 'closing PUT with a chunk out of order');
        const r = await patch(st.headers.get('location')!, b.bytes.subarray(100), '100-299');
        await expectStatus(r, 202);
        assert.equal(r.headers.get('range'), '0-299');
        await expectStatus(await call('PUT', resolveLocation(s.url, r.headers.get('location')!, { digest: b.digest }), { auth: A }), 201);
        const g = await call('GET', `/v2/alice/app/blobs/${b.digest}`, { auth: A });
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
      });

      test('GET <location> → 204 with Location and Range: 0-<end-of-range>', async () => {
        const loc = await startUpload('alice/app');
        const r1 = await patch(loc, blob(64).bytes, '0-63');
        await expectStatus(r1, 202);
        const st = await call('GET', resolveLocation(s.url, r1.headers.get('location')!), { auth: A });
        await expectStatus(st, 204);
        assert.ok(st.headers.get('location'), 'Location');
        assert.equal(st.headers.get('range'), '0-63');
        assert.ok(new URL(st.headers.get('location')!, s.url).pathname.startsWith('/v2/alice/app/blobs/uploads/'));
      });

      test('DELETE <location> cancels the upload → 204; then GET, PATCH and PUT on it → 404 BLOB_UPLOAD_UNKNOWN', async () => {
        const b = blob(10);
        const loc = await startUpload('alice/app');
        await expectStatus(await patch(loc, b.bytes.subarray(0, 5), '0-4'), 202);
        await expectStatus(await call('DELETE', resolveLocation(s.url, loc), { auth: A }), [204, 202]);
        await expectError(await call('GET', resolveLocation(s.url, loc), { auth: A }), 404, 'BLOB_UPLOAD_UNKNOWN', 'GET');
        await expectError(await patch(loc, b.bytes.subarray(5), '5-9'), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH');
        await expectError(await call('PUT', resolveLocation(s.url, loc, { digest: b.digest }), { auth: A, body: b.bytes }), 404, 'BLOB_UPLOAD_UNKNOWN', 'PUT');
        await expectError(await call('DELETE', resolveLocation(s.url, loc), { auth: A }), 404, 'BLOB_UPLOAD_UNKNOWN', 'DELETE again');
        await expectStatus(await headBlob('alice/app', b.digest), 404);
      });

      test('a session closed by a successful PUT is gone: using its location again → 404 BLOB_UPLOAD_UNKNOWN', async () => {
        const b = blob(20);
        const loc = await startUpload('alice/app');
        await expectStatus(await call('PUT', resolveLocation(s.url, loc, { digest: b.digest }), { auth: A, body: b.bytes }), 201);
        await expectError(await call('GET', resolveLocation(s.url, loc), { auth: A }), 404, 'BLOB_UPLOAD_UNKNOWN');
        await expectError(await patch(loc, Buffer.from('x'), '20-20'), 404, 'BLOB_UPLOAD_UNKNOWN');
      });

      test('an unknown or malformed upload id → 404 BLOB_UPLOAD_UNKNOWN', async () => {
        for (const id of [randomUUID(), 'not-a-uuid', '0'.repeat(200)]) {
          await expectError(await call('GET', `/v2/alice/app/blobs/uploads/${id}`, { auth: A }), 404, 'BLOB_UPLOAD_UNKNOWN', `GET ${id}`);
          await expectError(await call('PATCH', `/v2/alice/app/blobs/uploads/${id}`, { auth: A, body: 'abc' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PATCH ${id}`);
          await expectError(await call('PUT', `/v2/alice/app/blobs/uploads/${id}?digest=${sha256('abc')}`, { auth: A, body: 'abc' }), 404, 'BLOB_UPLOAD_UNKNOWN', `PUT ${id}`);
        }
      });

      test('an upload id under a repository that does not exist → 404 (BLOB_UPLOAD_UNKNOWN or NAME_UNKNOWN), and the repository is not created', async () => {
        const name = fresh();
        for (const id of [randomUUID(), 'not-a-uuid']) {
          await expectError(await call('GET', `/v2/${name}/blobs/uploads/${id}`, { auth: A }), 404, ['BLOB_UPLOAD_UNKNOWN', 'NAME_UNKNOWN'], `GET ${id}`);
          await expectError(await call('PATCH', `/v2/${name}/blobs/uploads/${id}`, { auth: A, body: 'abc' }), 404, ['BLOB_UPLOAD_UNKNOWN', 'NAME_UNKNOWN'], `PATCH ${id}`);
          await expectError(await call('DELETE', `/v2/${name}/blobs/uploads/${id}`, { auth: A }), 404, ['BLOB_UPLOAD_UNKNOWN', 'NAME_UNKNOWN'], `DELETE ${id}`);
        }
        assert.equal(await s.core.packages.find('alice', 'container', name.split('/')[1], { includeDeleted: true }), undefined);
      });

      test('an upload id used under another repository of the same owner → 404 BLOB_UPLOAD_UNKNOWN', async () => {
        const loc = await startUpload('alice/app');
        const id = new URL(loc, s.url).pathname.split('/').pop()!;
        await expectStatus(await pushBlob(s.url, 'alice/other', blob(1), A), 201); // alice/other exists
        await expectError(await call('GET', `/v2/alice/other/blobs/uploads/${id}`, { auth: A }), 404, 'BLOB_UPLOAD_UNKNOWN');
        await expectError(await call('PATCH', `/v2/alice/other/blobs/uploads/${id}`, { auth: A, body: 'abc' }), 404, 'BLOB_UPLOAD_UNKNOWN');
        // ... and the session in alice/app is untouched.
        const st = await call('GET', resolveLocation(s.url, loc), { auth: A });
        await expectStatus(st, 204);
        assert.match(st.headers.get('range') ?? '0-0', /^0-0$/);
      });

      test('the first push to a new name creates the repository (private): other users then get 404 NAME_UNKNOWN', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'v1', imageManifest(), A);
        await expectStatus(await getManifest(name, 'v1'), 200);
        await expectError(await getManifest(name, 'v1', B), 404, 'NAME_UNKNOWN');
        await expectError(await getManifest(name, m.digest, null), 401, 'UNAUTHORIZED');
      });

      test('nested names (alice/team/app): push, pull, tags list', async () => {
        const m = await pushImage(s.url, 'alice/team/app', 'v1', imageManifest(), A);
        const r = await getManifest('alice/team/app', 'v1');
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(m.bytes));
        await expectStatus(await headBlob('alice/team/app', m.blobs[1].digest), 200);
        const t = await call('GET', '/v2/alice/team/app/tags/list', { auth: A });
        assert.deepEqual(await t.json(), { name: 'alice/team/app', tags: ['v1'] });
        // alice/team/app is not alice/team: nothing leaks between them.
        await expectError(await getManifest('alice/team', 'v1'), 404, 'NAME_UNKNOWN');
      });

      test('two PATCHes of the same range racing on one session → one 202, the other 416; the upload holds the chunk once', async () => {
        const b = blob(200);
        const loc = await startUpload('alice/app');
        const [r1, r2] = await Promise.all([patch(loc, b.bytes.subarray(0, 100), '0-99'), patch(loc, b.bytes.subarray(0, 100), '0-99')]);
        assert.deepEqual([r1.status, r2.status].sort(), [202, 416]);
        const st = await call('GET', resolveLocation(s.url, loc), { auth: A });
        assert.equal(st.headers.get('range'), '0-99');
        const r3 = await call('PUT', resolveLocation(s.url, loc, { digest: b.digest }), { auth: A, headers: { 'content-range': '100-199' }, body: b.bytes.subarray(100) });
        await expectStatus(r3, 201);
      });

      test('"Layer Upload De-duplication": the same blob and the same manifest pushed concurrently → every push 201', async () => {
        const name = fresh();
        const b = blob(100_000);
        const rs = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? pushBlob(s.url, name, b, A) : call('POST', `/v2/${name}/blobs/uploads/?digest=${b.digest}`, { auth: A, body: b.bytes }))));
        assert.deepEqual(rs.map((r) => r.status), [201, 201, 201, 201]);
        const m = imageManifest({ config: configBlob(), layers: [b] });
        await expectStatus(await pushBlob(s.url, name, m.blobs[0], A), 201);
        const ms = await Promise.all([0, 1, 2, 3].map((i) => pushManifest(s.url, name, i % 2 ? m.digest : `t${i}`, m, A)));
        assert.deepEqual(ms.map((r) => r.status), [201, 201, 201, 201], (await Promise.all(ms.map((r) => r.text()))).join(' | '));
        await expectStatus(await getManifest(name, 't0'), 200);
        await expectStatus(await getManifest(name, 't2'), 200);
      });

      test('POST /blobs/uploads without the trailing slash → 202 as well', async () => {
        const r = await call('POST', '/v2/alice/app/blobs/uploads', { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 202);
        assert.ok(r.headers.get('location'));
      });

      test('bodies sent with Transfer-Encoding: chunked (no Content-Length, as docker streams layers): PATCH, closing PUT and monolithic POST', async () => {
        const b = blob(70_000);
        const streamed = (bytes: Buffer) =>
          new ReadableStream<Uint8Array>({
            start(c) {
              for (let i = 0; i < bytes.length; i += 16_384) c.enqueue(new Uint8Array(bytes.subarray(i, i + 16_384)));
              c.close();
            },
          });
        const send = (method: string, url: string, bytes: Buffer) =>
          fetch(url, { method, headers: { authorization: A, 'content-type': 'application/octet-stream' }, body: streamed(bytes), duplex: 'half' } as RequestInit);
        const loc = await startUpload('alice/app');
        const r1 = await send('PATCH', resolveLocation(s.url, loc), b.bytes.subarray(0, 40_000));
        await expectStatus(r1, 202);
        assert.equal(r1.headers.get('range'), '0-39999');
        const r2 = await send('PUT', resolveLocation(s.url, r1.headers.get('location')!, { digest: b.digest }), b.bytes.subarray(40_000));
        await expectStatus(r2, 201);
        const g = await call('GET', `/v2/alice/app/blobs/${b.digest}`, { auth: A });
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
        const c = blob(50_000);
        await expectStatus(await send('POST', `${s.url}/v2/alice/app/blobs/uploads/?digest=${c.digest}`, c.bytes), 201);
        await expectStatus(await headBlob('alice/app', c.digest), 200);
      });

      test('upload sessions survive a server restart and can be resumed', async () => {
        const s2 = await startWharf({ dialect });
        const tok = basic('carol', await s2.userWithToken('carol'));
        const b = blob(200);
        const st = await fetch(`${s2.url}/v2/carol/app/blobs/uploads/`, { method: 'POST', headers: { authorization: tok, 'content-length': '0' } });
        await expectStatus(st, 202);
        const r1 = await fetch(resolveLocation(s2.url, st.headers.get('location')!), { method: 'PATCH', headers: { authorization: tok, 'content-range': '0-99' }, body: new Uint8Array(b.bytes.subarray(0, 100)) });
        await expectStatus(r1, 202);
        const loc = new URL(r1.headers.get('location')!, s2.url).pathname;
        await s2.app.close();
        await s2.core.close();
        const env = { WHARF_DATA: s2.dataDir, WHARF_DATABASE_URL: s2.db.url, WHARF_LOG_LEVEL: 'silent', WHARF_PORT: '0' };
        const core = await openCore(loadConfig(env));
        const app = await buildApp(core);
        try {
          await app.listen({ port: 0, host: '127.0.0.1' });
          const url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
          const status = await fetch(`${url}${loc}`, { headers: { authorization: tok } });
          await expectStatus(status, 204, 'status after restart');
          assert.equal(status.headers.get('range'), '0-99');
          const r2 = await fetch(resolveLocation(url, status.headers.get('location')!, { digest: b.digest }), { method: 'PUT', headers: { authorization: tok, 'content-range': '100-199' }, body: new Uint8Array(b.bytes.subarray(100)) });
          await expectStatus(r2, 201, 'closing PUT after restart');
          const g = await fetch(`${url}/v2/carol/app/blobs/${b.digest}`, { headers: { authorization: tok } });
          assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
        } finally {
          await app.close();
          await core.close();
          await s2.db.drop();
          fs.rmSync(s2.dataDir, { recursive: true, force: true });
        }
      });
    });

    describe('push: cross-repository mount', () => {
      test('mount from a repository the actor may read → 201 with Location and Docker-Content-Digest; the blob is then in the target', async () => {
        const target = fresh();
        const layer = img.blobs[1];
        const r = await call('POST', `/v2/${target}/blobs/uploads/?mount=${layer.digest}&from=alice/app`, { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 201);
        assert.equal(r.headers.get('docker-content-digest'), layer.digest);
        const loc = r.headers.get('location')!;
        assert.ok(loc);
        const g = await call('GET', resolveLocation(s.url, loc), { auth: A });
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(layer.bytes));
        await expectStatus(await headBlob(target, layer.digest), 200);
      });

      test("mount from another owner's public repository → 201 (anyone may read it)", async () => {
        const target = fresh();
        const r = await call('POST', `/v2/${target}/blobs/uploads/?mount=${bobPub.blobs[1].digest}&from=bob/open`, { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 201);
        await expectStatus(await headBlob(target, bobPub.blobs[1].digest), 200);
      });

      test("mount from bob's private repository → 202 (a plain upload session), and the blob is not in the target", async () => {
        const target = fresh();
        const layer = bobImg.blobs[1];
        const r = await call('POST', `/v2/${target}/blobs/uploads/?mount=${layer.digest}&from=bob/secret`, { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, 202);
        const loc = r.headers.get('location')!;
        assert.ok(loc && new URL(loc, s.url).pathname.startsWith(`/v2/${target}/blobs/uploads/`), `a session Location: ${loc}`);
        await expectStatus(await headBlob(target, layer.digest), 404);
        await expectError(await call('GET', `/v2/${target}/blobs/${layer.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        // Nor can a manifest naming it be pushed there.
        const m = imageManifest({ config: bobImg.blobs[0], layers: [layer] });
        await expectError(await pushManifest(s.url, target, 'stolen', m, A), 400, 'MANIFEST_BLOB_UNKNOWN');
        // The 202 session is a real one: the client may upload the bytes it has.
        const own = blob(33);
        await expectStatus(await call('PUT', resolveLocation(s.url, loc, { digest: own.digest }), { auth: A, body: own.bytes }), 201);
      });

      test('mount of a digest the source does not hold, or from a repository that does not exist → 202', async () => {
        const target = fresh();
        await expectStatus(await call('POST', `/v2/${target}/blobs/uploads/?mount=${sha256('nope')}&from=alice/app`, { auth: A, headers: { 'content-length': '0' } }), 202);
        await expectStatus(await call('POST', `/v2/${target}/blobs/uploads/?mount=${img.blobs[1].digest}&from=alice/no-such-repo`, { auth: A, headers: { 'content-length': '0' } }), 202);
        await expectStatus(await headBlob(target, img.blobs[1].digest), 404);
      });

      test('mount with a path-traversal `from` (alice/../bob/secret) → 202, nothing mounted', async () => {
        const target = fresh();
        const layer = bobImg.blobs[1];
        const r = await call('POST', `/v2/${target}/blobs/uploads/?mount=${layer.digest}&from=${encodeURIComponent('alice/../bob/secret')}`, { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(r, [202, 400]);
        await expectStatus(await headBlob(target, layer.digest), 404);
      });
    });

    // ---- push: manifests -----------------------------------------------------------------------------------

    describe('push: manifests', () => {
      test('PUT by tag → 201 with a pullable Location and Docker-Content-Digest = sha256 of the bytes', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await expectStatus(await pushBlob(s.url, name, b, A), 201);
        const r = await pushManifest(s.url, name, 'v1', m, A);
        await expectStatus(r, 201);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
        const loc = r.headers.get('location')!;
        assert.ok(loc, 'Location');
        const g = await call('GET', resolveLocation(s.url, loc), { auth: A, headers: { accept: OCI_ACCEPT } });
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(m.bytes));
      });

      test('PUT by digest → 201; GET by that digest; no tag is created', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await pushBlob(s.url, name, b, A);
        const r = await pushManifest(s.url, name, m.digest, m, A);
        await expectStatus(r, 201);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
        await expectStatus(await getManifest(name, m.digest), 200);
        const t = await (await call('GET', `/v2/${name}/tags/list`, { auth: A })).json();
        assert.deepEqual(t.tags ?? [], []);
      });

      test('PUT by a digest that does not match the bytes → 400 DIGEST_INVALID, nothing stored', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await pushBlob(s.url, name, b, A);
        const wrong = sha256('something else');
        await expectError(await pushManifest(s.url, name, wrong, m, A), 400, 'DIGEST_INVALID');
        await expectError(await getManifest(name, wrong), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest(name, m.digest), 404, 'MANIFEST_UNKNOWN');
      });

      test('the same manifest pushed twice → 201 both times; a tag pushed again moves to the new manifest', async () => {
        const name = fresh();
        const m1 = await pushImage(s.url, name, 'latest', imageManifest(), A);
        await expectStatus(await pushManifest(s.url, name, 'latest', m1, A), 201);
        const m2 = await pushImage(s.url, name, 'latest', imageManifest(), A);
        const r = await getManifest(name, 'latest');
        assert.equal(r.headers.get('docker-content-digest'), m2.digest);
        await expectStatus(await getManifest(name, m1.digest), 200, 'the old manifest stays by digest');
      });

      test('a manifest may have no layers (an empty list)', async () => {
        const name = fresh();
        await pushImage(s.url, name, 'empty', imageManifest({ layers: [] }), A);
      });

      test('an OCI 1.1 artifact with the empty descriptor as config and as layer (oras attach, cosign referrers) → 201, pullable, listed as a referrer', async () => {
        const name = fresh();
        const subject = await pushImage(s.url, name, 'v1', imageManifest(), A);
        const empty = emptyConfig();
        assert.equal(empty.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
        const art = imageManifest({ config: empty, layers: [empty], subject, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
        await expectStatus(await pushBlob(s.url, name, empty, A), 201);
        const r = await pushManifest(s.url, name, art.digest, art, A);
        await expectStatus(r, 201, 'PUT artifact manifest');
        assert.equal(r.headers.get('oci-subject'), subject.digest);
        const g = await getManifest(name, art.digest);
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(art.bytes));
        const blobGet = await call('GET', `/v2/${name}/blobs/${empty.digest}`, { auth: A });
        await expectStatus(blobGet, 200);
        assert.equal(await blobGet.text(), '{}');
        const refs = await (await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A })).json();
        assert.deepEqual(refs.manifests.map((d: { digest: string }) => d.digest), [art.digest]);
      });

      test('an image listing the same layer twice → 201; pulled back byte for byte; the version has each blob once', async () => {
        const name = fresh();
        const layer = blob(300);
        const m = await pushImage(s.url, name, 'twice', imageManifest({ layers: [layer, blob(200), layer] }), A);
        const g = await getManifest(name, 'twice');
        await expectStatus(g, 200);
        assert.ok(Buffer.from(await g.arrayBuffer()).equals(m.bytes));
        const [owner, pkgName] = [name.split('/')[0], name.split('/').slice(1).join('/')];
        const pkg = (await s.core.packages.find(owner, 'container', pkgName))!;
        const v = (await s.core.packages.version(pkg.id, m.digest))!;
        const files = (await s.core.packages.files(v.id)).map((f) => f.name).sort();
        assert.deepEqual(files, [...new Set(files)], 'one file per digest');
        assert.equal(files.length, 4, 'manifest.json, config and two distinct layers');
        // The same image pushed again (a retry) is still a success.
        await expectStatus(await pushManifest(s.url, name, 'twice', m, A), 201);
      });

      test('a manifest without a mediaType field, sent with its Content-Type → 201 and served with that type', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'v1', imageManifest({ omitMediaType: true }), A);
        const r = await getManifest(name, 'v1');
        assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(m.bytes));
      });

      test('a manifest PUT without Content-Type is typed by its mediaType field', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await pushBlob(s.url, name, b, A);
        const r = await call('PUT', `/v2/${name}/manifests/v1`, { auth: A, body: m.bytes });
        await expectStatus(r, 201);
        const g = await getManifest(name, 'v1');
        assert.equal(g.headers.get('content-type'), MEDIA.ociManifest);
      });

      test('Content-Type parameters are ignored on PUT ("registry SHOULD ignore parameters"), and the Content-Type on GET has none', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await pushBlob(s.url, name, b, A);
        await expectStatus(await pushManifest(s.url, name, 'v1', m, A, `${MEDIA.ociManifest}; charset=utf-8`), 201);
        const r = await getManifest(name, 'v1');
        assert.equal(r.headers.get('content-type'), MEDIA.ociManifest);
      });

      test('PUT a manifest naming a layer the repository does not have → 400 MANIFEST_BLOB_UNKNOWN, nothing stored', async () => {
        const name = fresh();
        const config = configBlob();
        const missing = blob(100);
        await pushBlob(s.url, name, config, A);
        const m = imageManifest({ config, layers: [missing] });
        await expectError(await pushManifest(s.url, name, 'v1', m, A), 400, 'MANIFEST_BLOB_UNKNOWN');
        await expectError(await getManifest(name, 'v1'), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest(name, m.digest), 404, 'MANIFEST_UNKNOWN');
      });

      test('PUT a manifest whose config blob is unknown → 400 MANIFEST_BLOB_UNKNOWN', async () => {
        const name = fresh();
        const layer = blob(100);
        await pushBlob(s.url, name, layer, A);
        await expectError(await pushManifest(s.url, name, 'v1', imageManifest({ layers: [layer] }), A), 400, 'MANIFEST_BLOB_UNKNOWN');
      });

      test('PUT an index naming a manifest the repository does not have → 400 MANIFEST_BLOB_UNKNOWN', async () => {
        const name = fresh();
        const mp = multiPlatform();
        await pushImage(s.url, name, mp.amd64.digest, mp.amd64, A); // arm64 never pushed
        await expectError(await pushManifest(s.url, name, 'multi', mp.index, A), 400, 'MANIFEST_BLOB_UNKNOWN');
        await expectError(await getManifest(name, 'multi'), 404, 'MANIFEST_UNKNOWN');
      });

      test('PUT an index naming a manifest that was deleted → 400 MANIFEST_BLOB_UNKNOWN', async () => {
        const name = fresh();
        const mp = multiPlatform();
        await pushImage(s.url, name, mp.amd64.digest, mp.amd64, A);
        await pushImage(s.url, name, mp.arm64.digest, mp.arm64, A);
        await expectStatus(await call('DELETE', `/v2/${name}/manifests/${mp.arm64.digest}`, { auth: A }), 202);
        await expectError(await pushManifest(s.url, name, 'multi', mp.index, A), 400, 'MANIFEST_BLOB_UNKNOWN');
      });

      test('PUT a manifest naming a blob that was deleted from the repository → 400 MANIFEST_BLOB_UNKNOWN', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await expectStatus(await pushBlob(s.url, name, b, A), 201);
        await expectStatus(await call('DELETE', `/v2/${name}/blobs/${m.blobs[1].digest}`, { auth: A }), 202);
        await expectError(await pushManifest(s.url, name, 'v1', m, A), 400, 'MANIFEST_BLOB_UNKNOWN');
      });

      test('"a registry MUST initially accept an otherwise valid manifest with a subject … that does not exist" → 201 with OCI-Subject', async () => {
        const name = fresh();
        const subject = imageManifest(); // never pushed
        const art = artifactManifest({ subject, artifactType: 'application/vnd.example.sbom.v1' });
        for (const b of art.blobs) await pushBlob(s.url, name, b, A);
        const r = await pushManifest(s.url, name, art.digest, art, A);
        await expectStatus(r, 201);
        assert.equal(r.headers.get('oci-subject'), subject.digest);
      });

      test('Docker schema 2: PUT and GET a manifest and a manifest list with Docker media types', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'docker', dockerManifest(), A);
        const r = await getManifest(name, 'docker', A, MEDIA.dockerManifest);
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.dockerManifest);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(m.bytes));
        const list = multiPlatform({ mediaType: MEDIA.dockerList });
        await pushIndex(s.url, name, 'list', list, A);
        const l = await getManifest(name, 'list', A, `${MEDIA.dockerList}, ${MEDIA.dockerManifest}`);
        await expectStatus(l, 200);
        assert.equal(l.headers.get('content-type'), MEDIA.dockerList);
        assert.ok(Buffer.from(await l.arrayBuffer()).equals(list.index.bytes));
      });

      test('Docker schema 1 manifests are refused → 400 MANIFEST_INVALID (or UNSUPPORTED), nothing stored', async () => {
        const name = fresh();
        const layer = blob(10);
        await pushBlob(s.url, name, layer, A);
        const doc = { schemaVersion: 1, name, tag: 'old', architecture: 'amd64', fsLayers: [{ blobSum: layer.digest }], history: [{ v1Compatibility: '{}' }], signatures: [] };
        const bytes = Buffer.from(JSON.stringify(doc));
        for (const ct of [MEDIA.dockerSchema1Signed, MEDIA.dockerSchema1]) {
          const r = await call('PUT', `/v2/${name}/manifests/old`, { auth: A, headers: { 'content-type': ct }, body: bytes });
          await expectError(r, [400, 415], ['MANIFEST_INVALID', 'UNSUPPORTED'], ct);
        }
        await expectError(await getManifest(name, 'old'), 404, 'MANIFEST_UNKNOWN');
      });

      test('malformed manifests → 400 MANIFEST_INVALID: not JSON, no schemaVersion, no config, a bad descriptor digest, a bad size', async () => {
        const name = fresh();
        const config = configBlob();
        await pushBlob(s.url, name, config, A);
        const good = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: config.digest, size: config.size }, layers: [] };
        const bad: [string, string][] = [
          ['not json', '{"schemaVersion": 2,'],
          ['array', '[]'],
          ['no schemaVersion', JSON.stringify({ ...good, schemaVersion: undefined })],
          ['schemaVersion 3', JSON.stringify({ ...good, schemaVersion: 3 })],
          ['no config', JSON.stringify({ ...good, config: undefined })],
          ['layers not an array', JSON.stringify({ ...good, layers: 'x' })],
          ['config digest malformed', JSON.stringify({ ...good, config: { ...good.config, digest: 'sha256:xyz' } })],
          ['config size negative', JSON.stringify({ ...good, config: { ...good.config, size: -1 } })],
          ['config size a string', JSON.stringify({ ...good, config: { ...good.config, size: '12' } })],
        ];
        for (const [what, body] of bad) {
          const r = await call('PUT', `/v2/${name}/manifests/bad`, { auth: A, headers: { 'content-type': MEDIA.ociManifest }, body });
          await expectError(r, 400, ['MANIFEST_INVALID'], what);
        }
        await expectError(await getManifest(name, 'bad'), 404, 'MANIFEST_UNKNOWN');
      });

      test('a mediaType field that disagrees with the Content-Type → 400 MANIFEST_INVALID', async () => {
        const name = fresh();
        const m = imageManifest();
        for (const b of m.blobs) await pushBlob(s.url, name, b, A);
        await expectError(await pushManifest(s.url, name, 'v1', m, A, MEDIA.ociIndex), 400, 'MANIFEST_INVALID');
      });

      test('a descriptor whose size is not the blob size → 400 (MANIFEST_INVALID or MANIFEST_BLOB_UNKNOWN)', async () => {
        const name = fresh();
        const config = configBlob();
        const layer = blob(100);
        for (const b of [config, layer]) await pushBlob(s.url, name, b, A);
        const m = imageManifest({ config, layers: [{ ...layer, size: 99 }] });
        await expectError(await pushManifest(s.url, name, 'v1', m, A), 400, ['MANIFEST_INVALID', 'MANIFEST_BLOB_UNKNOWN']);
      });

      test('"SHOULD expect to be able to support manifest pushes of at least 4 megabytes": a 4,000,000-byte manifest → 201', async () => {
        const name = fresh();
        const base = imageManifest();
        for (const b of base.blobs) await pushBlob(s.url, name, b, A);
        const padLen = 4_000_000 - base.size - '"annotations":{"pad":""},'.length;
        const big = imageManifest({ config: base.blobs[0], layers: base.blobs.slice(1), annotations: { pad: 'x'.repeat(padLen) } });
        assert.ok(big.size <= 4 * 1024 * 1024 && big.size >= 3_990_000, `size ${big.size}`);
        await expectStatus(await pushManifest(s.url, name, 'big', big, A), 201);
        const r = await getManifest(name, 'big');
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(big.bytes));
      });

      test('a manifest over the 4 MiB limit → 413 Payload Too Large, nothing stored', async () => {
        const name = fresh();
        const base = imageManifest();
        for (const b of base.blobs) await pushBlob(s.url, name, b, A);
        const huge = imageManifest({ config: base.blobs[0], layers: base.blobs.slice(1), annotations: { pad: 'x'.repeat(4 * 1024 * 1024 + 10) } });
        const r = await pushManifest(s.url, name, 'huge', huge, A);
        assert.equal(r.status, 413, await r.clone().text());
        const text = await r.text();
        if (text) {
          const codes = await errorCodes(new Response(text));
          assert.ok(['SIZE_INVALID', 'MANIFEST_INVALID'].includes(codes[0]), codes.join());
        }
        await expectError(await getManifest(name, 'huge'), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest(name, huge.digest), 404, 'MANIFEST_UNKNOWN');
      });
    });

    // ---- content discovery: tags ----------------------------------------------------------------------------

    describe('content discovery: tags', () => {
      const name = 'alice/tagged';
      const TAGS = ['1.0', '1.1', '2.0', 'alpha', 'beta', 'latest'];
      before(async () => {
        const m = await pushImage(s.url, name, TAGS[0], imageManifest(), A);
        for (const t of TAGS.slice(1)) await expectStatus(await pushManifest(s.url, name, t, m, A), 201);
      });

      test('GET /tags/list → 200 {name, tags} in lexical order', async () => {
        const r = await call('GET', `/v2/${name}/tags/list`, { auth: A });
        await expectStatus(r, 200);
        assert.match(r.headers.get('content-type') ?? '', /json/);
        assert.deepEqual(await r.json(), { name, tags: TAGS });
      });

      test('?n=2 → the first 2 tags and a Link header rel="next" that leads through the rest', async () => {
        const r = await call('GET', `/v2/${name}/tags/list?n=2`, { auth: A });
        await expectStatus(r, 200);
        assert.deepEqual((await r.json()).tags, ['1.0', '1.1']);
        const seen = ['1.0', '1.1'];
        let link = r.headers.get('link');
        assert.ok(link, 'Link header when more tags are available');
        for (let i = 0; link && i < 10; i++) {
          const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
          assert.ok(m, `RFC 5988 Link with rel="next": ${link}`);
          const next = await call('GET', new URL(m[1], s.url).toString(), { auth: A });
          await expectStatus(next, 200);
          const page = (await next.json()).tags as string[];
          assert.ok(page.length > 0 && page.length <= 2, `page size ${page.length}`);
          seen.push(...page);
          link = next.headers.get('link');
        }
        assert.deepEqual(seen, TAGS);
      });

      test('?n=0 → an empty list and no Link header', async () => {
        const r = await call('GET', `/v2/${name}/tags/list?n=0`, { auth: A });
        await expectStatus(r, 200);
        assert.deepEqual((await r.json()).tags ?? [], []);
        assert.equal(r.headers.get('link'), null);
      });

      test('?n=<more than there are> → all tags, no Link header', async () => {
        const r = await call('GET', `/v2/${name}/tags/list?n=100`, { auth: A });
        assert.deepEqual((await r.json()).tags, TAGS);
        assert.equal(r.headers.get('link'), null);
      });

      test('?n=2&last=1.1 → up to 2 tags after 1.1 (not including it)', async () => {
        const r = await call('GET', `/v2/${name}/tags/list?n=2&last=1.1`, { auth: A });
        await expectStatus(r, 200);
        assert.deepEqual((await r.json()).tags, ['2.0', 'alpha']);
      });

      test('?last=beta without n → every tag after beta', async () => {
        const r = await call('GET', `/v2/${name}/tags/list?last=beta`, { auth: A });
        await expectStatus(r, 200);
        assert.deepEqual((await r.json()).tags, ['latest']);
      });

      test('"lexical order (i.e. case-insensitive alphanumeric order)": mixed-case tags', async () => {
        const n2 = fresh();
        const m = await pushImage(s.url, n2, 'b', imageManifest(), A);
        for (const t of ['A', 'C', 'a']) await expectStatus(await pushManifest(s.url, n2, t, m, A), 201);
        const tags = (await (await call('GET', `/v2/${n2}/tags/list`, { auth: A })).json()).tags as string[];
        assert.deepEqual(tags.map((t) => t.toLowerCase()), ['a', 'a', 'b', 'c'], `case-insensitive order: ${tags.join(',')}`);
      });

      test('?n= not a non-negative integer → 400 with one of the spec\'s error codes', async () => {
        for (const n of ['-1', 'abc', '1.5']) {
          const r = await call('GET', `/v2/${name}/tags/list?n=${n}`, { auth: A });
          assert.equal(r.status, 400, `n=${n}: ${await r.clone().text()}`);
          await errorCodes(r);
        }
      });

      test('a repository that does not exist → 404 NAME_UNKNOWN', async () => {
        await expectError(await call('GET', '/v2/alice/never-pushed/tags/list', { auth: A }), 404, 'NAME_UNKNOWN');
      });
    });

    // ---- content discovery: referrers ------------------------------------------------------------------------

    describe('content discovery: referrers', () => {
      const name = 'alice/signed';
      let subject: Manifest;
      let sbom: Manifest;
      let sig: Manifest;
      let plain: Manifest;
      let idx: Manifest;
      before(async () => {
        subject = await pushImage(s.url, name, 'v1', imageManifest(), A);
        sbom = artifactManifest({ subject, artifactType: 'application/vnd.example.sbom.v1', annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' } });
        sig = artifactManifest({ subject, artifactType: 'application/vnd.example.signature.v1', annotations: { 'org.example.signature.fingerprint': 'abcd' } });
        // No artifactType: the config's mediaType stands in for it.
        plain = imageManifest({ config: blob('{"x":1}', 'application/vnd.example.config.v1+json'), layers: [], subject });
        for (const m of [sbom, sig, plain]) {
          for (const b of m.blobs) await pushBlob(s.url, name, b, A);
          const r = await pushManifest(s.url, name, m.digest, m, A);
          await expectStatus(r, 201);
          assert.equal(r.headers.get('oci-subject'), subject.digest, 'OCI-Subject on a push with a subject');
        }
        // An index with a subject and no artifactType: "the artifactType MUST be omitted".
        idx = imageIndex([{ manifest: sbom }], { subject, annotations: { 'org.example.kind': 'bundle' } });
        const r = await pushManifest(s.url, name, idx.digest, idx, A);
        await expectStatus(r, 201);
        assert.equal(r.headers.get('oci-subject'), subject.digest);
      });

      test('GET /referrers/<digest> → 200 image index of descriptors with artifactType and annotations', async () => {
        const r = await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A });
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.ociIndex);
        const body = await r.json();
        assert.equal(body.schemaVersion, 2);
        assert.equal(body.mediaType, MEDIA.ociIndex);
        const byDigest = new Map<string, any>(body.manifests.map((d: any) => [d.digest, d]));
        assert.equal(body.manifests.length, 4, JSON.stringify(body.manifests));
        assert.deepEqual(byDigest.get(sbom.digest), {
          mediaType: MEDIA.ociManifest,
          digest: sbom.digest,
          size: sbom.size,
          artifactType: 'application/vnd.example.sbom.v1',
          annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
        });
        assert.equal(byDigest.get(sig.digest).artifactType, 'application/vnd.example.signature.v1');
        assert.deepEqual(byDigest.get(sig.digest).annotations, { 'org.example.signature.fingerprint': 'abcd' });
      });

      test('an image manifest without artifactType is listed with its config mediaType as artifactType', async () => {
        const body = await (await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A })).json();
        const d = body.manifests.find((m: any) => m.digest === plain.digest);
        assert.ok(d, 'listed');
        assert.equal(d.artifactType, 'application/vnd.example.config.v1+json');
        assert.equal(d.size, plain.size);
      });

      test('an index without artifactType is listed with no artifactType, with its annotations', async () => {
        const body = await (await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A })).json();
        const d = body.manifests.find((m: any) => m.digest === idx.digest);
        assert.ok(d, 'listed');
        assert.equal(d.mediaType, MEDIA.ociIndex);
        assert.equal('artifactType' in d, false, `artifactType omitted: ${JSON.stringify(d)}`);
        assert.deepEqual(d.annotations, { 'org.example.kind': 'bundle' });
      });

      test('?artifactType= filters and answers OCI-Filters-Applied: artifactType', async () => {
        const r = await call('GET', `/v2/${name}/referrers/${subject.digest}?artifactType=${encodeURIComponent('application/vnd.example.sbom.v1')}`, { auth: A });
        await expectStatus(r, 200);
        assert.equal(r.headers.get('oci-filters-applied'), 'artifactType');
        const body = await r.json();
        assert.deepEqual(body.manifests.map((m: any) => m.digest), [sbom.digest]);
        const none = await call('GET', `/v2/${name}/referrers/${subject.digest}?artifactType=application/vnd.nothing`, { auth: A });
        await expectStatus(none, 200);
        assert.deepEqual((await none.json()).manifests, []);
      });

      test('without a filter, no OCI-Filters-Applied header', async () => {
        const r = await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A });
        assert.equal(r.headers.get('oci-filters-applied'), null);
      });

      test('a digest with no referrers (or unknown) → 200 and an empty manifests list, never 404', async () => {
        for (const d of [sbom.digest, sha256('never pushed')]) {
          const r = await call('GET', `/v2/${name}/referrers/${d}`, { auth: A });
          await expectStatus(r, 200, d);
          assert.equal(r.headers.get('content-type'), MEDIA.ociIndex);
          const body = await r.json();
          assert.equal(body.schemaVersion, 2);
          assert.equal(body.mediaType, MEDIA.ociIndex);
          assert.deepEqual(body.manifests, []);
        }
      });

      test('an invalid digest → 400', async () => {
        for (const d of ['sha256:xyz', 'latest', 'sha256:' + 'g'.repeat(64)]) {
          const r = await call('GET', `/v2/${name}/referrers/${d}`, { auth: A });
          assert.equal(r.status, 400, `${d}: ${await r.clone().text()}`);
          await errorCodes(r);
        }
      });

      test('referrers come only from the same repository', async () => {
        const other = fresh();
        const art = artifactManifest({ subject, artifactType: 'application/vnd.example.elsewhere' });
        for (const b of art.blobs) await pushBlob(s.url, other, b, A);
        await expectStatus(await pushManifest(s.url, other, art.digest, art, A), 201);
        const body = await (await call('GET', `/v2/${name}/referrers/${subject.digest}`, { auth: A })).json();
        assert.ok(!body.manifests.some((m: any) => m.digest === art.digest));
        const there = await (await call('GET', `/v2/${other}/referrers/${subject.digest}`, { auth: A })).json();
        assert.deepEqual(there.manifests.map((m: any) => m.digest), [art.digest]);
      });

      test('a referrer pushed before its subject is listed; a deleted referrer is not', async () => {
        const n2 = fresh();
        const subj = imageManifest();
        const art = artifactManifest({ subject: subj, artifactType: 'application/vnd.example.early' });
        for (const b of art.blobs) await pushBlob(s.url, n2, b, A);
        await expectStatus(await pushManifest(s.url, n2, art.digest, art, A), 201);
        await pushImage(s.url, n2, 'v1', subj, A);
        let body = await (await call('GET', `/v2/${n2}/referrers/${subj.digest}`, { auth: A })).json();
        assert.deepEqual(body.manifests.map((m: any) => m.digest), [art.digest]);
        await expectStatus(await call('DELETE', `/v2/${n2}/manifests/${art.digest}`, { auth: A }), 202);
        body = await (await call('GET', `/v2/${n2}/referrers/${subj.digest}`, { auth: A })).json();
        assert.deepEqual(body.manifests, []);
      });

      test('referrers tag schema fallback: an index pushed at tag sha256-<hex> → 201 and served back by that tag', async () => {
        const n2 = fresh();
        const subj = await pushImage(s.url, n2, 'v1', imageManifest(), A);
        const art = artifactManifest({ subject: subj, artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json' });
        for (const b of art.blobs) await pushBlob(s.url, n2, b, A);
        await expectStatus(await pushManifest(s.url, n2, art.digest, art, A), 201);
        const tag = subj.digest.replace(':', '-');
        const list = imageIndex([{ manifest: { mediaType: art.mediaType, digest: art.digest, size: art.size, artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json' } }]);
        await expectStatus(await pushManifest(s.url, n2, tag, list, A), 201);
        const r = await getManifest(n2, tag, A, MEDIA.ociIndex);
        await expectStatus(r, 200);
        assert.equal(r.headers.get('content-type'), MEDIA.ociIndex);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(list.bytes));
        const tags = (await (await call('GET', `/v2/${n2}/tags/list`, { auth: A })).json()).tags;
        assert.ok(tags.includes(tag));
      });
    });

    // ---- garbage collection ----------------------------------------------------------------------------------

    describe('garbage collection: what no manifest refers to is freed after the grace period (as distribution does)', () => {
      const HOUR = 3600_000;
      /** Makes content look written `ms` ago (its file, its row and its write mark), as it would be after waiting that long. */
      const age = async (digests: string[], ms = 2 * HOUR) => {
        const then = new Date(Date.now() - ms);
        for (const d of digests) fs.utimesSync(s.core.blobs.localPath!(d), then, then);
        await s.core.db.updateTable('blobs').set({ created_at: then.toISOString() }).where('digest', 'in', digests).execute();
        await s.core.db.updateTable('blob_writes').set({ written_at: then.toISOString() }).where('digest', 'in', digests).execute();
      };
      const stored = async (digest: string) => (await s.core.blobs.stat(digest)) !== null;

      test('blobs pushed without a manifest (an abandoned push): after the grace period gc removes them → HEAD 404 BLOB_UNKNOWN', async () => {
        const name = fresh();
        const abandoned = [blob(123), blob(456)];
        for (const b of abandoned) await expectStatus(await pushBlob(s.url, name, b, A), 201);
        await age(abandoned.map((b) => b.digest));
        const r = await collectGarbage(s.core);
        assert.ok(r.removedBlobs >= 2 && r.releasedHolds >= 2, JSON.stringify(r));
        for (const b of abandoned) {
          assert.equal(await stored(b.digest), false, `${b.digest} is freed`);
          await expectStatus(await headBlob(name, b.digest), 404);
          await expectError(await call('GET', `/v2/${name}/blobs/${b.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        }
        // Pushed again, the layer is back and a manifest may name it.
        await pushImage(s.url, name, 'again', imageManifest({ layers: abandoned }), A);
        await expectStatus(await headBlob(name, abandoned[0].digest), 200);
      });

      test('a blob pushed moments ago (a client pushes layers before the manifest) is never freed, even with no manifest yet', async () => {
        const name = fresh();
        const m = imageManifest({ layers: [blob(222)] });
        for (const b of m.blobs) await expectStatus(await pushBlob(s.url, name, b, A), 201);
        await collectGarbage(s.core);
        for (const b of m.blobs) assert.ok(await stored(b.digest), 'within the grace period');
        await expectStatus(await pushManifest(s.url, name, 'v1', m, A), 201, 'the manifest arrives after the collection');
        for (const b of m.blobs) await expectStatus(await call('GET', `/v2/${name}/blobs/${b.digest}`, { auth: A }), 200);
      });

      test('a layer already stored long ago and pushed again is protected anew by its grace period', async () => {
        const name = fresh();
        const layer = blob(333);
        await expectStatus(await pushBlob(s.url, name, layer, A), 201);
        await age([layer.digest]);
        await expectStatus(await pushBlob(s.url, fresh(), layer, A), 201, 'the same content pushed to another repository');
        await collectGarbage(s.core);
        assert.ok(await stored(layer.digest));
        await expectStatus(await headBlob(name, layer.digest), 200);
      });

      test('an image deleted and purged frees its own layers; a layer shared with a kept image stays, and the kept image pulls', async () => {
        const name = fresh();
        const shared = blob(1000);
        const own = blob(800);
        const gone = await pushImage(s.url, name, 'old', imageManifest({ layers: [own, shared] }), A);
        const keptName = fresh();
        const kept = await pushImage(s.url, keptName, 'v1', imageManifest({ layers: [shared] }), A);
        const all = [gone.digest, kept.digest, ...gone.blobs.map((b) => b.digest), ...kept.blobs.map((b) => b.digest)];
        await age(all);
        // Referenced by a live manifest: nothing goes.
        await collectGarbage(s.core);
        for (const d of all) assert.ok(await stored(d), d);

        await expectStatus(await call('DELETE', `/v2/${name}/manifests/${gone.digest}`, { auth: A }), 202);
        // Deleted but restorable: its layers stay (a restore must find them).
        await collectGarbage(s.core);
        for (const d of all) assert.ok(await stored(d), `${d} stays while the image is restorable`);

        // Past the restore window: the version is purged, and what only it named is freed.
        const pkg = (await s.core.packages.find('alice', 'container', name.split('/')[1], { includeDeleted: true }))!;
        const past = new Date(Date.now() - (s.core.config.restoreDays + 1) * 864e5).toISOString();
        await s.core.db.updateTable('package_versions').set({ deleted_at: past }).where('package_id', '=', pkg.id).where('version', '=', gone.digest).execute();
        const r = await collectGarbage(s.core);
        assert.ok(r.purgedVersions >= 1, JSON.stringify(r));
        for (const d of [gone.digest, gone.blobs[0].digest, own.digest]) assert.equal(await stored(d), false, `${d} (only the purged image named it) is freed`);
        assert.ok(await stored(shared.digest), 'the shared layer stays');
        await expectStatus(await headBlob(name, own.digest), 404);
        await expectError(await getManifest(name, gone.digest), 404, 'MANIFEST_UNKNOWN');
        for (const b of kept.blobs) {
          const g = await call('GET', `/v2/${keptName}/blobs/${b.digest}`, { auth: A });
          await expectStatus(g, 200);
          assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
        }
        await expectStatus(await getManifest(keptName, 'v1'), 200);
      });
    });

    // ---- content management ------------------------------------------------------------------------------------

    describe('content management', () => {
      test('DELETE a tag → 202; GET by that tag → 404 MANIFEST_UNKNOWN; the manifest stays by digest and under its other tags', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'keep', imageManifest(), A);
        await expectStatus(await pushManifest(s.url, name, 'drop', m, A), 201);
        await expectStatus(await call('DELETE', `/v2/${name}/manifests/drop`, { auth: A }), 202);
        await expectError(await getManifest(name, 'drop'), 404, 'MANIFEST_UNKNOWN');
        await expectStatus(await getManifest(name, m.digest), 200);
        await expectStatus(await getManifest(name, 'keep'), 200);
        assert.deepEqual((await (await call('GET', `/v2/${name}/tags/list`, { auth: A })).json()).tags, ['keep']);
      });

      test('DELETE a manifest by digest → 202; it and every tag pointing at it → 404 MANIFEST_UNKNOWN', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'a', imageManifest(), A);
        await expectStatus(await pushManifest(s.url, name, 'b', m, A), 201);
        const other = await pushImage(s.url, name, 'c', imageManifest(), A);
        await expectStatus(await call('DELETE', `/v2/${name}/manifests/${m.digest}`, { auth: A }), 202);
        await expectError(await getManifest(name, m.digest), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest(name, 'a'), 404, 'MANIFEST_UNKNOWN');
        await expectError(await getManifest(name, 'b'), 404, 'MANIFEST_UNKNOWN');
        await expectStatus(await call('HEAD', `/v2/${name}/manifests/${m.digest}`, { auth: A }), 404);
        await expectStatus(await getManifest(name, other.digest), 200);
        assert.deepEqual((await (await call('GET', `/v2/${name}/tags/list`, { auth: A })).json()).tags, ['c']);
      });

      test('a deleted manifest pushed again → 201 and served again', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'v1', imageManifest(), A);
        await expectStatus(await call('DELETE', `/v2/${name}/manifests/${m.digest}`, { auth: A }), 202);
        await expectError(await getManifest(name, m.digest), 404, 'MANIFEST_UNKNOWN');
        await pushImage(s.url, name, 'v2', m, A);
        const r = await getManifest(name, 'v2');
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(m.bytes));
        await expectStatus(await getManifest(name, m.digest), 200);
      });

      test('DELETE an unknown manifest or tag → 404 MANIFEST_UNKNOWN; in a repository that does not exist → 404 NAME_UNKNOWN', async () => {
        await expectError(await call('DELETE', `/v2/alice/app/manifests/${sha256('nope')}`, { auth: A }), 404, 'MANIFEST_UNKNOWN');
        await expectError(await call('DELETE', '/v2/alice/app/manifests/no-such-tag', { auth: A }), 404, 'MANIFEST_UNKNOWN');
        await expectError(await call('DELETE', `/v2/alice/never-there/manifests/${sha256('nope')}`, { auth: A }), 404, 'NAME_UNKNOWN');
      });

      test('DELETE a blob → 202; then HEAD → 404 and DELETE again → 404 BLOB_UNKNOWN', async () => {
        const name = fresh();
        const b = blob(77);
        await expectStatus(await pushBlob(s.url, name, b, A), 201);
        await expectStatus(await call('DELETE', `/v2/${name}/blobs/${b.digest}`, { auth: A }), 202);
        await expectStatus(await headBlob(name, b.digest), 404);
        await expectError(await call('GET', `/v2/${name}/blobs/${b.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        await expectError(await call('DELETE', `/v2/${name}/blobs/${b.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
      });

      test('DELETE a blob in one repository leaves the same blob in another', async () => {
        const n1 = fresh();
        const n2 = fresh();
        const b = blob(88);
        await expectStatus(await pushBlob(s.url, n1, b, A), 201);
        await expectStatus(await pushBlob(s.url, n2, b, A), 201);
        await expectStatus(await call('DELETE', `/v2/${n1}/blobs/${b.digest}`, { auth: A }), 202);
        await expectStatus(await headBlob(n2, b.digest), 200);
      });

      test('a token without delete:packages → 403 DENIED on DELETE, and nothing is deleted', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'v1', imageManifest(), A);
        await expectError(await call('DELETE', `/v2/${name}/manifests/${m.digest}`, { auth: aliceNoDelete }), [401, 403], ['DENIED', 'UNAUTHORIZED']);
        await expectError(await call('DELETE', `/v2/${name}/manifests/v1`, { auth: aliceNoDelete }), [401, 403], ['DENIED', 'UNAUTHORIZED']);
        await expectError(await call('DELETE', `/v2/${name}/blobs/${m.blobs[1].digest}`, { auth: aliceNoDelete }), [401, 403], ['DENIED', 'UNAUTHORIZED']);
        await expectStatus(await getManifest(name, 'v1'), 200);
        await expectStatus(await headBlob(name, m.blobs[1].digest), 200);
      });

      test("bob deleting alice's content: private → 404 NAME_UNKNOWN, public → 403 DENIED; nothing deleted", async () => {
        await expectError(await call('DELETE', `/v2/alice/app/manifests/${img.digest}`, { auth: B }), 404, 'NAME_UNKNOWN');
        await expectError(await call('DELETE', `/v2/alice/app/blobs/${img.blobs[1].digest}`, { auth: B }), 404, 'NAME_UNKNOWN');
        await expectError(await call('DELETE', `/v2/alice/pub/manifests/latest`, { auth: B }), 403, 'DENIED');
        await expectError(await call('DELETE', `/v2/alice/pub/manifests/${pubImg.digest}`, { auth: B }), 403, 'DENIED');
        await expectError(await call('DELETE', `/v2/alice/pub/blobs/${pubImg.blobs[1].digest}`, { auth: B }), 403, 'DENIED');
        await expectStatus(await getManifest('alice/app', img.digest), 200);
        await expectStatus(await getManifest('alice/pub', 'latest'), 200);
        await expectStatus(await headBlob('alice/pub', pubImg.blobs[1].digest), 200);
      });
    });

    // ---- authentication and permissions ------------------------------------------------------------------------

    describe('Docker token authentication', () => {
      test('GET /v2/token with Basic credentials → {token, access_token, expires_in, issued_at}; the JWT grants what was asked', async () => {
        const { status, body } = await registryToken(s.url, 'repository:alice/app:pull,push', A);
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(typeof body.token, 'string');
        assert.equal(body.access_token, body.token);
        assert.equal(typeof body.expires_in, 'number');
        assert.ok(body.expires_in > 0 && body.expires_in <= 3600);
        assert.ok(!Number.isNaN(Date.parse(body.issued_at)), `issued_at is a date: ${body.issued_at}`);
        const p = jwtPayload(body.token);
        assert.deepEqual(p.access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
        assert.ok(typeof p.exp === 'number' && p.exp * 1000 > Date.now());
      });

      test('the Bearer token pulls and pushes', async () => {
        const name = fresh();
        const { body } = await registryToken(s.url, `repository:${name}:pull,push`, A);
        assert.deepEqual(jwtPayload(body.token).access[0].actions.sort(), ['pull', 'push']);
        const m = await pushImage(s.url, name, 'v1', imageManifest(), bearer(body.token));
        const r = await getManifest(name, 'v1', bearer(body.token));
        await expectStatus(r, 200);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
      });

      test('docker login: a token asked for with no scope → 200; GET /v2/ with it → 200', async () => {
        const q = new URLSearchParams({ service: host, account: 'alice', client_id: 'docker' });
        const r = await fetch(`${s.url}/v2/token?${q}`, { headers: { authorization: A } });
        assert.equal(r.status, 200);
        const body = await r.json();
        assert.deepEqual(jwtPayload(body.token).access ?? [], []);
        await expectStatus(await call('GET', '/v2/', { auth: bearer(body.token) }), 200);
      });

      test('a registry token stops working when the personal token it came from is revoked', async () => {
        const pat = await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages,write:packages' });
        const { body } = await registryToken(s.url, 'repository:alice/app:pull', basic('alice', pat.token));
        await expectStatus(await getManifest('alice/app', 'v1', bearer(body.token)), 200);
        await s.core.tokens.revoke(systemActor, pat.info.id);
        await expectError(await getManifest('alice/app', 'v1', bearer(body.token)), 401, 'UNAUTHORIZED');
      });

      test("bob's token for alice's private repository grants nothing; using it → 401/404, no content", async () => {
        const { status, body } = await registryToken(s.url, 'repository:alice/app:pull,push,delete', B);
        assert.equal(status, 200);
        assert.deepEqual(jwtPayload(body.token).access, [{ type: 'repository', name: 'alice/app', actions: [] }]);
        const r = await getManifest('alice/app', 'v1', bearer(body.token));
        await expectError(r, [401, 404], ['UNAUTHORIZED', 'NAME_UNKNOWN', 'DENIED']);
      });

      test("bob's token for alice's public repository grants pull only", async () => {
        const { body } = await registryToken(s.url, 'repository:alice/pub:pull,push,delete', B);
        assert.deepEqual(jwtPayload(body.token).access, [{ type: 'repository', name: 'alice/pub', actions: ['pull'] }]);
        await expectStatus(await getManifest('alice/pub', 'latest', bearer(body.token)), 200);
      });

      test('an anonymous token: pull on a public repository, nothing on a private one; it pulls the public image', async () => {
        const { status, body } = await registryToken(s.url, ['repository:alice/pub:pull,push', 'repository:alice/app:pull']);
        assert.equal(status, 200, JSON.stringify(body));
        const access = jwtPayload(body.token).access;
        assert.deepEqual(access.find((a: any) => a.name === 'alice/pub'), { type: 'repository', name: 'alice/pub', actions: ['pull'] });
        assert.deepEqual(access.find((a: any) => a.name === 'alice/app')?.actions ?? [], []);
        await expectStatus(await getManifest('alice/pub', 'latest', bearer(body.token)), 200);
        await expectError(await getManifest('alice/app', 'v1', bearer(body.token)), 401, 'UNAUTHORIZED');
      });

      test('a read-only personal token gets pull but not push', async () => {
        const { body } = await registryToken(s.url, 'repository:alice/app:pull,push', aliceReadOnly);
        assert.deepEqual(jwtPayload(body.token).access[0].actions, ['pull']);
      });

      test('malformed or hostile scopes at the token endpoint grant nothing (200 with no actions, or 400), never a 5xx', async () => {
        for (const scope of ['repository:alice/../bob/secret:pull', 'repository:bob/secret:pull', 'repository:Bob/Secret:pull', 'registry:catalog:*', 'repository::pull', 'garbage']) {
          const r = await registryToken(s.url, scope, A);
          assert.ok(r.status === 200 || r.status === 400, `${scope}: ${r.status}`);
          if (r.status === 200) {
            for (const a of jwtPayload(r.body.token).access ?? []) assert.deepEqual(a.actions, [], `${scope} granted ${JSON.stringify(a)}`);
          }
        }
      });

      test('bad credentials at the token endpoint → 401', async () => {
        const r = await registryToken(s.url, 'repository:alice/app:pull', basic('alice', 'not-the-password'));
        assert.equal(r.status, 401);
      });

      test('a pull-only Bearer token cannot push: 401 (insufficient scope) or 403, nothing written', async () => {
        const { body } = await registryToken(s.url, 'repository:alice/app:pull', A);
        const auth = bearer(body.token);
        const b = blob(40);
        const r = await call('POST', `/v2/alice/app/blobs/uploads/?digest=${b.digest}`, { auth, body: b.bytes });
        await expectError(r, [401, 403], ['UNAUTHORIZED', 'DENIED']);
        if (r.status === 401) assert.ok(r.headers.get('www-authenticate')?.includes('scope="repository:alice/app:'), r.headers.get('www-authenticate') ?? '');
        await expectStatus(await headBlob('alice/app', b.digest), 404);
        const m = imageManifest({ config: img.blobs[0], layers: img.blobs.slice(1), annotations: { x: 'y' } });
        await expectError(await pushManifest(s.url, 'alice/app', 'pull-only', m, auth), [401, 403], ['UNAUTHORIZED', 'DENIED']);
        await expectError(await getManifest('alice/app', 'pull-only'), 404, 'MANIFEST_UNKNOWN');
      });

      test('a token for one repository does not open another', async () => {
        const { body } = await registryToken(s.url, 'repository:alice/pub:pull', A);
        await expectError(await getManifest('alice/app', 'v1', bearer(body.token)), [401, 403, 404], ['UNAUTHORIZED', 'DENIED', 'NAME_UNKNOWN']);
      });

      test('a tampered or garbage JWT → 401 UNAUTHORIZED', async () => {
        const { body } = await registryToken(s.url, 'repository:alice/pub:pull', B);
        const [h, p, sig] = body.token.split('.');
        const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
        payload.access = [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push', 'delete'] }];
        const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
        await expectError(await getManifest('alice/app', 'v1', bearer(forged)), 401, 'UNAUTHORIZED');
        const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
        await expectError(await getManifest('alice/app', 'v1', bearer(none)), 401, 'UNAUTHORIZED');
      });
    });

    describe('permissions', () => {
      test('anonymous pull of a public image: manifest, blobs, tags list, referrers → 200 with no credentials at all', async () => {
        const r = await getManifest('alice/pub', 'latest', null);
        await expectStatus(r, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(pubImg.bytes));
        for (const b of pubImg.blobs) {
          const g = await call('GET', `/v2/alice/pub/blobs/${b.digest}`);
          await expectStatus(g, 200);
          assert.ok(Buffer.from(await g.arrayBuffer()).equals(b.bytes));
        }
        await expectStatus(await call('HEAD', `/v2/alice/pub/manifests/${pubImg.digest}`), 200);
        assert.deepEqual(await (await call('GET', '/v2/alice/pub/tags/list')).json(), { name: 'alice/pub', tags: ['latest'] });
        await expectStatus(await call('GET', `/v2/alice/pub/referrers/${pubImg.digest}`), 200);
      });

      test('an image made public by its owner (package settings) → anonymous pulls work', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'v1', imageManifest(), A);
        await expectError(await getManifest(name, 'v1', null), 401, 'UNAUTHORIZED');
        const pkg = (await s.core.packages.find('alice', 'container', name.split('/')[1]))!;
        assert.ok(pkg, 'a container package per repository');
        const owner = (await s.core.identity.findOwner('alice'))!;
        const actor: Actor = { kind: 'user', user: { id: owner.id, name: 'alice', isAdmin: false }, scopes: ALL_SCOPES, tokenId: null };
        await s.core.publisher.updateSettings(pkg.id, { visibility: 'public' }, actor);
        const r = await getManifest(name, 'v1', null);
        await expectStatus(r, 200);
        assert.equal(r.headers.get('docker-content-digest'), m.digest);
        await expectStatus(await call('GET', `/v2/${name}/blobs/${m.blobs[1].digest}`), 200);
      });

      test("a source label naming another owner's public repository does not make the image public", async () => {
        const name = fresh();
        await pushImage(s.url, name, 'v1', imageManifest({ config: configBlob({ labels: { 'org.opencontainers.image.source': 'https://github.com/bob/openrepo' } }) }), A);
        await expectError(await getManifest(name, 'v1', null), 401, 'UNAUTHORIZED');
        await expectError(await getManifest(name, 'v1', B), 404, 'NAME_UNKNOWN');
      });

      test('a source label naming a private repository of the owner keeps the image private', async () => {
        await s.core.identity.createRepo(systemActor, 'alice', 'privrepo', 'private');
        const name = fresh();
        await pushImage(s.url, name, 'v1', imageManifest({ config: configBlob({ labels: { 'org.opencontainers.image.source': 'https://github.com/alice/privrepo' } }) }), A);
        await expectError(await getManifest(name, 'v1', null), 401, 'UNAUTHORIZED');
        await expectError(await getManifest(name, 'v1', B), 404, 'NAME_UNKNOWN');
      });

      test('anonymous on a private image → 401 UNAUTHORIZED with WWW-Authenticate: Bearer realm, service and scope …:pull', async () => {
        const want = challengeFor('repository:alice/app:pull');
        const cases: [string, string][] = [
          ['GET', '/v2/alice/app/manifests/v1'],
          ['GET', `/v2/alice/app/blobs/${img.blobs[1].digest}`],
          ['GET', '/v2/alice/app/tags/list'],
          ['GET', `/v2/alice/app/referrers/${img.digest}`],
        ];
        for (const [method, path] of cases) {
          const r = await call(method, path);
          await expectError(r, 401, 'UNAUTHORIZED', path);
          assert.equal(r.headers.get('www-authenticate'), want, path);
        }
        const h = await call('HEAD', '/v2/alice/app/manifests/v1');
        assert.equal(h.status, 401);
        assert.equal(h.headers.get('www-authenticate'), want);
      });

      test('anonymous on a repository that does not exist → 401 too (existence is not revealed)', async () => {
        const r = await call('GET', '/v2/alice/ghost/manifests/v1');
        await expectError(r, 401, 'UNAUTHORIZED');
        assert.equal(r.headers.get('www-authenticate'), challengeFor('repository:alice/ghost:pull'));
      });

      test("a signed-in user who may not read a private image → 404 NAME_UNKNOWN everywhere, nothing leaked", async () => {
        const cases: [string, string][] = [
          ['GET', '/v2/alice/app/manifests/v1'],
          ['GET', `/v2/alice/app/manifests/${img.digest}`],
          ['GET', `/v2/alice/app/blobs/${img.blobs[1].digest}`],
          ['GET', '/v2/alice/app/tags/list'],
          ['GET', `/v2/alice/app/referrers/${img.digest}`],
        ];
        for (const [method, path] of cases) {
          const r = await call(method, path, { auth: B });
          const text = await r.clone().text();
          await expectError(r, 404, 'NAME_UNKNOWN', path);
          for (const secret of ['"schemaVersion"', '"tags"', '"manifests"', img.blobs[0].digest]) assert.ok(!text.includes(secret), `${path} leaked ${secret}`);
        }
        assert.equal((await call('HEAD', `/v2/alice/app/blobs/${img.blobs[1].digest}`, { auth: B })).status, 404);
        assert.equal((await call('HEAD', '/v2/alice/app/manifests/v1', { auth: B })).status, 404);
      });

      test("pushing to an owner you can't write → 403 DENIED (POST upload, PUT manifest, mount); nothing written", async () => {
        const b = blob(30);
        await expectError(await call('POST', '/v2/alice/app/blobs/uploads/', { auth: B, headers: { 'content-length': '0' } }), 403, 'DENIED', 'POST to existing private');
        await expectError(await call('POST', '/v2/alice/bobs-new-repo/blobs/uploads/', { auth: B, headers: { 'content-length': '0' } }), 403, 'DENIED', 'POST to new');
        await expectError(await call('POST', `/v2/alice/pub/blobs/uploads/?digest=${b.digest}`, { auth: B, body: b.bytes }), 403, 'DENIED', 'POST ?digest to public');
        await expectError(await call('POST', `/v2/alice/pub/blobs/uploads/?mount=${bobPub.blobs[1].digest}&from=bob/open`, { auth: B }), 403, 'DENIED', 'mount');
        const m = imageManifest({ config: pubImg.blobs[0], layers: pubImg.blobs.slice(1), annotations: { by: 'bob' } });
        await expectError(await pushManifest(s.url, 'alice/pub', 'latest', m, B), 403, 'DENIED', 'PUT manifest');
        await expectStatus(await headBlob('alice/pub', b.digest), 404);
        const r = await getManifest('alice/pub', 'latest');
        assert.equal(r.headers.get('docker-content-digest'), pubImg.digest, 'the tag did not move');
        await expectError(await getManifest('alice/bobs-new-repo', 'v1'), 404, 'NAME_UNKNOWN', 'no repository was created');
      });

      test('anonymous push → 401 UNAUTHORIZED with a challenge for scope …:pull,push', async () => {
        const r = await call('POST', '/v2/alice/anon-push/blobs/uploads/', { headers: { 'content-length': '0' } });
        await expectError(r, 401, 'UNAUTHORIZED');
        const ch = r.headers.get('www-authenticate') ?? '';
        assert.ok(ch.startsWith(`Bearer realm="${s.url}/v2/token",service="${host}",scope="repository:alice/anon-push:`), ch);
        assert.match(ch, /scope="repository:alice\/anon-push:(pull,)?push"/);
        const m = imageManifest();
        await expectError(await pushManifest(s.url, 'alice/pub', 'anon', m), 401, 'UNAUTHORIZED');
      });

      test('a token without write:packages → 403 DENIED on push', async () => {
        await expectError(await call('POST', '/v2/alice/app/blobs/uploads/', { auth: aliceReadOnly, headers: { 'content-length': '0' } }), 403, 'DENIED');
        await expectError(await pushManifest(s.url, 'alice/app', 'ro', img, aliceReadOnly), 403, 'DENIED');
        await expectError(await getManifest('alice/app', 'ro'), 404, 'MANIFEST_UNKNOWN');
        await expectStatus(await getManifest('alice/app', 'v1', aliceReadOnly), 200, 'but it pulls');
      });

      test('pushing under an owner that does not exist → 404 NAME_UNKNOWN or 403 DENIED', async () => {
        await expectError(await call('POST', '/v2/nosuchowner/app/blobs/uploads/', { auth: A, headers: { 'content-length': '0' } }), [403, 404], ['DENIED', 'NAME_UNKNOWN']);
      });

      test("alice's upload session cannot be used by bob, neither through her repository nor through his", async () => {
        const loc = await startUpload('alice/app');
        const id = new URL(loc, s.url).pathname.split('/').pop()!;
        // Through alice's repository bob is denied; through his own repository the id is unknown.
        await expectError(await patch(loc, Buffer.from('evil'), '0-3', B), [403, 404], ['DENIED', 'NAME_UNKNOWN']);
        await expectStatus(await pushBlob(s.url, 'bob/mine', blob(1), B), 201);
        await expectError(await call('PATCH', `/v2/bob/mine/blobs/uploads/${id}`, { auth: B, body: 'evil', headers: { 'content-range': '0-3' } }), 404, 'BLOB_UPLOAD_UNKNOWN');
        await expectError(await call('PUT', `/v2/bob/mine/blobs/uploads/${id}?digest=${sha256('evil')}`, { auth: B, body: 'evil' }), 404, 'BLOB_UPLOAD_UNKNOWN');
        const st = await call('GET', resolveLocation(s.url, loc), { auth: A });
        await expectStatus(st, 204);
        assert.match(st.headers.get('range') ?? '0-0', /^0-0$/, 'no byte of bob was appended');
      });
    });

    describe('blob size limit (WHARF_MAX_BLOB_SIZE=4096)', () => {
      let small: TestServer;
      let auth: string;
      before(async () => {
        small = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: '4096' } });
        auth = basic('dave', await small.userWithToken('dave'));
      });
      after(() => small.stop());

      test('a blob over the limit (monolithic, POST-then-PUT, chunked) → 413 or 400 (SIZE_INVALID / BLOB_UPLOAD_INVALID), nothing stored', async () => {
        const big = blob(6000);
        const codes = ['SIZE_INVALID', 'BLOB_UPLOAD_INVALID'];
        const mono = await fetch(`${small.url}/v2/dave/app/blobs/uploads/?digest=${big.digest}`, { method: 'POST', headers: { authorization: auth }, body: new Uint8Array(big.bytes) });
        await expectError(mono, [400, 413], codes, 'monolithic');
        await expectError(await pushBlob(small.url, 'dave/app', big, auth), [400, 413], codes, 'POST-then-PUT');
        const st = await fetch(`${small.url}/v2/dave/app/blobs/uploads/`, { method: 'POST', headers: { authorization: auth, 'content-length': '0' } });
        await expectStatus(st, 202);
        const p1 = await fetch(resolveLocation(small.url, st.headers.get('location')!), { method: 'PATCH', headers: { authorization: auth, 'content-range': '0-2999' }, body: new Uint8Array(big.bytes.subarray(0, 3000)) });
        await expectStatus(p1, 202);
        const p2 = await fetch(resolveLocation(small.url, p1.headers.get('location')!), { method: 'PATCH', headers: { authorization: auth, 'content-range': '3000-5999' }, body: new Uint8Array(big.bytes.subarray(3000)) });
        await expectError(p2, [400, 413, 416], codes, 'chunk crossing the limit');
        const h = await fetch(`${small.url}/v2/dave/app/blobs/${big.digest}`, { method: 'HEAD', headers: { authorization: auth } });
        assert.equal(h.status, 404);
        // A blob within the limit still goes through.
        await expectStatus(await pushBlob(small.url, 'dave/app', blob(4096), auth), 201);
      });
    });

    // ---- hostile inputs --------------------------------------------------------------------------------------

    describe('hostile inputs', () => {
      test('monolithic POST ?digest= with the wrong digest → 400 DIGEST_INVALID; neither digest is then found', async () => {
        const name = fresh();
        await expectStatus(await pushBlob(s.url, name, blob(1), A), 201);
        const b = blob(500);
        const wrong = sha256('not these bytes');
        await expectError(await call('POST', `/v2/${name}/blobs/uploads/?digest=${wrong}`, { auth: A, body: b.bytes }), 400, 'DIGEST_INVALID');
        await expectStatus(await headBlob(name, wrong), 404, 'wrong digest');
        await expectStatus(await headBlob(name, b.digest), 404, 'real digest');
      });

      test('closing PUT with the wrong digest → 400 DIGEST_INVALID; neither digest is then found', async () => {
        const name = fresh();
        const b = blob(500);
        const wrong = sha256('not these bytes either');
        const loc = await startUpload(name);
        await expectError(await call('PUT', resolveLocation(s.url, loc, { digest: wrong }), { auth: A, body: b.bytes }), 400, 'DIGEST_INVALID');
        await expectStatus(await headBlob(name, wrong), 404);
        await expectStatus(await headBlob(name, b.digest), 404);
      });

      test('chunked upload closed with the wrong digest → 400 DIGEST_INVALID; nothing stored', async () => {
        const name = fresh();
        const b = blob(200);
        const loc = await startUpload(name);
        const r = await patch(loc, b.bytes, '0-199');
        await expectStatus(r, 202);
        const wrong = sha256('wrong');
        await expectError(await call('PUT', resolveLocation(s.url, r.headers.get('location')!, { digest: wrong }), { auth: A }), 400, 'DIGEST_INVALID');
        await expectStatus(await headBlob(name, wrong), 404);
        await expectStatus(await headBlob(name, b.digest), 404);
      });

      test('malformed or missing digests on upload → 400 DIGEST_INVALID, nothing stored', async () => {
        const name = fresh();
        const b = blob(10);
        for (const d of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'sha256:' + 'a'.repeat(65), 'garbage', '']) {
          await expectError(await call('POST', `/v2/${name}/blobs/uploads/?digest=${encodeURIComponent(d)}`, { auth: A, body: b.bytes }), 400, 'DIGEST_INVALID', `POST ${d}`);
          const loc = await startUpload(name);
          await expectError(await call('PUT', resolveLocation(s.url, loc, { digest: d }), { auth: A, body: b.bytes }), 400, 'DIGEST_INVALID', `PUT ${d}`);
        }
        const loc = await startUpload(name);
        await expectError(await call('PUT', resolveLocation(s.url, loc), { auth: A, body: b.bytes }), 400, 'DIGEST_INVALID', 'PUT without digest');
        await expectStatus(await headBlob(name, b.digest), 404);
      });

      test('a sha512 digest (only sha256 is required) → 400 DIGEST_INVALID or 415 UNSUPPORTED, nothing stored', async () => {
        const name = fresh();
        const b = blob(10);
        const d512 = `sha512:${'a'.repeat(128)}`;
        await expectError(await call('POST', `/v2/${name}/blobs/uploads/?digest=${d512}`, { auth: A, body: b.bytes }), [400, 415], ['DIGEST_INVALID', 'UNSUPPORTED']);
        await expectStatus(await headBlob(name, b.digest), 404);
      });

      test('a truncated body (Content-Length larger than what arrives) stores nothing, and the server keeps serving', async () => {
        const name = fresh();
        await expectStatus(await pushBlob(s.url, name, blob(1), A), 201);
        const b = blob(4000);
        // Monolithic POST ?digest=
        const r1 = await rawRequest(
          s.port,
          `POST /v2/${name}/blobs/uploads/?digest=${b.digest} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nContent-Type: application/octet-stream\nContent-Length: ${b.size}\n`,
          b.bytes.subarray(0, 1500),
          { halfClose: true, timeoutMs: 1500 },
        );
        assert.ok(r1.status === null || (r1.status >= 400 && r1.status < 500), `POST answered ${r1.status}`);
        // Closing PUT of a session.
        const loc = await startUpload(name);
        const path = new URL(resolveLocation(s.url, loc, { digest: b.digest })).pathname + new URL(resolveLocation(s.url, loc, { digest: b.digest })).search;
        const r2 = await rawRequest(
          s.port,
          `PUT ${path} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nContent-Type: application/octet-stream\nContent-Length: ${b.size}\n`,
          b.bytes.subarray(0, 2000),
          { halfClose: true, timeoutMs: 1500 },
        );
        assert.ok(r2.status === null || (r2.status >= 400 && r2.status < 500), `PUT answered ${r2.status}`);
        await new Promise((r) => setTimeout(r, 200));
        await expectStatus(await headBlob(name, b.digest), 404, 'nothing stored');
        await expectStatus(await call('GET', '/v2/', { auth: A }), 200, 'still serving');
      });

      test('a chunk whose Content-Range disagrees with its length → 400 or 416, and the upload does not advance', async () => {
        const name = fresh();
        const loc = await startUpload(name);
        const r = await patch(loc, blob(50).bytes, '0-99');
        await expectError(r, [400, 416], ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID']);
        const st = await call('GET', resolveLocation(s.url, loc), { auth: A });
        await expectStatus(st, 204);
        assert.match(st.headers.get('range') ?? '0-0', /^0-0$/);
      });

      test('a malformed Content-Range → 400 or 416', async () => {
        const name = fresh();
        const loc = await startUpload(name);
        for (const range of ['abc', '10-5', 'bytes=0-', '-1-3']) {
          const r = await patch(loc, Buffer.from('abcd'), range);
          assert.ok([400, 416].includes(r.status), `${range}: ${r.status} ${await r.clone().text()}`);
        }
      });

      test("a manifest naming a blob that only another owner's repository holds → 400 MANIFEST_BLOB_UNKNOWN", async () => {
        const name = fresh();
        const config = configBlob();
        await pushBlob(s.url, name, config, A);
        for (const [what, layer] of [['private', bobImg.blobs[1]], ['public', bobPub.blobs[1]]] as [string, Content][]) {
          const m = imageManifest({ config, layers: [layer] });
          await expectError(await pushManifest(s.url, name, 'theft', m, A), 400, 'MANIFEST_BLOB_UNKNOWN', what);
          await expectError(await call('GET', `/v2/${name}/blobs/${layer.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN', what);
        }
        await expectError(await getManifest(name, 'theft'), 404, 'MANIFEST_UNKNOWN');
        // An index naming bob's manifest is refused the same way.
        const idx = imageIndex([{ manifest: bobImg, platform: { architecture: 'amd64', os: 'linux' } }]);
        await expectError(await pushManifest(s.url, name, 'theft-index', idx, A), 400, 'MANIFEST_BLOB_UNKNOWN');
      });

      test("a foreign layer (urls) naming bob's private blob digest does not make that blob readable here", async () => {
        const name = fresh();
        const config = configBlob();
        await pushBlob(s.url, name, config, A);
        const layer = bobImg.blobs[1];
        const doc = {
          schemaVersion: 2,
          mediaType: MEDIA.dockerManifest,
          config: { mediaType: MEDIA.dockerConfig, digest: config.digest, size: config.size },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: layer.digest, size: layer.size, urls: ['https://example.com/layer'] }],
        };
        const r = await call('PUT', `/v2/${name}/manifests/foreign`, { auth: A, headers: { 'content-type': MEDIA.dockerManifest }, body: JSON.stringify(doc) });
        assert.ok(r.status === 201 || r.status === 400, `${r.status} ${await r.clone().text()}`);
        await expectError(await call('GET', `/v2/${name}/blobs/${layer.digest}`, { auth: A }), 404, 'BLOB_UNKNOWN');
        await expectStatus(await headBlob(name, layer.digest), 404);
        const mount = await call('POST', `/v2/${fresh()}/blobs/uploads/?mount=${layer.digest}&from=${name}`, { auth: A, headers: { 'content-length': '0' } });
        await expectStatus(mount, 202, 'not mountable through the foreign layer either');
      });

      test('a manifest naming a blob held only by another repository of the same owner → 400 MANIFEST_BLOB_UNKNOWN', async () => {
        const name = fresh();
        const m = imageManifest({ config: img.blobs[0], layers: img.blobs.slice(1) }); // only in alice/app
        await expectError(await pushManifest(s.url, name, 'v1', m, A), 400, 'MANIFEST_BLOB_UNKNOWN');
      });

      test('path traversal in names (alice/../bob/secret, %2e%2e, %2f) → 400 NAME_INVALID or 404, never bob\'s content', async () => {
        const paths = [
          `/v2/alice/../bob/secret/manifests/v1`,
          `/v2/alice/%2e%2e/bob/secret/manifests/v1`,
          `/v2/alice/%2E%2E/bob/secret/manifests/v1`,
          `/v2/alice/app/../../bob/secret/manifests/v1`,
          `/v2/alice%2f..%2fbob/secret/manifests/v1`,
          `/v2/alice/..%2fbob%2fsecret/manifests/v1`,
          `/v2/alice/./app/manifests/v1`,
          `/v2/alice/../bob/secret/blobs/${bobImg.blobs[1].digest}`,
          `/v2/alice/../bob/secret/tags/list`,
        ];
        for (const p of paths) {
          const r = await rawRequest(s.port, `GET ${p} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nAccept: ${OCI_ACCEPT}\nConnection: close\n`);
          assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
          assert.ok(!r.text.includes(bobImg.digest) && !r.text.includes('"schemaVersion"') && !r.text.includes('"tags"'), `${p} leaked: ${r.text.slice(0, 300)}`);
          const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
          if (r.status === 400) assert.match(body, /"NAME_INVALID"/, `${p}: ${body}`);
        }
      });

      test('path traversal on push (PUT manifest / POST upload at alice/../bob/x) → 400 NAME_INVALID or 404; bob/x is not created', async () => {
        const m = imageManifest();
        for (const p of ['/v2/alice/../bob/x/manifests/v1', '/v2/alice/%2e%2e/bob/x/manifests/v1']) {
          const r = await rawRequest(s.port, `PUT ${p} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nContent-Type: ${m.mediaType}\nContent-Length: ${m.size}\nConnection: close\n`, m.bytes);
          assert.ok(r.status === 400 || r.status === 404 || r.status === 403, `${p}: ${r.status}`);
        }
        for (const p of ['/v2/alice/../bob/x/blobs/uploads/', '/v2/alice/%2e%2e/bob/x/blobs/uploads/']) {
          const r = await rawRequest(s.port, `POST ${p} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nContent-Length: 0\nConnection: close\n`);
          assert.ok(r.status === 400 || r.status === 404 || r.status === 403, `${p}: ${r.status}`);
        }
        await expectError(await call('GET', '/v2/bob/x/tags/list', { auth: B }), 404, 'NAME_UNKNOWN');
        assert.equal(await s.core.packages.find('bob', 'container', 'x'), undefined);
      });

      test('invalid repository names → 400 NAME_INVALID (upper case, empty or leading/trailing separators, illegal characters)', async () => {
        for (const n of [`alice/${'a'.repeat(300)}`, 'Alice/App', 'alice/App', 'alice//app', 'alice/app-', 'alice/-app', 'alice/_app', 'alice/a..b', 'alice/a%20b', 'alice/a$b', 'alice/ap%00p']) {
          await expectError(await call('GET', `/v2/${n}/tags/list`, { auth: A }), 400, 'NAME_INVALID', n);
          await expectError(await call('POST', `/v2/${n}/blobs/uploads/`, { auth: A, headers: { 'content-length': '0' } }), 400, 'NAME_INVALID', `POST ${n}`);
        }
      });

      test('a one-component name (no owner) → 400 NAME_INVALID or 404 NAME_UNKNOWN', async () => {
        await expectError(await call('GET', '/v2/app/tags/list', { auth: A }), [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN']);
        await expectError(await call('POST', '/v2/app/blobs/uploads/', { auth: A, headers: { 'content-length': '0' } }), [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN', 'DENIED']);
      });

      test('tags with invalid characters or length on PUT → 400, nothing stored', async () => {
        const name = fresh();
        const m = await pushImage(s.url, name, 'ok', imageManifest(), A);
        const bad = ['-lead', '.lead', 'a'.repeat(129), 'a+b', 'a%20b', 'ta%2Fg', 'a@b', '%00', 'sha256-'.padEnd(130, 'a')];
        for (const t of bad) {
          const r = await call('PUT', `/v2/${name}/manifests/${t}`, { auth: A, headers: { 'content-type': m.mediaType }, body: m.bytes });
          // `ta%2Fg` may be routed as another path (404); every other bad tag is a 400.
          if (t === 'ta%2Fg') await expectError(r, [400, 404], ['MANIFEST_INVALID', 'NAME_INVALID', 'TAG_INVALID', 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN'], t);
          else await expectError(r, 400, ['MANIFEST_INVALID', 'NAME_INVALID', 'TAG_INVALID'], t);
        }
        // A 128-character tag is valid.
        await expectStatus(await pushManifest(s.url, name, 'a'.repeat(128), m, A), 201, '128 chars');
        const tags = (await (await call('GET', `/v2/${name}/tags/list`, { auth: A })).json()).tags;
        assert.deepEqual(tags, ['a'.repeat(128), 'ok']);
      });

      test('invalid manifest references on GET (neither a tag nor a digest) → 400 or 404, never a 5xx or content', async () => {
        for (const ref of ['-x', 'a+b', 'sha256:xyz', 'sha256:' + 'a'.repeat(63), 'md5:abc', '..', '%2e%2e']) {
          const r = await getManifest('alice/app', ref);
          await expectError(r, [400, 404], ['MANIFEST_INVALID', 'NAME_INVALID', 'TAG_INVALID', 'DIGEST_INVALID', 'MANIFEST_UNKNOWN', 'UNSUPPORTED', 'NAME_UNKNOWN'], ref);
        }
      });

      test('a path traversal in the reference (manifests/..%2f..%2fbob%2fsecret…) → never bob\'s manifest', async () => {
        for (const p of [`/v2/alice/app/manifests/..%2F..%2Fbob%2Fsecret%2Fmanifests%2Fv1`, `/v2/alice/app/manifests/../../bob/secret/manifests/v1`]) {
          const r = await rawRequest(s.port, `GET ${p} HTTP/1.1\nHost: ${host}\nAuthorization: ${A}\nAccept: ${OCI_ACCEPT}\nConnection: close\n`);
          assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
          assert.ok(!r.text.includes(bobImg.digest) && !r.text.includes('"schemaVersion"'), `${p} leaked`);
        }
      });

      test('an unsupported method on an endpoint → 4xx in the spec error format, not a 5xx', async () => {
        const r = await call('PATCH', '/v2/alice/app/manifests/v1', { auth: A, body: '{}' });
        assert.ok(r.status >= 400 && r.status < 500, String(r.status));
        await errorCodes(r);
      });

      test('every error body is {"errors":[{"code","message","detail"?}]} with a JSON Content-Type', async () => {
        const r = await call('GET', `/v2/alice/app/blobs/${sha256('x')}`, { auth: A });
        assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
        const body = await r.json();
        assert.deepEqual(Object.keys(body), ['errors']);
        assert.equal(body.errors[0].code, 'BLOB_UNKNOWN');
        assert.equal(typeof body.errors[0].message, 'string');
        for (const k of Object.keys(body.errors[0])) assert.ok(['code', 'message', 'detail'].includes(k), k);
      });
    });
  });
}
