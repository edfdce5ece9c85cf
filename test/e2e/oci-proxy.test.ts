// Wharf as a pull-through proxy of a real registry: Debian's distribution 2.8 (`docker-registry`), no auth, behind a
// small front of our own that counts the requests reaching it, can tamper with a blob, play dead, and can demand
// plain Basic credentials or Docker token authentication (its own token endpoint, with Basic credentials) as Docker
// Hub does. Images are pushed upstream with skopeo; podman and skopeo pull them through /v2/PROXY/. The core
// behaviour (coalescing, digests, access) runs on both databases.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DISTRIBUTION_BIN, startDistribution, waitDistribution, type DistributionProcess } from '../../bench/lib/distribution.ts';
import { systemActor } from '../../src/core/auth/actor.ts';
import { dialects } from '../helpers/databases.ts';
import { freePort, spawnWharf, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { wharf } from './helpers-npm.ts';
import { buildImage, Machine, ok, parseJson, readImageFile, refDescriptor, writeImageIndex } from './helpers-oci.ts';

const T = { timeout: 240_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tls = '--tls-verify=false';
const USER = 'puller';
const PASSWORD = 'up-secret-1';

/** A front for the upstream: counts, tampers, plays dead, and asks for credentials as `auth` says. */
class Front {
  readonly seen: { method: string; url: string; auth: string }[] = [];
  down = false;
  auth: 'none' | 'basic' | 'token' = 'none';
  tamper = new Set<string>();
  delayMs = 0;
  /** Blob bodies: the first half at once, the rest after this long (a slow upstream). */
  stallMs = 0;
  /** When the last stalled body's second half was sent. */
  resumedAt = 0;
  /** Blob GETs are redirected to /cdn/… on this front, as Docker Hub sends layers to its CDN. */
  redirectBlobs = false;
  /** What reached /cdn/: the URL and whether it carried credentials. */
  readonly cdn: { url: string; auth: boolean }[] = [];
  readonly tokens = new Set<string>();
  tokenRequests = 0;
  origin = '';
  private server!: http.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(private readonly target: string) {}

  private basicOk = (h: string | undefined) => h === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (this.down) return req.socket.destroy();
      const url = req.url!;
      if (url.startsWith('/token')) {
        // Docker token auth's endpoint: Basic credentials in, a short-lived bearer token out.
        this.tokenRequests++;
        if (!this.basicOk(req.headers.authorization)) return res.writeHead(401).end();
        const token = randomBytes(16).toString('hex');
        this.tokens.add(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token, expires_in: 300 }));
      }
      let path = url;
      if (url.startsWith('/cdn/')) {
        this.cdn.push({ url, auth: !!req.headers.authorization });
        path = url.slice(4);
      } else this.seen.push({ method: req.method!, url, auth: String(req.headers.authorization ?? '').split(' ')[0] });
      const a = req.headers.authorization ?? '';
      if (this.auth === 'basic' && path === url && !this.basicOk(a)) return res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"' }).end();
      if (this.auth === 'token' && path === url && !(a.startsWith('Bearer ') && this.tokens.has(a.slice(7)))) {
        const repo = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url)?.[1];
        const scope = repo ? `,scope="repository:${repo}:pull"` : '';
        return res.writeHead(401, { 'www-authenticate': `Bearer realm="${this.origin}/token",service="upstream"${scope}` }).end();
      }
      if (this.redirectBlobs && path === url && url.includes('/blobs/')) return res.writeHead(307, { location: `${this.origin}/cdn${url}` }).end();
      const t = new URL(this.target);
      const { authorization: _a, ...headers } = req.headers;
      const up = http.request({ host: t.hostname, port: t.port, path, method: req.method, headers }, async (r) => {
        if (url.includes('/blobs/') && this.delayMs) await sleep(this.delayMs);
        if (this.tamper.has(url.replace(/^.*\/blobs\//, '')) && r.statusCode === 200) {
          const chunks: Buffer[] = [];
          for await (const c of r) chunks.push(c as Buffer);
          const body = Buffer.concat(chunks);
          body[body.length - 1] ^= 0xff;
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          return res.end(body);
        }
        if (url.includes('/blobs/') && this.stallMs && r.statusCode === 200) {
          const chunks: Buffer[] = [];
          for await (const c of r) chunks.push(c as Buffer);
          const body = Buffer.concat(chunks);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          res.write(body.subarray(0, body.length >> 1));
          await sleep(this.stallMs);
          this.resumedAt = Date.now();
          return res.end(body.subarray(body.length >> 1));
        }
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    this.server.on('connection', (s) => (this.sockets.add(s), s.on('close', () => this.sockets.delete(s))));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  count(pred: (u: string) => boolean): number {
    return this.seen.filter((s) => pred(s.url)).length;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

let registry: DistributionProcess;
let upstreamHost: string;
let work: string;
let layout: string;
let pusher: Machine;
const digests: Record<string, string> = {};

/** Copies reference `ref` of the layout to the upstream as `repo:tag` (an index with every platform). */
async function push(ref: string, repoTag: string) {
  ok(await pusher.skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:${ref}`, `docker://${upstreamHost}/${repoTag}`]), `skopeo copy ${ref} to ${repoTag}`);
}

before(async () => {
  assert.ok(fs.existsSync(DISTRIBUTION_BIN), 'docker-registry is not installed (apt-get install -y docker-registry)');
  work = tempDir('wharf-oci-proxy-');
  const port = await freePort();
  registry = startDistribution(work, port);
  upstreamHost = `127.0.0.1:${port}`;
  await waitDistribution(`http://${upstreamHost}`, registry);
  pusher = new Machine();
  layout = path.join(work, 'layout');
  digests.app1 = (await buildImage(layout, 'app1', { files: { 'hello.txt': 'one\n' } })).digest;
  digests.app2 = (await buildImage(layout, 'app2', { files: { 'hello.txt': 'two\n' } })).digest;
  digests.big = (await buildImage(layout, 'big', { files: { 'big.bin': randomBytes(12 * 1024 * 1024).toString('base64') } })).digest;
  await buildImage(layout, 'amd', { files: { 'hello.txt': 'amd64\n' }, architecture: 'amd64', os: 'linux' });
  await buildImage(layout, 'arm', { files: { 'hello.txt': 'arm64\n' }, architecture: 'arm64', os: 'linux' });
  digests.multi = writeImageIndex(layout, 'multi', ['amd', 'arm']).digest;
  await push('app1', 'library/app:1');
  await push('big', 'library/big:1');
  await push('big', 'library/slow:1');
  await push('app1', 'library/tampered:1');
  await push('app2', 'library/many:1');
  await push('multi', 'library/multi:1');
});

after(async () => {
  await registry?.stop();
  pusher?.dispose();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('real clients through a container proxy', { timeout: 900_000 }, () => {
  let server: ChildServer;
  let front: Front;
  let host: string;
  const machines: Machine[] = [];
  const machine = () => (machines.push(new Machine()), machines[machines.length - 1]);

  let tokenFront: Front;

  before(async () => {
    front = new Front(`http://${upstreamHost}`);
    await front.start();
    tokenFront = new Front(`http://${upstreamHost}`);
    tokenFront.auth = 'token';
    tokenFront.redirectBlobs = true;
    await tokenFront.start();
    server = await spawnWharf();
    host = server.url.replace(/^http:\/\//, '');
    await wharf(server, ['proxy', 'create', 'hub', '--format', 'container', '--upstream', front.origin, '--ttl', '2', '--timeout', '5']);
    await wharf(server, ['proxy', 'create', 'hubauth', '--format', 'container', '--upstream', tokenFront.origin, '--username', USER, '--password-stdin'], PASSWORD);
  });

  after(async () => {
    await server?.stop();
    await front?.stop();
    await tokenFront?.stop();
    for (const m of machines) m.dispose();
  });

  test('podman pull NAME/library/app through the proxy; the image is the one pushed upstream', T, async () => {
    const m = machine();
    ok(await m.podman(['pull', tls, `${host}/hub/library/app:1`]), 'podman pull through the proxy');
    const digest = ok(await m.podman(['image', 'inspect', '--format', '{{.Digest}}', `${host}/hub/library/app:1`]), 'podman image inspect').stdout.trim();
    assert.equal(digest, digests.app1);
    const back = m.mkdir('back');
    ok(await m.skopeo(['copy', '--src-tls-verify=false', `docker://${host}/hub/library/app:1`, `oci:${back}:app`]), 'skopeo copy back');
    assert.equal(await readImageFile(back, 'app', 'hello.txt'), 'one\n');
    assert.ok(front.count((u) => u.includes('/blobs/')) >= 2, 'layers came from the upstream');
  });

  test('podman pull through a proxy of an upstream with Docker token auth (Hub-like: token realm, layers on a CDN)', T, async () => {
    const m = machine();
    ok(await m.podman(['pull', tls, `${host}/hubauth/library/app:1`]), 'podman pull through the token-auth proxy');
    assert.ok(tokenFront.tokenRequests >= 1 && tokenFront.seen.some((s) => s.auth === 'Bearer'), 'Wharf authenticated upstream with a token');
    assert.ok(tokenFront.cdn.length >= 2 && tokenFront.cdn.every((c) => !c.auth), 'layers came from the CDN, without credentials');
  });

  test('a multi-arch index and its platform manifests, with skopeo copy --all', T, async () => {
    const m = machine();
    const back = m.mkdir('multi');
    ok(await m.skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${host}/hub/library/multi:1`, `oci:${back}:multi`]), 'skopeo copy --all through the proxy');
    assert.equal(refDescriptor(back, 'multi').digest, digests.multi);
    const arm = ok(await m.skopeo(['inspect', '--override-arch', 'arm64', tls, `docker://${host}/hub/library/multi:1`]), 'skopeo inspect arm64');
    assert.equal(parseJson(arm).Architecture, 'arm64');
  });

  test('a large layer streams to its first client while it is stored', T, async () => {
    const m = machine();
    ok(await m.podman(['pull', tls, `${host}/hub/library/big:1`]), 'podman pull of a 16 MiB layer');
    // Stored as it streamed: a second pull is served from Wharf alone.
    const n = front.count((u) => u.includes('/blobs/'));
    const again = machine();
    ok(await again.podman(['pull', tls, `${host}/hub/library/big:1`]), 'second pull');
    assert.equal(front.count((u) => u.includes('/blobs/')), n);
  });

  test('a tag moved upstream is seen after the TTL', T, async () => {
    await push('app2', 'library/app:1');
    await sleep(2500);
    const m = machine();
    const r = parseJson(ok(await m.skopeo(['inspect', tls, `docker://${host}/hub/library/app:1`]), 'skopeo inspect after the retag'));
    assert.equal(r.Digest, digests.app2);
    ok(await m.podman(['pull', tls, `${host}/hub/library/app:1`]), 'podman pull of the retagged image');
  });

  test('with the upstream down, what was fetched still pulls (stale tags served)', T, async () => {
    front.down = true;
    await sleep(2500);
    try {
      const m = machine();
      ok(await m.podman(['pull', tls, `${host}/hub/library/app:1`]), 'podman pull with the upstream down');
      ok(await m.podman(['pull', tls, `${host}/hub/library/big:1`]), 'podman pull of another image with the upstream down');
      const never = await m.podman(['pull', tls, `${host}/hub/library/never:1`]);
      assert.notEqual(never.code, 0, never.output);
      assert.match(server.output(), /serving a stale document/);
    } finally {
      front.down = false;
    }
  });

  // serve() once returned the reply, a thenable resolving to undefined: every proxied request then ran the
  // registry's own route too, which failed or answered a second time into the finished reply (and logged it).
  test('no proxied request ran the registry\'s own route too', () => {
    assert.doesNotMatch(server.output(), /reply\.sent = true|Reply was already sent/);
  });
});

for (const dialect of dialects()) {
  describe(`the container proxy's behaviour (${dialect})`, { timeout: 600_000 }, () => {
    let server: TestServer;
    let front: Front;
    let basicFront: Front;
    let tokenFront: Front;

    before(async () => {
      front = new Front(`http://${upstreamHost}`);
      await front.start();
      basicFront = new Front(`http://${upstreamHost}`);
      basicFront.auth = 'basic';
      await basicFront.start();
      tokenFront = new Front(`http://${upstreamHost}`);
      tokenFront.auth = 'token';
      await tokenFront.start();
      server = await startWharf({ dialect });
      await server.core.proxies.create(systemActor, 'up', { format: 'container', upstream: front.origin, ttlSeconds: 300, timeoutMs: 5000 });
      await server.core.proxies.create(systemActor, 'basic', { format: 'container', upstream: basicFront.origin, username: USER, password: PASSWORD });
      await server.core.proxies.create(systemActor, 'tok', { format: 'container', upstream: tokenFront.origin, username: USER, password: PASSWORD });
      await server.core.proxies.create(systemActor, 'secret', { format: 'container', upstream: front.origin, visibility: 'private' });
    });

    after(async () => {
      await server?.stop();
      for (const f of [front, basicFront, tokenFront]) await f?.stop();
    });

    const manifestOf = async (repo: string, ref: string) => {
      const r = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' } });
      assert.equal(r.status, 200, await r.clone().text());
      return { digest: r.headers.get('docker-content-digest'), doc: await r.json() };
    };

    test('64 concurrent misses for one blob make one upstream request; clients that hang up do not abort it', T, async () => {
      const { doc } = await manifestOf('up/library/many', '1');
      const layer = doc.layers[0].digest as string;
      front.delayMs = 300;
      const url = `${server.url}/v2/up/library/many/blobs/${layer}`;
      const quitters = Array.from({ length: 8 }, () => {
        const c = new AbortController();
        setTimeout(() => c.abort(), 50);
        return fetch(url, { signal: c.signal }).then(() => 'done', () => 'aborted');
      });
      const results = await Promise.all(Array.from({ length: 64 }, () => fetch(url).then(async (r) => ({ status: r.status, bytes: Buffer.from(await r.arrayBuffer()) }))));
      await Promise.all(quitters);
      front.delayMs = 0;
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(new Set(results.map((r) => r.bytes.toString('base64'))).size, 1);
      assert.equal(results[0].bytes.length, doc.layers[0].size);
      assert.equal(front.count((u) => u.endsWith(`/blobs/${layer}`)), 1, JSON.stringify(front.seen));
      const pkg = (await server.core.packages.find('up', 'container', 'library/many'))!;
      assert.ok(await server.core.packages.heldBlob(pkg.id, layer), 'the layer is kept');
    });

    test('a large layer reaches its first client as it arrives, and is kept', T, async () => {
      const { doc } = await manifestOf('up/library/slow', '1');
      const layer = doc.layers[0];
      front.stallMs = 3000;
      let first = 0;
      let bytes = 0;
      try {
        await new Promise<void>((resolve, reject) => {
          http.get(`${server.url}/v2/up/library/slow/blobs/${layer.digest}`, (res) => {
            assert.equal(res.statusCode, 200);
            res.on('data', (c: Buffer) => {
              if (!first) first = Date.now();
              bytes += c.length;
            });
            res.on('end', resolve);
            res.on('error', reject);
          }).on('error', reject);
        });
      } finally {
        front.stallMs = 0;
      }
      assert.equal(bytes, layer.size);
      // The client had bytes while the upstream was still holding back the second half.
      assert.ok(first && first < front.resumedAt, `first byte ${front.resumedAt - first} ms before the upstream sent the rest`);
      const pkg = (await server.core.packages.find('up', 'container', 'library/slow'))!;
      assert.ok(await server.core.packages.heldBlob(pkg.id, layer.digest), 'the layer is kept');
    });

    test('a digest mismatch from the upstream is refused (502) and nothing is kept', T, async () => {
      const { doc } = await manifestOf('up/library/tampered', '1');
      const layer = doc.layers[0].digest as string;
      front.tamper.add(layer);
      const bad = await fetch(`${server.url}/v2/up/library/tampered/blobs/${layer}`).then(async (r) => ({ status: r.status, body: await r.arrayBuffer().then((b) => b.byteLength, () => -1) }), () => ({ status: 0, body: -1 }));
      // Streamed to this first client: its response is cut short (never a complete, wrong blob).
      assert.ok(bad.status === 502 || bad.body !== doc.layers[0].size, JSON.stringify(bad));
      const pkg = (await server.core.packages.find('up', 'container', 'library/tampered'))!;
      assert.equal(await server.core.packages.heldBlob(pkg.id, layer), undefined);
      const head = await fetch(`${server.url}/v2/up/library/tampered/blobs/${layer}`, { method: 'HEAD' });
      assert.equal(head.status, 502);
      front.tamper.clear();
      const good = await fetch(`${server.url}/v2/up/library/tampered/blobs/${layer}`);
      assert.equal(good.status, 200);
      assert.equal((await good.arrayBuffer()).byteLength, doc.layers[0].size);
    });

    test('upstream with Basic credentials', T, async () => {
      const { digest, doc } = await manifestOf('basic/library/app', '1');
      assert.match(digest!, /^sha256:/);
      const blob = await fetch(`${server.url}/v2/basic/library/app/blobs/${doc.layers[0].digest}`);
      assert.equal(blob.status, 200);
      assert.ok(basicFront.seen.some((s) => s.auth === 'Basic'));
    });

    test('upstream with Docker token auth: a token from its realm (with Basic credentials), reused; layers from its CDN', T, async () => {
      tokenFront.redirectBlobs = true;
      const { doc } = await manifestOf('tok/library/app', '1');
      const blob = await fetch(`${server.url}/v2/tok/library/app/blobs/${doc.config.digest}`);
      assert.equal(blob.status, 200);
      assert.equal((await blob.arrayBuffer()).byteLength, doc.config.size);
      assert.equal(tokenFront.tokenRequests, 1, 'one token, reused for the blob');
      assert.ok(tokenFront.seen.some((s) => s.auth === 'Bearer'));
      // The redirect was followed without the upstream's credentials.
      assert.deepEqual(tokenFront.cdn.map((c) => c.auth), [false]);
    });

    test('a private proxy: anonymous clients get the challenge, nothing is fetched for them', T, async () => {
      const n = front.seen.length;
      const r = await fetch(`${server.url}/v2/secret/library/app/manifests/1`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /scope="repository:secret\/library\/app:pull"/);
      assert.equal(front.seen.length, n);
    });

    test('a proxy is read-only, and hostile paths are 4xx', T, async () => {
      const put = await fetch(`${server.url}/v2/up/library/app/manifests/x`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
      assert.ok(put.status === 401 || put.status === 403, String(put.status));
      for (const p of ['/v2/up/library/app/blobs/sha256:zz', '/v2/up/..%2f..%2fetc/manifests/1', '/v2/up/library/app/manifests/sha256:' + '0'.repeat(64), '/v2/up/library/nothing/manifests/1']) {
        const r = await fetch(`${server.url}${p}`);
        assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
      }
    });
  });
}
