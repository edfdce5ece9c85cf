// Startup to healthy and idle memory of a Wharf server command, over several runs (docs/performance.md).
// Usage: node bench/startup.mjs [runs] -- COMMAND ARGS...   (default: node dist/main.js, as `npm start` runs it)
// Each run starts the command on a free port with an empty WHARF_DATA, polls /healthz every 5 ms from the spawn
// until it answers 200 (that interval is the startup time), waits 3 s idle, then reads the process's VmRSS (the
// RSS of the whole tree when the command is `npm start`: npm, sh and node).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const sep = process.argv.indexOf('--');
const runs = Number(process.argv[2] && process.argv[2] !== '--' ? process.argv[2] : 7);
const command = sep > 0 ? process.argv.slice(sep + 1) : [process.execPath, 'dist/main.js'];
const ROOT = path.resolve(import.meta.dirname, '..');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** Resident memory of `pid` and all its descendants, in MiB. */
function treeRssMiB(pid) {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const pids = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, pp] of rows) if (pids.has(pp) && !pids.has(p)) pids.add(p), (grew = true);
  }
  return rows.filter(([p]) => pids.has(p)).reduce((a, [, , rss]) => a + rss, 0) / 1024;
}

/** The node process doing the serving (the deepest descendant named node), for its own RSS. */
function serverRssMiB(pid) {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,rss=,comm='], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/));
  let cur = pid;
  for (;;) {
    const child = rows.find((r) => Number(r[1]) === cur && r[3] !== 'esbuild');
    if (!child) break;
    cur = Number(child[0]);
  }
  return Number(rows.find((r) => Number(r[0]) === cur)[2]) / 1024;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (let i = 0; i < runs; i++) {
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-startup-'));
  const t0 = performance.now();
  const proc = spawn(command[0], command.slice(1), {
    cwd: ROOT, detached: true, stdio: 'ignore',
    env: { ...process.env, WHARF_DATA: data, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' },
  });
  let ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) {
        ms = performance.now() - t0;
        break;
      }
    } catch {}
    if (performance.now() - t0 > 30_000) throw new Error('not healthy within 30 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 3000));
  const tree = treeRssMiB(proc.pid);
  const server = serverRssMiB(proc.pid);
  process.kill(-proc.pid, 'SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  fs.rmSync(data, { recursive: true, force: true });
  results.push({ ms, server, tree });
  console.log(`run ${i + 1}: healthy after ${ms.toFixed(0)} ms, idle RSS ${server.toFixed(1)} MiB (process tree ${tree.toFixed(1)} MiB)`);
}
console.log(`median of ${runs}: healthy after ${median(results.map((r) => r.ms)).toFixed(0)} ms, idle RSS ${median(results.map((r) => r.server)).toFixed(1)} MiB (tree ${median(results.map((r) => r.tree)).toFixed(1)} MiB) — ${command.join(' ')}`);
