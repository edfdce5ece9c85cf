// Two Wharf nodes sharing one blob folder behind nginx (scripts/fleet.sh with FLEET_BLOB_STORE=fs,
// deploy/nginx.conf): WHARF_ACCEL_REDIRECT=/_blobs/ makes nodes answer blob GETs with headers only, and nginx
// sends the file from its internal location: same bytes, ranges, the inert and digest headers, and the node
// sends no body.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fleetUnavailable, request, startFleet, type Fleet } from '../helpers/fleet.ts';

const skip = fleetUnavailable({ s3: false });
const T = { timeout: 120_000 };
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('a fleet of two nodes on PostgreSQL + a shared blob folder behind nginx, X-Accel-Redirect', { skip: skip ?? false, timeout: 300_000 }, () => {
  let fleet: Fleet;
  let token: string;
  const auth = () => ({ authorization: `Basic ${Buffer.from(`alice:${token}`).toString('base64')}` });

  before(async () => {
    fleet = await startFleet({ blobStore: 'fs' });
    token = await fleet.userWithToken('alice');
  });
  after(async () => {
    await fleet?.down();
  });

  test('blob GET: nginx sends the file (bytes identical, Range works, headers kept); the node sent headers only', T, async () => {
    const bytes = randomBytes(6 << 20);
    const digest = sha256(bytes);
    const post = await request(fleet, 'POST', '/v2/alice/accel/blobs/uploads/', { headers: auth() });
    const loc = new URL(String(post.headers.location), fleet.url);
    loc.searchParams.set('digest', digest);
    assert.equal((await request(fleet, 'PUT', loc.toString(), { headers: { ...auth(), 'content-type': 'application/octet-stream' }, body: bytes })).status, 201);

    const url = `/v2/alice/accel/blobs/${digest}`;
    await fleet.settle();
    const start = fleet.accessLog().length;
    const got = await request(fleet, 'GET', url, { headers: auth() });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(bytes));
    assert.equal(got.headers['content-length'], String(bytes.length));
    assert.equal(got.headers['docker-content-digest'], digest);
    assert.equal(got.headers.etag, `"${digest}"`);
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    // Inert in a browser (http/inert.ts), although nginx wrote the response.
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.equal(got.headers['content-security-policy'], "default-src 'none'; sandbox");
    assert.equal(got.headers['content-disposition'], 'attachment');
    assert.equal(got.headers['x-accel-redirect'], undefined, 'the internal path leaked to the client');

    const ranged = await request(fleet, 'GET', url, { headers: { ...auth(), range: 'bytes=1000-1999' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-range'], `bytes 1000-1999/${bytes.length}`);
    assert.ok(ranged.body.equals(bytes.subarray(1000, 2000)));
    const suffix = await request(fleet, 'GET', url, { headers: { ...auth(), range: 'bytes=-10' } });
    assert.equal(suffix.status, 206);
    assert.ok(suffix.body.equals(bytes.subarray(-10)));

    // nginx's log: megabytes sent to the client, a few hundred bytes (headers) received from the node.
    await fleet.settle();
    const lines = fleet.accessLog().slice(start);
    assert.equal(lines.length, 3, lines.join('\n'));
    for (const l of lines) {
      assert.match(l, new RegExp(`accel=/_blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`));
      const upstreamBytes = Number(/upstream_bytes=(\d+)/.exec(l)![1]);
      assert.ok(upstreamBytes < 2048, `the node sent ${upstreamBytes} bytes: ${l}`);
    }
    assert.match(lines[0], new RegExp(`" 200 ${bytes.length} `));
    // Both nodes hand blobs to nginx (round robin).
    assert.equal(new Set(lines.map((l) => /upstream=(\S+)/.exec(l)![1])).size, 2);
  });

  test('the internal location is not reachable by clients; access is still decided by the node', T, async () => {
    const bytes = randomBytes(1000);
    const digest = sha256(bytes);
    const post = await request(fleet, 'POST', '/v2/alice/private/blobs/uploads/', { headers: auth() });
    const loc = new URL(String(post.headers.location), fleet.url);
    loc.searchParams.set('digest', digest);
    assert.equal((await request(fleet, 'PUT', loc.toString(), { headers: auth(), body: bytes })).status, 201);
    assert.equal((await request(fleet, 'GET', `/_blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`)).status, 404);
    const anon = await request(fleet, 'GET', `/v2/alice/private/blobs/${digest}`);
    assert.equal(anon.status, 401);
    assert.equal(anon.body.includes(bytes), false);
    // HEAD stays with the node: its length, no body.
    const head = await request(fleet, 'HEAD', `/v2/alice/private/blobs/${digest}`, { headers: auth() });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1000');
  });

  test('behind nginx Wharf writes its public https URL (X-Forwarded-Proto believed from WHARF_TRUST_PROXY)', T, async () => {
    // The token realm of the registry challenge is absolute: it must name nginx's https URL, not the node's.
    const challenge = await request(fleet, 'GET', '/v2/');
    assert.equal(challenge.status, 401);
    assert.match(String(challenge.headers['www-authenticate']), new RegExp(`realm="${fleet.url.replace(/[.]/g, '\\.')}/`));
  });
});
