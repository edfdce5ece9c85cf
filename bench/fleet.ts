// Fleet benchmark: two Wharf nodes behind nginx against one node behind nginx, on this one machine.
//
//   source /tmp/testenv.sh && node --import tsx bench/fleet.ts      (npm run bench:fleet)
//   knobs: --seconds=N --warmup=N --connections=N --repeat=N --kills=N --quick --keep
//
// Both setups share one PostgreSQL database (a fresh one in WHARF_TEST_DATABASE_URL's server) and one blob folder
// (filesystem store, WHARF_ACCEL_REDIRECT=/_blobs/), like scripts/fleet.sh with FLEET_BLOB_STORE=fs. Two nginx run
// from deploy/nginx.conf (bench/lib/deploy-nginx.ts: plain HTTP, access log off): A over node 1, B over nodes 1
// and 2. Measured alternately (A, B, A, B …, median of --repeat by rps), autocannon at c=64:
//   - npm packument GET (50 packages × 5 versions, full JSON) and OCI manifest GET by tag (20 tags), HTTP Basic
//   - server CPU = the nodes behind that nginx + nginx: requests per server CPU-second
//   - a node kill under load: B under mixed packument + manifest GETs, node 2 SIGKILLed a third of the way
//     in; what autocannon sees (errors, timeouts, non-2xx) is what a client would. Node 2 is restarted after.
// The compiled server runs (dist/main.js, as `npm start` does; scripts/build.mjs first).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { busyLines, comparePhase, machine, median, type PhaseResult } from './lib/compare.ts';
import { startDeployNginx, type DeployNginx } from './lib/deploy-nginx.ts';
import { request, sleep, waitFor } from './lib/http.ts';
import { packageName, preparePublishes, publishPrepared, escapeName } from './lib/npm-publish.ts';
import { freePort, machineBusyOver, runNode, startServer, stopAll, type ServerProcess } from './lib/proc.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK_ROOT = path.join(ROOT, 'bench', '.work');

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(`--${n}`);
const opt = (n: string) => argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
for (const a of argv) if (!/^--(quick|keep|(seconds|warmup|connections|repeat|kills)=\d+)$/.test(a)) throw new Error(`unknown argument ${a}; see the header of bench/fleet.ts`);
const quick = flag('quick');
const O = {
  seconds: Number(opt('seconds') ?? (quick ? 3 : 10)),
  warmup: Number(opt('warmup') ?? (quick ? 1 : 2)),
  connections: Number(opt('connections') ?? 64),
  repeat: Number(opt('repeat') ?? (quick ? 1 : 3)),
  kills: Number(opt('kills') ?? (quick ? 1 : 3)),
  packages: quick ? 10 : 50,
  versions: 5,
  tags: 20,
  keep: flag('keep'),
};

const t0 = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}`);

let workDir = '';
let dbName = '';
let adminUrl = '';
const nginxes: DeployNginx[] = [];

function psql(sql: string) {
  execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', adminUrl, '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function nodeEnv(port: number, dbUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WHARF_PORT: String(port),
    WHARF_HOST: '127.0.0.1',
    WHARF_DATA: path.join(workDir, 'shared'),
    WHARF_DATABASE_URL: dbUrl,
    WHARF_BLOB_STORE: 'fs',
    WHARF_ACCEL_REDIRECT: '/_blobs/',
    WHARF_TRUST_PROXY: '127.0.0.1',
    WHARF_LOG_LEVEL: 'warn',
  };
}

async function startNode(i: number, port: number, dbUrl: string): Promise<ServerProcess> {
  const p = startServer(`node${i}`, ['dist/main.js'], { cwd: ROOT, env: nodeEnv(port, dbUrl), logFile: path.join(workDir, `node${i}.log`) });
  await waitFor(`http://127.0.0.1:${port}/healthz`, 200, 60_000, p.alive);
  return p;
}

