// Pull-through proxies (issue 21): Wharf's npm and container proxies against the peers' own proxy modes, back to
// back in one run on this machine.
//
//   npm run bench:proxy                  full run: 120 upstream packages, npm install of 100, 5 x 50 MiB image, 3 rounds
//   npm run bench:proxy -- --quick       smoke run: 30 packages, install of 20, 5 x 4 MiB image, 1 round, 3 s phases
//   other knobs: --only=npm|oci  --repeat=N  --seconds=N  --warmup=N  --connections=N  --packages=N  --install=N
//                --layers=N  --layer-mb=N  --ttl=S (both proxies' revalidation time, default 300)
//                --wait-idle=S (before each measurement wait up to S s for the machine to go idle; 30 full, 0 quick)
//                --cpu-prof (Wharf runs with node --cpu-prof; profiles in bench/.work/prof)  --keep (keep scratch data)
//
// npm: an upstream Verdaccio 6.8 seeded (by writing its storage) with packages that depend on each other, real
// tarballs. Wharf: an npm proxy of it made the default (`wharf proxy create … --default`), so /npm/ falls through;
// it runs with its defaults, fetching ahead included (WHARF_NPM_PREFETCH=all).
// Peer: a second Verdaccio with an uplink to the same upstream and `proxy:` on its packages.
// Images: an upstream distribution 2.8 holding one image (N layers of random bytes) pushed by the bench. Wharf: a
// container proxy of it (/v2/PROXY/…). Peer: a second distribution in pull-through cache mode (`proxy: remoteurl:`).
// The upstreams' CPU is nobody's server CPU. Each cold round also runs the same install / pull straight from the
// upstream (no proxy), as the reference. Not a test: it prints markdown (also to bench/.work/last-proxy-run.md).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './lib/args.ts';
import { busyLines, comparePhase, machine, median, waitIdle, type PhaseResult, type Target as LoadTarget } from './lib/compare.ts';
import { startDistribution, distributionVersion, waitDistribution, type DistributionProcess } from './lib/distribution.ts';
import { agent, request } from './lib/http.ts';
import { escapeName, versionAt } from './lib/npm-publish.ts';
import { cpuSeconds, freePort, machineJiffies, runNode, stopAll, tail, type ServerProcess } from './lib/proc.ts';
import { MB, table, type Row } from './lib/report.ts';
import { ensureVerdaccio, seedStorage, startVerdaccio, VERDACCIO_VERSION, waitVerdaccio, writeConfig } from './lib/verdaccio.ts';
import { startWharf, waitWharf, wharfEnv } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'bench', '.work');
const PEERS = path.join(ROOT, 'bench', '.peers');

// ---------------------------------------------------------------------------------------------- options

const { flag, opt, num } = benchArgs(import.meta.url, {
  flags: ['quick', 'keep', 'cpu-prof'],
  options: ['only', 'repeat', 'seconds', 'warmup', 'connections', 'packages', 'install', 'layers', 'layer-mb', 'ttl', 'wait-idle'],
  helpLines: 17,
  zeroOk: ['wait-idle'],
});
const quick = flag('quick');
const only = opt('only');
if (only && only !== 'npm' && only !== 'oci') throw new Error(`--only=${only}: expected npm or oci`);
const O = {
  quick,
  repeat: Math.round(num('repeat', quick ? 1 : 3)),
  seconds: num('seconds', quick ? 3 : 10),
  warmup: num('warmup', quick ? 1 : 2),
  connections: num('connections', 64),
  packages: Math.round(num('packages', quick ? 30 : 120)),
  install: Math.round(num('install', quick ? 20 : 100)),
  versions: 3,
  layers: Math.round(num('layers', 5)),
  layerMb: num('layer-mb', quick ? 4 : 50),
  ttl: Math.round(num('ttl', 300)),
  waitIdle: num('wait-idle', quick ? 0 : 30),
  cpuProf: flag('cpu-prof'),
  keep: flag('keep'),
  npm: only !== 'oci',
  oci: only !== 'npm',
};
if (O.install > O.packages) throw new Error(`--install=${O.install} is more than --packages=${O.packages}`);

