// Wharf as a pull-through proxy of a real registry: Debian's distribution 2.8 (`docker-registry`), no auth, behind a
// small front of our own that counts the requests reaching it, can tamper with a blob, play dead, and can demand
// plain Basic credentials or Docker token authentication (its own token endpoint, with Basic credentials) as Docker
// Hub does. Images are pushed upstream with skopeo; podman and skopeo pull them through /v2/PROXY/. The core
// behaviour (coalescing, digests, access, paged tag lists, referrers) runs on both databases. A second
// distribution with its own htpasswd Basic auth is an upstream no front emulates.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DISTRIBUTION_BIN, startDistribution, waitDistribution, type DistributionProcess } from '../../bench/lib/distribution.ts';
import { systemActor } from '../../src/core/auth/actor.ts';
import { CountingProxy, stampede } from '../helpers/counting-proxy.ts';
import { dialects } from '../helpers/databases.ts';
import { blob, cosignSignature, emptyConfig, imageManifest, MEDIA, pushImage, pushManifest, sha256, type Manifest } from '../helpers/oci.ts';
import { TAG_LIST_LIMITS } from '../../src/formats/oci/proxy.ts';
import { freePort, spawnWharf, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { wharf } from './helpers-npm.ts';
import { buildImage, Machine, ok, parseJson, readImageFile, refDescriptor, writeImageIndex } from './helpers-oci.ts';

const T = { timeout: 240_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tls = '--tls-verify=false';
const USER = 'puller';
const PASSWORD = 'up-secret-1';

/**
 * A front for the upstream: the counting proxy (counts, tampers with a blob by digest, slows blobs, plays dead) that
 * also asks for credentials as `auth` says and checks them itself (the registry behind takes none).
 */
class Front extends CountingProxy {
  auth: 'none' | 'basic' | 'token' = 'none';
  /** Blob GETs are redirected to /cdn/… on this front, as Docker Hub sends layers to its CDN. */
  redirectBlobs = false;
  /**
   * Tag lists are answered here in pages of this many tags, with `Link: <…>; rel="next"` as OCI distribution 1.1
   * pages them (distribution 2.8 itself ignores `n`); 0: passed on as asked.
   */
  tagPage = 0;
  /** What reached /cdn/: the URL and whether it carried credentials. */
  readonly cdn: { url: string; auth: boolean }[] = [];
  readonly tokens = new Set<string>();
  tokenRequests = 0;

  constructor(target: string) {
    super(target, { isFile: (url) => url.includes('/blobs/'), tamperKey: (url) => url.replace(/^.*\/blobs\//, ''), stripAuth: true });
    this.upstream = target;
  }

  private readonly upstream: string;

  /** A page of the upstream's whole tag list: `n` (default tagPage) after `last`, a Link to the next one. */
  private async tagListPage(url: string, res: http.ServerResponse) {
    const u = new URL(url, 'http://front');
    const r = await fetch(`${this.upstream}${u.pathname}`);
    if (r.status !== 200) return res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
    const doc = (await r.json()) as { name: string; tags: string[] };
    const n = Number(u.searchParams.get('n') ?? this.tagPage);
    const last = u.searchParams.get('last');
    const rest = [...doc.tags].sort().filter((t) => !last || t > last);
    const page = rest.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (rest.length > n) headers.link = `<${u.pathname}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ name: doc.name, tags: page }));
  }

  private basicOk = (h: string | undefined) => h === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  protected override route(req: http.IncomingMessage, res: http.ServerResponse): string | null {
    const url = req.url!;
    if (url.startsWith('/token')) {
      // Docker token auth's endpoint: Basic credentials in, a short-lived bearer token out.
      this.tokenRequests++;
      if (!this.basicOk(req.headers.authorization)) return (res.writeHead(401).end(), null);
      const token = randomBytes(16).toString('hex');
      this.tokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      return (res.end(JSON.stringify({ token, expires_in: 300 })), null);
    }
    if (url.startsWith('/cdn/')) {
      this.cdn.push({ url, auth: !!req.headers.authorization });
      return url.slice(4);
    }
    this.record(req);
    const a = req.headers.authorization ?? '';
    if (this.auth === 'basic' && !this.basicOk(a)) return (res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"' }).end(), null);
    if (this.auth === 'token' && !(a.startsWith('Bearer ') && this.tokens.has(a.slice(7)))) {
      const repo = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url)?.[1];
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      return (res.writeHead(401, { 'www-authenticate': `Bearer realm="${this.origin}/token",service="upstream"${scope}` }).end(), null);
    }
    if (this.redirectBlobs && url.includes('/blobs/')) return (res.writeHead(307, { location: `${this.origin}/cdn${url}` }).end(), null);
    if (this.tagPage && /\/tags\/list(\?|$)/.test(url)) {
      this.tagListPage(url, res).catch(() => res.destroy());
      return null;
    }
    return url;
  }
}

let registry: DistributionProcess;
let upstreamHost: string;
let work: string;
let layout: string;
let pusher: Machine;
const digests: Record<string, string> = {};
/** The tags of library/paged upstream (more than a page of them). */
const PAGED_TAGS = ['v1', 'v10', 'V2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'latest', 'beta'];
/** library/signed upstream: an image and a cosign-like signature listed under the referrers tag schema's tag. */
let signed: { image: Manifest; sig: Manifest };
const SIG_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** A bcrypt htpasswd entry (distribution reads no other scheme): htpasswd -B, or Python's crypt. */
function htpasswdLine(user: string, password: string): string {
  try {
    return execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim();
  } catch {
    const py = 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))';
    return `${user}:${execFileSync('python3', ['-W', 'ignore', '-c', py, password], { encoding: 'utf8' }).trim()}`;
  }
}

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
  const origin = `http://${upstreamHost}`;
  const paged = await pushImage(origin, 'library/paged', PAGED_TAGS[0], imageManifest({ config: emptyConfig(), layers: [blob(32)] }));
  for (const tag of PAGED_TAGS.slice(1)) assert.equal((await pushManifest(origin, 'library/paged', tag, paged)).status, 201);
  // An image, a signature of it, and the referrers tag schema's index listing the signature (distribution 2.8
  // has no referrers API: the tag `sha256-<hex>` is where a client of it puts and finds referrers).
  const image = await pushImage(origin, 'library/signed', '1', imageManifest({ config: emptyConfig(), layers: [blob(48)] }));
  const signature = cosignSignature(`${upstreamHost}/library/signed`, image.digest);
  const sig = await pushImage(origin, 'library/signed', signature.digest, signature);
  signed = { image, sig };
  const fallbackDoc = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: sig.mediaType, digest: sig.digest, size: sig.size, artifactType: SIG_TYPE, annotations: { 'org.example.kind': 'signature' } }] };
  const fallbackBytes = Buffer.from(JSON.stringify(fallbackDoc));
  const r = await pushManifest(origin, 'library/signed', image.digest.replace(':', '-'), { bytes: fallbackBytes, digest: sha256(fallbackBytes), size: fallbackBytes.length, mediaType: MEDIA.ociIndex });
  assert.equal(r.status, 201, await r.text());
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

describe('a real distribution 2.8 with its own htpasswd Basic auth as the upstream', { timeout: 600_000 }, () => {
  let upstream: DistributionProcess;
  let server: TestServer;
  let dir: string;
  let host: string;
  const machines: Machine[] = [];
  const machine = () => (machines.push(new Machine()), machines[machines.length - 1]);

  before(async () => {
    dir = tempDir('wharf-oci-htpasswd-');
    const htpasswd = path.join(dir, 'htpasswd');
    fs.writeFileSync(htpasswd, `${htpasswdLine(USER, PASSWORD)}\n`);
    const port = await freePort();
    upstream = startDistribution(dir, port, undefined, { htpasswd });
    const uhost = `127.0.0.1:${port}`;
    await waitDistribution(`http://${uhost}`, upstream, 401);
    assert.equal((await fetch(`http://${uhost}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } })).status, 200, 'the htpasswd entry is accepted');
    ok(await pusher.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`, `oci:${layout}:app1`, `docker://${uhost}/library/x:1`]), 'skopeo copy with credentials');
    server = await startWharf();
    host = server.url.replace(/^http:\/\//, '');
    for (const [name, password] of [['htp', PASSWORD], ['htpbad', 'not-the-password']]) {
      const r = await server.cli(['proxy', 'create', name, '--format', 'container', '--upstream', `http://${uhost}`, '--username', USER, '--password-stdin'], password);
      assert.equal(r.code, 0, r.stderr + r.stdout);
    }
  });

  after(async () => {
    await server?.stop();
    await upstream?.stop();
    for (const m of machines) m.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('podman pull NAME/library/x through the proxy, which signs in with its username and password', T, async () => {
    const m = machine();
    ok(await m.podman(['pull', tls, `${host}/htp/library/x:1`]), 'podman pull through the htpasswd upstream');
    const digest = ok(await m.podman(['image', 'inspect', '--format', '{{.Digest}}', `${host}/htp/library/x:1`]), 'podman image inspect').stdout.trim();
    assert.equal(digest, digests.app1);
    const tags = await fetch(`${server.url}/v2/htp/library/x/tags/list`);
    assert.deepEqual(await tags.json(), { name: 'htp/library/x', tags: ['1'] });
  });

  test('wrong credentials: a gateway error (502, not 500) saying the upstream refused the proxy; nothing is cached', T, async () => {
    const m = machine();
    const r = await m.podman(['pull', tls, `${host}/htpbad/library/x:1`]);
    assert.notEqual(r.code, 0, r.output);
    // podman shows a 5xx by its status alone; the reason is in the error body (below) and the server's log.
    assert.match(r.output, /502 Bad Gateway/, r.output);
    assert.doesNotMatch(r.output, /\b500\b|internal/i, r.output);
    for (const p of ['manifests/1', 'tags/list', `blobs/${digests.app1}`]) {
      const res = await fetch(`${server.url}/v2/htpbad/library/x/${p}`);
      assert.equal(res.status, 502, p);
      const body = (await res.json()) as { errors: { message: string }[] };
      assert.match(body.errors[0].message, /answered 401.*refused the proxy's credentials/, p);
    }
    const pkg = await server.core.packages.find('htpbad', 'container', 'library/x');
    assert.ok(!pkg || (await server.core.packages.versions(pkg.id)).length === 0, 'no manifest kept');
    const proxy = (await server.core.proxies.byName('htpbad'))!;
    const docs = await server.core.db.selectFrom('proxy_documents').select('key').where('owner_id', '=', proxy.ownerId).execute();
    assert.deepEqual(docs, []);
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
      const results = await stampede(front, `${server.url}/v2/up/library/many/blobs/${layer}`);
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
      // The client has the layer once it is verified; the cache records it right after.
      await server.core.proxyCache.settle();
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

    test('a paged upstream tag list is followed to its end, kept whole, and paged for clients as Wharf pages its own', T, async () => {
      const pagingFront = new Front(`http://${upstreamHost}`);
      pagingFront.tagPage = 5;
      await pagingFront.start();
      const limit = TAG_LIST_LIMITS.tags;
      try {
        await server.core.proxies.create(systemActor, 'paging', { format: 'container', upstream: pagingFront.origin, ttlSeconds: 300 });
        const base = `${server.url}/v2/paging/library/paged/tags/list`;
        // Beyond the bound: refused with a clear 502, nothing kept.
        TAG_LIST_LIMITS.tags = 10;
        const over = await fetch(base);
        assert.equal(over.status, 502);
        assert.match(((await over.json()) as { errors: { message: string }[] }).errors[0].message, /more than 10 tags/);
        TAG_LIST_LIMITS.tags = limit;
        const before = pagingFront.count((u) => u.includes('/tags/list'));
        const all = await fetch(base);
        assert.equal(all.status, 200);
        const sorted = ['beta', 'latest', 'v1', 'v10', 'V2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9'];
        assert.deepEqual(await all.json(), { name: 'paging/library/paged', tags: sorted });
        // 12 tags, 5 a page: three upstream pages, each asked once.
        const pages = pagingFront.seen.filter((s) => s.url.includes('/tags/list')).slice(before);
        assert.equal(pages.length, 3, JSON.stringify(pages));
        // The client pages the kept list with n and last, following Link, exactly as for a pushed repository.
        const got: string[] = [];
        let next: string | undefined = '/v2/paging/library/paged/tags/list?n=4';
        while (next) {
          const r: Response = await fetch(`${server.url}${next}`);
          assert.equal(r.status, 200);
          got.push(...((await r.json()) as { tags: string[] }).tags);
          next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') ?? '')?.[1];
        }
        assert.deepEqual(got, sorted);
        const after = await fetch(`${base}?last=v5&n=3`);
        assert.deepEqual(((await after.json()) as { tags: string[] }).tags, ['v6', 'v7', 'v8']);
        assert.equal((await fetch(`${base}?n=-1`)).status, 400);
        // Served from the kept document: no further upstream request.
        assert.equal(pagingFront.count((u) => u.includes('/tags/list')), before + 3);
      } finally {
        TAG_LIST_LIMITS.tags = limit;
        await pagingFront.stop();
      }
    });

    test('referrers through the proxy: the upstream has no referrers API, its referrers tag schema index is served', T, async () => {
      const { image, sig } = signed;
      const url = `${server.url}/v2/up/library/signed/referrers/${image.digest}`;
      const r = await fetch(url);
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(r.headers.get('content-type'), MEDIA.ociIndex);
      const index = (await r.json()) as { manifests: Record<string, unknown>[] };
      assert.deepEqual(index.manifests, [{ mediaType: sig.mediaType, digest: sig.digest, size: sig.size, artifactType: SIG_TYPE, annotations: { 'org.example.kind': 'signature' } }]);
      // Asked of the referrers API first (404 from distribution 2.8), then of the fallback tag.
      assert.ok(front.count((u) => u.includes(`/referrers/${image.digest}`)) === 1);
      assert.ok(front.count((u) => u.includes(`/manifests/${image.digest.replace(':', '-')}`)) === 1);
      const filtered = await fetch(`${url}?artifactType=${encodeURIComponent(SIG_TYPE)}`);
      assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
      assert.equal(((await filtered.json()) as { manifests: unknown[] }).manifests.length, 1);
      const other = await fetch(`${url}?artifactType=application%2Fexample`);
      assert.equal(other.headers.get('oci-filters-applied'), 'artifactType');
      assert.deepEqual(((await other.json()) as { manifests: unknown[] }).manifests, []);
      // The signature itself pulls through the proxy by digest, byte for byte.
      const m = await fetch(`${server.url}/v2/up/library/signed/manifests/${sig.digest}`, { headers: { accept: MEDIA.ociManifest } });
      assert.equal(m.status, 200);
      assert.ok(Buffer.from(await m.arrayBuffer()).equals(sig.bytes));
      // A manifest nobody refers to: an empty index, not an error.
      const none = await fetch(`${server.url}/v2/up/library/signed/referrers/${sig.digest}`);
      assert.equal(none.status, 200);
      assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
      assert.equal((await fetch(`${server.url}/v2/up/library/signed/referrers/sha256:zz`)).status, 400);
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
