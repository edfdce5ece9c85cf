// OCI registry benchmark: Wharf's container registry against the CNCF distribution registry (Debian's
// docker-registry 2.8), side by side in one run on this machine (each phase runs on Wharf, then on distribution).
//
//   node --import tsx bench/oci.ts                 full run: 1 MiB / 64 MiB / 1 GiB blobs, 10 s load phases
//   node --import tsx bench/oci.ts --quick         smoke run: 1 MiB / 16 MiB / 64 MiB blobs, 3 s load phases
//   node --import tsx bench/oci.ts --only=wharf    skip distribution (or --only=distribution to skip Wharf)
//   other knobs: --seconds=N --warmup=N --connections=N (manifest phases) --keep (keep the scratch data)
//                --repeat=N (uploads, blob GETs, manifest GET/HEAD: median of N measurements, alternating the servers;
//                default 3 in full runs, 1 with --quick) --no-ceiling (skip the Node ceiling below)
//                --cpu-prof (Wharf runs with node --cpu-prof; profile in bench/.work/oci-prof, see bench/profile-top.ts)
//                --skip-skopeo
//   node --import tsx bench/oci.ts --store=s3      both on the S3 server (source /tmp/testenv.sh or set WHARF_TEST_S3_*):
//                Wharf with WHARF_BLOB_STORE=s3 and WHARF_S3_REDIRECT=on, distribution with its own S3 driver and its
//                `redirect` on (--no-redirect: both send the bytes themselves); blob GETs follow the 307 to S3
//   node --import tsx bench/oci.ts --nginx         Wharf on the filesystem behind nginx (deploy/nginx.conf, X-Accel-Redirect),
//                distribution on the filesystem; server CPU = Wharf + nginx (master and workers)
//   --sink       blob GETs with bench/lib/sink-get.c (the body dropped by the kernel, not copied into the client):
//                what the servers can send when the load generator does not take a core's worth of the CPU they share
//   --store=s3 and --nginx run a leaner set: uploads 1 MiB / 64 MiB / 1 GiB (POST, PATCH, PUT), GETs 64 MiB (one
//   stream and 16) and 1 GiB, manifests, pulls; no skopeo. --phases=upload,download,manifest,pull picks phases.
//
// What it measures (see docs/performance.md and issue 3 for the targets):
//   - blob upload MiB/s, as clients do it (POST, PATCH with the whole blob, PUT ?digest=) and monolithic
//     (POST ?digest= with the body); 1 MiB, 64 MiB and 1 GiB, one stream and 16 concurrent (1 MiB, 64 MiB)
//   - blob download MiB/s, one stream and 16 concurrent (bench/lib/raw-get.ts, going through the blobs again for 4 s),
//     and in the same rounds Node's ceiling: a bare node:http server sending the same sizes from memory
//     (bench/lib/node-ceiling.ts), the most any Node server can send here, in a table of its own
//   - manifest GET rps (autocannon) and HEAD rps (a keep-alive node:http loop: autocannon 8+ never completes HEAD
//     responses that carry a Content-Length) at c=64, with p99
//   - server RSS growth (VmRSS sampled every 50 ms) during a 1 GiB upload
//   - 64 concurrent pulls (manifest + config + layers, every digest checked): errors
//   - skopeo copy push and pull of a 5-layer x 50 MiB image built with umoci
//   - and per phase the server's CPU seconds (utime+stime from /proc/PID/stat): MiB or requests per CPU-second
//
// Wharf gets HTTP Basic (user bench + a personal access token) on every request; distribution runs without auth.
// Not a test: it prints a markdown table (also written to bench/.work/last-oci-run.md).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './lib/args.ts';
import { RawGetClient } from './lib/raw-get.ts';
import { buildSinkGet, SinkGetClient } from './lib/sink-get.ts';
import { distributionVersion, startDistribution, waitDistribution, type DistributionProcess, type DistributionS3 } from './lib/distribution.ts';
import { startDeployNginx, type DeployNginx } from './lib/deploy-nginx.ts';
import { measure } from './lib/load.ts';
import { cpuSeconds, freePort, machineBusyOver, sampleRss, statusBytes, stopAll, tail, type ServerProcess } from './lib/proc.ts';
import { startNodeCeiling } from './lib/node-ceiling.ts';
import { startWharf, waitWharf, wharfToken } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK_ROOT = path.join(ROOT, 'bench', '.work');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------- options

const { flag, opt, num } = benchArgs(import.meta.url, {
  flags: ['quick', 'keep', 'cpu-prof', 'skip-skopeo', 'no-ceiling', 'nginx', 'no-redirect', 'sink'],
  options: ['only', 'seconds', 'warmup', 'connections', 'repeat', 'store', 'phases'],
  helpLines: 33,
});
const quick = flag('quick');
const only = opt('only');
if (only && only !== 'wharf' && only !== 'distribution') throw new Error(`--only=${only}: expected wharf or distribution`);
const store = opt('store') ?? 'fs';
if (store !== 'fs' && store !== 's3') throw new Error(`--store=${store}: expected fs or s3`);
if (store === 's3' && flag('nginx')) throw new Error('--nginx is for the filesystem store (X-Accel-Redirect)');
/** --store=s3 or --nginx: the leaner set of phases those modes run. */
const lean = store === 's3' || flag('nginx');
const PHASES = ['upload', 'download', 'manifest', 'pull', 'skopeo'];
const phases = new Set((opt('phases') ?? (lean ? 'upload,download,manifest,pull' : PHASES.join(','))).split(','));
for (const p of phases) if (!PHASES.includes(p)) throw new Error(`--phases: ${p}? expected some of ${PHASES.join(',')}`);
if (phases.has('download') && !phases.has('upload')) throw new Error('--phases: download needs upload (it reads the uploaded blobs)');
const O = {
  quick,
  small: 1 * MiB,
  medium: quick ? 16 * MiB : 64 * MiB,
  big: quick ? 64 * MiB : 1024 * MiB,
  smallCount: quick ? 32 : 128, // 1 MiB blobs, one stream
  smallConcCount: quick ? 64 : 512, // 1 MiB blobs over 16 streams
  mediumCount: quick ? 2 : 4, // medium blobs, one stream
  concurrency: 16,
  connections: num('connections', 64),
  seconds: num('seconds', quick ? 3 : 10),
  /** Each download phase goes through its blobs again until this long has passed. */
  downloadSeconds: quick ? 1 : 4,
  /** Download phases: median of this many measurements per server, alternating. */
  repeat: num('repeat', quick ? 1 : 3),
  ceiling: !flag('no-ceiling'),
  warmup: num('warmup', quick ? 1 : 2),
  manifests: 20,
  pulls: 64,
  pullLayers: 3,
  pullLayerSize: quick ? 1 * MiB : 4 * MiB,
  skopeoLayers: 5,
  skopeoLayerSize: quick ? 8 * MiB : 50 * MiB,
  skopeoRounds: quick ? 1 : 2,
  keep: flag('keep'),
  cpuProf: flag('cpu-prof'),
  skopeo: !flag('skip-skopeo') && phases.has('skopeo'),
  store,
  nginx: flag('nginx'),
  redirect: !flag('no-redirect'),
  sink: flag('sink'),
  lean,
  runWharf: only !== 'distribution',
  runDistribution: only !== 'wharf',
};
const sizeName = (n: number) => (n >= 1024 * MiB ? `${n / (1024 * MiB)} GiB` : `${n / MiB} MiB`);

