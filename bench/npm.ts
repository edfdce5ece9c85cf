// npm registry benchmark: Wharf against Verdaccio 6.8.0, back to back in one run on this machine.
//
//   npm run bench                       full run: 200 packages x 50 versions, 10 s per load phase, 200 MB tarball
//   npm run bench -- --quick            smoke run: 20 x 10, 3 s phases, 20 MB tarball
//   npm run bench -- --only=wharf       skip Verdaccio (or --only=verdaccio to skip Wharf)
//   other knobs: --repeat=N (median of N measurements per phase) --packages=N --versions=N --seconds=N
//                --warmup=N --connections=N --big-mb=N --publish-packages=N --keep (keep the scratch data)
//                --no-ceiling (skip the durable-write ceiling measured beside the publish rounds)
//                --one-package=N (versions published into one package by 8 concurrent workers; default 400, 80 quick)
//                --cpu-prof (Wharf runs with node --cpu-prof; profile in bench/.work/prof, see bench/profile-top.ts)
//                --publish-only (only the publish rounds into fresh packages: Wharf, Verdaccio and the ceiling; prints
//                the rates and ratios and stops; Wharf takes WHARF_DATABASE_URL / WHARF_BLOB_STORE … from the environment)
//                --wait-idle=S (before each measurement wait up to S seconds for the machine to go idle; 0 = off;
//                default 30 in full runs, 0 with --quick)
//
// Not a test: it prints a markdown table (also written to bench/.work/last-run.md). See docs/performance.md.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './lib/args.ts';
import { agent, getJson, request, sleep } from './lib/http.ts';
import { measure, type LoadResult } from './lib/load.ts';
import { escapeName, packageName, preparePublish, preparePublishes, publishConcurrently, publishPrepared, publishStreamed, versionAt, type Registry } from './lib/npm-publish.ts';
import { cpuSeconds, describe, descendants, freePort, machineBusyOver, resetPeakRss, sampleRss, statusBytes, stopAll, tail, type ServerProcess } from './lib/proc.ts';
import { MB, table, type Row } from './lib/report.ts';
import { writeBigTarball } from './lib/tarball.ts';
import { ensureVerdaccio, seedStorage, startVerdaccio, VERDACCIO_VERSION, verdaccioToken, waitVerdaccio, writeConfig } from './lib/verdaccio.ts';
import { startDurableCeiling } from './lib/durable-ceiling.ts';
import { startWharf, waitWharf, wharfToken } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = path.join(ROOT, 'bench');
const WORK = path.join(BENCH, '.work');
const PEERS = path.join(BENCH, '.peers');

// ---------------------------------------------------------------------------------------------- options

const { flag, opt, num } = benchArgs(import.meta.url, {
  flags: ['quick', 'keep', 'cpu-prof', 'no-ceiling', 'publish-only'],
  options: ['only', 'packages', 'versions', 'seconds', 'warmup', 'connections', 'big-mb', 'publish-packages', 'one-package', 'repeat', 'wait-idle'],
  helpLines: 13,
  zeroOk: ['wait-idle'],
});
const quick = flag('quick');
const only = opt('only');
if (only && only !== 'wharf' && only !== 'verdaccio') throw new Error(`--only=${only}: expected wharf or verdaccio`);
const O = {
  quick,
  packages: num('packages', quick ? 20 : 200),
  versions: num('versions', quick ? 10 : 50),
  publishPackages: num('publish-packages', 8), // publish-rate subset: this many packages x `versions`, 8 workers
  publishConcurrency: 8,
  onePackage: num('one-package', quick ? 80 : 400), // versions of one package, published by 8 concurrent workers
  connections: num('connections', 64),
  warmup: num('warmup', quick ? 1 : 2),
  seconds: num('seconds', quick ? 3 : 10),
  bigMb: num('big-mb', quick ? 20 : 200),
  repeat: Math.round(num('repeat', 1)),
  keep: flag('keep'),
  cpuProf: flag('cpu-prof'),
  waitIdle: num('wait-idle', quick ? 0 : 30),
  runWharf: only !== 'verdaccio',
  runVerdaccio: only !== 'wharf',
  ceiling: !flag('no-ceiling'),
  publishOnly: flag('publish-only'),
};

const SCOPE = 'bench';
const names = Array.from({ length: O.packages }, (_, i) => packageName(SCOPE, i));
/** Fresh package names for the publish-rate measurement number `round`. */
const pubNames = (round: number) => Array.from({ length: O.publishPackages }, (_, i) => `@${SCOPE}/pub${round * O.publishPackages + i}`);

