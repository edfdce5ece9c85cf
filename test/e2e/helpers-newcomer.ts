// The scripted newcomer (issue 18): a fresh clone of this repository, then the README's own commands, taken from
// the README itself, run in order, as a person would run them in two terminals.
//
// Which blocks run: fenced blocks whose info string carries `newcomer` (GitHub shows them as plain `sh`, `xml`…):
//   ```sh newcomer terminal=1      terminal 1 (the server): started in the background; the run waits for /healthz
//   ```sh newcomer                  every format's run (creating the user, repository and token)
//   ```sh newcomer=maven,gradle     those formats' runs only
//   ```xml newcomer=maven file=P    not a command: the run saves the block, as it is, to P (relative to the current
//                                   folder; `~/` is the run's HOME), as the README says to
// Blocks without `newcomer` are never run. Terminal 2's blocks run in ONE bash session per format (`set -eo
// pipefail`), so `cd` and variables ($TOKEN) carry over from block to block, starting in the folder terminal 1 ends
// in (the README says "from the same folder").
//
// What the run changes in the README's text, and nothing else:
//   - `localhost:8080` → `localhost:PORT`, a free port, and terminal 1 gets WHARF_PORT=PORT (the README's own way
//     to pick another port), so that runs can go side by side and beside other tests;
//   - `git clone <this repository> wharf` → a clone of this checkout (ROOT), plus its uncommitted changes to
//     tracked files and its untracked files (none in CI, where this is exactly a fresh clone; on a developer's
//     machine the README being edited is the one tested);
//   - `npm ci` → a symlink to ROOT's node_modules. A real `npm ci` takes ~1m40 here (better-sqlite3 builds from
//     source) for each format; the CI job already ran `npm ci` on the same lockfile before `npm test`, so the
//     difference from a newcomer is only that node_modules is shared, not re-installed. WHARF_NEWCOMER_NPM_CI=1
//     runs the real `npm ci` instead.
//
// The machine: each run has a fresh HOME (so ~/.npmrc, ~/.m2, ~/.gradle, ~/.gem and NuGet's config are its own)
// and an environment without npm_*, GEM_*, BUNDLE_*, WHARF_* … from the test runner. What a person's own machine
// would already have, the run sets up outside the README (see machineEnv below): Java reads its home from
// JAVA_TOOL_OPTIONS (the JVM ignores $HOME), Maven finds Debian's packaged plugins through a global settings file
// (Maven Central is out of reach here), Gradle runs without a daemon, gems install under HOME (not /var/lib/gems),
// podman keeps its images under the run's folder, npm skips audit/fund/update checks (npmjs.org) and builds
// native modules against the installed Node headers when there are some.
//
// A missing client fails the run (bash: "command not found"), never skips it. The web UI quick start can be added
// as a format of its own (`newcomer=web` blocks, then its Chromium walk with the `after` hook and the returned
// port, HOME and folders).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, ROOT, tempDir } from '../helpers/wharf.ts';

export interface Block {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  lang: string;
  /** Formats this block belongs to; '*' = every format. */
  formats: string[];
  terminal: 1 | 2;
  /** Set for blocks saved as files. */
  file?: string;
  text: string;
}

/** The fenced blocks of a Markdown text that carry `newcomer` in their info string, in order. */
export function newcomerBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const [lang = '', ...words] = open[2]!.trim().split(/\s+/);
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(fence)) body.push(lines[j++]!);
    const attrs = new Map<string, string>();
    for (const w of words) {
      const eq = w.indexOf('=');
      attrs.set(eq < 0 ? w : w.slice(0, eq), eq < 0 ? '' : w.slice(eq + 1));
    }
    if (attrs.has('newcomer')) {
      const which = attrs.get('newcomer')!;
      blocks.push({
        line: i + 1,
        lang,
        formats: which ? which.split(',') : ['*'],
        terminal: attrs.get('terminal') === '1' ? 1 : 2,
        file: attrs.get('file') || undefined,
        text: body.join('\n') + '\n',
      });
    }
    i = j;
  }
  return blocks;
}