const t0 = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}`);

// ---------------------------------------------------------------------------------------------- HTTP client

/** Its own agent: the shared bench/lib/http.ts agent allows 16 sockets, the pull and HEAD phases need 64+. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
  sha256?: string;
}

interface CallOptions {
  headers?: Record<string, string | number>;
  /** A buffer, or a function giving the chunks to stream (with Content-Length set by the caller). */
  body?: Buffer | string | (() => Iterable<Buffer>);
  /** What to do with the response body: keep it (default), count it, or count and hash it. */
  sink?: 'keep' | 'discard' | 'hash';
  timeoutMs?: number;
}

function call(method: string, target: string, opts: CallOptions = {}): Promise<Reply> {
  const url = new URL(target);
  if (url.hostname !== '127.0.0.1') throw new Error(`bench only talks to 127.0.0.1, not ${url.hostname}`);
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: opts.headers, timeout: opts.timeoutMs ?? 600_000 }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const hash = opts.sink === 'hash' ? createHash('sha256') : undefined;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (hash) hash.update(c);
        else if (opts.sink !== 'discard') chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes, sha256: hash ? `sha256:${hash.digest('hex')}` : undefined }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target}: timed out`)));
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for (const chunk of body()) {
          if (req.destroyed) return;
          if (!req.write(chunk)) await once(req, 'drain');
        }
        req.end();
      })().catch((err) => req.destroy(err));
    }
  });
}

function expect(r: Reply, status: number, what: string) {
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} (wanted ${status}): ${r.body.toString('utf8').slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------- content

/** 8 MiB of random bytes; blob `id` is made of slices of it, each stamped with (id, chunk index): unique content. */
const RANDOM = randomBytes(8 * MiB);
const CHUNK = MiB;
let nextBlobId = 1;

interface Blob {
  id: number;
  size: number;
  digest: string;
  chunks: () => Iterable<Buffer>;
}

function* blobChunks(id: number, size: number): Iterable<Buffer> {
  for (let off = 0, i = 0; off < size; off += CHUNK, i++) {
    const n = Math.min(CHUNK, size - off);
    const start = (i * CHUNK) % RANDOM.length;
    const c = Buffer.allocUnsafe(n);
    RANDOM.copy(c, 0, start, start + n);
    if (n >= 16) {
      c.writeUInt32BE(id, 0);
      c.writeUInt32BE(i, 4);
      c.writeUInt32BE(0x77686172, 8); // "whar"
      c.writeUInt32BE(size >>> 0, 12);
    }
    yield c;
  }
}

/** A new blob of `size` bytes; its digest is computed here, before any timing. */
function newBlob(size: number): Blob {
  const id = nextBlobId++;
  const h = createHash('sha256');
  for (const c of blobChunks(id, size)) h.update(c);
  return { id, size, digest: `sha256:${h.digest('hex')}`, chunks: () => blobChunks(id, size) };
}

function bufferBlob(buf: Buffer): Blob {
  return { id: 0, size: buf.length, digest: `sha256:${createHash('sha256').update(buf).digest('hex')}`, chunks: () => [buf] };
}

// ---------------------------------------------------------------------------------------------- registries

interface Target {
  key: 'wharf' | 'distribution';
  label: string;
  origin: string;
  /** The registry process (RSS is sampled here). */
  pid: number;
  /** Whose CPU seconds count as the server's: the registry, plus nginx in front of Wharf with --nginx. */
  cpuPids: number[];
  auth: Record<string, string>;
  /** skopeo --creds value, when the registry wants credentials. */
  creds?: string;
  alive(): boolean;
  logFile: string;
}

const OCTET = 'application/octet-stream';
const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const ACCEPT = [
  MEDIA.manifest,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Resolves a Location header against the registry origin (distribution answers absolute URLs, Wharf paths). */
function resolveLocation(t: Target, loc: string | string[] | undefined, what: string): string {
  if (typeof loc !== 'string' || !loc) throw new Error(`${what}: no Location header`);
  const u = new URL(loc, t.origin);
  if (u.origin !== t.origin) throw new Error(`${what}: Location ${loc} is not on ${t.origin}`);
  return u.toString();
}

const withQuery = (url: string, q: string) => `${url}${url.includes('?') ? '&' : '?'}${q}`;

/** The upload clients do (containers/image, containerd, docker): POST, PATCH with the whole blob, PUT ?digest=. */
async function uploadPatch(t: Target, repo: string, b: Blob): Promise<void> {
  const start = await call('POST', `${t.origin}/v2/${repo}/blobs/uploads/`, { headers: { ...t.auth, 'content-length': 0 } });
  expect(start, 202, `POST upload to ${t.label}`);
  const loc = resolveLocation(t, start.headers.location, 'POST upload');
  const patch = await call('PATCH', loc, { headers: { ...t.auth, 'content-type': OCTET, 'content-length': b.size }, body: b.chunks });
  expect(patch, 202, `PATCH upload to ${t.label}`);
  const loc2 = resolveLocation(t, patch.headers.location, 'PATCH upload');
  const put = await call('PUT', withQuery(loc2, `digest=${encodeURIComponent(b.digest)}`), { headers: { ...t.auth, 'content-length': 0 } });
  expect(put, 201, `PUT upload to ${t.label}`);
}

/** Monolithic upload: POST ?digest= with the whole blob. 'unsupported' when the registry answers 202 (it ignored the body). */
async function uploadMonolithic(t: Target, repo: string, b: Blob): Promise<void | 'unsupported'> {
  const r = await call('POST', `${t.origin}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(b.digest)}`, {
    headers: { ...t.auth, 'content-type': OCTET, 'content-length': b.size },
    body: b.chunks,
  });
  if (r.status === 202) {
    // An upload session was opened and the body ignored: cancel the session.
    try {
      await call('DELETE', resolveLocation(t, r.headers.location, 'monolithic POST'), { headers: t.auth });
    } catch {
      /* best effort */
    }
    return 'unsupported';
  }
  expect(r, 201, `monolithic POST to ${t.label}`);
}

async function putManifest(t: Target, repo: string, ref: string, body: Buffer): Promise<string> {
  const r = await call('PUT', `${t.origin}/v2/${repo}/manifests/${ref}`, { headers: { ...t.auth, 'content-type': MEDIA.manifest, 'content-length': body.length }, body });
  expect(r, 201, `PUT manifest ${repo}:${ref} to ${t.label}`);
  return String(r.headers['docker-content-digest'] ?? '');
}

/** Pushes an image (config + layers) with `uploadPatch` and tags it; returns the manifest bytes. */
async function pushImage(t: Target, repo: string, tag: string, layers: Blob[], annotation: string): Promise<Buffer> {
  const config = bufferBlob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })),
  );
  for (const b of [config, ...layers]) {
    const head = await call('HEAD', `${t.origin}/v2/${repo}/blobs/${b.digest}`, { headers: t.auth });
    if (head.status !== 200) await uploadPatch(t, repo, b);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
      annotations: { 'org.opencontainers.image.description': annotation, 'org.opencontainers.image.created': new Date(0).toISOString() },
    }),
  );
  await putManifest(t, repo, tag, manifest);
  return manifest;
}

// ---------------------------------------------------------------------------------------------- measurements

interface Throughput {
  bytes: number;
  seconds: number;
  mibps: number;
  cpu: number;
  mibPerCpu: number;
}

/**
 * Runs `work` on `items` with `concurrency` workers; throughput and the server's CPU seconds over the whole run.
 * With `minSeconds`, the list is gone through again (round robin) until that long has passed, so that fast
 * phases (4 x 64 MiB takes ~0.15 s at 1.7 GiB/s) are measured over a window long enough to mean something.
 */
