// nginx serving a directory of files (the ceiling for small GETs on this machine): one worker, no master process
// (so the spawned pid is the process doing the work), access log off, sendfile on, keep-alive without a limit.
// `extra` goes inside the server block (locations that map a query string onto a file, for example).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request, sleep } from './http.ts';

export interface NginxProcess {
  proc: ChildProcess;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

export const NGINX_BIN = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((b) => fs.existsSync(b));

export function startNginx(opts: { dir: string; root: string; port: number; types?: string; defaultType?: string; extra?: string }): NginxProcess {
  if (!NGINX_BIN) throw new Error('nginx is not installed: apt-get install -y nginx-light');
  const { dir } = opts;
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  types { ${opts.types ?? ''} }
  default_type ${opts.defaultType ?? 'application/octet-stream'};
  server {
    listen 127.0.0.1:${opts.port};
    root ${opts.root};
${opts.extra ?? ''}
  }
}
`,
  );
  // `nginx -v` prints to stderr.
  const version = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '') || 'nginx';
  const proc = spawn(NGINX_BIN, ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!proc.pid) throw new Error('nginx: could not spawn');
  return {
    proc,
    pid: proc.pid,
    version,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

export async function waitOk(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await request('GET', url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200`);
}