const t0 = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}`);
const idle = () => waitIdle(O.waitIdle, log);

const NPM_PROXY = 'npmup';
const OCI_PROXY = 'imgup';
const SCOPE = 'bench'; // not a Wharf owner (the bench creates no users), so @bench/* falls through to the default proxy
const names = Array.from({ length: O.packages }, (_, i) => `@${SCOPE}/p${i}`);
const REPO = 'bench/big';
const TAG = 'latest';
const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const MANIFEST_ACCEPT = [MANIFEST_V2, 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json'].join(', ');

/**
 * The packages' dependencies among themselves: every other package depends on two others (`^1.0.0`, so the newest
 * of its three versions), which pulls packages beyond the project's own list into the install too.
 */
function dependenciesOf(name: string): Record<string, unknown> {
  const i = Number(name.slice(name.lastIndexOf('/p') + 2));
  if (i % 2) return {};
  const deps: Record<string, string> = {};
  for (const j of [(i + 1) % O.packages, (i * 7 + 3) % O.packages]) if (j !== i) deps[names[j]] = '^1.0.0';
  return { dependencies: deps };
}

/** Every package an install of the project's first `O.install` packages needs, following the dependencies. */
function closure(): Set<string> {
  const seen = new Set<string>();
  const queue = names.slice(0, O.install);
  while (queue.length) {
    const n = queue.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    queue.push(...Object.keys((dependenciesOf(n).dependencies as Record<string, string>) ?? {}));
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------- servers

interface Server {
  name: 'wharf' | 'verdaccio' | 'distribution';
  origin: string;
  pid: number;
  alive(): boolean;
  logFile: string;
  stop(): Promise<void>;
}

let scratch = '';
let serial = 0;
const fresh = (label: string) => {
  const dir = path.join(scratch, `${label}-${++serial}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

/**
 * Wharf as it ships (scripts/build.mjs, node dist/main.js) on SQLite and files, in a fresh data directory, with the
 * proxies created by its CLI before it starts: the npm one the default, both with the same TTL as the peers.
 */
async function startWharfProxy(npmUpstream?: string, ociUpstream?: string): Promise<Server> {
  const data = fresh('wharf');
  const port = await freePort();
  const env = wharfEnv(data, port);
  const ttl = ['--ttl', String(O.ttl)];
  if (npmUpstream) runNode(['bin/wharf.mjs', 'proxy', 'create', NPM_PROXY, '--format', 'npm', '--upstream', npmUpstream, ...ttl, '--default'], { cwd: ROOT, env });
  if (ociUpstream) runNode(['bin/wharf.mjs', 'proxy', 'create', OCI_PROXY, '--format', 'container', '--upstream', ociUpstream, ...ttl], { cwd: ROOT, env });
  const proc = startWharf(ROOT, data, port, WORK, O.cpuProf ? path.join(WORK, 'prof') : undefined);
  const origin = `http://127.0.0.1:${port}`;
  await waitWharf(origin, proc).catch((e) => {
    throw new Error(`${(e as Error).message}\n${tail(proc.logFile)}`);
  });
  return { name: 'wharf', origin, pid: proc.pid, alive: proc.alive, logFile: proc.logFile, stop: () => proc.stop() };
}

let verdaccioBin = '';

/** A Verdaccio 6.8 (anonymous reads); with `uplink`, a proxy of it (`proxy:` on every package, `maxage` = the TTL). */
async function startVerdaccioAt(dir: string, uplink?: string): Promise<{ server: Server; proc: ServerProcess }> {
  verdaccioBin ||= ensureVerdaccio(path.join(PEERS, 'verdaccio'), log);
  const port = await freePort();
  const config = writeConfig(dir, port, { access: '$all', uplink, maxage: `${O.ttl}s` });
  const proc = startVerdaccio(verdaccioBin, config, dir, dir);
  const origin = `http://127.0.0.1:${port}`;
  await waitVerdaccio(origin, proc).catch((e) => {
    throw new Error(`${(e as Error).message}\n${tail(proc.logFile)}`);
  });
  return { server: { name: 'verdaccio', origin, pid: proc.pid, alive: proc.alive, logFile: proc.logFile, stop: () => proc.stop() }, proc };
}