async function timed<T>(t: { cpuPids: number[] }, items: T[], concurrency: number, bytesOf: (x: T) => number, work: (x: T) => Promise<unknown>, minSeconds = 0): Promise<Throughput> {
  const cpu0 = cpuSeconds(t.cpuPids);
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length || elapsed() < minSeconds) {
        const item = items[next++ % items.length];
        await work(item);
        bytes += bytesOf(item);
      }
    }),
  );
  const seconds = elapsed();
  const cpu = cpuSeconds(t.cpuPids) - cpu0;
  return { bytes, seconds, mibps: bytes / MiB / seconds, cpu, mibPerCpu: cpu > 0 ? bytes / MiB / cpu : NaN };
}

/** Idle download clients per registry (RawGetClient: one request at a time each). */
const rawClients = new Map<string, (RawGetClient | SinkGetClient)[]>();

async function rawGet(key: string, origin: string, pathAndQuery: string, headers: Record<string, string>) {
  const idle = rawClients.get(key) ?? [];
  rawClients.set(key, idle);
  const url = new URL(origin);
  const client = idle.pop() ?? (O.sink ? new SinkGetClient(url.hostname, Number(url.port)) : new RawGetClient(url.hostname, Number(url.port)));
  try {
    const r = await client.get(pathAndQuery, headers);
    idle.push(client);
    return r;
  } catch (e) {
    client.close();
    throw e;
  }
}

/** Blob counts: how many GETs were answered by a redirect (followed to S3, without the registry's credentials). */
const redirected = new Map<Key, { redirects: number; gets: number }>();

async function download(t: Target, repo: string, b: Blob): Promise<void> {
  let r = await rawGet(t.key, t.origin, `/v2/${repo}/blobs/${b.digest}`, t.auth);
  const count = redirected.get(t.key) ?? { redirects: 0, gets: 0 };
  redirected.set(t.key, count);
  count.gets++;
  if (r.status === 307 && r.location) {
    count.redirects++;
    const u = new URL(r.location, t.origin);
    r = await rawGet(`${t.key}@${u.host}`, u.origin, `${u.pathname}${u.search}`, {});
  }
  if (r.status !== 200 || r.bytes !== b.size) throw new Error(`GET blob ${b.digest} from ${t.label}: HTTP ${r.status}, ${r.bytes} of ${b.size} bytes`);
}

interface LatencyResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: number;
  reqPerCpu: number;
}

