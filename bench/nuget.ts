// NuGet v3 source benchmark (issue P6): Wharf against nginx serving the same documents saved as static files (the
// ceiling: no peer NuGet server runs here), in one run on this machine.
//
//   npm run bench:nuget                     full run: 500 packages x 20 versions, 2 s warm-up + 10 s per phase, median of 3
//   npm run bench:nuget -- --quick          smoke run: 50 packages x 10 versions, 1 + 3 s phases, one repeat
//   knobs: --packages=N --versions=N --seconds=N --warmup=N --connections=N --repeat=N --keep
//          --only=flat,nupkg,registration,search (a subset of the phases)
//          --wait-idle=S (before each measurement wait up to S s for the machine to go idle; default 30, 0 with --quick)
//          --cpu-prof (Wharf runs under node --cpu-prof into bench/.work/nuget-prof; see bench/profile-top.ts)
//
// Seeds the packages over HTTP as NuGet.exe pushes them (real .nupkg files built in-process, PUT
// /nuget/bench/api/v2/package multipart with X-NuGet-ApiKey = a token from bin/wharf.mjs, 8 in parallel), saves
// what Wharf serves into nginx's root, then at concurrency 64 (autocannon), anonymous (the packages are public,
// linked to a public repository), a random package per request, alternating between the servers:
// flat container index.json, .nupkg download, registration index (every RegistrationsBaseUrl variant, 3.6.0
// included, points at the same documents) and search (20 different queries; nginx maps ?q= onto a saved file).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNupkg } from '../src/formats/nuget/nupkg-fixture.ts';
import { busyLines, comparePhase, loadRows, machine, median, pool, type PhaseResult, type Target } from './lib/compare.ts';
import { agent, request } from './lib/http.ts';
import { startNginx, waitOk } from './lib/nginx.ts';
import { freePort, machineBusyOver, runNode, stopAll } from './lib/proc.ts';
import { pseudoRandom } from './lib/tarball.ts';
import { startWharf, waitWharf, wharfEnv, wharfToken } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'bench', '.work', 'nuget');

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(`--${n}`);
const opt = (n: string) => argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
const num = (n: string, d: number) => {
  const v = opt(n);
  return v === undefined ? d : Number(v);
};
const PHASES = ['flat', 'nupkg', 'registration', 'search'];
for (const a of argv) {
  if (!/^--(quick|keep|cpu-prof|(packages|versions|seconds|warmup|connections|repeat|wait-idle)=\d+|only=[a-z,]+)$/.test(a)) {
    console.error(`unknown argument ${a}; see the header of bench/nuget.ts`);
    process.exit(2);
  }
}
const quick = flag('quick');
const only = (opt('only') ?? PHASES.join(',')).split(',');
for (const o of only) if (!PHASES.includes(o)) throw new Error(`--only: unknown phase ${o} (${PHASES.join(', ')})`);
const O = {
  packages: num('packages', quick ? 50 : 500),
  versions: num('versions', quick ? 10 : 20),
  seconds: num('seconds', quick ? 3 : 10),
  warmup: num('warmup', quick ? 1 : 2),
  connections: num('connections', 64),
  repeat: num('repeat', quick ? 1 : 3),
  waitIdle: num('wait-idle', quick ? 0 : 30),
};
const OWNER = 'bench';
const log = (s: string) => console.error(`[bench] ${s}`);

const idOf = (i: number) => `Bench.Pkg${i}`;
const versionAt = (i: number) => `1.${i}.0`;
const lid = (i: number) => idOf(i).toLowerCase();
/** A package with one dependency, linked to the public repository bench/pkgs, ~10 KB of incompressible content. */
const nupkgOf = (i: number, version: string) =>
  buildNupkg({
    id: idOf(i),
    version,
    description: `Benchmark package ${i}`,
    extra: `<repository type="git" url="https://github.com/${OWNER}/pkgs" /><tags>bench nuget pkg${i}</tags><license type="expression">MIT</license>`,
    deps: [[idOf((i + 1) % O.packages), '1.0.0']],
    files: { [`content/data.bin`]: pseudoRandom(`${idOf(i)}@${version}`, 10_000) },
  });

/** The body NuGet.exe sends: one part named "package", a quoted boundary. */
function multipart(nupkg: Buffer): { body: Buffer; type: string } {
  const b = 'b3a2f1c0-1111-2222-3333-444455556666';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n`),
    nupkg,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary="${b}"` };
}