async function startDistributionAt(dir: string, proxyOf?: string): Promise<Server> {
  const port = await freePort();
  const proc: DistributionProcess = startDistribution(dir, port, undefined, { proxyOf });
  stoppers.add(proc.stop);
  const origin = `http://127.0.0.1:${port}`;
  await waitDistribution(origin, proc).catch((e) => {
    throw new Error(`${(e as Error).message}\n${tail(proc.logFile)}`);
  });
  return {
    name: 'distribution', origin, pid: proc.pid, alive: proc.alive, logFile: proc.logFile,
    stop: () => {
      stoppers.delete(proc.stop);
      return proc.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------- npm

/** The path of a packument on a server: Wharf's default proxy answers under /npm/, Verdaccio at its root. */
const packumentPath = (s: Server, name: string) => `${s.name === 'wharf' ? '/npm/' : '/'}${escapeName(name)}`;
const registryOf = (s: Server) => `${s.origin}${s.name === 'wharf' ? '/npm/' : '/'}`;

/** Fetches every packument once (both accept headers), so both proxies hold them; checks the dependencies came through. */
async function warmPackuments(s: Server) {
  for (const n of names) {
    for (const accept of [CORGI, 'application/json']) {
      const r = await request('GET', `${s.origin}${packumentPath(s, n)}`, { headers: { accept } });
      if (r.status !== 200) throw new Error(`${s.name}: GET ${n} -> ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
      const doc = JSON.parse(r.body.toString('utf8'));
      const want = JSON.stringify(dependenciesOf(n).dependencies ?? {});
      const got = JSON.stringify(doc.versions?.[versionAt(O.versions - 1)]?.dependencies ?? {});
      if (want !== got) throw new Error(`${s.name}: ${n}'s dependencies are ${got}, expected ${want}`);
    }
  }
}

interface Timed {
  seconds: number;
  serverCpu: number;
  upstreamCpu: number;
  machineBusy: number;
  count: number;
}

/** npm without anything from the environment that started the bench (npm run sets npm_config_*). */
function cleanNpmEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, HOME: home, npm_config_userconfig: path.join(home, '.npmrc'), npm_config_update_notifier: 'false' };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: 600_000, maxBuffer: 64 * MB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`.slice(0, 4000)));
      else resolve();
    });
  });
}

/** A cold `npm install` of a project depending on the first `O.install` packages, through a fresh proxy. */
async function coldInstall(s: Server, upstreamPid: number, expected: Set<string>): Promise<Timed> {
  const dir = fresh(`project-${s.name}`);
  const home = fresh(`home-${s.name}`);
  fs.writeFileSync(path.join(home, '.npmrc'), '');
  const deps = Object.fromEntries(names.slice(0, O.install).map((n) => [n, '^1.0.0']));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'proxy-bench-project', version: '1.0.0', private: true, dependencies: deps }, null, 2));
  const args = ['install', '--registry', registryOf(s), '--cache', path.join(home, 'npm-cache'), '--prefer-online', '--no-audit', '--no-fund', '--package-lock=false', '--ignore-scripts', '--loglevel=error'];
  await idle();
  const cpu0 = cpuSeconds(s.pid);
  const up0 = cpuSeconds(upstreamPid);
  const m0 = machineJiffies();
  const start = process.hrtime.bigint();
  await run('npm', args, dir, cleanNpmEnv(home));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const m1 = machineJiffies();
  const serverCpu = cpuSeconds(s.pid) - cpu0;
  const upstreamCpu = cpuSeconds(upstreamPid) - up0;
  const installed = fs.readdirSync(path.join(dir, 'node_modules', `@${SCOPE}`));
  if (installed.length !== expected.size) throw new Error(`${s.name}: npm installed ${installed.length} packages, expected ${expected.size}`);
  for (const n of installed) {
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', `@${SCOPE}`, n, 'package.json'), 'utf8'));
    if (pj.version !== versionAt(O.versions - 1)) throw new Error(`${s.name}: installed @${SCOPE}/${n}@${pj.version}, expected ${versionAt(O.versions - 1)}`);
  }
  return { seconds, serverCpu, upstreamCpu, machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), count: installed.length };
}

interface NpmResults {
  full?: PhaseResult;
  abbrev?: PhaseResult;
  install: { wharf: Timed[]; verdaccio: Timed[]; direct: Timed[] };
  closure: number;
}

async function benchNpm(): Promise<NpmResults> {
  log(`npm: upstream Verdaccio ${VERDACCIO_VERSION} seeded with ${O.packages} packages x ${O.versions} versions (every other one depending on two others)`);
  const upDir = fresh('verdaccio-upstream');
  // The tarball URLs in the seeded documents are the upstream's own; Verdaccio rewrites them per request anyway.
  const upPort = await freePort();
  await seedStorage(path.join(upDir, 'storage'), `http://127.0.0.1:${upPort}/`, names, O.versions, undefined, dependenciesOf);
  verdaccioBin ||= ensureVerdaccio(path.join(PEERS, 'verdaccio'), log);
  const config = writeConfig(upDir, upPort, { access: '$all' });
  const upProc = startVerdaccio(verdaccioBin, config, upDir, upDir);
  const upstream = `http://127.0.0.1:${upPort}`;
  await waitVerdaccio(upstream, upProc);
  log(`  upstream on ${upstream}, pid ${upProc.pid}`);
  const expected = closure();

  const out: NpmResults = { install: { wharf: [], verdaccio: [], direct: [] }, closure: expected.size };
  // The reference: npm straight from the upstream, no proxy in between (what neither proxy can beat by much).
  const direct: Server = { name: 'verdaccio', origin: upstream, pid: upProc.pid, alive: upProc.alive, logFile: upProc.logFile, stop: async () => {} };
  // (a) cached packument GETs: one Wharf and one Verdaccio proxy, both warmed with every packument.
  {
    const w = await startWharfProxy(upstream);
    const v = (await startVerdaccioAt(fresh('verdaccio-proxy'), upstream)).server;
    log(`  Wharf proxy on ${w.origin} (pid ${w.pid}), Verdaccio proxy on ${v.origin} (pid ${v.pid}); warming both with all ${O.packages} packuments`);
    await warmPackuments(w);
    await warmPackuments(v);
    const servers = (paths: (s: Server) => string[]): LoadTarget[] => [w, v].map((s) => ({ name: s.name, origin: s.origin, pid: s.pid, paths: paths(s) }));
    const opts = { connections: O.connections, warmup: O.warmup, seconds: O.seconds, repeat: O.repeat, waitIdle: O.waitIdle, log };
    const paths = (s: Server) => names.map((n) => packumentPath(s, n));
    const up0 = cpuSeconds(upProc.pid);
    out.abbrev = await comparePhase({ name: `cached packument GET, abbreviated (npm's Accept), c=${O.connections}`, paths: [], headers: { accept: CORGI } }, servers(paths), opts);
    out.full = await comparePhase({ name: `cached packument GET, full JSON, c=${O.connections}`, paths: [], headers: { accept: 'application/json' } }, servers(paths), opts);
    log(`  upstream CPU during the cached GET phases: ${(cpuSeconds(upProc.pid) - up0).toFixed(1)} s (both proxies served from their caches if ~0)`);
    await w.stop();
    await v.stop();
  }
  // (b) cold installs, a fresh proxy (new data dir / storage) and a fresh npm cache every round, alternating.
  log(`  cold npm install of ${O.install} packages (${expected.size} with their dependencies), ${O.repeat} round(s), alternating`);
  for (let round = 0; round < O.repeat; round++) {
    for (const which of ['verdaccio', 'wharf', 'direct'] as const) {
      const s = which === 'direct' ? direct : which === 'wharf' ? await startWharfProxy(upstream) : (await startVerdaccioAt(fresh('verdaccio-proxy'), upstream)).server;
      try {
        const r = await coldInstall(s, upProc.pid, expected);
        log(`    ${which} round ${round + 1}: ${r.seconds.toFixed(2)} s, server ${r.serverCpu.toFixed(2)} CPU-s, upstream ${r.upstreamCpu.toFixed(2)} CPU-s, machine ${(r.machineBusy * 100).toFixed(0)}% busy`);
        out.install[which].push(r);
      } finally {
        await s.stop();
      }
    }
  }
  await upProc.stop();
  return out;
}

// ---------------------------------------------------------------------------------------------- images

interface Image {
  manifest: Buffer;
  manifestDigest: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(origin: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  const start = await request('POST', `${origin}/v2/${REPO}/blobs/uploads/`, { headers: { 'content-length': 0 } });
  if (start.status !== 202) throw new Error(`upstream: start upload -> ${start.status}`);
  const loc = new URL(String(start.headers.location), origin);
  loc.searchParams.set('digest', digest);
  const put = await request('PUT', loc.toString(), { headers: { 'content-type': 'application/octet-stream', 'content-length': bytes.length }, body: bytes, timeoutMs: 600_000 });
  if (put.status !== 201) throw new Error(`upstream: PUT blob -> ${put.status} ${put.body.toString('utf8').slice(0, 200)}`);
  return { digest, size: bytes.length };
}

/** Pushes `O.layers` layers of random (incompressible) bytes, a config and a Docker v2 manifest tagged `TAG`. */
async function pushImage(origin: string): Promise<Image> {
  const layers = [];
  for (let i = 0; i < O.layers; i++) layers.push(await pushBlob(origin, randomBytes(Math.round(O.layerMb * MB))));
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
  const config = await pushBlob(origin, configBytes);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_V2,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...l })),
  }));
  const r = await request('PUT', `${origin}/v2/${REPO}/manifests/${TAG}`, { headers: { 'content-type': MANIFEST_V2 }, body: manifest });
  if (r.status !== 201) throw new Error(`upstream: PUT manifest -> ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
  return { manifest, manifestDigest: sha256(manifest), config, layers };
}

const repoPath = (s: Server) => `/v2/${s.name === 'wharf' ? `${OCI_PROXY}/` : ''}${REPO}`;

/** GET of one blob on its own connection (clients pull layers in parallel), hashed as it arrives. */
function getBlob(s: Server, digest: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${s.origin}${repoPath(s)}/blobs/${digest}`, { agent: false, timeout: 600_000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${s.name}: GET blob ${digest} -> ${res.statusCode}`));
      }
      const h = createHash('sha256');
      let n = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      res.on('end', () => {
        const got = `sha256:${h.digest('hex')}`;
        if (got !== digest) reject(new Error(`${s.name}: blob ${digest} arrived as ${got} (${n} bytes)`));
        else resolve(n);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${s.name}: GET blob ${digest} timed out`)));
    req.on('error', reject);
  });
}

