// Wharf, started the way `npm start` starts it (scripts/build.mjs, then node dist/main.js; no npm wrapper), plus its
// CLI. A checkout from before the build step (bench/limiter.ts --base=DIR) runs its sources with tsx, as it did.
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './http.ts';
import { runNode, startServer, type ServerProcess } from './proc.ts';

export function wharfEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  return { ...process.env, WHARF_PORT: String(port), WHARF_DATA: dataDir, WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' };
}

/** `cpuProfDir`: run the server with --cpu-prof; node writes the profile there when the server exits. */
/** `extraEnv`: more settings for the server (the S3 store, X-Accel-Redirect…). */
export function startWharf(root: string, dataDir: string, port: number, logDir: string, cpuProfDir?: string, extraEnv: NodeJS.ProcessEnv = {}): ServerProcess {
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const compiled = fs.existsSync(path.join(root, 'scripts/build.mjs'));
  if (compiled) runNode(['scripts/build.mjs'], { cwd: root, env: process.env });
  const main = compiled ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  return startServer('wharf', [...prof, ...main], { cwd: root, env: { ...wharfEnv(dataDir, port), ...extraEnv }, logFile: path.join(logDir, 'wharf.log') });
}

export async function waitWharf(origin: string, proc: ServerProcess) {
  await waitFor(`${origin}/healthz`, 200, 60_000, proc.alive);
}

/** `wharf user create bench --admin` and `wharf token create bench --scopes …`; the CLI prints only the token. */
export function wharfToken(root: string, dataDir: string, port: number, user: string): string {
  const env = wharfEnv(dataDir, port);
  runNode(['bin/wharf.mjs', 'user', 'create', user, '--admin'], { cwd: root, env });
  const out = runNode(['bin/wharf.mjs', 'token', 'create', user, '--scopes', 'read:packages,write:packages,delete:packages'], { cwd: root, env }).trim();
  const token = out.split('\n').pop()!.trim();
  if (!token || /\s/.test(token)) throw new Error(`wharf token create printed ${JSON.stringify(out)}`);
  return token;
}
