// The CNCF distribution registry (Debian's `docker-registry` 2.8, `apt-get install docker-registry`) as a benchmark
// peer: filesystem storage, deletes enabled, no auth, bound to 127.0.0.1. The binary is spawned directly (no shell
// or wrapper in between), so the child's pid is the process that does the work.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep, waitFor } from './http.ts';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export interface DistributionProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** `docker-registry --version`, or undefined when it is not installed. */
export function distributionVersion(): string | undefined {
  try {
    return execFileSync(DISTRIBUTION_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The config: filesystem storage under `dataDir`, `delete.enabled: true`, the in-memory blob descriptor cache
 * (as Debian's packaged config has), no access log (Wharf runs at log level warn too), no auth.
 */
export function distributionConfig(dataDir: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

export function startDistribution(workDir: string, port: number): DistributionProcess {
  const dataDir = path.join(workDir, 'distribution-data');
  fs.mkdirSync(dataDir, { recursive: true });
  const config = path.join(workDir, 'distribution.yml');
  fs.writeFileSync(config, distributionConfig(dataDir, port));
  const logFile = path.join(workDir, 'distribution.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(DISTRIBUTION_BIN, ['serve', config], { cwd: workDir, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (!child.pid) throw new Error('distribution: could not spawn');
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const exe = fs.readlinkSync(`/proc/${child.pid}/exe`);
  if (exe !== fs.realpathSync(DISTRIBUTION_BIN)) throw new Error(`distribution: pid ${child.pid} is ${exe}, not ${DISTRIBUTION_BIN}`);
  return {
    name: 'distribution',
    child,
    pid: child.pid,
    logFile,
    alive: () => !exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited) {
        child.kill('SIGKILL');
        for (let i = 0; i < 20 && !exited; i++) await sleep(100);
      }
    },
  };
}

export async function waitDistribution(origin: string, proc: DistributionProcess) {
  await waitFor(`${origin}/v2/`, 200, 30_000, proc.alive);
}