/** HEAD at `connections` concurrency on keep-alive sockets for `seconds` (autocannon 8+ hangs on HEAD + Content-Length). */
async function headLoop(t: Target, paths: string[], headers: Record<string, string>, connections: number, seconds: number, pid?: number[]): Promise<LatencyResult> {
  const headAgent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  const one = (p: string) =>
    new Promise<number>((resolve) => {
      const req = http.request(`${t.origin}${p}`, { method: 'HEAD', agent: headAgent, headers, timeout: 30_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end();
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const s = process.hrtime.bigint();
        const status = await one(paths[Math.floor(Math.random() * paths.length)]);
        latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : 0;
  headAgent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { requests: latencies.length, rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), errors, cpu, reqPerCpu: cpu > 0 ? latencies.length / cpu : NaN };
}

/** One pull as a client does it: the manifest by tag, then the config and every layer, each checked against its digest. */
async function pullOnce(t: Target, repo: string, tag: string): Promise<{ bytes: number; errors: string[] }> {
  const errors: string[] = [];
  let bytes = 0;
  try {
    const m = await call('GET', `${t.origin}/v2/${repo}/manifests/${tag}`, { headers: { ...t.auth, accept: ACCEPT } });
    if (m.status !== 200) return { bytes, errors: [`manifest HTTP ${m.status}`] };
    const digest = `sha256:${createHash('sha256').update(m.body).digest('hex')}`;
    if (m.headers['docker-content-digest'] !== digest) errors.push(`manifest digest header ${m.headers['docker-content-digest']} != ${digest}`);
    bytes += m.body.length;
    const doc = JSON.parse(m.body.toString('utf8'));
    for (const d of [doc.config, ...doc.layers] as { digest: string; size: number }[]) {
      let r = await call('GET', `${t.origin}/v2/${repo}/blobs/${d.digest}`, { headers: t.auth, sink: 'hash' });
      if (r.status === 307 && typeof r.headers.location === 'string') r = await call('GET', new URL(r.headers.location, t.origin).toString(), { sink: 'hash' });
      bytes += r.bytes;
      if (r.status !== 200) errors.push(`blob ${d.digest}: HTTP ${r.status}`);
      else if (r.sha256 !== d.digest || r.bytes !== d.size) errors.push(`blob ${d.digest}: got ${r.bytes} bytes hashing to ${r.sha256}`);
    }
  } catch (e) {
    errors.push((e as Error).message);
  }
  return { bytes, errors };
}

// ---------------------------------------------------------------------------------------------- results

type Key = Target['key'];
type Cell = Partial<Record<Key, number>>;
interface Row {
  metric: string;
  values: Cell;
  unit: string;
  digits?: number;
  /** 'higher': ratio Wharf/distribution, higher is better; 'lower': lower is better (ratio still Wharf/distribution). */
  better?: 'higher' | 'lower';
  minRatio?: number;
  maxWharf?: number;
  /** Cell text for a registry that does not support the operation. */
  na?: Partial<Record<Key, string>>;
  /** With --repeat: the ratio Wharf/distribution of each round, for the notes. */
  rounds?: number[];
}
const rows: Row[] = [];
const notes: string[] = [];
const row = (r: Row) => {
  rows.push(r);
  return r;
};

const fmt = (v: number | undefined, digits: number, unit: string) =>
  v === undefined || Number.isNaN(v) ? '–' : `${v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}${unit ? ` ${unit}` : ''}`;

function renderTable(): string {
  const lines = ['| metric | Wharf | distribution 2.8 | ratio (Wharf/distribution) | target |', '|---|---:|---:|---:|---|'];
  for (const r of rows) {
    const w = r.values.wharf;
    const d = r.values.distribution;
    const digits = r.digits ?? 0;
    const ratio = r.better && w !== undefined && d !== undefined && d > 0 && !Number.isNaN(w) ? w / d : undefined;
    let ratioCell = ratio === undefined ? '' : `${ratio.toFixed(2)}×`;
    if (ratio !== undefined && r.better === 'lower' && ratio > 0) ratioCell += ratio < 1 ? ` (${(1 / ratio).toFixed(1)}× lower)` : ' (lower is better)';
    let target = '';
    if (r.minRatio !== undefined) target = `≥ ${r.minRatio}×: ${ratio === undefined ? 'no figure' : ratio >= r.minRatio ? 'met' : 'MISSED'}`;
    if (r.maxWharf !== undefined) {
      const want = `< ${r.maxWharf}${r.unit ? ` ${r.unit}` : ''}`;
      target = target ? `${target}; ${want}` : want;
      target += w === undefined || Number.isNaN(w) ? '' : `: ${w < r.maxWharf ? 'met' : 'MISSED'}`;
    }
    const cellOf = (k: Key, v: number | undefined) => r.na?.[k] ?? fmt(v, digits, r.unit);
    lines.push(`| ${r.metric} | ${cellOf('wharf', w)} | ${cellOf('distribution', d)} | ${ratioCell} | ${target} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- servers

let workDir = '';
let wharfProc: ServerProcess | undefined;
let distProc: DistributionProcess | undefined;
let nginxProc: DeployNginx | undefined;
/** S3 key prefixes this run wrote to (emptied at the end). */
const s3Prefixes: string[] = [];
let cleaned = false;

async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.all([wharfProc?.stop(), distProc?.stop(), nginxProc?.stop()]);
  await stopAll();
  agent.destroy();
  for (const c of rawClients.values()) for (const x of c) x.close();
  if (s3Prefixes.length && !O.keep) {
    try {
      const n = await emptyS3Prefixes(s3Env(), s3Prefixes);
      log(`S3: deleted ${n} objects under ${s3Prefixes.join(', ')}`);
    } catch (e) {
      log(`S3: could not empty ${s3Prefixes.join(', ')}: ${(e as Error).message}`);
    }
  }
  if (workDir && !O.keep) fs.rmSync(workDir, { recursive: true, force: true });
  else if (workDir) log(`kept ${workDir}`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping the servers`);
    cleanup().finally(() => process.exit(130));
  });
}

function checkTools() {
  const missing: string[] = [];
  if (O.runDistribution && !distributionVersion()) missing.push('docker-registry (apt-get install -y docker-registry)');
  if (O.skopeo) {
    for (const tool of ['skopeo', 'umoci']) {
      try {
        execFileSync(tool, ['--version'], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        missing.push(`${tool} (apt-get install -y ${tool})`);
      }
    }
  }
  if (missing.length) throw new Error(`missing: ${missing.join(', ')}`);
}

/** Free space check: each registry keeps every blob it is sent (two upload styles), plus the skopeo images. */
function checkDisk() {
  const perRegistry = 2 * O.repeat * (O.smallCount * O.small + O.smallConcCount * O.small + O.mediumCount * O.medium + O.concurrency * O.medium + O.big);
  const registries = (O.runWharf ? 1 : 0) + (O.runDistribution ? 1 : 0);
  const skopeo = O.skopeo ? O.skopeoRounds * O.skopeoLayers * O.skopeoLayerSize * (1 + 2 * registries + 2) : 0;
  const need = perRegistry * registries + skopeo + 2 * 1024 * MiB;
  const s = fs.statfsSync(WORK_ROOT);
  const free = s.bavail * s.bsize;
  log(`disk: ${(free / 1024 / MiB).toFixed(1)} GiB free under ${WORK_ROOT}, this run needs about ${(need / 1024 / MiB).toFixed(1)} GiB`);
  if (free < need) throw new Error(`not enough disk space: ${(free / 1024 / MiB).toFixed(1)} GiB free, need ${(need / 1024 / MiB).toFixed(1)} GiB`);
}

async function startTargets(): Promise<Target[]> {
  const targets: Target[] = [];
  const runId = path.basename(workDir);
  const s3 = O.store === 's3' ? s3Env() : undefined;
  if (s3) await ensureBucket(s3);
  if (O.runWharf) {
    const port = await freePort();
    const data = path.join(workDir, 'wharf-data');
    fs.mkdirSync(data, { recursive: true });
    const profDir = O.cpuProf ? path.join(WORK_ROOT, 'oci-prof') : undefined;
    if (profDir) fs.mkdirSync(profDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {};
    if (s3) {
      const prefix = `${runId}-wharf/`;
      s3Prefixes.push(prefix);
      Object.assign(env, {
        WHARF_BLOB_STORE: 's3', WHARF_S3_ENDPOINT: s3.endpoint, WHARF_S3_REGION: s3.region, WHARF_S3_BUCKET: s3.bucket, WHARF_S3_PREFIX: prefix,
        WHARF_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey, WHARF_S3_REDIRECT: O.redirect ? 'on' : 'off',
      });
    }
    if (O.nginx) Object.assign(env, { WHARF_ACCEL_REDIRECT: '/_blobs/', WHARF_TRUST_PROXY: '127.0.0.1' });
    wharfProc = startWharf(ROOT, data, port, workDir, profDir, env);
    let origin = `http://127.0.0.1:${port}`;
    await waitWharf(origin, wharfProc);
    const token = wharfToken(ROOT, data, port, 'bench');
    const p = wharfProc;
    const cpuPids = [p.pid];
    if (O.nginx) {
      const nport = await freePort();
      nginxProc = await startDeployNginx(ROOT, path.join(workDir, 'nginx'), nport, [`127.0.0.1:${port}`], path.join(data, 'blobs'));
      cpuPids.push(nginxProc.pid);
      log(`nginx (deploy/nginx.conf, X-Accel-Redirect) on 127.0.0.1:${nport} in front of Wharf on ${origin}, pid ${nginxProc.pid}`);
      origin = `http://127.0.0.1:${nport}`;
      await waitWharf(origin, p);
    }
    targets.push({
      key: 'wharf', label: 'Wharf', origin, pid: p.pid, cpuPids, alive: p.alive, logFile: p.logFile,
      auth: { authorization: `Basic ${Buffer.from(`bench:${token}`).toString('base64')}` }, creds: `bench:${token}`,
    });
    log(`Wharf on ${origin}, pid ${p.pid}${s3 ? `, S3 store s3://${s3.bucket}/${runId}-wharf/, redirect ${O.redirect ? 'on' : 'off'}` : ''}`);
  }
  if (O.runDistribution) {
    const port = await freePort();
    let ds3: DistributionS3 | undefined;
    if (s3) {
      ds3 = { endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, accessKey: s3.accessKey, secretKey: s3.secretKey, rootDirectory: `/${runId}-distribution`, redirect: O.redirect };
      s3Prefixes.push(`${runId}-distribution/`);
    }
    distProc = startDistribution(workDir, port, ds3);
    const origin = `http://127.0.0.1:${port}`;
    await waitDistribution(origin, distProc);
    const p = distProc;
    targets.push({ key: 'distribution', label: 'distribution', origin, pid: p.pid, cpuPids: [p.pid], alive: p.alive, logFile: p.logFile, auth: {} });
    log(`distribution (${distributionVersion()}) on ${origin}, pid ${p.pid}${ds3 ? `, S3 driver s3://${ds3.bucket}${ds3.rootDirectory}/, redirect ${O.redirect ? 'on' : 'off'}` : ''}`);
  }
  return targets;
}

function checkAlive(targets: Target[]) {
  for (const t of targets) if (!t.alive()) throw new Error(`${t.label} exited; log tail:\n${tail(t.logFile)}`);
}

// ---------------------------------------------------------------------------------------------- phases

async function uploadPhases(targets: Target[]) {
  type Case = { size: number; count: number; conc: number };
  const cases: Case[] = O.lean
    ? [
        { size: O.small, count: O.quick ? 16 : 32, conc: 1 },
        { size: O.medium, count: O.mediumCount, conc: 1 },
        { size: O.medium, count: O.concurrency, conc: O.concurrency },
        { size: O.big, count: 1, conc: 1 },
      ]
    : [
        { size: O.small, count: O.smallCount, conc: 1 },
        { size: O.small, count: O.smallConcCount, conc: O.concurrency },
        { size: O.medium, count: O.mediumCount, conc: 1 },
        { size: O.medium, count: O.concurrency, conc: O.concurrency },
        { size: O.big, count: 1, conc: 1 },
      ];
  const allFlows = [
    { key: 'patch', label: 'POST, PATCH, PUT ?digest', run: uploadPatch },
    { key: 'mono', label: 'monolithic POST ?digest', run: uploadMonolithic },
  ] as const;
  // The lean modes measure the flow clients use (containers/image, containerd, docker) only.
  const flows = O.lean ? allFlows.slice(0, 1) : allFlows;
  // Which registries take a monolithic POST: probe with one small blob.
  const monoUnsupported = new Set<Key>();
  for (const t of O.lean ? [] : targets) {
    if ((await uploadMonolithic(t, 'bench/probe', newBlob(O.small))) === 'unsupported') {
      monoUnsupported.add(t.key);
      notes.push(`${t.label} answers a monolithic POST ?digest= with 202 (it opens an upload session and ignores the body): no monolithic figures for it.`);
    }
  }
  for (const flow of flows) {
    for (const c of cases) {
      const name = `${c.conc > 1 ? `${c.conc} × ` : ''}${sizeName(c.size)}`;
      const speed = row({ metric: `upload ${name} (${flow.label}), ${c.conc > 1 ? `${c.conc} streams` : 'one stream'}`, values: {}, unit: 'MiB/s', digits: 0, better: 'higher', minRatio: 1.0, na: {} });
      const perCpu = row({ metric: `  ↳ MiB per server CPU-s`, values: {}, unit: '', digits: 0, better: 'higher', na: {} });
      const rss = c.size === O.big ? row({ metric: `server RSS growth during the ${sizeName(c.size)} upload (${flow.label})`, values: {}, unit: 'MiB', digits: 1, better: 'lower', maxWharf: flow.key === 'patch' ? 64 : undefined }) : undefined;
      const rssPeak = rss ? row({ metric: '  ↳ server RSS peak (absolute)', values: {}, unit: 'MiB', digits: 0, better: 'lower' }) : undefined;
      const measured = targets.filter((t) => !(flow.key === 'mono' && monoUnsupported.has(t.key)));
      for (const t of targets) {
        if (measured.includes(t)) continue;
        speed.na![t.key] = 'n/a (202)';
        perCpu.na![t.key] = 'n/a';
        if (rss) rss.na = { ...rss.na, [t.key]: 'n/a' };
        if (rssPeak) rssPeak.na = { ...rssPeak.na, [t.key]: 'n/a' };
      }
      // Uploads move a lot from run to run (the disk's flushes): the median of O.repeat rounds, new blobs each time.
      const rounds = O.repeat;
      const runs = new Map<Key, Throughput[]>(measured.map((t) => [t.key, []]));
      for (let round = 0; round < rounds; round++) {
        const of = rounds > 1 ? ` (${round + 1}/${rounds})` : '';
        for (const t of round % 2 ? [...measured].reverse() : measured) {
          checkAlive([t]);
          log(`${t.label}: upload ${name} × ${c.count} blobs (${flow.label})${of}`);
          const blobs = Array.from({ length: c.count }, () => newBlob(c.size));
          const repo = `bench/up-${flow.key}-${c.size / MiB}m-${c.conc}`;
          const rssBase = statusBytes(t.pid, 'VmRSS');
          const sampler = rss ? sampleRss(t.pid, 50) : undefined;
          const r = await timed(t, blobs, c.conc, (b) => b.size, (b) => flow.run(t, repo, b));
          if (sampler) {
            // RSS: the worst round counts.
            const s = sampler.stop();
            rss!.values[t.key] = Math.max(rss!.values[t.key] ?? 0, (s.peak - rssBase) / MiB);
            rssPeak!.values[t.key] = Math.max(rssPeak!.values[t.key] ?? 0, s.peak / MiB);
            log(`  RSS ${(rssBase / MiB).toFixed(0)} MiB before, peak ${(s.peak / MiB).toFixed(0)} MiB (${s.samples} samples)`);
          }
          runs.get(t.key)!.push(r);
          log(`  ${r.mibps.toFixed(0)} MiB/s, ${r.cpu.toFixed(2)} server CPU-s (${r.mibPerCpu.toFixed(0)} MiB/CPU-s)`);
          if (flow.key === 'patch' && round === 0) uploaded.set(`${t.key}:${c.size}:${c.conc}`, { repo, blobs });
        }
      }
      for (const t of measured) {
        speed.values[t.key] = median(runs.get(t.key)!.map((r) => r.mibps));
        perCpu.values[t.key] = median(runs.get(t.key)!.map((r) => r.mibPerCpu));
      }
      if (rounds > 1 && measured.length === 2) {
        const [w, d] = [runs.get('wharf')!, runs.get('distribution')!];
        speed.rounds = w.map((r, i) => r.mibps / d[i].mibps);
      }
    }
  }
}

const uploaded = new Map<string, { repo: string; blobs: Blob[] }>();

async function downloadPhases(targets: Target[]) {
  const cases = O.lean
    ? [
        { size: O.medium, conc: 1 },
        { size: O.medium, conc: O.concurrency },
        { size: O.big, conc: 1 },
      ]
    : [
        { size: O.small, conc: 1 },
        { size: O.small, conc: O.concurrency },
        { size: O.medium, conc: 1 },
        { size: O.medium, conc: O.concurrency },
        { size: O.big, conc: 1 },
      ];
  const ceiling = O.ceiling ? await startCeiling(Math.max(...cases.map((c) => c.size))) : undefined;
  for (const c of cases) {
    const name = `${c.conc > 1 ? `${c.conc} × ` : ''}${sizeName(c.size)}`;
    const metric = `blob GET ${sizeName(c.size)}, ${c.conc > 1 ? `${c.conc} streams` : 'one stream'}`;
    const speed = row({ metric, values: {}, unit: 'MiB/s', digits: 0, better: 'higher', minRatio: O.store === 's3' ? 1.0 : 1.5 });
    const perCpu = row({ metric: `  ↳ MiB per server CPU-s`, values: {}, unit: '', digits: 0, better: 'higher' });
    const ups = new Map<Target, { repo: string; blobs: Blob[] }>();
    for (const t of targets) {
      checkAlive([t]);
      const up = uploaded.get(`${t.key}:${c.size}:${c.conc}`);
      if (!up) throw new Error(`no uploaded blobs for ${name} on ${t.label}`);
      ups.set(t, up);
      log(`${t.label}: GET ${name} (${up.blobs.length} blobs), first read untimed`);
      // Read every blob once untimed first, so both registries serve from the page cache.
      await timed(t, up.blobs, c.conc, (b) => b.size, (b) => download(t, up.repo, b));
    }
    const runs = new Map<string, Throughput[]>();
    const keep = (k: string, r: Throughput) => (runs.get(k) ?? runs.set(k, []).get(k)!).push(r);
    for (let round = 0; round < O.repeat; round++) {
      const of = O.repeat > 1 ? ` (${round + 1}/${O.repeat})` : '';
      for (const t of round % 2 ? [...targets].reverse() : targets) {
        checkAlive([t]);
        const up = ups.get(t)!;
        const r = await timed(t, up.blobs, c.conc, (b) => b.size, (b) => download(t, up.repo, b), O.downloadSeconds);
        keep(t.key, r);
        log(`${t.label}: GET ${name}${of}: ${r.mibps.toFixed(0)} MiB/s, ${r.cpu.toFixed(2)} server CPU-s (${r.mibPerCpu.toFixed(0)} MiB/CPU-s)`);
      }
      if (ceiling) {
        const count = ups.get(targets[0])!.blobs.length;
        const r = await timed({ cpuPids: [ceiling.proc.pid] }, Array.from({ length: count }, () => c.size), c.conc, (n) => n, (n) => ceilingGet(ceiling, n), O.downloadSeconds);
        keep('ceiling', r);
        log(`Node ceiling: GET ${name}${of}: ${r.mibps.toFixed(0)} MiB/s (${r.mibPerCpu.toFixed(0)} MiB/CPU-s)`);
      }
    }
    for (const t of targets) {
      speed.values[t.key] = median(runs.get(t.key)!.map((r) => r.mibps));
      perCpu.values[t.key] = median(runs.get(t.key)!.map((r) => r.mibPerCpu));
    }
    if (O.repeat > 1 && targets.length === 2) {
      const [w, d] = [runs.get('wharf')!, runs.get('distribution')!];
      speed.rounds = w.map((r, i) => r.mibps / d[i].mibps);
    }
    if (ceiling) ceilingRows.push({ metric, ceiling: median(runs.get('ceiling')!.map((r) => r.mibps)), ceilingPerCpu: median(runs.get('ceiling')!.map((r) => r.mibPerCpu)), wharf: speed.values.wharf, distribution: speed.values.distribution });
  }
  if (ceiling) {
    for (const c of ceiling.idle) c.close();
    await ceiling.proc.stop();
  }
  if (O.store === 's3' && O.redirect) await redirectRatePhase(targets);
  for (const t of targets) {
    const c = redirected.get(t.key);
    if (c?.redirects) notes.push(`${t.label}: ${c.redirects} of ${c.gets} blob GETs answered with a 307 to a presigned S3 URL, followed by the bench (the bytes then come from radosgw, whose CPU is not counted as the server's).`);
  }
  const perRound = rows.filter((r) => r.rounds);
  if (perRound.length) notes.push(`Uploads and blob GETs: median of ${O.repeat} measurements per server, alternating (GETs ${O.downloadSeconds} s each; for RSS the worst round). Wharf/distribution in each round: ${perRound.map((r) => `${r.metric} ${r.rounds!.map((x) => `${x.toFixed(2)}×`).join(', ')}`).join('; ')}.`);
}

/**
 * With redirects on, what the registry itself does for a blob GET is the 307: how many it answers per second at
 * c=O.connections (autocannon, the redirect not followed), the median of O.repeat rounds, alternating.
 */
async function redirectRatePhase(targets: Target[]) {
  const rps = row({ metric: `blob GET answered with a 307 to S3 (not followed), c=${O.connections}`, values: {}, unit: 'rps', better: 'higher', minRatio: 1.0 });
  const p99 = row({ metric: '  ↳ p99 latency', values: {}, unit: 'ms', digits: 0, better: 'lower' });
  const cpu = row({ metric: '  ↳ requests per server CPU-s', values: {}, unit: '', better: 'higher' });
  const other = row({ metric: '  ↳ answers other than 307, errors', values: {}, unit: '' });
  const runs = new Map<Key, Awaited<ReturnType<typeof measure>>[]>();
  for (let round = 0; round < O.repeat; round++) {
    for (const t of round % 2 ? [...targets].reverse() : targets) {
      checkAlive([t]);
      const up = uploaded.get(`${t.key}:${O.medium}:${O.concurrency}`)!;
      const paths = up.blobs.map((b) => `/v2/${up.repo}/blobs/${b.digest}`);
      const r = await measure({ origin: t.origin, paths, headers: t.auth, connections: O.connections, warmupSeconds: O.warmup, seconds: O.seconds, pid: t.cpuPids });
      log(`${t.label}: blob GET → 307, c=${O.connections}: ${r.rps.toFixed(0)} rps, p99 ${r.p99} ms, ${r.reqPerCpuSecond.toFixed(0)} req/CPU-s, ${JSON.stringify(r.statusCodes)}, ${r.errors} errors`);
      (runs.get(t.key) ?? runs.set(t.key, []).get(t.key)!).push(r);
    }
  }
  for (const t of targets) {
    const rs = runs.get(t.key)!;
    const m = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
    rps.values[t.key] = m.rps;
    p99.values[t.key] = m.p99;
    cpu.values[t.key] = m.reqPerCpuSecond;
    other.values[t.key] = rs.reduce((a, r) => a + r.errors + Object.entries(r.statusCodes).reduce((n, [code, c]) => n + (code === '307' ? 0 : c), 0), 0);
  }
  if (targets.length === 2) rps.rounds = runs.get('wharf')!.map((r, i) => r.rps / runs.get('distribution')![i].rps);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// Node's ceiling (bench/lib/node-ceiling.ts): measured in the same rounds as the registries' downloads.
interface Ceiling {
  proc: ServerProcess;
  port: number;
  idle: RawGetClient[];
}
const ceilingRows: { metric: string; ceiling: number; ceilingPerCpu: number; wharf?: number; distribution?: number }[] = [];

async function startCeiling(maxBytes: number): Promise<Ceiling> {
  const port = await freePort();
  const proc = await startNodeCeiling(ROOT, port, maxBytes, path.join(workDir, 'node-ceiling.log'));
  log(`Node ceiling (bare node:http, bodies from memory) on 127.0.0.1:${port}, pid ${proc.pid}`);
  return { proc, port, idle: [] };
}

async function ceilingGet(c: Ceiling, size: number): Promise<void> {
  const client = c.idle.pop() ?? new RawGetClient('127.0.0.1', c.port);
  try {
    const r = await client.get(`/bytes/${size}`);
    if (r.status !== 200 || r.bytes !== size) throw new Error(`Node ceiling: HTTP ${r.status}, ${r.bytes} of ${size} bytes`);
    c.idle.push(client);
  } catch (e) {
    client.close();
    throw e;
  }
}

function renderCeiling(): string {
  if (!ceilingRows.length) return '';
  const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: 0 }));
  const x = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !(b > 0) ? '' : `${(a / b).toFixed(2)}×`);
  const lines = [
    "Node's ceiling here, measured in the same rounds: a bare node:http server sending the same sizes from memory (no file read, routing, auth or database; bench/lib/node-ceiling.ts). No Node server can send faster through the same socket API.",
    '',
    '| metric | Node ceiling | ↳ MiB per CPU-s | ceiling / distribution | Wharf / ceiling |',
    '|---|---:|---:|---:|---:|',
    ...ceilingRows.map((r) => `| ${r.metric} | ${f(r.ceiling)} MiB/s | ${f(r.ceilingPerCpu)} | ${x(r.ceiling, r.distribution)} | ${x(r.wharf, r.ceiling)} |`),
  ];
  return lines.join('\n');
}

async function manifestPhases(targets: Target[]) {
  const repo = 'bench/manifests';
  const layers = Array.from({ length: 3 }, () => newBlob(4096));
  const paths = Array.from({ length: O.manifests }, (_, i) => `/v2/${repo}/manifests/t${i}`);
  const get = {
    rps: row({ metric: `manifest GET by tag, c=${O.connections} (${O.manifests} tags)`, values: {}, unit: 'rps', better: 'higher', minRatio: 1.5 }),
    p99: row({ metric: '  ↳ p99 latency', values: {}, unit: 'ms', digits: 0, better: 'lower', maxWharf: 100 }),
    cpu: row({ metric: '  ↳ requests per server CPU-s', values: {}, unit: '', better: 'higher' }),
    err: row({ metric: '  ↳ errors and non-200 answers', values: {}, unit: '', maxWharf: 1 }),
  };
  const head = {
    rps: row({ metric: `manifest HEAD by tag, c=${O.connections}`, values: {}, unit: 'rps', better: 'higher', minRatio: 1.5 }),
    p99: row({ metric: '  ↳ p99 latency', values: {}, unit: 'ms', digits: 0, better: 'lower', maxWharf: 100 }),
    cpu: row({ metric: '  ↳ requests per server CPU-s', values: {}, unit: '', better: 'higher' }),
    err: row({ metric: '  ↳ errors and non-200 answers', values: {}, unit: '', maxWharf: 1 }),
  };
  for (const t of targets) {
    checkAlive([t]);
    log(`${t.label}: pushing ${O.manifests} tagged manifests to ${repo}`);
    for (let i = 0; i < O.manifests; i++) await pushImage(t, repo, `t${i}`, layers, `bench image ${i}`);
    // Sanity check: every path answers 200 with the manifest.
    for (const p of paths) expect(await call('GET', `${t.origin}${p}`, { headers: { ...t.auth, accept: ACCEPT } }), 200, `GET ${p} on ${t.label}`);
  }
  // The median (by rps) of O.repeat measurements per server, alternating the servers from round to round.
  const gets = new Map<Key, Awaited<ReturnType<typeof measure>>[]>();
  const heads = new Map<Key, LatencyResult[]>();
  for (let round = 0; round < O.repeat; round++) {
    const of = O.repeat > 1 ? ` (${round + 1}/${O.repeat})` : '';
    for (const t of round % 2 ? [...targets].reverse() : targets) {
      checkAlive([t]);
      const headers = { ...t.auth, accept: ACCEPT };
      log(`${t.label}: manifest GET, c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s${of}`);
      const g = await measure({ origin: t.origin, paths, headers, connections: O.connections, warmupSeconds: O.warmup, seconds: O.seconds, pid: t.cpuPids });
      (gets.get(t.key) ?? gets.set(t.key, []).get(t.key)!).push(g);
      log(`  ${g.rps.toFixed(0)} rps, p50 ${g.p50} ms, p99 ${g.p99} ms, ${g.cpuSeconds.toFixed(2)} server CPU-s, ${g.errors} errors, ${g.non2xx} non-2xx, machine ${(100 * g.machineBusy).toFixed(0)} % busy`);
      log(`${t.label}: manifest HEAD, c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s${of}`);
      await headLoop(t, paths, headers, O.connections, O.warmup);
      const h = await headLoop(t, paths, headers, O.connections, O.seconds, t.cpuPids);
      (heads.get(t.key) ?? heads.set(t.key, []).get(t.key)!).push(h);
      log(`  ${h.rps.toFixed(0)} rps, p50 ${h.p50.toFixed(1)} ms, p99 ${h.p99.toFixed(1)} ms, ${h.cpu.toFixed(2)} server CPU-s, ${h.errors} errors`);
    }
  }
  const mid = <T extends { rps: number }>(xs: T[]) => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)];
  for (const t of targets) {
    const g = mid(gets.get(t.key)!);
    get.rps.values[t.key] = g.rps;
    get.p99.values[t.key] = g.p99;
    get.cpu.values[t.key] = g.reqPerCpuSecond;
    get.err.values[t.key] = gets.get(t.key)!.reduce((a, x) => a + x.errors + x.non2xx, 0);
    const h = mid(heads.get(t.key)!);
    head.rps.values[t.key] = h.rps;
    head.p99.values[t.key] = h.p99;
    head.cpu.values[t.key] = h.reqPerCpu;
    head.err.values[t.key] = heads.get(t.key)!.reduce((a, x) => a + x.errors, 0);
  }
  if (O.repeat > 1 && targets.length === 2) {
    const [w, d] = [gets.get('wharf')!, gets.get('distribution')!];
    notes.push(`Manifest GET and HEAD: the median by rps of ${O.repeat} measurements per server, alternating (errors: the sum over all). Wharf/distribution GET rps in each round: ${w.map((x, i) => `${(x.rps / d[i].rps).toFixed(2)}×`).join(', ')}.`);
  }
}

async function pullPhase(targets: Target[]) {
  const repo = 'bench/pull';
  const layers = Array.from({ length: O.pullLayers }, () => newBlob(O.pullLayerSize));
  const errs = row({ metric: `${O.pulls} concurrent pulls (manifest + config + ${O.pullLayers} × ${sizeName(O.pullLayerSize)}, digests checked): errors`, values: {}, unit: '', maxWharf: 1 });
  const wall = row({ metric: '  ↳ wall time for all pulls', values: {}, unit: 's', digits: 2, better: 'lower' });
  const speed = row({ metric: '  ↳ MiB/s', values: {}, unit: 'MiB/s', better: 'higher' });
  for (const t of targets) {
    checkAlive([t]);
    await pushImage(t, repo, 'latest', layers, 'pull test');
    log(`${t.label}: ${O.pulls} concurrent pulls`);
    const cpu0 = cpuSeconds(t.cpuPids);
    const start = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: O.pulls }, () => pullOnce(t, repo, 'latest')));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuSeconds(t.cpuPids) - cpu0;
    const errors = results.flatMap((r) => r.errors);
    const bytes = results.reduce((a, r) => a + r.bytes, 0);
    errs.values[t.key] = errors.length;
    wall.values[t.key] = seconds;
    speed.values[t.key] = bytes / MiB / seconds;
    log(`  ${errors.length} errors in ${seconds.toFixed(2)} s, ${(bytes / MiB / seconds).toFixed(0)} MiB/s, ${cpu.toFixed(2)} server CPU-s${errors.length ? `; first: ${errors[0]}` : ''}`);
    if (errors.length) notes.push(`${t.label}, concurrent pulls: ${errors.length} errors, first: ${errors.slice(0, 3).join('; ')}`);
  }
}