const t0 = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}`);

const ACCEPT_FULL = 'application/json';
const ACCEPT_CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const NPM_HEADERS = { 'user-agent': `npm/11.19.1 node/${process.version} linux x64 workspaces/false`, 'npm-command': 'install' };

// ---------------------------------------------------------------------------------------------- results

interface Rate {
  versions: number;
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  perCpuSecond: number;
}

/** Publishes into one package: how many landed, how many were refused (by status), and the packument's count. */
interface OnePackageRate extends Rate {
  failed: Map<number, number>;
  inPackument: number;
}

interface ServerResult {
  seed?: Rate; // Wharf only: the whole data set over HTTP
  seedNote: string;
  publish: Rate; // same subset shape on both
  publishExisting: Rate; // one more version into each seeded package, after the GET phases
  onePackage: OnePackageRate; // 8 workers publishing distinct versions of one new package
  onePackageRefused: number; // over all rounds: publishes answered with an error
  onePackageMissing: number; // over all rounds: acknowledged, but not in the packument afterwards (lost updates)
  full: LoadResult;
  abbrev: LoadResult;
  tarball: LoadResult;
  sizes: { full: number; abbrev: number; tarball: number };
  peakRssPublish: number; // VmHWM after start, seeding (Wharf) and publishing
  peakRssLoad?: number; // VmHWM during the GET load phases (reset before them)
  big?: BigResult;
}

interface BigResult {
  tarballBytes: number;
  bodyBytes: number;
  publishSeconds: number;
  downloadSeconds: number;
  rssBefore: number;
  peakPublish: number;
  peakDownload: number;
  samples: number;
}

// ---------------------------------------------------------------------------------------------- servers

/** A running server under test. */
interface Target {
  label: 'Wharf' | 'Verdaccio' | 'durable-write ceiling';
  reg: Registry;
  origin: string;
  proc: ServerProcess;
  seed?: Rate;
  seedNote: string;
}

const auth = (reg: Registry) => ({ authorization: `Bearer ${reg.token}` });

function noteChildren(t: Target) {
  const kids = descendants(t.proc.pid);
  if (kids.length) log(`  note: ${t.label} pid ${t.proc.pid} has child processes (their CPU is counted too): ${kids.map(describe).join('; ')}`);
}

async function startVerdaccioTarget(tmp: string): Promise<Target> {
  log(`Verdaccio ${VERDACCIO_VERSION}`);
  const bin = ensureVerdaccio(path.join(PEERS, 'verdaccio'), log);
  const dir = path.join(tmp, 'verdaccio');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = writeConfig(dir, port);

  log(`  seeding its storage directly: ${O.packages} packages x ${O.versions} versions`);
  const s0 = Date.now();
  await seedStorage(path.join(dir, 'storage'), `${origin}/`, names, O.versions);
  const seedNote = `written to storage in ${((Date.now() - s0) / 1000).toFixed(1)} s, not over HTTP`;

  const proc = startVerdaccio(bin, config, dir, WORK);
  try {
    await waitVerdaccio(origin, proc);
    const token = await verdaccioToken(origin, SCOPE);
    // A JWT (three base64url parts): with security.api.jwt Verdaccio checks an HMAC, not bcrypt, per request.
    if (!/^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(token)) throw new Error('verdaccio did not hand out a JWT: check security.api.jwt in its config');
    const t: Target = { label: 'Verdaccio', reg: { label: 'verdaccio', url: `${origin}/`, token }, origin, proc, seedNote };
    log(`  up on ${origin}, pid ${proc.pid}`);
    noteChildren(t);
    return t;
  } catch (e) {
    log(`verdaccio log tail:\n${tail(proc.logFile)}`);
    throw e;
  }
}

/** The durable-write ceiling (bench/lib/durable-ceiling.ts): measured in the publish rounds only. */
let ceilingPublish: Rate | undefined;

async function startCeilingTarget(tmp: string): Promise<Target> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const proc = await startDurableCeiling(ROOT, port, path.join(tmp, 'ceiling-data'), path.join(WORK, 'durable-ceiling.log'));
  log(`durable-write ceiling (bare node:http: each publish body stored by Wharf's blob store, nothing else) on ${origin}, pid ${proc.pid}`);
  return { label: 'durable-write ceiling', reg: { label: 'durable-write ceiling', url: `${origin}/npm/`, token: 'none' }, origin, proc, seedNote: '' };
}

