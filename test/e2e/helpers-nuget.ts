// NuGet.exe 5.8 (npm package nuget-exe, run on mono from apt `nuget`) for the end-to-end tests: its own HOME,
// NUGET_PACKAGES and NuGet.Config per client, so no cache or credential leaks between runs.
import { buildAssemblyFor } from '../../src/formats/nuget/pdb-fixture.ts';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, tempDir } from '../helpers/wharf.ts';
import { cleanEnv, run, type RunResult } from './helpers-npm.ts';

const NUGET_EXE_VERSION = '5.8.0';

/** The path of nuget-5.8.0.exe: WHARF_NUGET_EXE, else the project's devDependency nuget-exe (installed by npm ci). */
export function nugetExe(): string {
  const given = process.env.WHARF_NUGET_EXE;
  if (given && fs.existsSync(given)) return given;
  const exe = path.join(ROOT, 'node_modules/nuget-exe', `nuget-${NUGET_EXE_VERSION}.exe`);
  if (!fs.existsSync(exe)) throw new Error(`NuGet.exe ${NUGET_EXE_VERSION} is missing at ${exe}: run npm ci (nuget-exe is a devDependency)`);
  return exe;
}

/** One person's machine running NuGet.exe. */
export class NuGetClient {
  readonly home = tempDir('wharf-nuget-home-');
  readonly config = path.join(this.home, 'NuGet.Config');
  readonly env: Record<string, string>;

  constructor(readonly exe: string, source: string, creds?: { user: string; token: string }) {
    this.env = { ...cleanEnv(), HOME: this.home, NUGET_PACKAGES: path.join(this.home, 'packages'), MONO_ENV_OPTIONS: '' };
    const credsXml = creds
      ? `<packageSourceCredentials><wharf><add key="Username" value="${creds.user}" /><add key="ClearTextPassword" value="${creds.token}" /></wharf></packageSourceCredentials>`
      : '';
    fs.writeFileSync(this.config, `<?xml version="1.0" encoding="utf-8"?>\n<configuration><packageSources><clear /><add key="wharf" value="${source}" /></packageSources>${credsXml}</configuration>\n`);
  }

  /** Runs nuget.exe in `cwd` (default: HOME), never interactive. */
  nuget(args: string[], cwd = this.home): Promise<RunResult> {
    return run('mono', [this.exe, ...args, '-NonInteractive', '-ConfigFile', this.config], { cwd, env: this.env, timeoutMs: 120_000 });
  }

  /**
   * Writes a .nuspec and a content file into a temp dir and packs it; returns the .nupkg path. With `pdb`, the
   * package also has lib/net472/ID.dll (an assembly whose debug directory names that PDB) and ID.pdb and is packed with `-Symbols -SymbolPackageFormat snupkg`,
   * so an ID.VERSION.snupkg sits next to the .nupkg.
   */
  async pack(id: string, version: string, opts: { deps?: [string, string][]; repository?: string; pdb?: Buffer } = {}): Promise<string> {
    const dir = tempDir('wharf-nuget-pack-');
    fs.writeFileSync(path.join(dir, 'hello.txt'), `${id} ${version}\n`);
    if (opts.pdb) {
      fs.writeFileSync(path.join(dir, `${id}.dll`), buildAssemblyFor(opts.pdb, { name: `${id}.pdb` }));
      fs.writeFileSync(path.join(dir, `${id}.pdb`), opts.pdb);
    }
    const libs = opts.pdb ? `<file src="${id}.dll" target="lib/net472/${id}.dll" /><file src="${id}.pdb" target="lib/net472/${id}.pdb" />` : '';
    const deps = opts.deps?.length ? `<dependencies><group targetFramework="net472">${opts.deps.map(([d, v]) => `<dependency id="${d}" version="${v}" />`).join('')}</group></dependencies>` : '';
    fs.writeFileSync(
      path.join(dir, `${id}.nuspec`),
      `<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>` +
        `<id>${id}</id><version>${version}</version><authors>alice</authors><description>The ${id} package</description>` +
        (opts.repository ? `<repository type="git" url="${opts.repository}" />` : '') +
        `${deps}</metadata><files><file src="hello.txt" target="content/hello.txt" />${libs}</files></package>\n`,
    );
    const symbols = opts.pdb ? ['-Symbols', '-SymbolPackageFormat', 'snupkg'] : [];
    const r = await this.nuget(['pack', `${id}.nuspec`, '-OutputDirectory', 'out', ...symbols], dir);
    if (r.code !== 0) throw new Error(`nuget pack failed:\n${r.output}`);
    const out = path.join(dir, 'out');
    return path.join(out, fs.readdirSync(out).find((f) => f.endsWith('.nupkg'))!);
  }
}

