// RubyGems source benchmark (issue P5): Wharf against nginx serving the same index files saved to disk (the
// ceiling: no peer RubyGems server runs here, gemstash and geminabox need the network), in one run on this machine.
//
//   npm run bench:rubygems                  full run: 500 gems x 20 versions, 2 s warm-up + 10 s per phase, median of 3
//   npm run bench:rubygems -- --quick       smoke run: 50 gems x 10 versions, 1 + 3 s phases, one repeat
//   knobs: --gems=N --versions=N --seconds=N --warmup=N --connections=N --repeat=N --rebuilds=N --keep
//          --only=versions,info,specs,latest,gem (a subset of the load phases) --no-rebuild (skip the rebuild timing)
//          --wait-idle=S (before each measurement wait up to S s for the machine to go idle; default 30, 0 with --quick)
//          --cpu-prof (Wharf runs under node --cpu-prof into bench/.work/rubygems-prof; see bench/profile-top.ts)
//
// Seeds the gems over HTTP (real .gem files built in-process, POST /rubygems/bench/api/v1/gems with a token from
// bin/wharf.mjs, 8 in parallel), saves what Wharf serves into nginx's root, then at concurrency 64 (autocannon)
// GETs /versions, /info/NAME (a random gem per request), specs.4.8.gz, latest_specs.4.8.gz and .gem files, anonymous
// (the gems are public, linked to a public repository), alternating between the servers. Last, the index rebuild
// after a push: push one version, then time the first GET of one document (which has to reflect the push), and a
// second GET of it (cached), per document.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildGem, type FixtureGem } from '../src/formats/rubygems/gem-fixture.ts';
import { busyLines, comparePhase, loadRows, machine, median, pool, waitIdle, type PhaseResult, type Target } from './lib/compare.ts';
import { agent, request } from './lib/http.ts';
import { startNginx, waitOk } from './lib/nginx.ts';
import { freePort, machineBusyOver, machineJiffies, runNode, stopAll } from './lib/proc.ts';
import { pseudoRandom } from './lib/tarball.ts';
import { startWharf, waitWharf, wharfEnv, wharfToken } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'bench', '.work', 'rubygems');

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(`--${n}`);
const num = (n: string, d: number) => {
  const v = argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
  return v === undefined ? d : Number(v);
};
for (const a of argv) {
  if (!/^--(quick|keep|cpu-prof|no-rebuild|(gems|versions|seconds|warmup|connections|repeat|rebuilds|wait-idle)=\d+|only=[a-z,]+)$/.test(a)) {
    console.error(`unknown argument ${a}; see the header of bench/rubygems.ts`);
    process.exit(2);
  }
}
const quick = flag('quick');
const PHASES = ['versions', 'info', 'specs', 'latest', 'gem'];
const only = (argv.find((a) => a.startsWith('--only='))?.slice(7) ?? PHASES.join(',')).split(',');
for (const o of only) if (!PHASES.includes(o)) throw new Error(`--only: unknown phase ${o} (${PHASES.join(', ')})`);
const O = {
  gems: num('gems', quick ? 50 : 500),
  versions: num('versions', quick ? 10 : 20),
  seconds: num('seconds', quick ? 3 : 10),
  warmup: num('warmup', quick ? 1 : 2),
  connections: num('connections', 64),
  repeat: num('repeat', quick ? 1 : 3),
  rebuilds: flag('no-rebuild') ? 0 : num('rebuilds', quick ? 3 : 10),
  waitIdle: num('wait-idle', quick ? 0 : 30),
};
const OWNER = 'bench';
const log = (s: string) => console.error(`[bench] ${s}`);

