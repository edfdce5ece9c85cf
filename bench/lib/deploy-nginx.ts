// nginx in front of Wharf nodes, from deploy/nginx.conf itself (the file operators install), rendered the way
// scripts/fleet.sh renders it: each line ending in "# @NAME" gets its value, "# @node" lines become one line per
// node. The bench listens on plain HTTP (no `ssl` on the listen line; the certificate lines stay and point at a
// throwaway self-signed pair), keeps the access log off as the peers do, and runs nginx in the foreground
// (`daemon off`) so that the spawned pid is the master and its workers are its children: cpuSeconds(pid) counts them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NGINX_BIN } from './nginx.ts';
import { sleep } from './http.ts';

export interface DeployNginx {
  proc: ChildProcess;
  pid: number;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export function renderDeployConf(root: string, values: Record<string, string>, nodes: string[]): string {
  const src = fs.readFileSync(path.join(root, 'deploy', 'nginx.conf'), 'utf8');
  const used = new Set<string>();
  let nodeDone = false;
  const lines = src.split('\n').flatMap((line) => {
    const m = /^(\s*)(\S+)\s+(.*?);(\s*)#\s*@([a-z_]+)\s*$/.exec(line);
    if (!m) return [line];
    const [, indent, directive, value, , name] = m;
    if (name === 'node') {
      if (nodeDone) return [];
      nodeDone = true;
      const opts = value.split(/\s+/).slice(1).join(' ');
      return nodes.map((n) => `${indent}${directive} ${n}${opts ? ` ${opts}` : ''}; # @node`);
    }
    if (!(name in values)) return [line];
    used.add(name);
    return [`${indent}${directive} ${values[name]}; # @${name}`];
  });
  for (const k of Object.keys(values)) if (!used.has(k)) throw new Error(`deploy/nginx.conf has no "# @${k}" line`);
  return lines.join('\n');
}

/** Starts nginx from deploy/nginx.conf on 127.0.0.1:`port` (plain HTTP) over `nodes` (HOST:PORT), blobs in `blobFolder`. */
export async function startDeployNginx(root: string, dir: string, port: number, nodes: string[], blobFolder: string): Promise<DeployNginx> {
  if (!NGINX_BIN) throw new Error('nginx is not installed: apt-get install -y nginx');
  for (const d of ['logs', 'body', 'proxy', 'tls']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const cert = path.join(dir, 'tls', 'cert.pem');
  const key = path.join(dir, 'tls', 'key.pem');
  if (!fs.existsSync(cert)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  }
  const conf = renderDeployConf(
    root,
    {
      user: os.userInfo().username,
      pid: path.join(dir, 'nginx.pid'),
      error_log: `${path.join(dir, 'logs', 'error.log')} warn`,
      client_body_temp_path: path.join(dir, 'body'),
      proxy_temp_path: path.join(dir, 'proxy'),
      access_log: 'off',
      listen: `127.0.0.1:${port}`,
      ssl_certificate: cert,
      ssl_certificate_key: key,
      blob_folder: blobFolder.endsWith('/') ? blobFolder : `${blobFolder}/`,
    },
    nodes,
  );
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const err = fs.openSync(path.join(dir, 'logs', 'stderr.log'), 'w');
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', err] });
  fs.closeSync(err);
  if (!proc.pid) throw new Error('nginx: could not spawn');
  const pid = proc.pid;
  let exited = false;
  proc.on('exit', () => (exited = true));
  // Up when the workers are there and the port answers.
  for (let i = 0; i < 100; i++) {
    if (exited) throw new Error(`nginx exited: ${fs.readFileSync(path.join(dir, 'logs', 'stderr.log'), 'utf8')}`);
    if (fs.existsSync(path.join(dir, 'nginx.pid'))) break;
    await sleep(50);
  }
  return {
    proc,
    pid,
    port,
    dir,
    async stop() {
      if (exited) return;
      proc.kill('SIGQUIT');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited) proc.kill('SIGKILL');
    },
  };
}
