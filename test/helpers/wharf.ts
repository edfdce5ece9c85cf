// Starting Wharf for tests: in-process on a random port (fast, for protocol and API suites on both databases),
// or as a real child process (`node dist/main.js`, as `npm start` runs it) for end-to-end tests with real clients.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { systemActor } from '../../src/core/auth/actor.ts';
import { SCOPES } from '../../src/core/auth/tokens.ts';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { createDatabase, type TestDatabase } from './databases.ts';

/** Polls `check` until it holds (another node hears of a change through NOTIFY, a few ms later). */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 3000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`not seen within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every scope a personal token can have: a person's all-purpose token, for tests that manage as well as publish. */
export const EVERY_SCOPE = SCOPES.join(',');

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  core: Core;
  app: FastifyInstance;
  db: TestDatabase;
  /** Runs a `wharf` CLI command against the same database. */
  cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Creates a user and a token with the given scopes; returns the token. */
  userWithToken(name: string, scopes?: string, opts?: { admin?: boolean; password?: string }): Promise<string>;
  /** Stops the server; `keep` leaves its data and database for a restart (`startWharf({ reuse })`). */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

export function tempDir(prefix = 'wharf-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

let built = false;
/**
 * What `npm start` runs, as [command, ...args]: `node dist/main.js`, after building it from src/ as its prestart
 * script does (scripts/build.mjs; nothing to do when dist/ is up to date).
 */
export function serverCommand(): string[] {
  if (!built) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scripts/build.mjs failed:\n${r.stderr}`);
    built = true;
  }
  return [process.execPath, path.join(ROOT, 'dist/main.js')];
}

/** Runs `command` to completion in `cwd` with exactly `env`, `stdin` as its input; its exit code and output. */
export function runProcess(command: string[], o: { cwd?: string; env: Record<string, string | undefined>; stdin?: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A command that exits without reading its input closes the pipe: EPIPE there is no failure of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(o.stdin ?? '');
  });
}

/** Runs bin/wharf.mjs with the given environment. */
export function runCli(env: Record<string, string>, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess([process.execPath, path.join(ROOT, 'bin/wharf.mjs'), ...args], { env: { ...process.env, ...env }, stdin });
}

/** The error code of a new TCP connection to 127.0.0.1:`port` (null when it connects). */
export function connectError(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('connect', () => {
      sock.destroy();
      resolve(null);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Wharf in this process, on a random port, with a temp data dir and a fresh database of `dialect`. */
export async function startWharf(opts: { dialect?: 'sqlite' | 'postgres'; env?: Record<string, string>; reuse?: Pick<TestServer, 'dataDir' | 'db'> } = {}): Promise<TestServer> {
  const dataDir = opts.reuse?.dataDir ?? tempDir();
  const db = opts.reuse?.db ?? (await createDatabase(opts.dialect ?? 'sqlite', dataDir));
  const env = { WHARF_DATA: dataDir, WHARF_DATABASE_URL: db.url, WHARF_LOG_LEVEL: 'silent', WHARF_PORT: '0', WHARF_DOWNLOAD_FLUSH_MS: '100', ...opts.env };
  const config = loadConfig(env);
  const core = await openCore(config);
  const app = await buildApp(core);
  core.webhooks.start(100);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;
  const server: TestServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    core,
    app,
    db,
    cli: (args, stdin) => runCli(env, args, stdin),
    async userWithToken(name, scopes = 'read:packages,write:packages,delete:packages', o = {}) {
      await core.identity.createUser(systemActor, { name, isAdmin: o.admin, password: o.password ?? null, email: `${name}@example.com` });
      return (await core.tokens.createPersonal(systemActor, name, { scopes })).token;
    },
    async stop(o = {}) {
      await app.close();
      await core.close();
      if (o.keep) return;
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface ChildServer {
  url: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  proc: ChildProcess;
  /** What the server wrote on stdout and stderr so far. */
  output(): string;
  cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Wharf as a separate process, started as `npm start` does, with the embedded defaults under a temp WHARF_DATA (or extraEnv's). */
export async function spawnWharf(extraEnv: Record<string, string> = {}): Promise<ChildServer> {
  const dataDir = extraEnv.WHARF_DATA ?? tempDir();
  const port = await freePort();
  const env = { WHARF_DATA: dataDir, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn', WHARF_DOWNLOAD_FLUSH_MS: '100', ...extraEnv };
  const [cmd, ...args] = serverCommand();
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`wharf exited early:\n${log}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`wharf did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    dataDir,
    env,
    proc,
    output: () => log,
    cli: (args, stdin) => runCli(env, args, stdin),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