/** A pull as clients do it: the manifest by tag, then the config and every layer in parallel, digests checked. */
async function pull(s: Server, image: Image): Promise<number> {
  const m = await request('GET', `${s.origin}${repoPath(s)}/manifests/${TAG}`, { headers: { accept: MANIFEST_ACCEPT } });
  if (m.status !== 200) throw new Error(`${s.name}: GET manifest -> ${m.status} ${m.body.toString('utf8').slice(0, 200)}`);
  if (sha256(m.body) !== image.manifestDigest) throw new Error(`${s.name}: the manifest is not the one pushed`);
  const doc = JSON.parse(m.body.toString('utf8'));
  const sizes = await Promise.all([doc.config, ...doc.layers].map((d: { digest: string }) => getBlob(s, d.digest)));
  return m.body.length + sizes.reduce((a, b) => a + b, 0);
}

async function coldPull(s: Server, upstreamPid: number, image: Image): Promise<Timed> {
  await idle();
  const cpu0 = cpuSeconds(s.pid);
  const up0 = cpuSeconds(upstreamPid);
  const m0 = machineJiffies();
  const start = process.hrtime.bigint();
  const bytes = await pull(s, image);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const m1 = machineJiffies();
  return { seconds, serverCpu: cpuSeconds(s.pid) - cpu0, upstreamCpu: cpuSeconds(upstreamPid) - up0, machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), count: bytes };
}

