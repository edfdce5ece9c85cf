// A Wharf fleet for tests: scripts/fleet.sh up (PostgreSQL database, S3 prefix or shared blob folder, N nodes,
// nginx from deploy/nginx.conf with a self-signed certificate), so the tests run the very script and nginx
// configuration operators use. In CI a missing nginx, PostgreSQL or S3 is a failure; elsewhere the fleet suites
// are skipped with a message saying what is missing.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { runCli, ROOT, tempDir } from './wharf.ts';

export interface FleetOptions {
  nodes?: number;
  blobStore?: 's3' | 'fs';
  /** s3: WHARF_S3_REDIRECT=on. */
  s3Redirect?: boolean;
  /** s3: TLS in front of the S3 endpoint (FLEET_S3_TLS=on), for clients that refuse a redirect from https to http. */
  s3Tls?: boolean;
  /** fs: X-Accel-Redirect through nginx (default on). */
  accel?: boolean;
  /** Extra WHARF_* settings for every node. */
  env?: Record<string, string>;
}

export interface Fleet {
  /** nginx's https URL. */
  url: string;
  port: number;
  /** The self-signed certificate clients must trust. */
  ca: string;
  caPem: Buffer;
  dir: string;
  /** The settings the nodes run with (database, blob store), for the CLI and direct S3 checks. */
  env: Record<string, string>;
  nodePorts: number[];
  /** Process id of node i (0-based). */
  pid(i: number): number;
  cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Creates a user and a personal token through the CLI; returns the token. */
  userWithToken(name: string, scopes?: string): Promise<string>;
  /** nginx's access log lines so far (format `wharf` of deploy/nginx.conf). */
  accessLog(): string[];
  /** Waits until nginx has written the log lines of the requests answered so far (it logs after responding). */
  settle(): Promise<void>;
  /** Log of node i. */
  nodeLog(i: number): string;
  down(): Promise<void>;
}

/** Why the fleet cannot run here (nothing missing: null). In CI anything missing throws. */
export function fleetUnavailable(opts: { s3?: boolean } = {}): string | null {
  const missing: string[] = [];
  if (spawnSync('nginx', ['-v']).error) missing.push('nginx (apt-get install -y nginx)');
  if (!process.env.WHARF_TEST_DATABASE_URL) missing.push('PostgreSQL (WHARF_TEST_DATABASE_URL)');
  if (opts.s3 !== false && !process.env.WHARF_TEST_S3_ENDPOINT) missing.push('S3 (WHARF_TEST_S3_ENDPOINT: eval "$(../shared/tools/s3-server.sh)" and export the WHARF_TEST_S3_* names)');
  if (!missing.length) return null;
  if (process.env.CI === 'true') throw new Error(`CI=true but the fleet cannot run: missing ${missing.join(', ')}`);
  return `fleet suite skipped: missing ${missing.join(', ')}`;
}

function parseEnvFile(file: string): Record<string, string> {
  // The file is written with printf %q by fleet.sh: let bash read it back.
  const r = spawnSync('bash', ['-c', `set -a; . "$1"; env -0`, 'bash', file], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const kv of r.stdout.split('\0')) {
    const i = kv.indexOf('=');
    const k = kv.slice(0, i);
    if (/^(FLEET_|WHARF_|AWS_|NODE_EXTRA_CA_CERTS$)/.test(k)) env[k] = kv.slice(i + 1);
  }
  return env;
}

function runScript(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'scripts/fleet.sh'), args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** Starts a fleet with scripts/fleet.sh up; `down()` stops it. */
export async function startFleet(opts: FleetOptions = {}): Promise<Fleet> {
  const dir = path.join(tempDir('wharf-fleet-'), 'fleet');
  const e = process.env;
  const env: Record<string, string> = {
    FLEET_NODES: String(opts.nodes ?? 2),
    FLEET_BLOB_STORE: opts.blobStore ?? 's3',
    FLEET_S3_REDIRECT: opts.s3Redirect ? 'on' : 'off',
    FLEET_S3_TLS: opts.s3Tls ? 'on' : 'off',
    FLEET_ACCEL: opts.accel === false ? 'off' : 'on',
    FLEET_PG_URL: e.WHARF_TEST_DATABASE_URL ?? '',
    S3_ENDPOINT: e.WHARF_TEST_S3_ENDPOINT ?? '',
    S3_ACCESS_KEY_ID: e.WHARF_TEST_S3_ACCESS_KEY_ID ?? '',
    S3_SECRET_ACCESS_KEY: e.WHARF_TEST_S3_SECRET_ACCESS_KEY ?? '',
    S3_REGION: e.WHARF_TEST_S3_REGION || 'us-east-1',
    WHARF_LOG_LEVEL: 'info',
    WHARF_DOWNLOAD_FLUSH_MS: '100',
    ...opts.env,
  };
  const r = await runScript(['up', dir], env);
  if (r.code !== 0) throw new Error(`scripts/fleet.sh up failed (${r.code}):\n${r.out}`);
  const state = parseEnvFile(path.join(dir, 'fleet.env'));
  const url = state.FLEET_URL;
  const cliEnv: Record<string, string> = { WHARF_DATA: tempDir('wharf-fleet-cli-'), WHARF_LOG_LEVEL: 'warn' };
  for (const [k, v] of Object.entries(state)) if (!k.startsWith('FLEET_')) cliEnv[k] = v;
  const fleet: Fleet = {
    url,
    port: Number(new URL(url).port),
    ca: state.FLEET_CA,
    caPem: fs.readFileSync(state.FLEET_CA),
    dir,
    env: state,
    nodePorts: state.FLEET_NODE_PORTS.split(' ').map(Number),
    pid: (i) => Number(fs.readFileSync(path.join(dir, `node${i + 1}.pid`), 'utf8')),
    cli: (args, stdin) => runCli(cliEnv, args, stdin),
    async userWithToken(name, scopes = 'read:packages,write:packages,delete:packages') {
      const u = await fleet.cli(['user', 'create', name]);
      if (u.code !== 0) throw new Error(`wharf user create: ${u.stderr}`);
      const t = await fleet.cli(['token', 'create', name, '--scopes', scopes]);
      if (t.code !== 0) throw new Error(`wharf token create: ${t.stderr}`);
      return t.stdout.trim();
    },
    accessLog: () => fs.readFileSync(path.join(dir, 'nginx/logs/access.log'), 'utf8').split('\n').filter(Boolean),
    async settle() {
      const size = () => fs.statSync(path.join(dir, 'nginx/logs/access.log')).size;
      for (let last = -1, now = size(); now !== last; last = now, now = size()) await new Promise((r) => setTimeout(r, 150));
    },
    nodeLog: (i) => fs.readFileSync(path.join(dir, `node${i + 1}.log`), 'utf8'),
    async down() {
      const d = await runScript(['down', dir], {});
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      fs.rmSync(cliEnv.WHARF_DATA, { recursive: true, force: true });
      if (d.code !== 0) throw new Error(`scripts/fleet.sh down failed (${d.code}):\n${d.out}`);
    },
  };
  return fleet;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTPS request trusting the fleet's certificate (no redirects followed). */
export function request(fleet: Fleet, method: string, url: string, opts: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url, fleet.url);
    const req = https.request(u, { method, headers: opts.headers, ca: fleet.caPem }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