/** A small OCI image (config + one layer) pushed with POST, PUT ?digest= and tagged `tag`. */
async function pushImage(origin: string, auth: Record<string, string>, repo: string, tag: string, layer: Buffer) {
  const blobs = [Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } })), layer];
  const digests = blobs.map((b) => `sha256:${createHash('sha256').update(b).digest('hex')}`);
  for (let i = 0; i < blobs.length; i++) {
    const head = await request('HEAD', `${origin}/v2/${repo}/blobs/${digests[i]}`, { headers: auth });
    if (head.status === 200) continue;
    const start = await request('POST', `${origin}/v2/${repo}/blobs/uploads/`, { headers: { ...auth, 'content-length': 0 } });
    if (start.status !== 202) throw new Error(`POST upload: ${start.status}`);
    const loc = new URL(String(start.headers.location), origin);
    loc.searchParams.set('digest', digests[i]);
    const put = await request('PUT', loc.toString(), { headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': blobs[i].length }, body: blobs[i] });
    if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${put.body}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digests[0], size: blobs[0].length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digests[1], size: blobs[1].length }],
      annotations: { 'org.opencontainers.image.description': `fleet bench ${tag}` },
    }),
  );
  const r = await request('PUT', `${origin}/v2/${repo}/manifests/${tag}`, { headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': manifest.length }, body: manifest });
  if (r.status !== 201) throw new Error(`PUT manifest: ${r.status} ${r.body}`);
}

interface KillResult {
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  restartMs: number;
}

async function killRound(origin: string, paths: string[], headers: Record<string, string>, victim: () => ServerProcess, restart: () => Promise<ServerProcess>): Promise<KillResult> {
  const run = autocannon({
    url: origin,
    connections: O.connections,
    duration: O.seconds,
    timeout: 30,
    headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)] }) }],
  });
  await sleep((O.seconds * 1000) / 3);
  const v = victim();
  log(`  SIGKILL ${v.name} (pid ${v.pid}) under load`);
  v.child.kill('SIGKILL');
  const r = await run;
  const t = Date.now();
  await restart();
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count;
  return { requests: r.requests.total, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, statusCodes, restartMs: Date.now() - t };
}