/** Debian's `nuget` (NuGet.exe 2.8.7 on mono, apt `nuget`): the v2-only client. */
export const NUGET2 = process.env.WHARF_NUGET2 ?? '/usr/bin/nuget';

/**
 * One person's machine running nuget 2.8.7. Its quirks (CLIENTS.md §5): absolute file paths are mangled on mono,
 * so files are passed relative to `cwd`; a 401 makes it prompt despite -NonInteractive, so stdin is empty;
 * `nuget help <command>` never returns (never called); and `list` loops on newlines when the console has no
 * width, so it runs in a pseudo-terminal (`script`) with a set size.
 */
export class NuGet2Client {
  readonly home = tempDir('wharf-nuget2-home-');
  readonly config = path.join(this.home, 'NuGet.Config');
  readonly env: Record<string, string>;

  constructor(readonly source: string, creds?: { user: string; token: string }) {
    if (!fs.existsSync(NUGET2)) throw new Error(`nuget 2.8.7 is missing at ${NUGET2}: apt-get install -y nuget (.ci/run installs it)`);
    this.env = { ...cleanEnv(), HOME: this.home, NUGET_PACKAGES: path.join(this.home, 'packages'), MONO_ENV_OPTIONS: '', TERM: 'xterm' };
    const credsXml = creds
      ? `<packageSourceCredentials><wharf><add key="Username" value="${creds.user}" /><add key="ClearTextPassword" value="${creds.token}" /></wharf></packageSourceCredentials>`
      : '';
    fs.writeFileSync(this.config, `<?xml version="1.0" encoding="utf-8"?>\n<configuration><packageSources><clear /><add key="wharf" value="${source}" /></packageSources>${credsXml}</configuration>\n`);
  }

  /** Runs nuget in `cwd` (default: HOME), never interactive, with this client's NuGet.Config (pack takes none). */
  nuget(args: string[], cwd = this.home): Promise<RunResult> {
    const config = args[0] === 'pack' ? [] : ['-ConfigFile', this.config];
    return run(NUGET2, [...args, '-NonInteractive', ...config], { cwd, env: this.env, timeoutMs: 120_000 });
  }

  /** `nuget list` in a 200-column pseudo-terminal; returns the "Id Version" lines. */
  async list(extra: string[] = []): Promise<{ result: RunResult; lines: string[] }> {
    const cmd = [NUGET2, 'list', '-Source', this.source, ...extra, '-NonInteractive', '-ConfigFile', this.config].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const result = await run('script', ['-qec', `stty cols 200 rows 50; ${cmd}`, '/dev/null'], { cwd: this.home, env: this.env, timeoutMs: 120_000 });
    // eslint-disable-next-line no-control-regex
    const plain = result.output.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r/g, '');
    return { result, lines: plain.split('\n').map((l) => l.trim()).filter((l) => /^[\w.-]+ \d[\w.+-]*$/.test(l)) };
  }

  /** Packs a .nuspec (content/hello.txt, projectUrl `repository` to link it) with nuget 2.8.7; returns the .nupkg's path. */
  async pack(id: string, version: string, opts: { deps?: [string, string][]; repository?: string } = {}): Promise<string> {
    const dir = tempDir('wharf-nuget2-pack-');
    fs.writeFileSync(path.join(dir, 'hello.txt'), `${id} ${version}\n`);
    const deps = opts.deps?.length ? `<dependencies>${opts.deps.map(([d, v]) => `<dependency id="${d}" version="${v}" />`).join('')}</dependencies>` : '';
    fs.writeFileSync(
      path.join(dir, `${id}.nuspec`),
      `<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://schemas.microsoft.com/packaging/2010/07/nuspec.xsd"><metadata>` +
        `<id>${id}</id><version>${version}</version><authors>alice</authors><description>The ${id} package</description>` +
        (opts.repository ? `<projectUrl>${opts.repository}</projectUrl>` : '') +
        `${deps}</metadata><files><file src="hello.txt" target="content/hello.txt" /></files></package>\n`,
    );
    const r = await this.nuget(['pack', `${id}.nuspec`], dir);
    if (r.code !== 0) throw new Error(`nuget pack failed:\n${r.output}`);
    return path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.nupkg'))!);
  }
}
