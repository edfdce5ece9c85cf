// Verdaccio 6.8.0, the peer: installed into bench/.peers/verdaccio, configured with JWT API tokens (its legacy
// tokens re-run bcrypt on every authenticated request), seeded by writing its storage layout directly.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { request, waitFor } from './http.ts';
import { versionAt, versionDoc } from './npm-publish.ts';
import { startServer, type ServerProcess } from './proc.ts';
import { makeTarball } from './tarball.ts';

export const VERDACCIO_VERSION = '6.8.0';

/**
 * Installs verdaccio@6.8.0 into `dir` unless it is already there. The override is needed on this machine: a
 * dependency of verdaccio-audit asks for `node-fetch@cjs`, and the registry here has no `cjs` dist-tag.
 * (`"node-fetch@cjs": "2.7.0"` and plain `"node-fetch": "2.7.0"` both work; the first one touches only that edge.)
 */
export function ensureVerdaccio(dir: string, log: (s: string) => void): string {
  const bin = path.join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
  const pj = path.join(dir, 'node_modules', 'verdaccio', 'package.json');
  if (fs.existsSync(bin) && fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).version === VERDACCIO_VERSION) return bin;
  log(`installing verdaccio@${VERDACCIO_VERSION} into ${path.relative(process.cwd(), dir)} (npm install, ~15 s)`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'wharf-bench-verdaccio',
        private: true,
        description: 'Scratch install of the peer for bench/npm.ts (gitignored)',
        dependencies: { verdaccio: VERDACCIO_VERSION },
        overrides: { 'node-fetch@cjs': '2.7.0' },
      },
      null,
      2,
    ) + '\n',
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (!fs.existsSync(bin)) throw new Error(`verdaccio install in ${dir} did not produce ${bin}`);
  return bin;
}

/** Options for a Verdaccio that is not the seeded peer of bench/npm.ts (bench/proxy.ts). */
export interface ConfigOptions {
  /** Who reads the packages: `$authenticated` (the default) or `$all` (anonymous reads, as a proxy's users do). */
  access?: string;
  /** An uplink named `upstream` at this URL, with `proxy: upstream` on every package (Verdaccio's proxy mode). */
  uplink?: string;
  /** How long Verdaccio trusts a cached uplink packument before asking the uplink again (its `maxage`). */
  maxage?: string;
}

export function writeConfig(dir: string, port: number, o: ConfigOptions = {}): string {
  const storage = path.join(dir, 'storage');
  fs.mkdirSync(storage, { recursive: true });
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    [
      `storage: ${JSON.stringify(storage)}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
      '    max_users: 100',
      'security:',
      '  api:',
      '    jwt:',
      '      sign:',
      '        expiresIn: 7d',
      '  web:',
      '    sign:',
      '      expiresIn: 7d',
      ...(o.uplink ? ['uplinks:', '  upstream:', `    url: ${JSON.stringify(o.uplink)}`, `    maxage: ${o.maxage ?? '2m'}`, '    timeout: 60s'] : ['uplinks: {}']),
      'packages:',
      ...["'@*/*'", "'**'"].flatMap((p) => [
        `  ${p}:`,
        `    access: ${o.access ?? '$authenticated'}`,
        '    publish: $authenticated',
        '    unpublish: $authenticated',
        ...(o.uplink ? ['    proxy: upstream'] : []),
      ]),
      'log: { type: stdout, format: pretty, level: warn }',
      `listen: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  return file;
}

export function startVerdaccio(bin: string, config: string, dir: string, logDir: string): ServerProcess {
  return startServer('verdaccio', [bin, '--config', config], { cwd: dir, env: { ...process.env }, logFile: path.join(logDir, 'verdaccio.log') });
}

export async function waitVerdaccio(origin: string, proc: ServerProcess) {
  await waitFor(`${origin}/-/ping`, 200, 60_000, proc.alive);
}

/** Creates the user; Verdaccio answers with a JWT (security.api.jwt). */
export async function verdaccioToken(origin: string, name: string): Promise<string> {
  const password = randomBytes(12).toString('hex');
  const body = JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [], date: new Date().toISOString() });
  const r = await request('PUT', `${origin}/-/user/org.couchdb.user:${name}`, { headers: { 'content-type': 'application/json' }, body });
  const json = JSON.parse(r.body.toString('utf8'));
  if (r.status !== 201 || typeof json.token !== 'string') throw new Error(`verdaccio adduser -> ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
  return json.token;
}

/**
 * Writes `storage/@scope/name/package.json` and `storage/@scope/name/name-V.tgz` exactly as Verdaccio 6.8's
 * local storage leaves them after one `npm publish` per version (same fields and order, readme hoisted to the top
 * level, tab-indented), plus the package list in `.verdaccio-db.json`. Seeding this way takes seconds where
 * publishing over HTTP takes minutes; the bench checks that a seeded packument has the same shape as one
 * published over HTTP.
 */
export async function seedStorage(
  storage: string,
  registry: string,
  names: string[],
  versions: number,
  onPackage?: () => void,
  /** package.json fields for every version of a package (its dependencies): in the tarball and the packument. */
  extraOf?: (name: string) => Record<string, unknown>,
) {
  const dbFile = path.join(storage, '.verdaccio-db.json');
  const db = fs.existsSync(dbFile) ? JSON.parse(fs.readFileSync(dbFile, 'utf8')) : { list: [], secret: randomBytes(16).toString('hex') };
  const start = Date.now() - 3_600_000;
  for (const name of names) {
    const [, short] = name.split('/');
    const dir = path.join(storage, ...name.split('/'));
    fs.mkdirSync(dir, { recursive: true });
    const doc: any = {
      name,
      versions: {},
      time: { modified: '', created: new Date(start).toISOString() },
      users: {},
      'dist-tags': {},
      _uplinks: {},
      _distfiles: {},
      _attachments: {},
      _rev: '',
      _id: name,
      readme: '',
    };
    for (let i = 0; i < versions; i++) {
      const version = versionAt(i);
      const extra = extraOf?.(name) ?? {};
      const tgz = await makeTarball(name, version, undefined, extra);
      fs.writeFileSync(path.join(dir, `${short}-${version}.tgz`), tgz.bytes);
      const { readme, ...v } = versionDoc(registry, name, version, tgz);
      doc.versions[version] = { ...v, ...extra, contributors: [] };
      const at = new Date(start + i * 20).toISOString();
      doc.time[version] = at;
      doc.time.modified = at;
      doc['dist-tags'].latest = version;
      doc._attachments[`${short}-${version}.tgz`] = { shasum: tgz.shasum, version };
      doc.readme = readme;
    }
    doc._rev = `${3 * versions}-${randomBytes(8).toString('hex')}`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(doc, null, '\t'));
    if (!db.list.includes(name)) db.list.push(name);
    onPackage?.();
  }
  fs.writeFileSync(dbFile, JSON.stringify(db));
}
