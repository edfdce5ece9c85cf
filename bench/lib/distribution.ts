// The CNCF distribution registry (Debian's `docker-registry` 2.8, `apt-get install docker-registry`) as a benchmark
// peer: filesystem storage (or its own S3 driver), deletes enabled, no auth, bound to 127.0.0.1. The binary is spawned directly (no shell
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
export function distributionConfig(dataDir: string, port: number, s3?: DistributionS3, opts: DistributionOptions = {}): string {
  const storage = s3
    ? [
        '  s3:',
        `    accesskey: ${JSON.stringify(s3.accessKey)}`,
        `    secretkey: ${JSON.stringify(s3.secretKey)}`,
        `    region: ${JSON.stringify(s3.region)}`,
        `    regionendpoint: ${JSON.stringify(s3.endpoint)}`,
        `    bucket: ${JSON.stringify(s3.bucket)}`,
        `    rootdirectory: ${JSON.stringify(s3.rootDirectory)}`,
        `    secure: ${s3.endpoint.startsWith('https:')}`,
        '    v4auth: true',
        // distribution answers blob GETs with a redirect to a presigned S3 URL unless this says `disable: true`.
        '  redirect:',
        `    disable: ${!s3.redirect}`,
      ]
    : ['  filesystem:', `    rootdirectory: ${JSON.stringify(dataDir)}`];
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...storage,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...(opts.htpasswd ? ['auth:', '  htpasswd:', '    realm: distribution', `    path: ${JSON.stringify(opts.htpasswd)}`] : []),
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(opts.proxyOf ? ['proxy:', `  remoteurl: ${JSON.stringify(opts.proxyOf)}`] : []),
    '',
  ].join('\n');
}

export interface DistributionOptions {
  /** distribution's own Basic auth: the path of an htpasswd file (bcrypt entries only, as distribution reads them). */
  htpasswd?: string;
  /** Run as a pull-through cache of that registry (`proxy: remoteurl:`), as bench/proxy.ts does. */
  proxyOf?: string;
}

/** distribution's own S3 driver (the bucket must exist). */
export interface DistributionS3 {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** A key prefix, starting with "/". */
  rootDirectory: string;
  redirect: boolean;
}

export function startDistribution(workDir: string, port: number, s3?: DistributionS3, opts: DistributionOptions = {}): DistributionProcess {
  const dataDir = path.join(workDir, 'distribution-data');
  fs.mkdirSync(dataDir, { recursive: true });
  const config = path.join(workDir, 'distribution.yml');
  fs.writeFileSync(config, distributionConfig(dataDir, port, s3, opts));
  const logFile = path.join(workDir, 'distribution.log');
  const log = fs.openSync(logFile, 'w');
  // With AWS_CA_BUNDLE set (as on these machines) distribution 2.8's S3 driver panics (LoadCustomCABundleError).
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child = spawn(DISTRIBUTION_BIN, ['serve', config], { cwd: workDir, env, stdio: ['ignore', log, log] });
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

/** Waits until /v2/ answers (401 when the registry asks for credentials). */
export async function waitDistribution(origin: string, proc: DistributionProcess, status = 200) {
  await waitFor(`${origin}/v2/`, status, 30_000, proc.alive);
}
