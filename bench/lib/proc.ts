// Child server processes and what /proc says about them: CPU seconds (utime+stime), RSS, peak RSS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { sleep } from './http.ts';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 on every Linux this runs on */
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces and parentheses) start at field 3 (state):
  // utime is field 14, stime 15, cutime 16, cstime 17.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds of a server: utime + stime of its whole thread group, plus what its reaped children used
 * (cutime + cstime), plus utime + stime of its live descendants (tsx may run an esbuild service, for example).
 * Several pids (a node and the nginx in front of it): the sum.
 */
export function cpuSeconds(pid: number | number[]): number {
  if (Array.isArray(pid)) return pid.reduce((a, p) => a + cpuSeconds(p), 0);
  const f = statFields(pid);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const kid of descendants(pid)) {
    try {
      const k = statFields(kid);
      ticks += Number(k[11]) + Number(k[12]);
    } catch {
      /* exited meanwhile */
    }
  }
  return ticks / clockTicks;
}

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM). */
export function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Resets VmHWM to the current RSS (Linux: `echo 5 > /proc/PID/clear_refs`); false if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
export function machineJiffies(): { busy: number; total: number; busySeconds: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4]; // idle + iowait
  return { busy: total - idle, total, busySeconds: (total - idle) / clockTicks };
}

/** How busy the machine is over `ms` (0..1 of all cores): other work on the box skews every figure. */
export async function machineBusyOver(ms: number): Promise<number> {
  const a = machineJiffies();
  await sleep(ms);
  const b = machineJiffies();
  return (b.busy - a.busy) / Math.max(1, b.total - a.total);
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak and the number of samples. */
export function sampleRss(pid: number, everyMs = 50) {
  let peak = 0;
  let samples = 0;
  const tick = () => {
    try {
      const rss = statusBytes(pid, 'VmRSS');
      samples++;
      if (rss > peak) peak = rss;
    } catch {
      /* process gone */
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return { peak, samples };
    },
  };
}

const children = new Set<ServerProcess>();

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  alive(): boolean;
  /** How it ended, for messages: "exit code 1", "signal SIGKILL", or "running". */
  exitInfo(): string;
  stop(): Promise<void>;
}

/**
 * Starts a server as a direct child (node itself, no npm/npx wrapper in between, so `pid` is the process that
 * does the work) and checks that /proc/PID/exe really is node.
 */
export function startServer(name: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): ServerProcess {
  const log = fs.openSync(opts.logFile, 'w');
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (!child.pid) throw new Error(`${name}: could not spawn`);
  let exited = false;
  let how = 'running';
  let stopping = false;
  child.on('exit', (code, signal) => {
    exited = true;
    how = signal ? `killed by ${signal}${stopping ? '' : ', not sent by the bench'}` : `exit code ${code}`;
  });
  const exe = fs.readlinkSync(`/proc/${child.pid}/exe`);
  if (exe !== fs.realpathSync(process.execPath)) throw new Error(`${name}: pid ${child.pid} is ${exe}, not node`);
  const proc: ServerProcess = {
    name,
    child,
    pid: child.pid,
    logFile: opts.logFile,
    alive: () => !exited,
    exitInfo: () => how,
    async stop() {
      children.delete(proc);
      if (exited) return;
      stopping = true;
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited) {
        child.kill('SIGKILL');
        for (let i = 0; i < 20 && !exited; i++) await sleep(100);
      }
    },
  };
  children.add(proc);
  return proc;
}

/** Direct children of a process (from every thread's children list). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const c = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** All descendants, breadth first (bounded: a server has a handful at most). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = childPids(pid);
  while (queue.length && out.length < 1000) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...childPids(p));
  }
  return out;
}

/** What a process is, for messages: its executable and command line. */
export function describe(pid: number): string {
  try {
    const exe = fs.readlinkSync(`/proc/${pid}/exe`);
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return `${pid} ${exe} (${cmd.slice(0, 120)})`;
  } catch {
    return `${pid} (gone)`;
  }
}

export async function stopAll() {
  await Promise.all([...children].map((c) => c.stop()));
}

/** Last lines of a server log, for error messages. */
export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function runNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): string {
  return execFileSync(process.execPath, args, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
}
