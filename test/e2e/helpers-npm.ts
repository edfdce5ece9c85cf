// Shared helpers for the end-to-end tests that drive the real npm, pnpm and yarn clients against a Wharf
// started as a child process. Every client gets its own HOME, .npmrc and caches, and an environment with no
// npm_* variables inherited from the runner (`npm test` sets npm_config_* that would override the .npmrc).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir, type ChildServer } from '../helpers/wharf.ts';

export const PNPM = path.join(ROOT, 'node_modules/pnpm/bin/pnpm.cjs');
export const YARN = path.join(ROOT, 'node_modules/yarn/bin/yarn.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertions on what the person sees. */
  output: string;
}

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
}

/** Runs a command and collects its output; a command that cannot be started (missing client) rejects. */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (d) => ((stdout += d), (output += d)));
    child.stderr.on('data', (d) => ((stderr += d), (output += d)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out after ${opts.timeoutMs ?? 90_000} ms\n${output}`));
    }, opts.timeoutMs ?? 90_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, output });
    });
    // A command that exits without reading its input closes the pipe: EPIPE there is no failure of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The process environment without anything npm, pnpm or yarn would read as configuration. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    const l = k.toLowerCase();
    if (l.startsWith('npm_') || l.startsWith('pnpm_') || l.startsWith('yarn_') || l === 'node_options' || l.startsWith('xdg_')) continue;
    env[k] = v;
  }
  return env;
}

export interface ClientOptions {
  /** Token for //127.0.0.1:PORT/npm/:_authToken; none means anonymous. */
  token?: string;
  /** Scopes routed to Wharf (default: alice). */
  scopes?: string[];
  /** Extra .npmrc lines. */
  extra?: string[];
}

/** One person's machine: a temp HOME with an .npmrc pointing scopes at Wharf, and separate caches. */
export class Client {
  readonly home: string;
  readonly npmrc: string;
  readonly cache: string;
  readonly registry: string;
  readonly env: Record<string, string>;

  constructor(readonly server: ChildServer, opts: ClientOptions = {}) {
    this.home = tempDir('wharf-e2e-home-');
    this.npmrc = path.join(this.home, '.npmrc');
    this.cache = path.join(this.home, 'npm-cache');
    this.registry = `${server.url}/npm/`;
    this.writeNpmrc(opts);
    this.env = {
      ...cleanEnv(),
      HOME: this.home,
      USERPROFILE: this.home,
      XDG_CONFIG_HOME: path.join(this.home, '.config'),
      XDG_CACHE_HOME: path.join(this.home, '.cache'),
      XDG_DATA_HOME: path.join(this.home, '.local/share'),
      XDG_STATE_HOME: path.join(this.home, '.local/state'),
      NPM_CONFIG_USERCONFIG: this.npmrc,
      NPM_CONFIG_CACHE: this.cache,
      NO_UPDATE_NOTIFIER: '1',
    };
  }

  /** The nerf dart for the registry: the URL without its scheme, with the trailing slash. */
  get nerf(): string {
    return `//127.0.0.1:${this.server.port}/npm/`;
  }

  writeNpmrc(opts: ClientOptions): void {
    const lines = [
      ...(opts.scopes ?? ['alice']).map((s) => `@${s}:registry=${this.registry}`),
      ...(opts.token ? [`${this.nerf}:_authToken=${opts.token}`] : []),
      'audit=false',
      'fund=false',
      'update-notifier=false',
      'loglevel=warn',
      ...(opts.extra ?? []),
    ];
    fs.writeFileSync(this.npmrc, lines.join('\n') + '\n');
  }

  /** A fresh npm cache, so the next install really downloads from Wharf. */
  freshCache(): void {
    fs.rmSync(this.cache, { recursive: true, force: true });
  }

  npm(args: string[], cwd = this.home, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('npm', args, { cwd, env: this.env, ...opts });
  }

  pnpm(args: string[], cwd: string): Promise<RunResult> {
    return run(process.execPath, [PNPM, ...args], { cwd, env: this.env });
  }

  yarn(args: string[], cwd: string): Promise<RunResult> {
    return run(process.execPath, [YARN, ...args], { cwd, env: { ...this.env, YARN_CACHE_FOLDER: path.join(this.home, 'yarn-cache') } });
  }

  dispose(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

export interface PackageSpec {
  name: string;
  version: string;
  /** Content of index.js (default: a line naming the package and version). */
  main?: string;
  repository?: string | { type: string; url: string };
  description?: string;
  keywords?: string[];
  extra?: Record<string, unknown>;
}

/** The default index.js of a package version, so installs can be checked against what was published. */
export const mainOf = (name: string, version: string) => `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`;

/** Writes a package directory ready for `npm publish`. */
export function makePackage(spec: PackageSpec): string {
  const dir = tempDir('wharf-e2e-pkg-');
  const pkg = {
    name: spec.name,
    version: spec.version,
    description: spec.description ?? `test package ${spec.name}`,
    main: 'index.js',
    license: 'MIT',
    ...(spec.keywords ? { keywords: spec.keywords } : {}),
    ...(spec.repository ? { repository: spec.repository } : {}),
    ...spec.extra,
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), spec.main ?? mainOf(spec.name, spec.version));
  fs.writeFileSync(path.join(dir, 'README.md'), `# ${spec.name}\n\nA test package.\n`);
  return dir;
}

/** An empty project to install into. */
export function makeProject(name = 'consumer'): string {
  const dir = tempDir('wharf-e2e-proj-');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2) + '\n');
  return dir;
}

/** Runs a wharf CLI command and returns its stdout, trimmed; a failing command throws with its stderr. */
export async function wharf(server: ChildServer, args: string[], stdin?: string): Promise<string> {
  const r = await server.cli(args, stdin);
  if (r.code !== 0) throw new Error(`wharf ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** Creates a user and a personal token with the given scopes. */
export async function userWithToken(server: ChildServer, name: string, scopes = 'read:packages,write:packages,delete:packages', password?: string, email?: string): Promise<string> {
  await wharf(server, ['user', 'create', name, ...(password ? ['--password-stdin'] : []), ...(email ? ['--email', email] : [])], password);
  return wharf(server, ['token', 'create', name, '--scopes', scopes]);
}

/** Asserts a command succeeded, showing its output when it did not. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed with exit code ${r.code}:\n${r.output}`);
  return r;
}

/** Parses npm's --json output (npm prints warnings on stderr, JSON on stdout). */
export function json<T = any>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON:\n${r.output}`);
  }
}

export const read = (...p: string[]) => fs.readFileSync(path.join(...p), 'utf8');