// ---- skopeo ------------------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<{ seconds: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out = (out + c).slice(-4000)));
    child.stderr.on('data', (c) => (out = (out + c).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9 });
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}\n${out}`));
    });
  });
}

/** An OCI image layout with `layers` random-content layers of `size` bytes each (umoci; uncompressed tars in, gzip layers out). */
async function buildImage(dir: string, round: number): Promise<void> {
  const layout = path.join(dir, `img${round}`);
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:1`]);
  for (let i = 0; i < O.skopeoLayers; i++) {
    const tarFile = path.join(dir, `layer-${round}-${i}.tar`);
    fs.writeFileSync(tarFile, tarOf(`layer${i}.bin`, randomBytes(O.skopeoLayerSize)));
    await run('umoci', ['raw', 'add-layer', '--image', `${layout}:1`, tarFile]);
    fs.rmSync(tarFile);
  }
}

/** A ustar archive holding one regular file. */
function tarOf(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath ?? (e as any).path, e.name)).size;
  }
  return total;
}

async function skopeoPhase(targets: Target[]) {
  const dir = path.join(workDir, 'skopeo');
  fs.mkdirSync(dir, { recursive: true });
  const what = `${O.skopeoLayers}-layer × ${sizeName(O.skopeoLayerSize)} image`;
  log(`building ${O.skopeoRounds} ${what}(s) with umoci`);
  for (let r = 0; r < O.skopeoRounds; r++) await buildImage(dir, r);
  const imageBytes = dirBytes(path.join(dir, 'img0', 'blobs'));
  const push = row({ metric: `skopeo copy push, ${what} (best of ${O.skopeoRounds})`, values: {}, unit: 's', digits: 2, better: 'lower' });
  const pushCpu = row({ metric: '  ↳ server CPU-s per push', values: {}, unit: '', digits: 2, better: 'lower' });
  const pull = row({ metric: `skopeo copy pull, same image (best of ${O.skopeoRounds})`, values: {}, unit: 's', digits: 2, better: 'lower' });
  const pullCpu = row({ metric: '  ↳ server CPU-s per pull', values: {}, unit: '', digits: 2, better: 'lower' });
  for (const t of targets) {
    const host = t.origin.replace('http://', '');
    const pushes: number[] = [];
    const pulls: number[] = [];
    const pushCpus: number[] = [];
    const pullCpus: number[] = [];
    for (let r = 0; r < O.skopeoRounds; r++) {
      checkAlive([t]);
      // A new repository and a new image each round, so no blob is already there or mountable.
      const ref = `docker://${host}/bench/skopeo${r}:1`;
      const creds = t.creds ? ['--dest-creds', t.creds] : [];
      let cpu0 = cpuSeconds(t.cpuPids);
      const p = await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...creds, `oci:${path.join(dir, `img${r}`)}:1`, ref]);
      pushCpus.push(cpuSeconds(t.cpuPids) - cpu0);
      pushes.push(p.seconds);
      log(`${t.label}: skopeo push ${r}: ${p.seconds.toFixed(2)} s`);
      const out = path.join(dir, `pull-${t.key}-${r}`);
      const srcCreds = t.creds ? ['--src-creds', t.creds] : [];
      cpu0 = cpuSeconds(t.cpuPids);
      const q = await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ...srcCreds, ref, `oci:${out}:1`]);
      pullCpus.push(cpuSeconds(t.cpuPids) - cpu0);
      pulls.push(q.seconds);
      const got = dirBytes(path.join(out, 'blobs'));
      if (got < O.skopeoLayers * O.skopeoLayerSize) throw new Error(`skopeo pull from ${t.label}: only ${got} bytes of blobs`);
      fs.rmSync(out, { recursive: true, force: true });
      log(`${t.label}: skopeo pull ${r}: ${q.seconds.toFixed(2)} s`);
    }
    const best = (a: number[]) => Math.min(...a);
    push.values[t.key] = best(pushes);
    pushCpu.values[t.key] = pushCpus[pushes.indexOf(best(pushes))];
    pull.values[t.key] = best(pulls);
    pullCpu.values[t.key] = pullCpus[pulls.indexOf(best(pulls))];
  }
  notes.push(`skopeo image: ${(imageBytes / MiB).toFixed(0)} MiB of blobs (random content, gzip layers as umoci writes them); skopeo --dest-tls-verify=false first tries HTTPS, then plain HTTP, on both registries.`);
}

