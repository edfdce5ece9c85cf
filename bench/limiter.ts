// The cost of the sign-in limiter on the hot path: packument GETs with a valid token at c=64, against this Wharf and
// against a Wharf without the limiter (a checkout of the commit before it), in alternating rounds on one machine;
// then the same with Basic user:password (a correct password, cached: the path that does consult the limiter).
//
//   node --import tsx bench/limiter.ts --base=DIR [--rounds=4] [--seconds=10] [--connections=64] [--packages=20]
//
// First, in this process, the per-call cost of authenticating a token and a (cached) correct password, and of the
// limiter's check alone: noise-free where the HTTP rounds on a shared machine are not.
// DIR: a Wharf source tree without the limiter, e.g. `git archive 70a515b | tar -x -C DIR` with node_modules
// linked in. Not a test: it prints a markdown table. See docs/performance.md ("Sign-in limiter").
import { systemActor } from '../src/core/auth/actor.ts';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { openCore } from '../src/core/core.ts';
import { measure, type LoadResult } from './lib/load.ts';
import { escapeName, packageName, publishVersion, type Registry } from './lib/npm-publish.ts';
import { freePort, stopAll, type ServerProcess } from './lib/proc.ts';
import { startWharf, waitWharf, wharfEnv, wharfToken } from './lib/wharf.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opt = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const base = opt('base');
if (!base || !fs.existsSync(path.join(base, 'src/main.ts'))) throw new Error('--base=DIR: a Wharf source tree without the limiter');
const rounds = Number(opt('rounds') ?? 4);
const seconds = Number(opt('seconds') ?? 10);
const connections = Number(opt('connections') ?? 64);
const packages = Number(opt('packages') ?? 20);

interface Side {
  label: string;
  origin: string;
  proc: ServerProcess;
  token: string;
  paths: string[];
  runs: Record<string, LoadResult[]>;
}

const PASSWORD = 'bench-password-1';

async function side(label: string, root: string): Promise<Side> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-limiter-${label}-`));
  const port = await freePort();
  const token = wharfToken(root, data, port, 'bench');
  execFileSync(process.execPath, ['bin/wharf.mjs', 'user', 'password', 'bench'], { cwd: root, env: wharfEnv(data, port), input: PASSWORD + '\n' });
  const proc = startWharf(root, data, port, data);
  const origin = `http://127.0.0.1:${port}`;
  await waitWharf(origin, proc);
  const reg: Registry = { label, url: `${origin}/npm/`, token };
  const names = Array.from({ length: packages }, (_, i) => packageName('bench', i));
  for (const n of names) await publishVersion(reg, n, '1.0.0');
  return { label, origin, proc, token, paths: names.map((n) => `/npm/${escapeName(n)}`), runs: {} };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** µs per call of `f`, after a warm-up, best of three. */
async function perCall(f: () => Promise<unknown>, n = 200_000): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < n / 10; i++) await f();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  return best;
}

async function micro() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-limiter-micro-'));
  const core = await openCore(loadConfig({ WHARF_DATA: dir, WHARF_LOG_LEVEL: 'silent' }));
  try {
    await core.identity.createUser(systemActor, { name: 'bench', password: PASSWORD });
    const { token } = await core.tokens.createPersonal(systemActor, 'bench', { scopes: 'read:packages' });
    const basic = `Basic ${Buffer.from(`bench:${PASSWORD}`).toString('base64')}`;
    const t = await perCall(() => core.authn.fromAuthorization(`Bearer ${token}`, { ip: '127.0.0.1' }));
    const p = await perCall(() => core.authn.fromAuthorization(basic, { ip: '127.0.0.1' }));
    const c = await perCall(() => core.authn.throttle.check('bench', '127.0.0.1'));
    console.log(`in process: token ${t.toFixed(2)} µs/call, cached password ${p.toFixed(2)} µs/call, of which the limiter's check ${c.toFixed(2)} µs`);
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const AUTH: Record<string, (s: Side) => string> = {
  token: (s) => `Bearer ${s.token}`,
  password: () => `Basic ${Buffer.from(`bench:${PASSWORD}`).toString('base64')}`,
};

try {
  await micro();
  const sides = [await side('with limiter', ROOT), await side('without limiter', path.resolve(base))];
  for (const [kind, auth] of Object.entries(AUTH)) {
    const ratios: { rps: number; cpu: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so a drift in the machine's load hits both alike.
      for (const s of r % 2 ? [...sides].reverse() : sides) {
        const res = await measure({ origin: s.origin, paths: s.paths, headers: { authorization: auth(s) }, connections, warmupSeconds: 2, seconds, pid: s.proc.pid });
        if (res.non2xx || res.errors) throw new Error(`${s.label}: ${res.non2xx} non-2xx, ${res.errors} errors`);
        (s.runs[kind] ??= []).push(res);
        console.error(`${kind} round ${r + 1} ${s.label}: ${res.rps.toFixed(0)} req/s, ${res.reqPerCpuSecond.toFixed(0)} req/CPU-s, machine busy ${(res.machineBusy * 100).toFixed(0)}%`);
      }
      const [w, wo] = sides.map((s) => s.runs[kind][r]);
      ratios.push({ rps: w.rps / wo.rps, cpu: w.reqPerCpuSecond / wo.reqPerCpuSecond });
    }
    const rows = sides.map((s) => ({ s, rps: median(s.runs[kind].map((x) => x.rps)), cpu: median(s.runs[kind].map((x) => x.reqPerCpuSecond)), p99: median(s.runs[kind].map((x) => x.p99)) }));
    console.log(`\n| packument GET, ${kind}, c=${connections} | req/s (median of ${rounds}) | req per server CPU-s | p99 ms | runs (req/s) |`);
    console.log('|---|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.s.label} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(0)} | ${r.p99} | ${r.s.runs[kind].map((x) => x.rps.toFixed(0)).join(', ')} |`);
    console.log(`\nwith / without, median of the rounds' ratios: ${median(ratios.map((x) => x.rps)).toFixed(3)} in req/s, ${median(ratios.map((x) => x.cpu)).toFixed(3)} in req per CPU-s (rounds: ${ratios.map((x) => x.cpu.toFixed(2)).join(', ')})`);
  }
} finally {
  await stopAll();
}
