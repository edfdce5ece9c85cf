// One load phase: autocannon at a fixed concurrency against random paths, after a warm-up, with the server's CPU
// seconds (from /proc) taken around the measured part only.
import autocannon from 'autocannon';
import { cpuSeconds, machineJiffies } from './proc.ts';

export interface LoadSpec {
  /** Origin, e.g. http://127.0.0.1:4873 */
  origin: string;
  /** Paths to pick from at random (already URL-escaped). */
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** The server's pid, or several (a node and nginx in front): their CPU seconds are added up. */
  pid: number | number[];
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  bytesPerSecond: number;
  errors: number;
  non2xx: number;
  cpuSeconds: number;
  reqPerCpuSecond: number;
  /** CPU seconds of this process (autocannon runs in it) during the measured part. */
  loadgenCpuSeconds: number;
  /** Share of the machine's CPU time (all cores) that was busy during the measured part. */
  machineBusy: number;
  /** CPU seconds used by everything else on the machine (not the server, not the load generator). */
  otherCpuSeconds: number;
  statusCodes: Record<string, number>;
}

function run(spec: LoadSpec, seconds: number) {
  const { paths } = spec;
  return autocannon({
    url: spec.origin,
    connections: spec.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 30,
    headers: spec.headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)] }),
      },
    ],
  });
}

export async function measure(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds);
  const cpu0 = cpuSeconds(spec.pid);
  const own0 = process.cpuUsage();
  const m0 = machineJiffies();
  const r = await run(spec, spec.seconds);
  const cpu = cpuSeconds(spec.pid) - cpu0;
  const own = process.cpuUsage(own0);
  const m1 = machineJiffies();
  const requests = r.requests.total;
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count;
  return {
    requests,
    rps: requests / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bytesPerSecond: r.throughput.total / r.duration,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    cpuSeconds: cpu,
    reqPerCpuSecond: cpu > 0 ? requests / cpu : NaN,
    loadgenCpuSeconds: (own.user + own.system) / 1e6,
    machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total),
    otherCpuSeconds: Math.max(0, m1.busySeconds - m0.busySeconds - cpu - (own.user + own.system) / 1e6),
    statusCodes,
  };
}