export const README = path.join(ROOT, 'README.md');

/** The blocks of README.md for `format` (terminal 1's and every format's included). */
export function readmeBlocks(format: string): Block[] {
  return newcomerBlocks(fs.readFileSync(README, 'utf8')).filter((b) => b.formats.includes('*') || b.formats.includes(format));
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Environment variables of the runner that a newcomer's shell would not have. */
const FOREIGN = /^(npm_|pnpm_|yarn_|gem_|bundle_|bundler_|ruby|wharf_|maven_|gradle_|java_tool|_java_options|node_options|docker_|registry_auth|containers_|nuget_|mono_|xdg_)/i;

/** What a person's machine would have set up already (see the header). */
function machineEnv(dir: string, home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !FOREIGN.test(k)) env[k] = v;
  for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY']) delete env[k];
  // Maven: Central is unreachable here, so Debian's packaged plugins are `central`, in a global settings file
  // (maven.conf is the folder of the global settings.xml; the user's ~/.m2/settings.xml is the README's).
  const mavenConf = path.join(dir, 'machine/maven-conf');
  fs.mkdirSync(mavenConf, { recursive: true });
  fs.symlinkSync('/usr/share/maven/conf/logging', path.join(mavenConf, 'logging'));
  const debian = (tag: string) =>
    `<${tag}><id>central</id><url>file:///usr/share/maven-repo</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></${tag}>`;
  fs.writeFileSync(
    path.join(mavenConf, 'settings.xml'),
    `<settings><profiles><profile><id>debian</id><repositories>${debian('repository')}</repositories><pluginRepositories>${debian('pluginRepository')}</pluginRepositories></profile></profiles>` +
      `<activeProfiles><activeProfile>debian</activeProfile></activeProfiles></settings>\n`,
  );
  // Gradle: no daemon left behind by a test.
  fs.mkdirSync(path.join(home, '.gradle'), { recursive: true });
  fs.writeFileSync(path.join(home, '.gradle/gradle.properties'), 'org.gradle.daemon=false\n');
  // podman (as root here): its own storage and no systemd.
  const containers = path.join(dir, 'machine/containers');
  fs.mkdirSync(path.join(containers, 'run'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(containers, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = ${JSON.stringify(path.join(containers, 'runroot'))}\ngraphroot = ${JSON.stringify(path.join(containers, 'root'))}\n`);
  fs.writeFileSync(path.join(containers, 'containers.conf'), `[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n`);
  return {
    ...env,
    HOME: home,
    LANG: 'C.UTF-8',
    JAVA_TOOL_OPTIONS: `-Duser.home=${home}`,
    MAVEN_OPTS: `-Dmaven.conf=${mavenConf}`,
    GEM_HOME: path.join(home, '.gem-home'),
    NPM_CONFIG_AUDIT: 'false',
    NPM_CONFIG_FUND: 'false',
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    // For WHARF_NEWCOMER_NPM_CI=1: better-sqlite3 builds against Node's headers, which node-gyp would otherwise
    // download from nodejs.org (.ci/run does the same).
    ...(fs.existsSync('/usr/include/node') ? { NPM_CONFIG_NODEDIR: '/usr' } : {}),
    CONTAINERS_STORAGE_CONF: path.join(containers, 'storage.conf'),
    CONTAINERS_CONF: path.join(containers, 'containers.conf'),
    XDG_RUNTIME_DIR: path.join(containers, 'run'),
  };
}

/** A block as shell text: commands as they are; a file block as a quoted here-document writing the file. */
function shellOf(b: Block, port: number): string {
  const text = b.text.replaceAll('localhost:8080', `localhost:${port}`);
  if (!b.file) return text;
  const target = b.file.startsWith('~/') ? `"$HOME"/${q(b.file.slice(2))}` : q(b.file);
  if (text.includes('\nNEWCOMER_FILE_END\n')) throw new Error(`README.md:${b.line}: the block contains the here-document's end marker`);
  return `mkdir -p "$(dirname ${target})" && cat > ${target} <<'NEWCOMER_FILE_END'\n${text}NEWCOMER_FILE_END\n`;
}

/** Terminal 1's text with the run's substitutions (see the header). */
function terminalOne(b: Block, port: number): string {
  let text = shellOf(b, port);
  const clone = 'git clone <this repository> wharf';
  if (!text.includes(clone)) throw new Error(`README.md:${b.line}: terminal 1 no longer says "${clone}"`);
  text = text.replace(clone, `git clone -q ${q(ROOT)} wharf && newcomer_overlay wharf`);
  if (process.env.WHARF_NEWCOMER_NPM_CI !== '1') {
    if (!/\bnpm ci\b/.test(text)) throw new Error(`README.md:${b.line}: terminal 1 no longer runs npm ci`);
    text = text.replace(/\bnpm ci\b/, `ln -s ${q(path.join(ROOT, 'node_modules'))} node_modules`);
  }
  const overlay = [
    // This checkout's uncommitted changes and untracked files, so that what is being edited is what runs.
    'newcomer_overlay() {',
    `  git -C ${q(ROOT)} diff HEAD --binary > "$1.diff"`,
    '  if [ -s "$1.diff" ]; then git -C "$1" apply --whitespace=nowarn "$PWD/$1.diff"; fi',
    `  git -C ${q(ROOT)} ls-files --others --exclude-standard -z | (cd ${q(ROOT)} && xargs -0 -r cp -P --parents -t "$OLDPWD/$1")`,
    '}',
  ].join('\n');
  return `set -eo pipefail\n${overlay}\n${text}`;
}

export interface StepTime {
  line: number;
  seconds: number;
}

export interface NewcomerRun {
  format: string;
  port: number;
  url: string;
  /** The newcomer's HOME. */
  home: string;
  /** The folder terminal 1 started in (the clone is `wharf` in it). */
  dir: string;
  /** The clone, where terminal 2 starts. */
  checkout: string;
  /** The folder terminal 2 ended in. */
  cwd: string;
  /** Terminal 2's output (stdout and stderr, with `+` traces and block markers). */
  output: string;
  /** Terminal 1's output. */
  serverLog: string;
  /** Seconds from the start until /healthz answered (clone, install, start). */
  startSeconds: number;
  /** Seconds spent in each of terminal 2's blocks. */
  steps: StepTime[];
  totalSeconds: number;
  /** Stops the server and removes every folder of the run. */
  dispose(): Promise<void>;
}

/**
 * Runs the README for `format` as a newcomer: terminal 1's block in the background until Wharf answers, then the
 * other blocks in one bash session. `after` is shell text the test appends to terminal 2 (its own checks, in the
 * same session and folder); the web UI's walk can use the returned run (port, HOME, folders) instead. Rejects with
 * both terminals' output when a block fails; otherwise the caller must dispose() the run.
 */
export async function runNewcomer(format: string, opts: { after?: string; timeoutMs?: number } = {}): Promise<NewcomerRun> {
  const blocks = readmeBlocks(format);
  const one = blocks.filter((b) => b.terminal === 1);
  const two = blocks.filter((b) => b.terminal === 2);
  if (one.length !== 1) throw new Error(`README.md must have exactly one newcomer block for terminal 1, found ${one.length}`);
  if (!two.some((b) => b.formats.includes(format))) throw new Error(`README.md has no block marked newcomer=${format}`);

  const started = Date.now();
  const dir = tempDir(`wharf-newcomer-${format}-`);
  const home = path.join(dir, 'home');
  const work = path.join(dir, 'work');
  fs.mkdirSync(home);
  fs.mkdirSync(work);
  const env = machineEnv(dir, home);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  let serverLog = '';
  const server: ChildProcess = spawn('bash', ['-c', terminalOne(one[0]!, port)], {
    cwd: work,
    env: { ...env, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout!.on('data', (d) => (serverLog += d));
  server.stderr!.on('data', (d) => (serverLog += d));
  let exited = false;
  server.on('exit', () => (exited = true));
  const stopServer = async () => {
    if (!exited && server.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {}
      await new Promise<void>((r) => (exited ? r() : server.once('exit', () => r())));
    }
  };
  const dispose = async () => {
    await stopServer();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (process.env.WHARF_NEWCOMER_NPM_CI === '1' ? 600_000 : 60_000);
    for (;;) {
      if (exited) throw new Error(`terminal 1 (README.md:${one[0]!.line}) exited:\n${serverLog}`);
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`Wharf did not answer on ${url}:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const startSeconds = (Date.now() - started) / 1000;
    const checkout = path.join(work, 'wharf');

    const script = ['exec 2>&1', 'set -eo pipefail', 'set -x'];
    for (const [i, b] of two.entries()) {
      script.push(`{ set +x; } 2>/dev/null; echo "##newcomer block ${i} README.md:${b.line}"; set -x`, shellOf(b, port));
    }
    script.push('{ set +x; } 2>/dev/null; echo "##newcomer block end"; set -x');
    if (opts.after) script.push(opts.after.replaceAll('localhost:8080', `localhost:${port}`));
    script.push('{ set +x; } 2>/dev/null; echo "##newcomer cwd $PWD"');
    fs.writeFileSync(path.join(dir, 'terminal-2.sh'), script.join('\n') + '\n');

    const marks: { at: number; line: number | null }[] = [];
    let output = '';
    const code = await new Promise<number>((resolve, reject) => {
      const t2 = spawn('bash', [path.join(dir, 'terminal-2.sh')], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => {
        t2.kill('SIGKILL');
        reject(new Error(`terminal 2 timed out after ${opts.timeoutMs ?? 400_000} ms:\n${output.slice(-8000)}`));
      }, opts.timeoutMs ?? 400_000);
      const onData = (d: Buffer) => {
        const s = d.toString();
        output += s;
        for (const m of s.matchAll(/^##newcomer block (?:\d+ README\.md:(\d+)|end)$/gm)) marks.push({ at: Date.now(), line: m[1] ? Number(m[1]) : null });
      };
      t2.stdout.on('data', onData);
      t2.stderr.on('data', onData);
      t2.on('error', reject);
      t2.on('close', (c) => {
        clearTimeout(timer);
        resolve(c ?? -1);
      });
    });
    if (code !== 0) {
      const last = [...output.matchAll(/^##newcomer block (\d+ README\.md:\d+|end)$/gm)].pop()?.[1] ?? '(before the first block)';
      const where = last === 'end' ? "the test's own checks" : `the block at ${last.replace(/^\d+ /, '')}`;
      throw new Error(`newcomer run for ${format} failed (exit ${code}) in ${where}:\n${output.slice(-8000)}\n--- terminal 1 ---\n${serverLog.slice(-3000)}`);
    }
    const steps: StepTime[] = [];
    for (let i = 0; i + 1 < marks.length; i++) if (marks[i]!.line !== null) steps.push({ line: marks[i]!.line!, seconds: (marks[i + 1]!.at - marks[i]!.at) / 1000 });
    const cwd = /^##newcomer cwd (.*)$/m.exec(output)?.[1] ?? checkout;
    return { format, port, url, home, dir: work, checkout, cwd, output, serverLog, startSeconds, steps, totalSeconds: (Date.now() - started) / 1000, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** One line of figures for the test's diagnostics. */
export function figures(r: NewcomerRun): string {
  return `${r.format}: ${r.totalSeconds.toFixed(1)} s in all; clone and start ${r.startSeconds.toFixed(1)} s; ` + r.steps.map((s) => `README.md:${s.line} ${s.seconds.toFixed(1)} s`).join(', ');
}