async function startWharfTarget(tmp: string): Promise<Target> {
  log('Wharf');
  const data = path.join(tmp, 'wharf-data');
  fs.mkdirSync(data, { recursive: true });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const profDir = path.join(WORK, 'prof');
  if (O.cpuProf) log(`  Wharf runs with --cpu-prof: the profile goes to ${path.relative(ROOT, profDir)} when it stops`);
  const proc = startWharf(ROOT, data, port, WORK, O.cpuProf ? profDir : undefined);
  try {
    await waitWharf(origin, proc);
    const t: Target = { label: 'Wharf', reg: { label: 'wharf', url: `${origin}/npm/`, token: wharfToken(ROOT, data, port, SCOPE) }, origin, proc, seedNote: 'over HTTP, one version per PUT' };
    log(`  up on ${origin}, pid ${proc.pid}`);
    noteChildren(t);
    await waitIdle();
    log(`  seeding over HTTP: ${O.packages} packages x ${O.versions} versions, ${O.publishConcurrency} workers`);
    t.seed = await timedPublish(t, names, O.versions, 'seed');
    log(`    ${t.seed.perSecond.toFixed(1)} versions/s, ${t.seed.perCpuSecond.toFixed(1)} per server CPU-s`);
    return t;
  } catch (e) {
    log(`wharf log tail:\n${tail(proc.logFile)}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------- steps

function alive(t: Target, what: string) {
  if (!t.proc.alive()) throw new Error(`${t.label} (pid ${t.proc.pid}) ended during ${what}: ${t.proc.exitInfo()}\n${tail(t.proc.logFile)}`);
}

async function timedPublish(t: Target, list: string[], versions: number, label: string, first = 0): Promise<Rate> {
  const total = list.length * versions;
  let done = 0;
  let nextReport = 0.1;
  // The requests are built first, untimed: building a tarball is the load generator's work, not the server's.
  const work = await preparePublishes(t.reg, list, versions, first);
  const cpu0 = cpuSeconds(t.proc.pid);
  const start = process.hrtime.bigint();
  await publishPrepared(t.reg, work, O.publishConcurrency, () => {
    done++;
    if (done / total >= nextReport && total >= 1000) {
      log(`  ${label}: ${done}/${total} versions`);
      nextReport += 0.1;
    }
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuSeconds(t.proc.pid) - cpu0;
  alive(t, label);
  return { versions: total, seconds, perSecond: total / seconds, cpuSeconds: cpu, perCpuSecond: total / cpu };
}

/**
 * On a shared machine: before a measurement, wait (at most `O.waitIdle` seconds) until the last second was at most
 * 10% busy. Our own servers are idle between measurements, so what is busy is someone else.
 */
async function waitIdle() {
  if (!O.waitIdle) return;
  const deadline = Date.now() + O.waitIdle * 1000;
  let busy = await machineBusyOver(1000);
  if (busy <= 0.1) return;
  log(`  (machine ${(busy * 100).toFixed(0)}% busy with other work: waiting up to ${O.waitIdle} s for it to go idle)`);
  while (busy > 0.1 && Date.now() < deadline) busy = await machineBusyOver(1000);
  log(`  (${busy <= 0.1 ? 'idle now' : `still ${(busy * 100).toFixed(0)}% busy, measuring anyway`})`);
}

function median<T>(runs: T[], key: (t: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Runs `step` for every target, `O.repeat` times, alternating between the servers (V W V W …) so that whatever
 * else the machine does hits both alike; returns the median run per target.
 */
async function alternate<T>(targets: Target[], key: (r: T) => number, step: (t: Target, round: number) => Promise<T>): Promise<Map<Target, T>> {
  const runs = new Map<Target, T[]>(targets.map((t) => [t, []]));
  for (let round = 0; round < O.repeat; round++) {
    for (const t of targets) {
      await waitIdle();
      runs.get(t)!.push(await step(t, round));
    }
  }
  return new Map(targets.map((t) => [t, median(runs.get(t)!, key)]));
}

/** The publish-rate measurement on fresh packages (the same shape on both servers). */
function publishRates(targets: Target[]) {
  return alternate(targets, (r: Rate) => r.perSecond, async (t, round) => {
    const r = await timedPublish(t, pubNames(round), O.versions, 'publish');
    log(`  ${t.label} publish, ${O.publishPackages} packages x ${O.versions} versions, ${O.publishConcurrency} workers${rounds(round)}: ${r.perSecond.toFixed(1)} versions/s, ${r.perCpuSecond.toFixed(1)} per server CPU-s`);
    return r;
  });
}

/**
 * 8 workers publish distinct versions of one new package at once, each taking the next version when it is free
 * (BENCH.md's "one version per PUT, 8 parallel"; npm itself never sends two PUTs of a package at once, but CI jobs
 * do). Counts only the versions that landed; a fresh package every round.
 */
const oneTotals = new Map<Target, { refused: number; missing: number }>();
function onePackageRates(targets: Target[]) {
  return alternate(targets, (r: OnePackageRate) => r.perSecond, async (t, round) => {
    const name = `@${SCOPE}/one${round}`;
    const work = [];
    for (let v = 0; v < O.onePackage; v++) work.push(await preparePublish(t.reg, name, versionAt(v)));
    const cpu0 = cpuSeconds(t.proc.pid);
    const start = process.hrtime.bigint();
    const { ok, failed } = await publishConcurrently(t.reg, work, O.publishConcurrency);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuSeconds(t.proc.pid) - cpu0;
    alive(t, 'publish into one package');
    const got = await getJson(`${t.reg.url}${escapeName(name)}`, { ...auth(t.reg), accept: ACCEPT_FULL });
    if (got.status !== 200) throw new Error(`${t.label}: GET ${name} after publishing into it -> ${got.status}`);
    const inPackument = Object.keys(got.json.versions ?? {}).length;
    const r = { versions: ok, seconds, perSecond: ok / seconds, cpuSeconds: cpu, perCpuSecond: ok / cpu, failed, inPackument };
    const tot = oneTotals.get(t) ?? { refused: 0, missing: 0 };
    oneTotals.set(t, { refused: tot.refused + O.onePackage - ok, missing: tot.missing + Math.max(0, ok - inPackument) });
    const refused = [...failed].map(([status, n]) => `${n} x ${status}`).join(', ');
    log(`  ${t.label} publish into one package, ${O.onePackage} versions, ${O.publishConcurrency} workers${rounds(round)}: ${r.perSecond.toFixed(1)} versions/s, ${r.perCpuSecond.toFixed(1)} per server CPU-s; ${ok} landed${refused ? `, refused: ${refused}` : ''}; the packument lists ${inPackument}`);
    return r;
  });
}

const rounds = (round: number) => (O.repeat > 1 ? ` (${round + 1}/${O.repeat})` : '');

/**
 * One more version into each of the seeded packages, after the GET phases: what a publish costs once a package has
 * history (Verdaccio rewrites the whole package.json every time). Once per server: it changes the data.
 */
async function publishIntoExisting(t: Target): Promise<Rate> {
  const r = await timedPublish(t, names, 1, 'publish-existing', O.versions);
  log(`  ${t.label} publish into existing packages, 1 new version into each of ${names.length}: ${r.perSecond.toFixed(1)} versions/s, ${r.perCpuSecond.toFixed(1)} per server CPU-s`);
  return r;
}

interface Survey {
  packumentPaths: string[];
  tarballPaths: string[];
  sizes: { full: number; abbrev: number; tarball: number };
}

/** Reads every packument once: checks it (version count, both representations) and collects the tarball paths. */
async function survey(t: Target): Promise<Survey> {
  const { reg, origin } = t;
  const tarballPaths: string[] = [];
  const packumentPaths = names.map((n) => `${new URL(reg.url).pathname}${escapeName(n)}`);
  for (const [i, name] of names.entries()) {
    const r = await getJson(`${origin}${packumentPaths[i]}`, { ...auth(reg), accept: ACCEPT_FULL });
    if (r.status !== 200) throw new Error(`${t.label}: GET ${name} -> ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
    const versions = Object.keys(r.json.versions ?? {});
    if (versions.length !== O.versions) throw new Error(`${t.label}: ${name} has ${versions.length} versions, expected ${O.versions}`);
    for (const v of versions) {
      const u = new URL(r.json.versions[v].dist.tarball);
      if (u.origin !== origin) throw new Error(`${t.label}: tarball URL ${u} is not on ${origin}`);
      tarballPaths.push(u.pathname + u.search);
    }
  }
  // One of each in detail: sizes, content types, integrity of a tarball.
  const full = await request('GET', `${origin}${packumentPaths[0]}`, { headers: { ...auth(reg), accept: ACCEPT_FULL } });
  const abbrev = await request('GET', `${origin}${packumentPaths[0]}`, { headers: { ...auth(reg), accept: ACCEPT_CORGI } });
  if (!String(abbrev.headers['content-type']).startsWith('application/vnd.npm.install-v1+json')) {
    log(`  WARNING ${t.label}: abbreviated packument answered with content-type ${abbrev.headers['content-type']}`);
  }
  const doc = JSON.parse(full.body.toString('utf8'));
  const v0 = versionAt(0);
  const tgz = await request('GET', `${origin}${new URL(doc.versions[v0].dist.tarball).pathname}`, { headers: { ...auth(reg), accept: '*/*' } });
  const integrity = `sha512-${createHash('sha512').update(tgz.body).digest('base64')}`;
  if (tgz.status !== 200 || integrity !== doc.versions[v0].dist.integrity) throw new Error(`${t.label}: tarball of ${names[0]}@${v0}: status ${tgz.status}, integrity mismatch`);
  return { packumentPaths, tarballPaths, sizes: { full: full.body.length, abbrev: abbrev.body.length, tarball: tgz.body.length } };
}

/** The directly written Verdaccio packages must look exactly like ones Verdaccio stored itself. */
async function checkSeededShape(t: Target) {
  for (const accept of [ACCEPT_FULL, ACCEPT_CORGI]) {
    const seeded = await getJson(`${t.origin}/${escapeName(names[0])}`, { ...auth(t.reg), accept });
    const published = await getJson(`${t.origin}/${escapeName(pubNames(0)[0])}`, { ...auth(t.reg), accept });
    const diff = firstDifference(shape(seeded.json), shape(published.json));
    if (diff) throw new Error(`verdaccio: a seeded packument differs from a published one (${accept}) at ${diff}`);
  }
  log('  Verdaccio: seeded packuments have the same shape as HTTP-published ones (full and abbreviated)');
}

type PhaseName = 'full' | 'abbrev' | 'tarball';
const PHASES: { name: PhaseName; label: string; accept: string; paths: (s: Survey) => string[] }[] = [
  { name: 'full', label: 'packument GET, full JSON', accept: ACCEPT_FULL, paths: (s) => s.packumentPaths },
  { name: 'abbrev', label: 'packument GET, abbreviated', accept: ACCEPT_CORGI, paths: (s) => s.packumentPaths },
  { name: 'tarball', label: 'tarball GET', accept: '*/*', paths: (s) => s.tarballPaths },
];

async function loadPhase(t: Target, survey: Survey, phase: (typeof PHASES)[number], round: number): Promise<LoadResult> {
  alive(t, `the start of ${phase.label}`);
  const r = await measure({
    origin: t.origin,
    connections: O.connections,
    warmupSeconds: round === 0 ? O.warmup : 0,
    seconds: O.seconds,
    pid: t.proc.pid,
    paths: phase.paths(survey),
    headers: { ...NPM_HEADERS, ...auth(t.reg), accept: phase.accept },
  }).catch((e) => {
    alive(t, phase.label); // a vanished /proc/PID is the server having ended: say so
    throw e;
  });
  const bad = r.non2xx + r.errors ? ` (non-2xx ${r.non2xx}, errors ${r.errors}: ${JSON.stringify(r.statusCodes)})` : '';
  log(
    `  ${t.label} ${phase.label}${rounds(round)}: ${r.rps.toFixed(0)} rps, p50 ${r.p50} ms, p99 ${r.p99} ms, ${(r.bytesPerSecond / MB).toFixed(1)} MB/s; ` +
      `server ${r.cpuSeconds.toFixed(2)} CPU-s (${r.reqPerCpuSecond.toFixed(0)} req/CPU-s), load generator ${r.loadgenCpuSeconds.toFixed(2)}, ` +
      `other processes ${r.otherCpuSeconds.toFixed(2)} CPU-s, machine ${(r.machineBusy * 100).toFixed(0)}% busy${bad}`,
  );
  alive(t, phase.label);
  return r;
}

/** Types in place of values, keys sorted: two packuments of the same shape compare equal. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [/^\d+\.\d+\.\d+$/.test(k) ? '<version>' : k, shape((v as Record<string, unknown>)[k])]),
    );
  }
  return v === null ? 'null' : typeof v;
}

function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as any)[k], (b as any)[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at || '.'}: ${JSON.stringify(a)?.slice(0, 80)} vs ${JSON.stringify(b)?.slice(0, 80)}`;
}

/** The whole comparison: both servers up, every measurement alternating between them. */
async function benchAll(tmp: string): Promise<{ w?: ServerResult; v?: ServerResult }> {
  const targets: Target[] = [];
  if (O.runVerdaccio) targets.push(await startVerdaccioTarget(tmp));
  if (O.runWharf) targets.push(await startWharfTarget(tmp));
  const ceiling = O.ceiling ? await startCeilingTarget(tmp) : undefined;
  const vt = targets.find((t) => t.label === 'Verdaccio');

  log(`publish rate: ${O.publishPackages} new packages x ${O.versions} versions, ${O.publishConcurrency} workers, on each server`);
  const publish = await publishRates(ceiling ? [...targets, ceiling] : targets);
  if (ceiling) {
    ceilingPublish = publish.get(ceiling);
    await ceiling.proc.stop();
  }
  if (O.publishOnly) {
    const vr = vt && publish.get(vt);
    for (const t of targets) {
      const r = publish.get(t)!;
      const ratio = vr && t !== vt ? `, ${(r.perSecond / vr.perSecond).toFixed(2)}x Verdaccio (${(r.perCpuSecond / vr.perCpuSecond).toFixed(2)}x per server CPU-s)` : '';
      console.log(`${t.label}: publish ${O.publishPackages} pkgs x ${O.versions} versions, ${O.publishConcurrency} workers, median of ${O.repeat}: ${r.perSecond.toFixed(1)} versions/s, ${r.perCpuSecond.toFixed(1)} per server CPU-s${ratio}`);
    }
    if (ceilingPublish) console.log(`durable-write ceiling: ${ceilingPublish.perSecond.toFixed(1)} versions/s${vr ? `, ${(ceilingPublish.perSecond / vr.perSecond).toFixed(2)}x Verdaccio` : ''}`);
    for (const t of targets) await t.proc.stop();
    return {};
  }
  log(`publish into one package: ${O.onePackage} versions of one new package, ${O.publishConcurrency} workers at once, on each server`);
  const onePackage = await onePackageRates(targets);
  const peakRssPublish = new Map(targets.map((t) => [t, statusBytes(t.proc.pid, 'VmHWM')]));

  const surveys = new Map<Target, Survey>();
  for (const t of targets) surveys.set(t, await survey(t));
  if (vt) await checkSeededShape(vt);

  const reset = new Map(targets.map((t) => [t, resetPeakRss(t.proc.pid)]));
  const load = new Map<PhaseName, Map<Target, LoadResult>>();
  for (const phase of PHASES) {
    log(`${phase.label}: c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s${O.repeat > 1 ? `, ${O.repeat} rounds` : ''}, alternating servers`);
    load.set(phase.name, await alternate(targets, (r: LoadResult) => r.rps, (t, round) => loadPhase(t, surveys.get(t)!, phase, round)));
  }
  const peakRssLoad = new Map(targets.map((t) => [t, reset.get(t) ? statusBytes(t.proc.pid, 'VmHWM') : undefined]));

  log(`publish into existing packages: 1 new version into each of ${names.length} packages with ${O.versions} versions, ${O.publishConcurrency} workers`);
  const existing = new Map<Target, Rate>();
  for (const t of targets) {
    await waitIdle();
    existing.set(t, await publishIntoExisting(t));
  }

  const out: { w?: ServerResult; v?: ServerResult } = {};
  for (const t of targets) {
    const r: ServerResult = {
      seed: t.seed,
      seedNote: t.seedNote,
      publish: publish.get(t)!,
      publishExisting: existing.get(t)!,
      onePackage: onePackage.get(t)!,
      onePackageRefused: oneTotals.get(t)!.refused,
      onePackageMissing: oneTotals.get(t)!.missing,
      full: load.get('full')!.get(t)!,
      abbrev: load.get('abbrev')!.get(t)!,
      tarball: load.get('tarball')!.get(t)!,
      sizes: surveys.get(t)!.sizes,
      peakRssPublish: peakRssPublish.get(t)!,
      peakRssLoad: peakRssLoad.get(t),
    };
    if (t.label === 'Wharf') {
      if (vt) await vt.proc.stop(); // the big-tarball step measures Wharf alone
      r.big = await bigTarball(t.reg, t.origin, t.proc, tmp);
      out.w = r;
    } else out.v = r;
  }
  for (const t of targets) await t.proc.stop();
  return out;
}

/** RSS stays flat with big content: publish one big tarball (streamed body), then download it once. */
async function bigTarball(reg: Registry, origin: string, proc: ServerProcess, tmp: string): Promise<BigResult> {
  const name = `@${SCOPE}/big`;
  const version = '1.0.0';
  const file = path.join(tmp, 'big.tgz');
  log(`  big tarball: building ${O.bigMb} MB`);
  const d = await writeBigTarball(file, name, version, O.bigMb * MB);
  await waitIdle();

  // Baseline: the idle server after the load phases, sampled for a second.
  await sleep(500);
  const idle = sampleRss(proc.pid, 50);
  await sleep(1000);
  const rssBefore = idle.stop().peak;

  log(`  big tarball: publishing ${(d.length / MB).toFixed(1)} MB (streamed JSON body, base64)`);
  const pubSampler = sampleRss(proc.pid, 50);
  let start = process.hrtime.bigint();
  const bodyBytes = await publishStreamed(reg, name, version, file, d);
  const publishSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const pub = pubSampler.stop();

  const doc = await getJson(`${reg.url}${escapeName(name)}`, { ...auth(reg), accept: ACCEPT_FULL });
  if (doc.status !== 200) throw new Error(`wharf: GET ${name} after the big publish -> ${doc.status}`);
  const tarballUrl = new URL(doc.json.versions[version].dist.tarball);
  log('  big tarball: downloading it once');
  const sha512 = createHash('sha512');
  let got = 0;
  const dlSampler = sampleRss(proc.pid, 50);
  start = process.hrtime.bigint();
  const r = await request('GET', `${origin}${tarballUrl.pathname}`, {
    headers: { ...auth(reg), accept: '*/*' },
    timeoutMs: 600_000,
    discard: (c) => {
      sha512.update(c);
      got += c.length;
    },
  });
  const downloadSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const dl = dlSampler.stop();
  if (r.status !== 200 || got !== d.length || `sha512-${sha512.digest('base64')}` !== d.integrity) {
    throw new Error(`wharf: big tarball download: status ${r.status}, ${got} of ${d.length} bytes, integrity ${got === d.length ? 'mismatch' : 'not checked'}`);
  }
  fs.rmSync(file, { force: true });
  log(`    (this bench process: peak RSS ${(statusBytes(process.pid, 'VmHWM') / MB).toFixed(0)} MB over the whole run)`);
  log(`    publish ${(d.length / MB / publishSeconds).toFixed(1)} MB/s, download ${(d.length / MB / downloadSeconds).toFixed(1)} MB/s; RSS ${(rssBefore / MB).toFixed(0)} MB before, peak ${(pub.peak / MB).toFixed(0)} MB publishing, ${(dl.peak / MB).toFixed(0)} MB downloading`);
  return { tarballBytes: d.length, bodyBytes, publishSeconds, downloadSeconds, rssBefore, peakPublish: pub.peak, peakDownload: dl.peak, samples: pub.samples + dl.samples };
}

// ---------------------------------------------------------------------------------------------- report

function rows(w?: ServerResult, v?: ServerResult): Row[] {
  const c = O.connections;
  const both = (f: (r: ServerResult) => number | undefined) => ({ wharf: w && f(w), verdaccio: v && f(v) });
  /** A publish rate (target >= 5x) and its versions per server CPU-second. */
  const publishRows = (metric: string, short: string, rate: (r: ServerResult) => Rate): Row[] => [
    { metric, unit: 'versions/s', digits: 1, ...both((r) => rate(r).perSecond), ratio: true, target: { minRatio: 5 } },
    { metric: `${short}, versions per server CPU-s`, digits: 1, ...both((r) => rate(r).perCpuSecond), ratio: true },
  ];
  const out: Row[] = [
    { metric: `packument GET, full JSON, c=${c}`, unit: 'rps', ...both((r) => r.full.rps), ratio: true, target: { minRatio: 4 } },
    { metric: 'packument GET, full JSON, p99', unit: 'ms', ...both((r) => r.full.p99), ratio: true, better: 'lower', target: { maxWharf: 50 } },
    { metric: 'packument GET, full JSON, req per server CPU-s', ...both((r) => r.full.reqPerCpuSecond), ratio: true, target: { minRatio: 5 } },
    { metric: `packument GET, abbreviated, c=${c}`, unit: 'rps', ...both((r) => r.abbrev.rps), ratio: true, target: { minRatio: 4 } },
    { metric: 'packument GET, abbreviated, p99', unit: 'ms', ...both((r) => r.abbrev.p99), ratio: true, better: 'lower', target: { maxWharf: 50 } },
    { metric: 'packument GET, abbreviated, req per server CPU-s', ...both((r) => r.abbrev.reqPerCpuSecond), ratio: true, target: { minRatio: 5 } },
    { metric: `tarball GET (~${Math.round((w ?? v)!.sizes.tarball / 1024)} KB), c=${c}`, unit: 'MB/s', digits: 1, ...both((r) => r.tarball.bytesPerSecond / MB), ratio: true, target: { minRatio: 3 } },
    { metric: 'tarball GET, requests', unit: 'rps', ...both((r) => r.tarball.rps), ratio: true },
    { metric: 'tarball GET, p99', unit: 'ms', ...both((r) => r.tarball.p99), ratio: true, better: 'lower' },
    { metric: 'tarball GET, req per server CPU-s', ...both((r) => r.tarball.reqPerCpuSecond), ratio: true },
    ...publishRows(`publish, ${O.publishPackages} pkgs x ${O.versions} versions, ${O.publishConcurrency} workers`, 'publish', (r) => r.publish),
    ...publishRows(`publish into one package, ${O.onePackage} versions, ${O.publishConcurrency} workers at once`, 'publish into one package', (r) => r.onePackage),
    { metric: `publish into one package: refused, all ${O.repeat} round(s)`, ...both((r) => r.onePackageRefused) },
    { metric: 'publish into one package: acknowledged but missing from the packument, all rounds', ...both((r) => r.onePackageMissing) },
    {
      metric: `publish into existing packages, 1 new version into each of ${O.packages} pkgs with ${O.versions} versions, ${O.publishConcurrency} workers`,
      unit: 'versions/s',
      digits: 1,
      ...both((r) => r.publishExisting.perSecond),
      ratio: true,
    },
    {
      metric: `seed ${O.packages} pkgs x ${O.versions} versions, ${O.publishConcurrency} workers`,
      unit: 'versions/s',
      digits: 1,
      wharf: w?.seed?.perSecond,
      verdaccio: undefined,
      note: v ? `Verdaccio ${v.seedNote}` : undefined,
    },
    { metric: 'peak RSS (VmHWM) during the GET load phases', unit: 'MB', ...both((r) => (r.peakRssLoad === undefined ? undefined : r.peakRssLoad / MB)), ratio: true, better: 'lower' },
    {
      metric: 'peak RSS (VmHWM) from start through publishing',
      unit: 'MB',
      ...both((r) => r.peakRssPublish / MB),
      note: 'Wharf: includes seeding over HTTP',
    },
    { metric: 'response size: full packument', unit: 'KB', digits: 1, ...both((r) => r.sizes.full / 1024), ratio: true },
    { metric: 'response size: abbreviated packument', unit: 'KB', digits: 1, ...both((r) => r.sizes.abbrev / 1024), ratio: true },
  ];
  if (w?.big) {
    const b = w.big;
    const size = `${(b.tarballBytes / MB).toFixed(0)} MB tarball`;
    out.push(
      { metric: `${size}: publish (streamed ${(b.bodyBytes / MB).toFixed(0)} MB JSON body)`, unit: 'MB/s', digits: 1, wharf: b.tarballBytes / MB / b.publishSeconds },
      { metric: `${size}: download`, unit: 'MB/s', digits: 1, wharf: b.tarballBytes / MB / b.downloadSeconds },
      { metric: `${size}: server RSS before (idle)`, unit: 'MB', wharf: b.rssBefore / MB },
      { metric: `${size}: peak RSS while publishing (50 ms samples)`, unit: 'MB', wharf: b.peakPublish / MB },
      { metric: `${size}: peak RSS while downloading`, unit: 'MB', wharf: b.peakDownload / MB },
    );
  }
  return out;
}

function machine() {
  const cpus = os.cpus();
  return `${cpus.length} vCPU (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

function ceilingNote(w?: ServerResult, v?: ServerResult): string[] {
  const c = ceilingPublish;
  if (!c) return [];
  const parts = [`${c.perSecond.toFixed(1)} versions/s, ${c.perCpuSecond.toFixed(1)} per server CPU-s`];
  if (v) parts.push(`${(c.perSecond / v.publish.perSecond).toFixed(2)}x Verdaccio's publish rate`);
  if (w) parts.push(`Wharf reached ${((100 * w.publish.perSecond) / c.perSecond).toFixed(0)}% of it`);
  return [
    `- Durable-write ceiling, measured in the same publish rounds (${O.repeat > 1 ? `median of ${O.repeat}` : 'one round'}): a bare node:http server that only stores each publish body with Wharf's own blob store before answering (sha256, temp file, fsync, rename, directory fsync; no parsing, tarball checks, database or auth; bench/lib/durable-ceiling.ts): ${parts.join('; ')}. Verdaccio fsyncs nothing.`,
  ];
}

function cpuNote(label: string, r?: ServerResult): string[] {
  if (!r) return [];
  const p = (l: LoadResult) =>
    `${(l.machineBusy * 100).toFixed(0)}% (server ${l.cpuSeconds.toFixed(1)}, load generator ${l.loadgenCpuSeconds.toFixed(1)}, other processes ${l.otherCpuSeconds.toFixed(1)} CPU-s)`;
  return [`- ${label}: machine CPU busy (all cores) during full / abbreviated / tarball GET: ${p(r.full)} / ${p(r.abbrev)} / ${p(r.tarball)}.`];
}

/** Phases where other processes took more than 15% of the machine: their rps and p99 are suspect. */
function noiseNote(w?: ServerResult, v?: ServerResult): string[] {
  const cores = os.cpus().length;
  const noisy: string[] = [];
  for (const [label, r] of [['Wharf', w], ['Verdaccio', v]] as const) {
    if (!r) continue;
    for (const [phase, l] of [['full packument', r.full], ['abbreviated packument', r.abbrev], ['tarball', r.tarball]] as const) {
      const share = l.otherCpuSeconds / (O.seconds * cores);
      if (share > 0.15) noisy.push(`${label} ${phase} (${(share * 100).toFixed(0)}%)`);
    }
  }
  return noisy.length ? [`- Noisy: other processes took more than 15% of the machine during ${noisy.join(', ')}; compare req per server CPU-s there.`] : [];
}

function errorsNote(label: string, r?: ServerResult): string[] {
  if (!r) return [];
  const out: string[] = [];
  for (const [phase, l] of [['full packument', r.full], ['abbreviated packument', r.abbrev], ['tarball', r.tarball]] as const) {
    if (l.non2xx || l.errors) out.push(`- ${label}, ${phase}: ${l.non2xx} non-2xx responses and ${l.errors} errors/timeouts (${JSON.stringify(l.statusCodes)}); the rates above count them.`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-bench-'));
  const cleanup = () => {
    if (!O.keep) fs.rmSync(tmp, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping the servers`);
    void stopAll().finally(() => {
      cleanup();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log(`npm registry benchmark (${O.quick ? 'quick' : 'full'}): ${O.packages} packages x ${O.versions} versions, c=${O.connections}, ${O.warmup}+${O.seconds} s per phase; ${machine()}; scratch ${tmp}`);
  const idleBusy = await machineBusyOver(1000);
  const busyNote = `machine ${(idleBusy * 100).toFixed(0)}% busy (all cores) in the second before the run`;
  log(busyNote);
  if (idleBusy > 0.1) log('  WARNING: something else is using the CPU; the figures will be noisy (ratios and req per CPU-s hold up better)');
  let v: ServerResult | undefined;
  let w: ServerResult | undefined;
  try {
    ({ w, v } = await benchAll(tmp));
    if (O.publishOnly) return;
  } finally {
    await stopAll();
    agent.destroy();
    cleanup();
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const md = [
    `## npm registry: Wharf vs Verdaccio ${VERDACCIO_VERSION} (${O.quick ? 'quick run' : 'full run'})`,
    '',
    `${date}; ${machine()}; load generator (autocannon) on the same machine.`,
    `${O.packages} packages x ${O.versions} versions (~${Math.round(((w ?? v)!.sizes.tarball) / 1024)} KB tarballs), random package per request, authenticated (Bearer),`,
    `c=${O.connections}, ${O.warmup} s warm-up + ${O.seconds} s measured per phase${O.repeat > 1 ? `, median of ${O.repeat}` : ''}; both servers up, measured alternately (one at a time).`,
    `Server CPU = utime+stime of the server process (and any children) from /proc/PID/stat; ${busyNote}.`,
    '',
    table(rows(w, v)),
    '',
    ...noiseNote(w, v),
    ...ceilingNote(w, v),
    ...cpuNote('Wharf', w),
    ...cpuNote('Verdaccio', v),
    ...errorsNote('Wharf', w),
    ...errorsNote('Verdaccio', v),
  ].join('\n');
  fs.writeFileSync(path.join(WORK, 'last-run.md'), md + '\n');
  console.log(`\n${md}\n`);
  log(`written to ${path.relative(process.cwd(), path.join(WORK, 'last-run.md'))}`);
}

main().catch(async (e) => {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  await stopAll();
  process.exit(1);
});
