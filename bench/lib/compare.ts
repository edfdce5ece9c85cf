// Wharf against a static-file ceiling (nginx serving the same documents saved to disk), phase by phase: both
// servers up, measured alternately (Wharf, nginx, Wharf, nginx …, one loaded at a time) so that whatever else
// the shared machine does hits both alike; median of the repeats by rps; machine busyness recorded per phase.
import os from 'node:os';
import { measure, type LoadResult } from './load.ts';
import { machineBusyOver } from './proc.ts';

export interface Target {
  name: string;
  origin: string;
  /** The server's pid, or several (nodes and the nginx in front): their CPU seconds add up. */
  pid: number | number[];
  /** This server's own paths for a phase, when they differ from the phase's (a registry under a prefix). */
  paths?: string[];
}

export interface Phase {
  name: string;
  /** Paths for each server (the same document at the same path on both, normally). */
  paths: string[];
  headers?: Record<string, string>;
}

export interface PhaseResult {
  phase: string;
  /** Median run by rps, per server name. */
  by: Record<string, LoadResult>;
  /** Every run, per server name. */
  runs: Record<string, LoadResult[]>;
}

export interface CompareOptions {
  connections: number;
  warmup: number;
  seconds: number;
  repeat: number;
  /** Before each measurement wait up to this many seconds for the machine to be idle (<= 10% busy); 0 = off. */
  waitIdle: number;
  log: (s: string) => void;
}

/** Waits (at most `seconds`) until the last second was at most 10% busy: our servers are idle in between. */
export async function waitIdle(seconds: number, log: (s: string) => void): Promise<number> {
  if (!seconds) return NaN;
  const deadline = Date.now() + seconds * 1000;
  let busy = await machineBusyOver(1000);
  if (busy <= 0.1) return busy;
  log(`  (machine ${(busy * 100).toFixed(0)}% busy with other work: waiting up to ${seconds} s for it to go idle)`);
  while (busy > 0.1 && Date.now() < deadline) busy = await machineBusyOver(1000);
  log(`  (${busy <= 0.1 ? 'idle now' : `still ${(busy * 100).toFixed(0)}% busy, measuring anyway`})`);
  return busy;
}

export async function comparePhase(phase: Phase, servers: Target[], o: CompareOptions): Promise<PhaseResult> {
  const runs: Record<string, LoadResult[]> = {};
  for (let k = 0; k < o.repeat; k++) {
    for (const s of servers) {
      await waitIdle(o.waitIdle, o.log);
      const r = await measure({ origin: s.origin, paths: s.paths ?? phase.paths, headers: phase.headers ?? {}, connections: o.connections, warmupSeconds: o.warmup, seconds: o.seconds, pid: s.pid });
      o.log(`${phase.name} on ${s.name} (${k + 1}/${o.repeat}): ${r.rps.toFixed(0)} rps, p99 ${r.p99} ms, ${r.reqPerCpuSecond.toFixed(0)} req/CPU-s, machine ${(r.machineBusy * 100).toFixed(0)}% busy, other processes ${r.otherCpuSeconds.toFixed(1)} CPU-s`);
      if (r.non2xx) throw new Error(`${phase.name} on ${s.name}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)})`);
      // Errors are timeouts (30 s) or resets: a figure, reported in the table, not a reason to stop.
      if (r.errors) o.log(`  WARNING: ${r.errors} errors or timeouts`);
      (runs[s.name] ??= []).push(r);
    }
  }
  const by: Record<string, LoadResult> = {};
  for (const [name, rs] of Object.entries(runs)) by[name] = [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
  return { phase: phase.name, by, runs };
}

const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');

/** `| phase | Wharf | ceiling | ratio |` rows: rps, p99 and req per server CPU-second in each cell. */
export function loadRows(results: PhaseResult[], a = 'wharf', b = 'nginx'): string[] {
  return results.map((r) => {
    const x = r.by[a];
    const y = r.by[b];
    const cell = (l: LoadResult) => `${n0(l.rps)} rps, p99 ${l.p99} ms, ${n0(l.reqPerCpuSecond)} req/CPU-s${l.errors ? `, ${l.errors} errors/timeouts` : ''}`;
    return `| ${r.phase} | ${cell(x)} | ${cell(y)} | ${(x.rps / y.rps).toFixed(2)}× | ${(x.reqPerCpuSecond / y.reqPerCpuSecond).toFixed(2)}× |`;
  });
}

/** Per phase and server: how busy the machine was, and who used the CPU (the noise record). */
export function busyLines(results: PhaseResult[]): string[] {
  return results.map((r) => {
    const parts = Object.entries(r.runs).map(
      ([name, rs]) =>
        `${name} ${rs.map((l) => `${(l.machineBusy * 100).toFixed(0)}% (server ${l.cpuSeconds.toFixed(1)}, loadgen ${l.loadgenCpuSeconds.toFixed(1)}, other ${l.otherCpuSeconds.toFixed(1)} CPU-s)`).join(' / ')}`,
    );
    return `- ${r.phase}: machine busy ${parts.join('; ')}`;
  });
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} vCPU (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `fn` over `items` with `workers` in parallel (each worker takes the next item). */
export async function pool<T>(items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
