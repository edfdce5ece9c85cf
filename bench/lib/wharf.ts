// Wharf, started the way `npm start` starts it (node --import tsx src/main.ts, no npm wrapper), plus its CLI.
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
  return startServer('wharf', [...prof, '--import', 'tsx', 'src/main.ts'], { cwd: root, env: { ...wharfEnv(dataDir, port), ...extraEnv }, logFile: path.join(logDir, 'wharf.log') });
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
