// Maven repository benchmark: Wharf against nginx serving the same files from disk (the ceiling for a static
// Maven repository), back to back in one run on this machine (issue 5).
//
//   node --import tsx bench/maven.ts              full run: 50 artifacts, 10 s per load phase, median of 3
//   node --import tsx bench/maven.ts --quick      smoke run: 3 s phases, one repeat
//   knobs: --artifacts=N --seconds=N --warmup=N --connections=N --repeat=N --jar-kb=N --no-mvn --keep
//          --cpu-prof (Wharf runs with node --cpu-prof into bench/.work/maven-prof; see bench/profile-top.ts)
//
// Phases: GET of POMs, of jars and of artifact-level maven-metadata.xml at concurrency 64 (public packages,
// anonymous, as a CI resolver sees them), then the wall time of `mvn dependency:resolve` of a project with all
// the artifacts as dependencies, with a cold local repository. nginx runs one worker (one Node process serves
// Wharf). Needs `apt-get install -y nginx-light` (or nginx) and the Maven plugin packages of shared/CLIENTS.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './lib/http.ts';
import { measure, type LoadResult } from './lib/load.ts';
import { freePort, runNode, stopAll, tail } from './lib/proc.ts';
import { pseudoRandom } from './lib/tarball.ts';
import { startWharf, waitWharf, wharfEnv, wharfToken } from './lib/wharf.ts';
import { startNginx, waitOk } from './lib/nginx.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'bench', '.work', 'maven');

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(`--${n}`);
const num = (n: string, d: number) => {
  const v = argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
  return v === undefined ? d : Number(v);
};
const quick = flag('quick');
const ARTIFACTS = num('artifacts', 50);
const SECONDS = num('seconds', quick ? 3 : 10);
const WARMUP = num('warmup', quick ? 1 : 2);
const CONNECTIONS = num('connections', 64);
const REPEAT = num('repeat', quick ? 1 : 3);
const JAR_BYTES = num('jar-kb', 17) * 1024;
const log = (s: string) => console.error(`[bench] ${s}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const G = 'com.bench';
const artifact = (i: number) => `lib${i}`;
const pomOf = (i: number) => `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${G}</groupId>
  <artifactId>${artifact(i)}</artifactId>
  <version>1.0</version>
  <packaging>jar</packaging>
  <description>benchmark artifact ${i}</description>
</project>
`;
const dirOf = (i: number) => `${G.replace(/\./g, '/')}/${artifact(i)}`;
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');


function consumerProject(dir: string, url: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const deps = Array.from({ length: ARTIFACTS }, (_, i) => `    <dependency><groupId>${G}</groupId><artifactId>${artifact(i)}</artifactId><version>1.0</version></dependency>`).join('\n');
  fs.writeFileSync(
    path.join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.bench</groupId><artifactId>consumer</artifactId><version>1.0</version><packaging>pom</packaging>
  <repositories><repository><id>bench</id><url>${url}</url><snapshots><enabled>false</enabled></snapshots></repository></repositories>
  <dependencies>
${deps}
  </dependencies>
</project>
`,
  );
  fs.writeFileSync(
    path.join(dir, 'settings.xml'),
    `<settings><profiles><profile><id>debian</id>
  <repositories><repository><id>central</id><url>file:///usr/share/maven-repo</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository></repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>file:///usr/share/maven-repo</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>debian</activeProfile></activeProfiles></settings>
`,
  );
}