// ---------------------------------------------------------------------------------------------- S3 and modes

function modeText(): string {
  if (O.store === 's3') {
    return `Both on the same S3 server (Ceph radosgw on this machine; its CPU is not counted as either server's): Wharf with WHARF_BLOB_STORE=s3${O.redirect ? ' and WHARF_S3_REDIRECT=on' : ''}, distribution with its own S3 driver${O.redirect ? ' and its `redirect` on (the default)' : ' and `redirect: disable: true`'}; in-memory blob descriptor cache, access log off, no auth on distribution.`;
  }
  if (O.nginx) {
    return 'Wharf on the filesystem behind nginx (deploy/nginx.conf rendered for one node, plain HTTP, access log off, WHARF_ACCEL_REDIRECT=/_blobs/: nginx sends blob bytes with sendfile); Wharf server CPU = the node + nginx (master and workers). distribution: no auth, filesystem storage, in-memory blob descriptor cache, access log off, no proxy.';
  }
  return 'distribution: no auth, filesystem storage, in-memory blob descriptor cache, access log off.';
}

interface S3Env {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
}

function s3Env(): S3Env {
  const e = process.env;
  const endpoint = e.WHARF_TEST_S3_ENDPOINT ?? e.S3_ENDPOINT;
  const accessKey = e.WHARF_TEST_S3_ACCESS_KEY_ID ?? e.S3_ACCESS_KEY_ID;
  const secretKey = e.WHARF_TEST_S3_SECRET_ACCESS_KEY ?? e.S3_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKey || !secretKey) throw new Error('--store=s3: set WHARF_TEST_S3_ENDPOINT, WHARF_TEST_S3_ACCESS_KEY_ID, WHARF_TEST_S3_SECRET_ACCESS_KEY (source /tmp/testenv.sh here)');
  return { endpoint, accessKey, secretKey, region: e.WHARF_TEST_S3_REGION ?? e.S3_REGION ?? 'us-east-1', bucket: e.BENCH_S3_BUCKET ?? 'wharf-bench' };
}

