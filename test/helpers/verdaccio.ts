// Verdaccio 6.8 as a real registry for the e2e tests (an upstream to proxy, a target to promote to): installed into
// bench/.peers/verdaccio when missing, as the benchmark does (a failed install fails the test), started on a free
// port with its own storage in a temporary directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureVerdaccio, VERDACCIO_VERSION } from '../../bench/lib/verdaccio.ts';
import { cleanEnv } from '../e2e/helpers-npm.ts';
import { freePort, ROOT, tempDir } from './wharf.ts';

export interface Verdaccio {
  origin: string;
  stop(): Promise<void>;
}

/** Verdaccio 6.8 on a free port: anyone reads, a signed-in user publishes, no uplinks. */
export async function startVerdaccio(prefix = 'wharf-verdaccio-'): Promise<Verdaccio> {
  const bin = ensureVerdaccio(path.join(ROOT, 'bench/.peers/verdaccio'), (s) => console.log(s));
  const work = tempDir(prefix);
  const port = await freePort();
  const config = path.join(work, 'config.yaml');
  fs.writeFileSync(config, [
    `storage: ${JSON.stringify(path.join(work, 'storage'))}`,
    `auth: { htpasswd: { file: ${JSON.stringify(path.join(work, 'htpasswd'))}, max_users: 100 } }`,
    'security: { api: { jwt: { sign: { expiresIn: 7d } } }, web: { sign: { expiresIn: 7d } } }',
    'uplinks: {}',
    'packages:',
    "  '@*/*': { access: $all, publish: $authenticated }",
    "  '**': { access: $all, publish: $authenticated }",
    'log: { type: stdout, format: pretty, level: warn }',
    `listen: 127.0.0.1:${port}`,
    '',
  ].join('\n'));
  const proc = spawn(process.execPath, [bin, '--config', config], { cwd: work, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const origin = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 60_000; ; ) {
    if (proc.exitCode !== null) throw new Error(`verdaccio ${VERDACCIO_VERSION} exited:\n${log}`);
    if (await fetch(`${origin}/-/ping`).then((r) => r.ok, () => false)) break;
    if (Date.now() > until) throw new Error(`verdaccio did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    origin,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Creates a Verdaccio user (201 or the test fails) and returns its JWT; the password works for Basic too. */
export async function verdaccioUser(origin: string, name: string, password: string): Promise<string> {
  const r = await fetch(`${origin}/-/user/org.couchdb.user:${name}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: new Date().toISOString() }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  return ((await r.json()) as { token: string }).token;
}