async function main() {
  const base = process.env.FLEET_PG_URL ?? process.env.WHARF_TEST_DATABASE_URL;
  if (!base) throw new Error('set WHARF_TEST_DATABASE_URL (source /tmp/testenv.sh here): the fleet shares a PostgreSQL database');
  fs.mkdirSync(WORK_ROOT, { recursive: true });
  workDir = fs.mkdtempSync(path.join(WORK_ROOT, 'fleet-'));
  fs.mkdirSync(path.join(workDir, 'shared', 'blobs'), { recursive: true });
  const busy = await machineBusyOver(1000);
  log(`machine ${(100 * busy).toFixed(0)} % busy before the run; scratch ${workDir}`);
  adminUrl = base;
  dbName = `wharf_bench_${randomBytes(4).toString('hex')}`;
  psql(`create database ${dbName}`);
  const u = new URL(base);
  u.pathname = `/${dbName}`;
  const dbUrl = u.toString();
  log(`database ${dbName}; building dist/ (scripts/build.mjs)`);
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });

  const ports = [await freePort(), await freePort()];
  const nodes: ServerProcess[] = [];
  nodes[0] = await startNode(1, ports[0], dbUrl); // migrates the new database
  nodes[1] = await startNode(2, ports[1], dbUrl);
  log(`nodes on ${ports.join(', ')} (pids ${nodes.map((n) => n.pid).join(', ')})`);
  const env = nodeEnv(ports[0], dbUrl);
  runNode(['bin/wharf.mjs', 'user', 'create', 'bench', '--admin'], { cwd: ROOT, env });
  const token = runNode(['bin/wharf.mjs', 'token', 'create', 'bench', '--scopes', 'read:packages,write:packages,delete:packages'], { cwd: ROOT, env }).trim().split('\n').pop()!.trim();
  const blobs = path.join(workDir, 'shared', 'blobs');
  const nA = await startDeployNginx(ROOT, path.join(workDir, 'nginx-one'), await freePort(), [`127.0.0.1:${ports[0]}`], blobs);
  const nB = await startDeployNginx(ROOT, path.join(workDir, 'nginx-two'), await freePort(), ports.map((p) => `127.0.0.1:${p}`), blobs);
  nginxes.push(nA, nB);
  const one = { name: 'one node', origin: `http://127.0.0.1:${nA.port}`, pid: [nodes[0].pid, nA.pid] };
  const two = { name: 'two nodes', origin: `http://127.0.0.1:${nB.port}`, get pid() { return [nodes[0].pid, nodes[1].pid, nB.pid]; } };
  await waitFor(`${one.origin}/healthz`, 200, 10_000, () => true);
  await waitFor(`${two.origin}/healthz`, 200, 10_000, () => true);

  // Seed through the two-node nginx (both nodes write).
  const auth = { authorization: `Basic ${Buffer.from(`bench:${token}`).toString('base64')}` };
  const names = Array.from({ length: O.packages }, (_, i) => packageName('bench', i));
  log(`publishing ${O.packages} packages × ${O.versions} versions, pushing ${O.tags} tagged manifests`);
  await publishPrepared({ label: 'wharf', url: `${two.origin}/npm/`, token }, await preparePublishes({ label: 'wharf', url: `${two.origin}/npm/`, token }, names, O.versions), 8);
  const layer = randomBytes(4096);
  for (let i = 0; i < O.tags; i++) await pushImage(two.origin, auth, 'bench/fleet', `t${i}`, layer);
  const packuments = names.map((n) => `/npm/${escapeName(n)}`);
  const manifests = Array.from({ length: O.tags }, (_, i) => `/v2/bench/fleet/manifests/t${i}`);
  for (const s of [one, two]) {
    for (const p of [packuments[0], manifests[0]]) {
      const r = await request('GET', `${s.origin}${p}`, { headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json, application/json' } });
      if (r.status !== 200) throw new Error(`${s.name}: GET ${p} -> ${r.status}`);
    }
  }

  const results: PhaseResult[] = [];
  const co = { connections: O.connections, warmup: O.warmup, seconds: O.seconds, repeat: O.repeat, waitIdle: 0, log };
  results.push(await comparePhase({ name: `npm packument GET, c=${O.connections} (${O.packages} packages × ${O.versions} versions)`, paths: packuments, headers: auth }, [one, two], co));
  results.push(await comparePhase({ name: `OCI manifest GET by tag, c=${O.connections} (${O.tags} tags)`, paths: manifests, headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } }, [one, two], co));

  // Node kills under load, on the two-node setup.
  const kills: KillResult[] = [];
  for (let k = 0; k < O.kills; k++) {
    log(`kill ${k + 1}/${O.kills}: two nodes, mixed packument + manifest GETs, c=${O.connections}, ${O.seconds} s`);
    const r = await killRound(two.origin, [...packuments, ...manifests], { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json, application/json' }, () => nodes[1], async () => (nodes[1] = await startNode(2, ports[1], dbUrl)));
    log(`  ${r.requests} requests, ${r.errors} errors (${r.timeouts} timeouts), ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}; node 2 back in ${r.restartMs} ms`);
    kills.push(r);
  }

  const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
  const lines = [
    `# Fleet benchmark: two Wharf nodes vs one, behind nginx (${new Date().toISOString()})`,
    '',
    `Machine: ${machine()}; load generator (autocannon) on the same machine. Both setups: PostgreSQL (${dbName}), filesystem blob store shared, nginx from deploy/nginx.conf (plain HTTP, access log off, 2 workers), compiled server (dist/main.js). Server CPU = the nodes behind that nginx + nginx. Median of ${O.repeat} by rps, alternating, ${O.warmup} s warm-up + ${O.seconds} s each.`,
    '',
    '| phase | one node | two nodes | rps two/one | req per CPU-s two/one |',
    '|---|---|---|---:|---:|',
    ...results.map((r) => {
      const a = r.by['one node'];
      const b = r.by['two nodes'];
      const cell = (l: typeof a) => `${n0(l.rps)} rps, p99 ${l.p99} ms, ${n0(l.reqPerCpuSecond)} req/CPU-s${l.errors ? `, ${l.errors} errors` : ''}`;
      return `| ${r.phase} | ${cell(a)} | ${cell(b)} | ${(b.rps / a.rps).toFixed(2)}× | ${(b.reqPerCpuSecond / a.reqPerCpuSecond).toFixed(2)}× |`;
    }),
    `| node 2 SIGKILLed a third into ${O.seconds} s of mixed GETs at c=${O.connections} (two nodes), ${O.kills} rounds | | ${kills.map((k) => `${n0(k.requests)} requests: ${k.errors} errors, ${k.non2xx} non-2xx`).join('; ')} | | |`,
    '',
    `- Rounds, rps two/one: ${results.map((r) => `${r.phase.split(',')[0]} ${r.runs['two nodes'].map((b, i) => `${(b.rps / r.runs['one node'][i].rps).toFixed(2)}×`).join(', ')}`).join('; ')}.`,
    `- Kill rounds: status codes ${kills.map((k) => JSON.stringify(k.statusCodes)).join(', ')}; node 2 healthy again ${kills.map((k) => `${k.restartMs} ms`).join(', ')} after the load ended (median ${median(kills.map((k) => k.restartMs))} ms).`,
    ...busyLines(results),
  ];
  const out = lines.join('\n');
  console.log(out);
  fs.writeFileSync(path.join(WORK_ROOT, quick ? 'last-fleet-quick.md' : 'last-fleet-run.md'), `${out}\n`);
  log(`written to bench/.work/${quick ? 'last-fleet-quick.md' : 'last-fleet-run.md'}`);
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(nginxes.map((n) => n.stop()));
  await stopAll();
  if (dbName) {
    try {
      psql(`drop database if exists ${dbName} with (force)`);
    } catch (e) {
      log(`could not drop ${dbName}: ${(e as Error).message}`);
    }
  }
  if (workDir && !O.keep) fs.rmSync(workDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().finally(() => process.exit(130)));

main()
  .catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
  })
  .finally(cleanup);