interface OciResults {
  manifest?: PhaseResult;
  pull: { wharf: Timed[]; distribution: Timed[]; direct: Timed[] };
  version: string;
  imageBytes: number;
}

async function benchOci(): Promise<OciResults> {
  const version = distributionVersion() ?? 'distribution (version unknown)';
  log(`images: upstream ${version}, one image of ${O.layers} x ${O.layerMb} MiB random layers pushed by the bench`);
  const up = await startDistributionAt(fresh('distribution-upstream'));
  const image = await pushImage(up.origin);
  log(`  upstream on ${up.origin}, pid ${up.pid}; pushed ${REPO}:${TAG} (${image.manifestDigest})`);
  const out: OciResults = { pull: { wharf: [], distribution: [], direct: [] }, version, imageBytes: image.layers.reduce((a, l) => a + l.size, image.config.size) };
  // (a) cached manifest GET by tag: both pulled the image once.
  {
    const w = await startWharfProxy(undefined, up.origin);
    const d = await startDistributionAt(fresh('distribution-proxy'), up.origin);
    log(`  Wharf proxy on ${w.origin} (pid ${w.pid}), distribution proxy on ${d.origin} (pid ${d.pid}); one pull through each first`);
    await pull(w, image);
    await pull(d, image);
    const up0 = cpuSeconds(up.pid);
    out.manifest = await comparePhase(
      { name: `cached manifest GET by tag, c=${O.connections}`, paths: [], headers: { accept: MANIFEST_ACCEPT } },
      [w, d].map((s) => ({ name: s.name, origin: s.origin, pid: s.pid, paths: [`${repoPath(s)}/manifests/${TAG}`] })),
      { connections: O.connections, warmup: O.warmup, seconds: O.seconds, repeat: O.repeat, waitIdle: O.waitIdle, log },
    );
    log(`  upstream CPU during the cached manifest phase: ${(cpuSeconds(up.pid) - up0).toFixed(1)} s`);
    await w.stop();
    await d.stop();
  }
  // (b) cold pulls through fresh proxies, alternating.
  log(`  cold pull of the image (manifest + config + ${O.layers} layers in parallel), ${O.repeat} round(s), alternating`);
  for (let round = 0; round < O.repeat; round++) {
    for (const which of ['distribution', 'wharf', 'direct'] as const) {
      const s = which === 'direct' ? { ...up, stop: async () => {} } : which === 'wharf' ? await startWharfProxy(undefined, up.origin) : await startDistributionAt(fresh('distribution-proxy'), up.origin);
      try {
        const r = await coldPull(s, up.pid, image);
        log(`    ${which} round ${round + 1}: ${r.seconds.toFixed(2)} s (${(r.count / MB / r.seconds).toFixed(0)} MiB/s), server ${r.serverCpu.toFixed(2)} CPU-s, upstream ${r.upstreamCpu.toFixed(2)} CPU-s, machine ${(r.machineBusy * 100).toFixed(0)}% busy`);
        out.pull[which].push(r);
      } finally {
        await s.stop();
      }
    }
  }
  await up.stop();
  return out;
}

