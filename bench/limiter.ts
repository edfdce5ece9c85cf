// The cost of the sign-in limiter on the hot path: packument GETs with a valid token at c=64, against this Wharf and
// against a Wharf without the limiter (a checkout of the commit before it), in alternating rounds on one machine.
//
//   node --import tsx bench/limiter.ts --base=DIR [--rounds=4] [--seconds=10] [--connections=64] [--packages=20]
//
// DIR: a Wharf source tree without the limiter, e.g. `git archive 70a515b | tar -x -C DIR` with node_modules
// linked in. Not a test: it prints a markdown table. See docs/performance.md ("Sign-in limiter").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type LoadResult } from './lib/load.ts';
import { escapeName, packageName, publishVersion, type Registry } from './lib/npm-publish.ts';
import { freePort, stopAll, type ServerProcess } from './lib/proc.ts';
import { startWharf, waitWharf, wharfToken } from './lib/wharf.ts';

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
  runs: LoadResult[];
}

async function side(label: string, root: string): Promise<Side> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), `wharf-limiter-${label}-`));
  const port = await freePort();
  const token = wharfToken(root, data, port, 'bench');
  const proc = startWharf(root, data, port, data);
  const origin = `http://127.0.0.1:${port}`;
  await waitWharf(origin, proc);
  const reg: Registry = { label, url: `${origin}/npm/`, token };
  const names = Array.from({ length: packages }, (_, i) => packageName('bench', i));
  for (const n of names) await publishVersion(reg, n, '1.0.0');
  return { label, origin, proc, token, paths: names.map((n) => `/npm/${escapeName(n)}`), runs: [] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const sides = [await side('with limiter', ROOT), await side('without limiter', path.resolve(base))];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so a drift in the machine's load hits both alike.
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const res = await measure({ origin: s.origin, paths: s.paths, headers: { authorization: `Bearer ${s.token}` }, connections, warmupSeconds: 2, seconds, pid: s.proc.pid });
      if (res.non2xx || res.errors) throw new Error(`${s.label}: ${res.non2xx} non-2xx, ${res.errors} errors`);
      s.runs.push(res);
      console.error(`round ${r + 1} ${s.label}: ${res.rps.toFixed(0)} req/s, ${res.reqPerCpuSecond.toFixed(0)} req/CPU-s, machine busy ${(res.machineBusy * 100).toFixed(0)}%`);
    }
  }
  const rows = sides.map((s) => ({ s, rps: median(s.runs.map((x) => x.rps)), cpu: median(s.runs.map((x) => x.reqPerCpuSecond)), p99: median(s.runs.map((x) => x.p99)) }));
  console.log(`| packument GET, valid token, c=${connections} | req/s (median of ${rounds}) | req per server CPU-s | p99 ms | runs (req/s) |`);
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.s.label} | ${r.rps.toFixed(0)} | ${r.cpu.toFixed(0)} | ${r.p99} | ${r.s.runs.map((x) => x.rps.toFixed(0)).join(', ')} |`);
  console.log(`\nwith / without: ${(rows[0].rps / rows[1].rps).toFixed(3)} in req/s, ${(rows[0].cpu / rows[1].cpu).toFixed(3)} in req per CPU-s`);
} finally {
  await stopAll();
}
