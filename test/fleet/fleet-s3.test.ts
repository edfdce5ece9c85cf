// Two Wharf nodes on PostgreSQL + S3 behind nginx (scripts/fleet.sh, deploy/nginx.conf), round-robin, with
// WHARF_S3_REDIRECT=on: real clients through the balancer, consecutive requests on different nodes, blob
// downloads answered with a 307 to S3 (the clients follow it), and a node SIGKILLed in the middle of a layer upload.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fleetUnavailable, request, startFleet, type Fleet } from '../helpers/fleet.ts';
import { tempDir, type ChildServer } from '../helpers/wharf.ts';
import { Client, makePackage, makeProject, mainOf, ok as npmOk } from '../e2e/helpers-npm.ts';
import { buildImage, Machine, ok, umoci } from '../e2e/helpers-oci.ts';

const skip = fleetUnavailable();
const T = { timeout: 240_000 };
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** The node (upstream address) each access-log line was answered by. */
const upstreams = (lines: string[]) => lines.map((l) => /upstream=(\S+)/.exec(l)?.[1] ?? '-');

describe('a fleet of two nodes on PostgreSQL + S3 behind nginx, S3 redirect on', { skip: skip ?? false, timeout: 900_000 }, () => {
  let fleet: Fleet;
  let token: string;
  let s3: S3Client;
  const machines: Machine[] = [];
  const dirs: string[] = [];
  const auth = () => ({ authorization: `Basic ${Buffer.from(`alice:${token}`).toString('base64')}` });

  before(async () => {
    // Every blob is redirected (no size threshold), so npm tarballs follow the 307 too.
    fleet = await startFleet({ blobStore: 's3', s3Redirect: true, env: { WHARF_S3_REDIRECT_MIN_BYTES: '0' } });
    token = await fleet.userWithToken('alice');
    s3 = new S3Client({ endpoint: fleet.env.WHARF_S3_ENDPOINT, region: fleet.env.WHARF_S3_REGION, forcePathStyle: true, credentials: { accessKeyId: fleet.env.AWS_ACCESS_KEY_ID, secretAccessKey: fleet.env.AWS_SECRET_ACCESS_KEY } });
  });

  after(async () => {
    s3?.destroy();
    for (const m of machines) m.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await fleet?.down();
  });

  const blobKey = (digest: string) => `${fleet.env.WHARF_S3_PREFIX}sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
  const inBucket = async (digest: string) =>
    s3.send(new HeadObjectCommand({ Bucket: fleet.env.WHARF_S3_BUCKET, Key: blobKey(digest) })).then(
      () => true,
      () => false,
    );

  test('round robin: consecutive requests through nginx are answered by different nodes', T, async () => {
    await fleet.settle();
    const before = fleet.accessLog().length;
    for (let i = 0; i < 4; i++) assert.equal((await request(fleet, 'GET', '/healthz')).status, 200);
    await fleet.settle();
    const used = upstreams(fleet.accessLog().slice(before));
    assert.equal(used.length, 4);
    for (let i = 1; i < used.length; i++) assert.notEqual(used[i], used[i - 1], `requests ${i - 1} and ${i} both went to ${used[i]}`);
    assert.deepEqual(new Set(used), new Set(fleet.nodePorts.map((p) => `127.0.0.1:${p}`)));
  });

  test('npm publish, then at once npm install with a fresh cache: the version is there on the other node, its tarball comes from S3', T, async () => {
    const server = { url: fleet.url, port: fleet.port } as ChildServer;
    const client = new Client(server, { token, extra: [`cafile=${fleet.ca}`] });
    dirs.push(client.home);
    const pkg = makePackage({ name: '@alice/fleet-pkg', version: '1.0.0' });
    dirs.push(pkg);
    await fleet.settle();
    const start = fleet.accessLog().length;
    npmOk(await client.npm(['publish'], pkg), 'npm publish');
    const project = makeProject();
    dirs.push(project);
    client.freshCache();
    npmOk(await client.npm(['install', '@alice/fleet-pkg@1.0.0'], project), 'npm install right after publish');
    assert.equal(fs.readFileSync(path.join(project, 'node_modules/@alice/fleet-pkg/index.js'), 'utf8'), mainOf('@alice/fleet-pkg', '1.0.0'));
    await fleet.settle();
    const lines = fleet.accessLog().slice(start);
    const put = lines.findIndex((l) => /"PUT \/npm\/@alice%2ffleet-pkg /i.test(l));
    const get = lines.findIndex((l, i) => i > put && /"GET \/npm\/@alice%2ffleet-pkg /i.test(l));
    assert.ok(put >= 0 && get > put, lines.join('\n'));
    assert.notEqual(upstreams([lines[put]])[0], upstreams([lines[get]])[0], 'the install was read from the node that took the publish');
    const tarball = lines.find((l) => /"GET \/npm\/@alice\/fleet-pkg\/-\/fleet-pkg-1\.0\.0\.tgz /.test(l));
    assert.match(tarball ?? '', /" 307 /, 'the tarball GET was not redirected to S3');
  });

  test('skopeo pushes a multi-layer image through nginx (each layer one chunked PATCH); podman pulls it, its layers from S3', T, async () => {
    const layout = tempDir('wharf-fleet-layout-');
    dirs.push(layout);
    fs.rmSync(layout, { recursive: true });
    await buildImage(layout, 'app', { files: { 'hello.txt': 'hello from the fleet\n', 'one.bin': randomBytes(3 << 20).toString('base64') } });
    // Two more layers, a few MiB each (umoci repack adds one layer per change).
    for (const n of ['two', 'three']) {
      const bundle = tempDir('wharf-fleet-bundle-');
      fs.rmSync(bundle, { recursive: true });
      await umoci(['unpack', '--rootless', '--image', `${layout}:app`, bundle]);
      fs.writeFileSync(path.join(bundle, 'rootfs', `${n}.bin`), randomBytes(3 << 20).toString('base64'));
      await umoci(['repack', '--image', `${layout}:app`, bundle]);
      fs.rmSync(bundle, { recursive: true, force: true });
    }
    const pusher = new Machine();
    machines.push(pusher);
    const host = `127.0.0.1:${fleet.port}`;
    await fleet.settle();
    const start = fleet.accessLog().length;
    ok(await pusher.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${token}`, `oci:${layout}:app`, `docker://${host}/alice/fleet-app:1`]), 'skopeo copy (push)');
    await fleet.settle();
    const pushed = fleet.accessLog().slice(start);
    const patches = pushed.filter((l) => /"PATCH \/v2\/alice\/fleet-app\/blobs\/uploads\//.test(l));
    assert.ok(patches.length >= 4, `expected a PATCH per layer and the config:\n${pushed.join('\n')}`);
    assert.equal(new Set(upstreams(pushed)).size, 2, 'the push did not use both nodes');

    const puller = new Machine();
    machines.push(puller);
    await fleet.settle();
    const pullStart = fleet.accessLog().length;
    ok(await puller.podman(['pull', '--tls-verify=false', '--creds', `alice:${token}`, `${host}/alice/fleet-app:1`]), 'podman pull');
    const dir = ok(await puller.podman(['image', 'mount', `${host}/alice/fleet-app:1`]), 'podman image mount').stdout.trim();
    try {
      assert.equal(fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8'), 'hello from the fleet\n');
      for (const n of ['one', 'two', 'three']) assert.equal(fs.statSync(path.join(dir, `${n}.bin`)).size, 4 * Math.ceil((3 << 20) / 3));
    } finally {
      await puller.podman(['image', 'unmount', `${host}/alice/fleet-app:1`]);
    }
    await fleet.settle();
    const blobGets = fleet.accessLog().slice(pullStart).filter((l) => /"GET \/v2\/alice\/fleet-app\/blobs\/sha256:/.test(l));
    assert.ok(blobGets.length >= 4, blobGets.join('\n'));
    for (const l of blobGets) assert.match(l, /" 307 /, 'a blob GET was sent through Wharf instead of redirected');
  });

  /** Pushes `bytes` as a blob of alice/dl in one monolithic PUT; returns its digest. */
  async function pushBlob(name: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const post = await request(fleet, 'POST', `/v2/alice/${name}/blobs/uploads/`, { headers: auth() });
    assert.equal(post.status, 202);
    const loc = new URL(String(post.headers.location), fleet.url);
    loc.searchParams.set('digest', digest);
    const put = await request(fleet, 'PUT', loc.toString(), { headers: { ...auth(), 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(put.status, 201, put.body.toString());
    return digest;
  }

  test('blob GET through nginx: 307 to a presigned S3 URL that curl follows (bytes identical, Range too); HEAD stays with Wharf; no credentials, no redirect', T, async () => {
    const bytes = randomBytes(5 << 20);
    const digest = await pushBlob('dl', bytes);
    const url = `${fleet.url}/v2/alice/dl/blobs/${digest}`;
    const got = await request(fleet, 'GET', url, { headers: auth() });
    assert.equal(got.status, 307);
    const location = String(got.headers.location);
    assert.match(location, /X-Amz-Signature=/);
    assert.match(location, /X-Amz-Expires=300/);
    assert.equal(got.headers['cache-control'], 'no-store');
    // The bytes, straight from S3.
    const viaS3 = await fetch(location);
    assert.equal(viaS3.status, 200);
    assert.equal(viaS3.headers.get('content-disposition'), 'attachment');
    assert.ok(Buffer.from(await viaS3.arrayBuffer()).equals(bytes));
    // curl, a real client, follows it (and keeps the Range it sends).
    const out = path.join(tempDir('wharf-fleet-curl-'), 'blob');
    dirs.push(path.dirname(out));
    const { spawnSync } = await import('node:child_process');
    const curl = (extra: string[]) => spawnSync('curl', ['-sS', '-L', '--cacert', fleet.ca, '-u', `alice:${token}`, '-o', out, '-w', '%{http_code} %{num_redirects}', ...extra, url], { encoding: 'utf8' });
    assert.equal(curl([]).stdout, '200 1');
    assert.ok(fs.readFileSync(out).equals(bytes));
    assert.equal(curl(['-H', 'Range: bytes=1000-1999']).stdout, '206 1');
    assert.ok(fs.readFileSync(out).equals(bytes.subarray(1000, 2000)));
    // HEAD is answered by Wharf itself.
    const head = await request(fleet, 'HEAD', url, { headers: auth() });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(bytes.length));
    assert.equal(head.headers['docker-content-digest'], digest);
    // Access is decided before any redirect: anonymous and wrong credentials get no URL.
    const anon = await request(fleet, 'GET', url);
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.location, undefined);
    const wrong = await request(fleet, 'GET', url, { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
  });

  test('a node SIGKILLed in the middle of a layer upload: nothing half-written is visible; the retry through the other node completes', T, async () => {
    const bytes = randomBytes(24 << 20);
    const digest = sha256(bytes);
    const post = await request(fleet, 'POST', '/v2/alice/killed/blobs/uploads/', { headers: auth() });
    assert.equal(post.status, 202);
    const location = new URL(String(post.headers.location), fleet.url).toString();

    const readBytes = (pid: number) => Number(/rchar: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    const pids = [fleet.pid(0), fleet.pid(1)];
    const before = pids.map(readBytes);
    // One long PATCH, sent 1 MiB at a time; once a node has read 8 MiB of it, that node is killed.
    let victim = -1;
    const patch = new Promise<number>((resolve) => {
      const req = https.request(location, { method: 'PATCH', ca: fleet.caPem, headers: { ...auth(), 'content-type': 'application/octet-stream' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', () => resolve(-1));
      (async () => {
        for (let off = 0; off < bytes.length; off += 1 << 20) {
          if (!req.write(bytes.subarray(off, off + (1 << 20)))) await new Promise((r) => req.once('drain', r));
          if (victim < 0 && off >= 8 << 20) {
            for (let t = 0; t < 100 && victim < 0; t++) {
              const grown = pids.map((p, i) => readBytes(p) - before[i]);
              victim = grown.findIndex((g) => g >= 8 << 20);
              if (victim < 0) await new Promise((r) => setTimeout(r, 50));
            }
            assert.ok(victim >= 0, 'no node received the PATCH');
            process.kill(pids[victim], 'SIGKILL');
            await new Promise((r) => setTimeout(r, 200));
          }
          if (req.destroyed) return;
        }
        req.end();
      })().catch(() => req.destroy());
    });
    const status = await patch;
    assert.ok(victim >= 0);
    assert.ok(status === -1 || status >= 500, `the interrupted PATCH answered ${status}`);

    // Nothing half-written: no blob under its digest, in Wharf or in the bucket.
    assert.equal((await request(fleet, 'HEAD', `/v2/alice/killed/blobs/${digest}`, { headers: auth() })).status, 404);
    assert.equal(await inBucket(digest), false);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: fleet.env.WHARF_S3_BUCKET, Prefix: `${fleet.env.WHARF_S3_PREFIX}sha256/${digest.slice(7, 9)}/` }));
    assert.ok(!(listed.Contents ?? []).some((o) => o.Key?.endsWith(digest.slice(7))));

    // The client's retry, as the OCI distribution spec has it: ask the upload's state (the surviving node answers),
    // send the rest from there, close it with the digest.
    const state = await request(fleet, 'GET', location, { headers: auth() });
    assert.equal(state.status, 204, state.body.toString());
    const range = /^0-(\d+)$/.exec(String(state.headers.range));
    // `0-0` is what registries answer for an empty upload too (containerd reads it so): the kill left nothing.
    const have = range && range[1] !== '0' ? Number(range[1]) + 1 : 0;
    assert.ok(have < bytes.length);
    const rest = await request(fleet, 'PATCH', location, {
      headers: { ...auth(), 'content-type': 'application/octet-stream', 'content-range': `${have}-${bytes.length - 1}` },
      body: bytes.subarray(have),
    });
    assert.equal(rest.status, 202, rest.body.toString());
    const close = new URL(String(rest.headers.location), fleet.url);
    close.searchParams.set('digest', digest);
    const put = await request(fleet, 'PUT', close.toString(), { headers: auth() });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(await inBucket(digest), true);
    const got = await request(fleet, 'GET', `/v2/alice/killed/blobs/${digest}`, { headers: auth() });
    assert.equal(got.status, 307);
    assert.ok(Buffer.from(await (await fetch(String(got.headers.location))).arrayBuffer()).equals(bytes));
    // Every request after the kill was served by the survivor (nginx skipped the dead node).
    assert.match(fleet.nodeLog(1 - victim), /wharf listening/);
  });
});
