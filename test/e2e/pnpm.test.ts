// End to end with the real pnpm (the project's devDependency) installing from Wharf: packages published with
// npm, installed with `pnpm add` and from pnpm-lock.yaml with `pnpm install --frozen-lockfile`, signed in and
// anonymously, with the same .npmrc as npm (issue 2, section 3: "pnpm and yarn (classic) install from it too").
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { Client, PNPM, mainOf, makePackage, makeProject, ok, read, userWithToken, wharf } from './helpers-npm.ts';

const T = { timeout: 120_000 };

describe('pnpm against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let alice: Client; // publishes with npm
  let consumer: Client; // installs with pnpm, alice's token
  let anon: Client;
  const dirs: string[] = [];
  const dir = (d: string) => (dirs.push(d), d);
  const installed = (proj: string, name: string) => read(proj, 'node_modules', name, 'index.js');

  /** pnpm with a store of the project's own (metadata is cached under the client's XDG dirs), or a given one. */
  const stores = new Map<string, string>();
  const storeOf = (proj: string) => stores.get(proj) ?? (stores.set(proj, dir(tempDir('wharf-e2e-pnpm-store-'))), stores.get(proj)!);
  const pnpm = (c: Client, args: string[], cwd: string, store = storeOf(cwd)) =>
    c.pnpm([...args, '--store-dir', store, '--config.confirmModulesPurge=false', '--reporter=append-only'], cwd);

  before(async () => {
    assert.ok(fs.existsSync(PNPM), `pnpm is a devDependency and must be installed: ${PNPM}`);
    server = await spawnWharf();
    const token = await userWithToken(server, 'alice');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    alice = new Client(server, { token });
    consumer = new Client(server, { token });
    anon = new Client(server);
    for (const [name, version, repo] of [
      ['@alice/pn-private', '1.0.0', undefined],
      ['@alice/pn-private', '1.1.0', undefined],
      ['@alice/pn-public', '2.0.0', 'https://github.com/alice/hello.git'],
    ] as const) {
      ok(await alice.npm(['publish'], dir(makePackage({ name, version, repository: repo }))), `npm publish ${name}@${version}`);
    }
  });

  after(async () => {
    await server?.stop();
    for (const c of [alice, consumer, anon]) c?.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('pnpm --version runs', T, async () => {
    const r = ok(await consumer.pnpm(['--version'], consumer.home), 'pnpm --version');
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  test('pnpm add @alice/pkg installs from Wharf with the token from .npmrc', T, async () => {
    const proj = dir(makeProject());
    ok(await pnpm(consumer, ['add', '@alice/pn-private'], proj), 'pnpm add @alice/pn-private');
    assert.equal(installed(proj, '@alice/pn-private'), mainOf('@alice/pn-private', '1.1.0'));
    assert.equal(JSON.parse(read(proj, 'package.json')).dependencies['@alice/pn-private'], '^1.1.0');
    const lock = read(proj, 'pnpm-lock.yaml');
    assert.match(lock, /'@alice\/pn-private@1\.1\.0':\s*\n\s*resolution: \{integrity: sha512-/);

    // A specific version.
    ok(await pnpm(consumer, ['add', '@alice/pn-private@1.0.0'], proj), 'pnpm add @alice/pn-private@1.0.0');
    assert.equal(installed(proj, '@alice/pn-private'), mainOf('@alice/pn-private', '1.0.0'));
  });

  test('pnpm install --frozen-lockfile reinstalls from pnpm-lock.yaml into an empty store', T, async () => {
    const proj = dir(makeProject());
    ok(await pnpm(consumer, ['add', '@alice/pn-private@1.1.0', '@alice/pn-public'], proj), 'pnpm add');
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    const fresh = dir(tempDir('wharf-e2e-pnpm-store-'));
    ok(await pnpm(consumer, ['install', '--frozen-lockfile'], proj, fresh), 'pnpm install --frozen-lockfile');
    // The tarballs were fetched again into the empty store.
    const files = (fs.readdirSync(fresh, { recursive: true }) as string[]).map((f) => path.join(fresh, f)).filter((f) => fs.lstatSync(f).isFile());
    const contents = files.map((f) => fs.readFileSync(f, 'utf8'));
    assert.ok(contents.includes(mainOf('@alice/pn-private', '1.1.0')), 'the empty store got the tarball contents again');
    assert.ok(contents.includes(mainOf('@alice/pn-public', '2.0.0')));
    assert.equal(installed(proj, '@alice/pn-private'), mainOf('@alice/pn-private', '1.1.0'));
    assert.equal(installed(proj, '@alice/pn-public'), mainOf('@alice/pn-public', '2.0.0'));
  });

  test('pnpm install from a package.json dependency', T, async () => {
    const proj = dir(makeProject());
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'c', version: '1.0.0', private: true, dependencies: { '@alice/pn-private': '~1.0.0' } }));
    ok(await pnpm(consumer, ['install'], proj), 'pnpm install');
    assert.equal(installed(proj, '@alice/pn-private'), mainOf('@alice/pn-private', '1.0.0'));
  });

  test('anonymous pnpm installs a public package but not a private one', T, async () => {
    const proj = dir(makeProject());
    ok(await pnpm(anon, ['add', '@alice/pn-public'], proj), 'anonymous pnpm add of a public package');
    assert.equal(installed(proj, '@alice/pn-public'), mainOf('@alice/pn-public', '2.0.0'));

    const denied = await pnpm(anon, ['add', '@alice/pn-private'], dir(makeProject()));
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /ERR_PNPM_FETCH_401/);
  });

  test('a tampered integrity in pnpm-lock.yaml makes the install fail', T, async () => {
    const proj = dir(makeProject());
    ok(await pnpm(consumer, ['add', '@alice/pn-public'], proj), 'pnpm add');
    const lockFile = path.join(proj, 'pnpm-lock.yaml');
    const lock = read(lockFile);
    const tampered = lock.replace(/integrity: sha512-[A-Za-z0-9+/=]+/, `integrity: sha512-${Buffer.alloc(64, 7).toString('base64')}`);
    assert.notEqual(tampered, lock);
    fs.writeFileSync(lockFile, tampered);
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    const fresh = dir(tempDir('wharf-e2e-pnpm-store-'));
    const r = await pnpm(consumer, ['install', '--frozen-lockfile', '--config.fetch-retries=0'], proj, fresh);

    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /ERR_PNPM_TARBALL_INTEGRITY/);
    assert.equal(fs.existsSync(path.join(proj, 'node_modules/@alice/pn-public/index.js')), false);
  });
});
