// Helpers for driving Debian's gem (RubyGems 3.3) and bundle (Bundler 2.3) against a Wharf child process.
// Every client gets its own HOME, GEM_HOME, BUNDLE_PATH and BUNDLE_USER_HOME, and an environment without any
// GEM_*, BUNDLE_* or RUBY* variable from the runner.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/wharf.ts';
import { run, type RunResult } from './helpers-npm.ts';

export interface GemDef {
  name: string;
  version: string;
  platform?: string;
  deps?: [string, string][];
  metadata?: Record<string, string>;
}

/** The line lib/NAME.rb defines, to check what was installed. */
export const rubyMain = (g: GemDef) => `module ${camel(g.name)}; VERSION = ${JSON.stringify(g.version)}; PLATFORM = ${JSON.stringify(g.platform ?? 'ruby')}; end\n`;
const camel = (s: string) => s.replace(/(^|[-_])(\w)/g, (_m, _s, c: string) => c.toUpperCase());

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(GEM_|BUNDLE_|RUBY|BUNDLER_)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** One person's machine: temp HOME, GEM_HOME, BUNDLE_PATH, BUNDLE_USER_HOME. */
export class GemClient {
  readonly home: string;
  readonly env: Record<string, string>;

  constructor(extraEnv: Record<string, string> = {}) {
    this.home = tempDir('wharf-e2e-gem-');
    this.env = {
      ...cleanEnv(),
      HOME: this.home,
      GEM_HOME: path.join(this.home, 'gems'),
      GEM_PATH: path.join(this.home, 'gems'),
      GEM_SPEC_CACHE: path.join(this.home, 'spec-cache'),
      BUNDLE_PATH: path.join(this.home, 'bundle'),
      BUNDLE_USER_HOME: path.join(this.home, 'bundle-home'),
      BUNDLE_APP_CONFIG: path.join(this.home, 'bundle-config'),
      BUNDLE_SILENCE_ROOT_WARNING: '1',
      BUNDLE_DISABLE_VERSION_CHECK: '1',
      ...extraEnv,
    };
  }

  gem(args: string[], cwd = this.home, env: Record<string, string> = {}): Promise<RunResult> {
    return run('gem', args, { cwd, env: { ...this.env, ...env }, timeoutMs: 60_000 });
  }

  bundle(args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
    return run('bundle', args, { cwd, env: { ...this.env, ...env }, timeoutMs: 90_000 });
  }

  /** The installed gem's lib/NAME.rb, read through `ruby` with GEM_HOME (what `require` would load). */
  async required(name: string, version?: string): Promise<RunResult> {
    const activate = version ? `gem ${JSON.stringify(name)}, ${JSON.stringify(version)}; ` : '';
    return run('ruby', ['-e', `${activate}require ${JSON.stringify(name)}; print ${camel(name)}::VERSION, " ", ${camel(name)}::PLATFORM`], { cwd: this.home, env: this.env, timeoutMs: 30_000 });
  }

  dispose(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** Writes a gem's sources and runs `gem build`; returns the .gem path. */
export async function buildGem(client: GemClient, g: GemDef): Promise<string> {
  const dir = tempDir('wharf-e2e-gemsrc-');
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', `${g.name}.rb`), rubyMain(g));
  const lines = [
    'Gem::Specification.new do |s|',
    `  s.name = ${JSON.stringify(g.name)}`,
    `  s.version = ${JSON.stringify(g.version)}`,
    '  s.summary = "A Wharf test gem"',
    '  s.authors = ["Alice"]',
    '  s.license = "MIT"',
    `  s.files = ["lib/${g.name}.rb"]`,
    ...(g.platform ? [`  s.platform = ${JSON.stringify(g.platform)}`] : []),
    ...(g.deps ?? []).map(([n, r]) => `  s.add_dependency ${JSON.stringify(n)}, ${JSON.stringify(r)}`),
    ...(g.metadata ? [`  s.metadata = ${JSON.stringify(g.metadata).replace(/":/g, '" =>')}`] : []),
    'end',
  ];
  fs.writeFileSync(path.join(dir, `${g.name}.gemspec`), lines.join('\n') + '\n');
  const r = await client.gem(['build', `${g.name}.gemspec`], dir);
  if (r.code !== 0) throw new Error(`gem build ${g.name} failed:\n${r.output}`);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.gem'));
  if (!file) throw new Error(`gem build ${g.name} made no .gem:\n${r.output}`);
  return path.join(dir, file);
}

/** A project directory with a Gemfile. */
export function makeProject(gemfile: string): string {
  const dir = tempDir('wharf-e2e-bundle-');
  fs.writeFileSync(path.join(dir, 'Gemfile'), gemfile);
  return dir;
}