/** The search queries (NuGet's own parameters); nginx finds the saved answer by ?q=. */
const searchQueries = (n: number) => ['', ...Array.from({ length: 19 }, (_, k) => `pkg${Math.floor((k * n) / 19) + 1}`)];
const searchPath = (q: string) => `/nuget/${OWNER}/v3/search?q=${q}&skip=0&take=20&prerelease=true&semVerLevel=2.0.0`;

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const data = path.join(WORK, 'wharf-data');
  const staticRoot = path.join(WORK, 'static');
  const src = path.join(staticRoot, 'nuget', OWNER);

  log(`NuGet benchmark (${quick ? 'quick' : 'full'}): ${O.packages} packages x ${O.versions} versions, c=${O.connections}, ${O.warmup}+${O.seconds} s per phase, median of ${O.repeat}; ${machine()}`);
  const busyBefore = await machineBusyOver(1000);
  log(`machine ${(busyBefore * 100).toFixed(0)}% busy in the second before the run`);

  const wport = await freePort();
  const wharfOrigin = `http://127.0.0.1:${wport}`;
  const prof = flag('cpu-prof') ? path.join(ROOT, 'bench', '.work', 'nuget-prof') : undefined;
  const wharf = startWharf(ROOT, data, wport, WORK, prof);
  await waitWharf(wharfOrigin, wharf);
  const token = wharfToken(ROOT, data, wport, OWNER);
  runNode(['bin/wharf.mjs', 'repo', 'create', `${OWNER}/pkgs`, '--visibility', 'public'], { cwd: ROOT, env: wharfEnv(data, wport) });
  const base = `${wharfOrigin}/nuget/${OWNER}`;

  const push = async (nupkg: Buffer) => {
    const { body, type } = multipart(nupkg);
    const r = await request('PUT', `${base}/api/v2/package/`, { headers: { 'x-nuget-apikey': token, 'content-type': type, 'content-length': body.length }, body });
    if (r.status !== 201) throw new Error(`push: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  };

  // ---- seed over HTTP, 8 packages in parallel, each package's versions in order; nupkgs go to nginx's root too.
  log(`seeding ${O.packages} x ${O.versions} packages over HTTP (8 workers)`);
  let nupkgBytes = 0;
  const seed0 = performance.now();
  await pool(
    Array.from({ length: O.packages }, (_, i) => i),
    8,
    async (i) => {
      for (let v = 0; v < O.versions; v++) {
        const bytes = nupkgOf(i, versionAt(v));
        nupkgBytes += bytes.length;
        await push(bytes);
        const dir = path.join(src, 'v3', 'flat', lid(i), versionAt(v));
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${lid(i)}.${versionAt(v)}.nupkg`), bytes);
      }
    },
  );
  const seedSeconds = (performance.now() - seed0) / 1000;
  const seedRate = (O.packages * O.versions) / seedSeconds;
  log(`seeded in ${seedSeconds.toFixed(1)} s (${seedRate.toFixed(0)} versions/s)`);

  // ---- save what Wharf serves (absolute URLs in the documents point at Wharf: same bytes either way)
  const save = async (urlPath: string, file: string) => {
    const r = await request('GET', `${wharfOrigin}${urlPath}`);
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, r.body);
    return r.body;
  };
  const sizes = { flat: 0, registration: 0, search: 0, nupkg: Math.round(nupkgBytes / (O.packages * O.versions)) };
  for (let i = 0; i < O.packages; i++) {
    sizes.flat += (await save(`/nuget/${OWNER}/v3/flat/${lid(i)}/index.json`, path.join(src, 'v3', 'flat', lid(i), 'index.json'))).length;
    sizes.registration += (await save(`/nuget/${OWNER}/v3/registration/${lid(i)}/index.json`, path.join(src, 'v3', 'registration', lid(i), 'index.json'))).length;
  }
  sizes.flat /= O.packages;
  sizes.registration /= O.packages;
  const flat0 = JSON.parse(fs.readFileSync(path.join(src, 'v3', 'flat', lid(0), 'index.json'), 'utf8'));
  if (flat0.versions.length !== O.versions) throw new Error(`flat index of ${idOf(0)} lists ${flat0.versions.length} versions, expected ${O.versions}`);
  const queries = searchQueries(O.packages);
  for (const q of queries) {
    const body = await save(searchPath(q), path.join(staticRoot, 'search', `q-${q}.json`));
    sizes.search += body.length;
    const hits = JSON.parse(body.toString('utf8'));
    if (!(hits.totalHits > 0)) throw new Error(`search ?q=${q} found nothing`);
  }
  sizes.search /= queries.length;
  const served = (await request('GET', `${base}/v3/flat/${lid(1)}/${versionAt(0)}/${lid(1)}.${versionAt(0)}.nupkg`)).body;
  if (!served.equals(fs.readFileSync(path.join(src, 'v3', 'flat', lid(1), versionAt(0), `${lid(1)}.${versionAt(0)}.nupkg`)))) throw new Error('Wharf serves a different .nupkg than was pushed');
  log(`sizes: ${JSON.stringify(sizes)}`);

  const nport = await freePort();
  const nginx = startNginx({
    dir: path.join(WORK, 'nginx'),
    root: staticRoot,
    port: nport,
    types: 'application/json json; application/octet-stream nupkg;',
    extra: `    location = /nuget/${OWNER}/v3/search { default_type application/json; try_files /search/q-$arg_q.json =404; }`,
  });
  const nginxOrigin = `http://127.0.0.1:${nport}`;
  await waitOk(`${nginxOrigin}${searchPath(queries[1])}`);

  const servers: Target[] = [
    { name: 'wharf', origin: wharfOrigin, pid: wharf.pid },
    { name: 'nginx', origin: nginxOrigin, pid: nginx.pid },
  ];
  const p = `/nuget/${OWNER}/v3`;
  const all = Array.from({ length: O.packages }, (_, i) => i);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const phases = [
    { key: 'flat', name: `flat container {id}/index.json (${kb(sizes.flat)})`, paths: all.map((i) => `${p}/flat/${lid(i)}/index.json`) },
    { key: 'nupkg', name: `.nupkg download, random version (${kb(sizes.nupkg)})`, paths: all.flatMap((i) => Array.from({ length: O.versions }, (_, v) => `${p}/flat/${lid(i)}/${versionAt(v)}/${lid(i)}.${versionAt(v)}.nupkg`)) },
    { key: 'registration', name: `registration {id}/index.json, all variants (${kb(sizes.registration)})`, paths: all.map((i) => `${p}/registration/${lid(i)}/index.json`) },
    { key: 'search', name: `search, take=20, ${queries.length} queries (${kb(sizes.search)})`, paths: queries.map(searchPath) },
  ].filter((ph) => only.includes(ph.key));
  const results: PhaseResult[] = [];
  for (const ph of phases) results.push(await comparePhase(ph, servers, { ...O, log }));
  // One request at a time: what a single search costs when nothing queues behind it.
  const searchOne: number[] = [];
  if (only.includes('search')) {
    for (const q of queries.slice(0, 5)) {
      const t = performance.now();
      const r = await request('GET', `${wharfOrigin}${searchPath(q)}`);
      if (r.status !== 200) throw new Error(`search ?q=${q}: ${r.status}`);
      searchOne.push(performance.now() - t);
    }
    log(`search one at a time: ${searchOne.map((x) => x.toFixed(0)).join(', ')} ms`);
  }
  await nginx.stop();
  await stopAll();
  agent.destroy();

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const out = [
    `## NuGet v3 source: Wharf vs nginx serving the same documents (${quick ? 'quick run' : 'full run'})`,
    '',
    `${date}; ${machine()}; ${nginx.version} (one worker); load generator (autocannon) on the same machine.`,
    `\`${['npm run bench:nuget', ...(argv.length ? ['--', ...argv] : [])].join(' ')}\`: ${O.packages} packages x ${O.versions} versions (one dependency each; ~${kb(sizes.nupkg)} .nupkg files), pushed over HTTP in ${seedSeconds.toFixed(1)} s (${seedRate.toFixed(0)} versions/s, 8 workers).`,
    `Anonymous GETs of public packages, a random package per request, c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s measured per phase, median of ${O.repeat} by rps; Wharf and nginx measured alternately; wait-idle ${O.waitIdle} s; machine ${(busyBefore * 100).toFixed(0)}% busy before the run.`,
    'Server CPU = utime+stime of the server process (and children) from /proc/PID/stat.',
    '',
    '| phase | Wharf | nginx (static files) | rps ratio | req/CPU-s ratio |',
    '|---|---|---|---:|---:|',
    ...loadRows(results),
    ...(searchOne.length ? ['', `Search on Wharf one request at a time (no concurrency), 5 queries: median ${median(searchOne).toFixed(0)} ms, max ${Math.max(...searchOne).toFixed(0)} ms.`] : []),
    '',
    'Machine busyness per measurement (all cores; CPU-seconds of the server, the load generator and everything else):',
    '',
    ...busyLines(results),
  ].join('\n');
  console.log(`\n${out}\n`);
  fs.writeFileSync(path.join(ROOT, 'bench', '.work', 'nuget-last-run.md'), out + '\n');
  if (!flag('keep')) fs.rmSync(WORK, { recursive: true, force: true });
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