const gemName = (i: number) => `gem${i}`;
const versionAt = (i: number) => `1.${i}.0`;
/** A gem with one runtime dependency, linked to the public repository bench/gems, ~10 KB of incompressible data. */
const gemOf = (i: number, version: string): FixtureGem => ({
  name: gemName(i),
  version,
  deps: [[gemName((i + 1) % O.gems), ['>= 1.0']]],
  metadata: { source_code_uri: `https://github.com/${OWNER}/gems` },
  summary: `Benchmark gem ${i}`,
  files: { [`lib/${gemName(i)}.rb`]: `module Gem${i}; VERSION = ${JSON.stringify(version)}; end\n`, 'data/blob.txt': pseudoRandom(`${gemName(i)}-${version}`, 7500).toString('base64') },
});

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const data = path.join(WORK, 'wharf-data');
  const staticRoot = path.join(WORK, 'static');
  const src = path.join(staticRoot, 'rubygems', OWNER);
  fs.mkdirSync(path.join(src, 'info'), { recursive: true });
  fs.mkdirSync(path.join(src, 'gems'), { recursive: true });

  log(`RubyGems benchmark (${quick ? 'quick' : 'full'}): ${O.gems} gems x ${O.versions} versions, c=${O.connections}, ${O.warmup}+${O.seconds} s per phase, median of ${O.repeat}; ${machine()}`);
  const busyBefore = await machineBusyOver(1000);
  log(`machine ${(busyBefore * 100).toFixed(0)}% busy in the second before the run`);

  const wport = await freePort();
  const wharfOrigin = `http://127.0.0.1:${wport}`;
  const prof = flag('cpu-prof') ? path.join(ROOT, 'bench', '.work', 'rubygems-prof') : undefined;
  const wharf = startWharf(ROOT, data, wport, WORK, prof);
  await waitWharf(wharfOrigin, wharf);
  const token = wharfToken(ROOT, data, wport, OWNER);
  runNode(['bin/wharf.mjs', 'repo', 'create', `${OWNER}/gems`, '--visibility', 'public'], { cwd: ROOT, env: wharfEnv(data, wport) });
  const base = `${wharfOrigin}/rubygems/${OWNER}`;

  const push = async (bytes: Buffer) => {
    const t = performance.now();
    const r = await request('POST', `${base}/api/v1/gems`, { headers: { authorization: token, 'content-type': 'application/octet-stream', 'content-length': bytes.length }, body: bytes });
    if (r.status !== 200) throw new Error(`push: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
    return performance.now() - t;
  };

  // ---- seed over HTTP, 8 gems in parallel, each gem's versions in order; the .gem files go to nginx's root too.
  log(`seeding ${O.gems} x ${O.versions} gems over HTTP (8 workers)`);
  let gemBytes = 0;
  const seed0 = performance.now();
  await pool(
    Array.from({ length: O.gems }, (_, i) => i),
    8,
    async (i) => {
      for (let v = 0; v < O.versions; v++) {
        const bytes = await buildGem(gemOf(i, versionAt(v)));
        gemBytes += bytes.length;
        await push(bytes);
        fs.writeFileSync(path.join(src, 'gems', `${gemName(i)}-${versionAt(v)}.gem`), bytes);
      }
    },
  );
  const seedSeconds = (performance.now() - seed0) / 1000;
  const seedRate = (O.gems * O.versions) / seedSeconds;
  log(`seeded in ${seedSeconds.toFixed(1)} s (${seedRate.toFixed(0)} versions/s)`);

  // ---- save what Wharf serves
  const save = async (rel: string) => {
    const r = await request('GET', `${base}/${rel}`);
    if (r.status !== 200) throw new Error(`GET ${rel}: ${r.status}`);
    fs.writeFileSync(path.join(src, rel), r.body);
    return r.body;
  };
  const versionsBody = await save('versions');
  for (let i = 0; i < O.gems; i++) await save(`info/${gemName(i)}`);
  const specs = await save('specs.4.8.gz');
  const latest = await save('latest_specs.4.8.gz');
  const infoSample = fs.readFileSync(path.join(src, 'info', gemName(0)), 'utf8');
  if (infoSample.trim().split('\n').length !== O.versions + 1) throw new Error(`info/${gemName(0)} has ${infoSample.trim().split('\n').length - 1} versions, expected ${O.versions}`);
  const gemFile = (await request('GET', `${base}/gems/${gemName(1)}-${versionAt(0)}.gem`)).body;
  if (!gemFile.equals(fs.readFileSync(path.join(src, 'gems', `${gemName(1)}-${versionAt(0)}.gem`)))) throw new Error('Wharf serves a different .gem than was pushed');
  const sizes = {
    versions: versionsBody.length,
    info: Buffer.byteLength(infoSample),
    specs: specs.length,
    specsRaw: gunzipSync(specs).length,
    latest: latest.length,
    gem: Math.round(gemBytes / (O.gems * O.versions)),
  };
  log(`sizes: ${JSON.stringify(sizes)}`);

  const nport = await freePort();
  const nginx = startNginx({ dir: path.join(WORK, 'nginx'), root: staticRoot, port: nport, types: 'application/octet-stream gz gem;', defaultType: 'text/plain' });
  const nginxOrigin = `http://127.0.0.1:${nport}`;
  await waitOk(`${nginxOrigin}/rubygems/${OWNER}/versions`);

  const servers: Target[] = [
    { name: 'wharf', origin: wharfOrigin, pid: wharf.pid },
    { name: 'nginx', origin: nginxOrigin, pid: nginx.pid },
  ];
  const p = `/rubygems/${OWNER}`;
  const all = Array.from({ length: O.gems }, (_, i) => i);
  const phases = [
    { key: 'versions', name: `GET /versions (${(sizes.versions / 1024).toFixed(0)} KB)`, paths: [`${p}/versions`] },
    { key: 'info', name: `GET /info/NAME, random gem (${(sizes.info / 1024).toFixed(1)} KB)`, paths: all.map((i) => `${p}/info/${gemName(i)}`) },
    { key: 'specs', name: `GET specs.4.8.gz (${(sizes.specs / 1024).toFixed(0)} KB)`, paths: [`${p}/specs.4.8.gz`] },
    { key: 'latest', name: `GET latest_specs.4.8.gz (${(sizes.latest / 1024).toFixed(0)} KB)`, paths: [`${p}/latest_specs.4.8.gz`] },
    { key: 'gem', name: `GET .gem, random file (${(sizes.gem / 1024).toFixed(0)} KB)`, paths: all.flatMap((i) => Array.from({ length: O.versions }, (_, v) => `${p}/gems/${gemName(i)}-${versionAt(v)}.gem`)) },
  ].filter((ph) => only.includes(ph.key));
  const results: PhaseResult[] = [];
  for (const ph of phases) results.push(await comparePhase(ph, servers, { ...O, log }));
  await nginx.stop();

  // ---- index rebuild after a push: per document, push one new version of a random gem, then the first GET of
  // that document (it must show the new version) and a second one (cached).
  type Doc = { name: string; rel: (g: string) => string; shows: (body: Buffer, g: string, v: string) => boolean };
  const specsShow = (body: Buffer, _g: string, v: string) => gunzipSync(body).includes(Buffer.from(v));
  const docs: Doc[] = [
    { name: '/versions', rel: () => 'versions', shows: (b, g, v) => new RegExp(`^${g} [^ ]*\\b${v.replace(/\./g, '\\.')}\\b`, 'm').test(b.toString('utf8')) },
    { name: '/info/NAME', rel: (g) => `info/${g}`, shows: (b, _g, v) => b.toString('utf8').includes(`\n${v} `) },
    { name: 'specs.4.8.gz', rel: () => 'specs.4.8.gz', shows: specsShow },
    { name: 'latest_specs.4.8.gz', rel: () => 'latest_specs.4.8.gz', shows: specsShow },
  ];
  const rebuild: Record<string, { push: number[]; first: number[]; second: number[] }> = {};
  if (O.rebuilds) log(`index rebuild after a push: ${O.rebuilds} pushes per document`);
  if (O.rebuilds) await waitIdle(O.waitIdle, log);
  const busy0 = machineJiffies();
  for (let k = 0; k < O.rebuilds; k++) {
    for (const [d, doc] of docs.entries()) {
      const i = Math.floor(Math.random() * O.gems);
      const g = gemName(i);
      const v = `2.${k}.${d}`;
      const pushMs = await push(await buildGem(gemOf(i, v)));
      const t1 = performance.now();
      const r1 = await request('GET', `${base}/${doc.rel(g)}`);
      const first = performance.now() - t1;
      if (r1.status !== 200 || !doc.shows(r1.body, g, v)) throw new Error(`${doc.name} does not show ${g} ${v} right after the push (${r1.status})`);
      const t2 = performance.now();
      const r2 = await request('GET', `${base}/${doc.rel(g)}`);
      const second = performance.now() - t2;
      if (!r2.body.equals(r1.body)) throw new Error(`${doc.name} changed between two GETs`);
      const e = (rebuild[doc.name] ??= { push: [], first: [], second: [] });
      e.push.push(pushMs);
      e.first.push(first);
      e.second.push(second);
    }
  }
  const busy1 = machineJiffies();
  const rbBusy = (busy1.busy - busy0.busy) / Math.max(1, busy1.total - busy0.total);
  await stopAll();
  agent.destroy();

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const out = [
    `## RubyGems source: Wharf vs nginx serving the same files (${quick ? 'quick run' : 'full run'})`,
    '',
    `${date}; ${machine()}; ${nginx.version} (one worker); load generator (autocannon) on the same machine.`,
    `\`${['npm run bench:rubygems', ...(argv.length ? ['--', ...argv] : [])].join(' ')}\`: ${O.gems} gems x ${O.versions} versions (each with one runtime dependency; ~${(sizes.gem / 1024).toFixed(0)} KB .gem files), seeded over HTTP in ${seedSeconds.toFixed(1)} s (${seedRate.toFixed(0)} versions/s, 8 workers).`,
    `Anonymous GETs of public gems, c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s measured per phase, median of ${O.repeat} by rps; Wharf and nginx measured alternately; wait-idle ${O.waitIdle} s; machine ${(busyBefore * 100).toFixed(0)}% busy before the run.`,
    `Server CPU = utime+stime of the server process (and children) from /proc/PID/stat. specs.4.8.gz is ${(sizes.specs / 1024).toFixed(0)} KB gzipped (${(sizes.specsRaw / 1024).toFixed(0)} KB of Marshal).`,
    '',
    '| phase | Wharf | nginx (static files) | rps ratio | req/CPU-s ratio |',
    '|---|---|---|---:|---:|',
    ...loadRows(results),
    ...(!O.rebuilds ? [] : [
    '',
    `Index rebuild after a push (${O.rebuilds} pushes per document, one request at a time; median / max; machine ${(rbBusy * 100).toFixed(0)}% busy meanwhile):`,
    '',
    '| document | push (POST .gem) | first GET after the push (rebuild) | second GET (cached) |',
    '|---|---:|---:|---:|',
    ...Object.entries(rebuild).map(([name, e]) => `| ${name} | ${ms(median(e.push))} / ${ms(Math.max(...e.push))} | ${ms(median(e.first))} / ${ms(Math.max(...e.first))} | ${ms(median(e.second))} / ${ms(Math.max(...e.second))} |`),
    ]),
    '',
    'Machine busyness per measurement (all cores; CPU-seconds of the server, the load generator and everything else):',
    '',
    ...busyLines(results),
  ].join('\n');
  console.log(`\n${out}\n`);
  fs.writeFileSync(path.join(ROOT, 'bench', '.work', 'rubygems-last-run.md'), out + '\n');
  if (!flag('keep')) fs.rmSync(WORK, { recursive: true, force: true });
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