/** Wall seconds of `mvn dependency:resolve` with a fresh local repository (plugins come from the Debian repository). */
function resolveSeconds(dir: string): number {
  const local = path.join(dir, `m2-${Date.now()}`);
  const t0 = performance.now();
  execFileSync('mvn', ['-B', '-q', '-s', path.join(dir, 'settings.xml'), `-Dmaven.repo.local=${local}`, 'org.apache.maven.plugins:maven-dependency-plugin:3.5.0:resolve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  const s = (performance.now() - t0) / 1000;
  for (let i = 0; i < ARTIFACTS; i++) if (!fs.existsSync(path.join(local, dirOf(i), '1.0', `${artifact(i)}-1.0.jar`))) throw new Error(`mvn did not resolve ${artifact(i)}`);
  fs.rmSync(local, { recursive: true, force: true });
  return s;
}

/** Plugins in the local repository's cache would make the first run slower than the next: warm them once. */
function warmMaven(dir: string) {
  try {
    resolveSeconds(dir);
  } catch (e) {
    throw new Error(`mvn warm-up failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  }
}

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const data = path.join(WORK, 'wharf-data');
  const staticRoot = path.join(WORK, 'static');
  const wport = await freePort();
  const wharfOrigin = `http://127.0.0.1:${wport}`;
  const prof = flag('cpu-prof') ? path.join(ROOT, 'bench', '.work', 'maven-prof') : undefined;
  const wharf = startWharf(ROOT, data, wport, WORK, prof);
  await waitWharf(wharfOrigin, wharf);
  const token = wharfToken(ROOT, data, wport, 'bench');
  runNode(['bin/wharf.mjs', 'repo', 'create', 'bench/lib', '--visibility', 'public'], { cwd: ROOT, env: wharfEnv(data, wport) });
  const auth = { authorization: `Basic ${Buffer.from(`bench:${token}`).toString('base64')}` };

  // Deploy every artifact to Wharf as Maven does, and mirror what Wharf serves into nginx's root.
  log(`deploying ${ARTIFACTS} artifacts (${JAR_BYTES} byte jars)`);
  for (let i = 0; i < ARTIFACTS; i++) {
    const files: [string, Buffer][] = [[`${artifact(i)}-1.0.pom`, Buffer.from(pomOf(i))], [`${artifact(i)}-1.0.jar`, pseudoRandom(`jar${i}`, JAR_BYTES)]];
    for (const [name, body] of files) {
      const url = `${wharfOrigin}/maven/bench/lib/${dirOf(i)}/1.0/${name}`;
      const r = await request('PUT', url, { headers: auth, body });
      if (r.status !== 201) throw new Error(`PUT ${name}: ${r.status} ${r.body}`);
      await request('PUT', `${url}.sha1`, { headers: auth, body: sha1(body) });
    }
    for (const rel of [`${dirOf(i)}/1.0/${artifact(i)}-1.0.pom`, `${dirOf(i)}/1.0/${artifact(i)}-1.0.jar`, `${dirOf(i)}/maven-metadata.xml`]) {
      for (const suffix of ['', '.sha1']) {
        const r = await request('GET', `${wharfOrigin}/maven/bench/lib/${rel}${suffix}`);
        if (r.status !== 200) throw new Error(`GET ${rel}${suffix}: ${r.status}`);
        const file = path.join(staticRoot, 'maven/bench/lib', rel + suffix);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, r.body);
      }
    }
  }

  const nport = await freePort();
  const nginxOrigin = `http://127.0.0.1:${nport}`;
  const nginx = startNginx({ dir: path.join(WORK, 'nginx'), root: staticRoot, port: nport, types: 'application/xml xml pom; application/java-archive jar; text/plain sha1 md5;' });
  await waitOk(`${nginxOrigin}/maven/bench/lib/${dirOf(0)}/maven-metadata.xml`);

  const phases: [string, (i: number) => string][] = [
    ['GET pom', (i) => `/maven/bench/lib/${dirOf(i)}/1.0/${artifact(i)}-1.0.pom`],
    ['GET jar', (i) => `/maven/bench/lib/${dirOf(i)}/1.0/${artifact(i)}-1.0.jar`],
    ['GET maven-metadata.xml', (i) => `/maven/bench/lib/${dirOf(i)}/maven-metadata.xml`],
  ];
  const rows: string[] = [];
  const servers = [
    { name: 'wharf', origin: wharfOrigin, pid: wharf.pid },
    { name: 'nginx', origin: nginxOrigin, pid: nginx.pid },
  ];
  const results: Record<string, Record<string, LoadResult>> = {};
  for (const [phase, pathOf] of phases) {
    const paths = Array.from({ length: ARTIFACTS }, (_, i) => pathOf(i));
    for (const s of servers) {
      const runs: LoadResult[] = [];
      for (let k = 0; k < REPEAT; k++) {
        log(`${phase} on ${s.name} (${k + 1}/${REPEAT})`);
        runs.push(await measure({ origin: s.origin, paths, headers: {}, connections: CONNECTIONS, warmupSeconds: WARMUP, seconds: SECONDS, pid: s.pid }));
      }
      const best = runs.sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
      if (best.non2xx || best.errors) throw new Error(`${phase} on ${s.name}: ${best.non2xx} non-2xx, ${best.errors} errors`);
      (results[phase] ??= {})[s.name] = best;
    }
    const w = results[phase].wharf;
    const n = results[phase].nginx;
    const ratio = w.rps / n.rps;
    const target = phase.includes('metadata') ? '' : ` ≥ 0.5×: ${ratio >= 0.5 ? 'met' : 'MISSED'}`;
    rows.push(`| ${phase}, c=${CONNECTIONS} | ${w.rps.toFixed(0)} rps, p99 ${w.p99} ms, ${w.reqPerCpuSecond.toFixed(0)} req/CPU-s | ${n.rps.toFixed(0)} rps, p99 ${n.p99} ms, ${n.reqPerCpuSecond.toFixed(0)} req/CPU-s | ${ratio.toFixed(2)}× |${target} |`);
  }
  const meta = results['GET maven-metadata.xml'].wharf.rps / ((results['GET pom'].wharf.rps + results['GET jar'].wharf.rps) / 2);
  rows.push(`| maven-metadata.xml vs files on Wharf | ${meta.toFixed(2)}× the file rps | | | as fast as files: ${meta >= 0.9 ? 'met' : 'MISSED'} |`);

  if (!flag('no-mvn')) {
    const wDir = path.join(WORK, 'consumer-wharf');
    const nDir = path.join(WORK, 'consumer-nginx');
    consumerProject(wDir, `${wharfOrigin}/maven/bench/lib`);
    consumerProject(nDir, `${nginxOrigin}/maven/bench/lib`);
    log('mvn warm-up');
    warmMaven(nDir);
    const ws: number[] = [];
    const ns: number[] = [];
    for (let k = 0; k < REPEAT; k++) {
      log(`mvn dependency:resolve of ${ARTIFACTS} artifacts (${k + 1}/${REPEAT})`);
      ws.push(resolveSeconds(wDir));
      ns.push(resolveSeconds(nDir));
    }
    const w = median(ws);
    const n = median(ns);
    rows.push(`| mvn dependency:resolve, ${ARTIFACTS} dependencies, cold local repository | ${w.toFixed(1)} s | ${n.toFixed(1)} s | ${(n / w).toFixed(2)}× (speed) | |`);
  }

  await nginx.stop();
  await stopAll();
  const out = [
    `Maven repository, ${ARTIFACTS} artifacts (POM ~${pomOf(0).length} B, jar ${JAR_BYTES} B), ${SECONDS} s phases after ${WARMUP} s warm-up, median of ${REPEAT}; nginx with one worker.`,
    '',
    '| metric | Wharf | nginx (static files) | ratio (Wharf/nginx) | target |',
    '|---|---|---|---:|---|',
    ...rows,
  ].join('\n');
  console.log(out);
  fs.writeFileSync(path.join(ROOT, 'bench', '.work', 'maven-last-run.md'), out + '\n');
  if (!flag('keep')) fs.rmSync(WORK, { recursive: true, force: true });
  void tail;
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