// ---------------------------------------------------------------------------------------------- report

const med = (rs: Timed[], f: (t: Timed) => number) => median(rs.map(f));

function loadRowsOf(p: PhaseResult, peer: string, target: number): Row[] {
  const w = p.by.wharf;
  const v = p.by[peer];
  return [
    { metric: p.phase, unit: 'rps', wharf: w.rps, verdaccio: v.rps, ratio: true, target: { minRatio: target } },
    { metric: '… p99', unit: 'ms', wharf: w.p99, verdaccio: v.p99, ratio: true, better: 'lower' },
    { metric: '… req per server CPU-s', wharf: w.reqPerCpuSecond, verdaccio: v.reqPerCpuSecond, ratio: true },
  ];
}

function timedRows(what: string, w: Timed[], v: Timed[], target: number, extra: Row[] = []): Row[] {
  return [
    { metric: `${what} (median of ${w.length})`, unit: 's', digits: 2, wharf: med(w, (t) => t.seconds), verdaccio: med(v, (t) => t.seconds), ratio: true, better: 'lower', target: { maxRatio: target } },
    { metric: '… server CPU', unit: 'CPU-s', digits: 2, wharf: med(w, (t) => t.serverCpu), verdaccio: med(v, (t) => t.serverCpu), ratio: true, better: 'lower' },
    { metric: "… upstream's CPU (nobody's server CPU)", unit: 'CPU-s', digits: 2, wharf: med(w, (t) => t.upstreamCpu), verdaccio: med(v, (t) => t.upstreamCpu) },
    ...extra,
  ];
}