async function s3Client(s3: S3Env) {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey }, requestChecksumCalculation: 'WHEN_REQUIRED' });
}

async function ensureBucket(s3: S3Env) {
  const { HeadBucketCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const c = await s3Client(s3);
  try {
    await c.send(new HeadBucketCommand({ Bucket: s3.bucket }));
  } catch {
    await c.send(new CreateBucketCommand({ Bucket: s3.bucket }));
  }
  c.destroy();
}

/** Deletes every object and unfinished multipart upload under the prefixes; the number of objects deleted. */
async function emptyS3Prefixes(s3: S3Env, prefixes: string[]): Promise<number> {
  const { ListObjectsV2Command, DeleteObjectsCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const c = await s3Client(s3);
  let n = 0;
  for (const Prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = await c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length) await c.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: keys, Quiet: true } }));
      n += keys.length;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const mp = await c.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix }));
    for (const u of mp.Uploads ?? []) await c.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: u.Key, UploadId: u.UploadId }));
  }
  c.destroy();
  return n;
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  checkTools();
  fs.mkdirSync(WORK_ROOT, { recursive: true });
  checkDisk();
  if (O.sink) {
    buildSinkGet(WORK_ROOT);
    notes.push('Blob GETs with `--sink`: the client (bench/lib/sink-get.c, one process per stream) drops each body in the kernel (recv with MSG_TRUNC) instead of copying it into the load generator, so the servers get nearly all of the CPU; both registries alike. Uploads, manifests and pulls use the usual clients.');
  }
  workDir = fs.mkdtempSync(path.join(WORK_ROOT, 'oci-'));
  const busy = await machineBusyOver(1000);
  log(`machine ${(100 * busy).toFixed(0)} % busy before the run (${os.cpus().length} CPUs); scratch ${workDir}`);
  if (busy > 0.15) notes.push(`The machine was ${(100 * busy).toFixed(0)} % busy (all cores) in the second before the run: other work skews these figures; compare ratios and per-CPU-second figures, and rerun on a quiet machine for the record.`);
  const targets = await startTargets();
  if (phases.has('upload')) await uploadPhases(targets);
  if (phases.has('download')) await downloadPhases(targets);
  if (phases.has('manifest')) await manifestPhases(targets);
  if (phases.has('pull')) await pullPhase(targets);
  if (O.skopeo) await skopeoPhase(targets);
  checkAlive(targets);

  const rssAfter = targets.map((t) => `${t.label} ${(statusBytes(t.pid, 'VmRSS') / MiB).toFixed(0)} MiB`).join(', ');
  const header = [
    `# OCI registry benchmark: Wharf vs distribution (${new Date().toISOString()})`,
    '',
    `${O.quick ? 'Quick smoke run (smaller sizes, short phases): not for the record. ' : ''}Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ` +
      `${distributionVersion() ?? 'distribution not run'}. Load generator on the same machine. Wharf: HTTP Basic (PAT) on every request; ` +
      `${modeText()} MiB = 2^20 bytes. ` +
      `Server CPU = utime+stime of the server process (/proc/PID/stat). RSS after the run: ${rssAfter}.`,
    '',
  ].join('\n');
  const ceilingTable = renderCeiling();
  const out = `${header}\n${renderTable()}\n${notes.length ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}${ceilingTable ? `\n${ceilingTable}\n` : ''}`;
  console.log(out);
  const file = `last-oci${O.store === 's3' ? '-s3' : O.nginx ? '-nginx' : ''}${O.sink ? '-sink' : ''}-${O.quick ? 'quick' : 'run'}.md`;
  fs.writeFileSync(path.join(WORK_ROOT, file), out);
  log(`written to bench/.work/${file}`);
}

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
  })
  .finally(cleanup);