const rounds = (rs: Timed[]) => rs.map((t) => `${t.seconds.toFixed(2)} s (machine ${(t.machineBusy * 100).toFixed(0)}% busy)`).join(', ');

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-proxy-bench-'));
  const cleanup = () => {
    if (!O.keep) fs.rmSync(scratch, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping the servers`);
    void Promise.all([...stoppers].map((f) => f())).then(stopAll).finally(() => {
      cleanup();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const load0 = os.loadavg();
  log(`pull-through proxy benchmark (${O.quick ? 'quick' : 'full'}); ${machine()}; load average ${load0.map((l) => l.toFixed(2)).join(' ')}; scratch ${scratch}`);
  let npm: NpmResults | undefined;
  let oci: OciResults | undefined;
  try {
    if (O.npm) npm = await benchNpm();
    if (O.oci) oci = await benchOci();
  } finally {
    await Promise.all([...stoppers].map((f) => f()));
    await stopAll();
    agent.destroy();
    cleanup();
  }
  const load1 = os.loadavg();

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const md: string[] = [
    `## Pull-through proxies: Wharf vs Verdaccio ${VERDACCIO_VERSION} (uplink) and distribution (proxy mode) (${O.quick ? 'quick run' : 'full run'})`,
    '',
    `${date}; ${machine()}; load generator (autocannon) and clients on the same machine. Load average ${load0.map((l) => l.toFixed(2)).join(' / ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' / ')} at the end (1 / 5 / 15 min).`,
    `Both proxies revalidate after ${O.ttl} s (Wharf \`--ttl ${O.ttl}\`, Verdaccio \`maxage: ${O.ttl}s\`; distribution's proxy mode asks its upstream for a tag on every request). c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s measured, median of ${O.repeat} alternating rounds. Server CPU = utime+stime from /proc/PID/stat; the upstreams' CPU is counted for neither.`,
    '',
  ];
  if (npm) {
    md.push(
      `### npm: upstream Verdaccio ${VERDACCIO_VERSION} with ${O.packages} packages x ${O.versions} versions (~17 KB tarballs, every other package depends on two others)`,
      '',
      table([
        ...loadRowsOf(npm.abbrev!, 'verdaccio', 3),
        ...loadRowsOf(npm.full!, 'verdaccio', 3),
        ...timedRows(`cold \`npm install\`, ${O.install} deps (${npm.closure} packages installed)`, npm.install.wharf, npm.install.verdaccio, 0.8),
      ], `Verdaccio ${VERDACCIO_VERSION} (uplink)`),
      '',
      ...busyLines([npm.abbrev!, npm.full!]),
      `- cold install rounds: Wharf ${rounds(npm.install.wharf)}; Verdaccio ${rounds(npm.install.verdaccio)}.`,
      `- reference, the same install straight from the upstream (no proxy; fresh npm cache): median ${med(npm.install.direct, (t) => t.seconds).toFixed(2)} s, upstream ${med(npm.install.direct, (t) => t.serverCpu).toFixed(2)} CPU-s (rounds ${rounds(npm.install.direct)}).`,
      `- install: \`npm install --registry R --cache FRESH --prefer-online --no-audit --no-fund --package-lock=false --ignore-scripts\` (npm ${await npmVersion()}), empty userconfig, no lockfile; a fresh proxy (new Wharf data dir / new Verdaccio storage) every round; startup not timed.`,
      '',
    );
  }
  if (oci) {
    md.push(
      `### Images: upstream ${oci.version} holding one image of ${O.layers} x ${O.layerMb} MiB random layers`,
      '',
      table([
        ...loadRowsOf(oci.manifest!, 'distribution', 1.5),
        ...timedRows(`cold pull, manifest + config + ${O.layers} layers in parallel (${(oci.imageBytes / MB).toFixed(0)} MiB)`, oci.pull.wharf, oci.pull.distribution, 1.0, [
          { metric: '… throughput', unit: 'MiB/s', wharf: oci.imageBytes / MB / med(oci.pull.wharf, (t) => t.seconds), verdaccio: oci.imageBytes / MB / med(oci.pull.distribution, (t) => t.seconds), ratio: true },
        ]),
      ], `${oci.version.replace(/^\S+\s+/, '')} (proxy mode)`, 'distribution'),
      '',
      ...busyLines([oci.manifest!]),
      `- cold pull rounds: Wharf ${rounds(oci.pull.wharf)}; distribution ${rounds(oci.pull.distribution)}.`,
      `- reference, the same pull straight from the upstream (no proxy): median ${med(oci.pull.direct, (t) => t.seconds).toFixed(2)} s, upstream ${med(oci.pull.direct, (t) => t.serverCpu).toFixed(2)} CPU-s (rounds ${rounds(oci.pull.direct)}).`,
      '- pull: a node client, one connection per blob, sha256 of every blob checked; a fresh proxy (new Wharf data dir / new distribution storage) every round.',
      '',
    );
  }
  const text = md.join('\n');
  fs.writeFileSync(path.join(WORK, 'last-proxy-run.md'), text + '\n');
  console.log(`\n${text}\n`);
  log(`written to ${path.relative(process.cwd(), path.join(WORK, 'last-proxy-run.md'))}`);
}

/** Servers started outside startServer (distribution): stopped on exit too. */
const stoppers = new Set<() => Promise<void>>();

function npmVersion(): Promise<string> {
  return new Promise((resolve) => execFile('npm', ['--version'], { env: cleanNpmEnv(os.tmpdir()) }, (err, out) => resolve(err ? '?' : out.trim())));
}

main().catch(async (e) => {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  await Promise.all([...stoppers].map((f) => f()));
  await stopAll();
  process.exit(1);
});
