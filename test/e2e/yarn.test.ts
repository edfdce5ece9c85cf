// End to end with the real yarn classic (1.22, the project's devDependency) installing from Wharf: packages
// published with npm, installed with `yarn add` and from yarn.lock with `yarn install --frozen-lockfile`,
// signed in and anonymously, with registry and token from .npmrc (issue 2, section 3).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { Client, YARN, mainOf, makePackage, makeProject, ok, read, userWithToken, wharf } from './helpers-npm.ts';

const T = { timeout: 120_000 };

describe('yarn classic against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let alice: Client; // publishes with npm
  let consumer: Client; // installs with yarn, alice's token
  let anon: Client;
  const dirs: string[] = [];
  const dir = (d: string) => (dirs.push(d), d);
  const installed = (proj: string, name: string) => read(proj, 'node_modules', name, 'index.js');

  /** yarn with a cache folder of its own per call (an empty cache: the tarball is really downloaded). */
  const yarn = (c: Client, args: string[], cwd: string) =>
    c.yarn([...args, '--cache-folder', dir(tempDir('wharf-e2e-yarn-cache-')), '--non-interactive', '--no-progress', '--network-timeout', '30000'], cwd);

  before(async () => {
    assert.ok(fs.existsSync(YARN), `yarn is a devDependency and must be installed: ${YARN}`);
    server = await spawnWharf();
    const token = await userWithToken(server, 'alice');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    alice = new Client(server, { token });
    consumer = new Client(server, { token });
    anon = new Client(server);
    for (const [name, version, repo] of [
      ['@alice/y-private', '1.0.0', undefined],
      ['@alice/y-private', '1.1.0', undefined],
      ['@alice/y-public', '2.0.0', 'https://github.com/alice/hello.git'],
    ] as const) {
      ok(await alice.npm(['publish'], dir(makePackage({ name, version, repository: repo }))), `npm publish ${name}@${version}`);
    }
  });

  after(async () => {
    await server?.stop();
    for (const c of [alice, consumer, anon]) c?.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('yarn --version is yarn classic', T, async () => {
    const r = ok(await consumer.yarn(['--version'], consumer.home), 'yarn --version');
    assert.match(r.stdout.trim(), /^1\.22\.\d+$/);
  });

  test('yarn add @alice/pkg installs from Wharf with the token from .npmrc', T, async () => {
    const proj = dir(makeProject());
    ok(await yarn(consumer, ['add', '@alice/y-private'], proj), 'yarn add @alice/y-private');
    assert.equal(installed(proj, '@alice/y-private'), mainOf('@alice/y-private', '1.1.0'));
    assert.equal(JSON.parse(read(proj, 'package.json')).dependencies['@alice/y-private'], '^1.1.0');
    const lock = read(proj, 'yarn.lock');
    assert.match(lock, new RegExp(`resolved "${server.url}/npm/@alice/y-private/-/y-private-1\\.1\\.0\\.tgz#[0-9a-f]{40}"`));
    assert.match(lock, /integrity sha512-/);

    ok(await yarn(consumer, ['add', '@alice/y-private@1.0.0'], proj), 'yarn add @alice/y-private@1.0.0');
    assert.equal(installed(proj, '@alice/y-private'), mainOf('@alice/y-private', '1.0.0'));
  });

  test('yarn add --no-lockfile', T, async () => {
    const proj = dir(makeProject());
    ok(await yarn(consumer, ['add', '@alice/y-public', '--no-lockfile'], proj), 'yarn add --no-lockfile');
    assert.equal(installed(proj, '@alice/y-public'), mainOf('@alice/y-public', '2.0.0'));
    assert.equal(fs.existsSync(path.join(proj, 'yarn.lock')), false);
  });

  test('yarn install --frozen-lockfile reinstalls from yarn.lock', T, async () => {
    const proj = dir(makeProject());
    ok(await yarn(consumer, ['add', '@alice/y-private@1.1.0', '@alice/y-public'], proj), 'yarn add');
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    ok(await yarn(consumer, ['install', '--frozen-lockfile'], proj), 'yarn install --frozen-lockfile');
    assert.equal(installed(proj, '@alice/y-private'), mainOf('@alice/y-private', '1.1.0'));
    assert.equal(installed(proj, '@alice/y-public'), mainOf('@alice/y-public', '2.0.0'));
  });

  test('anonymous yarn installs a public package but not a private one', T, async () => {
    const proj = dir(makeProject());
    ok(await yarn(anon, ['add', '@alice/y-public'], proj), 'anonymous yarn add of a public package');
    assert.equal(installed(proj, '@alice/y-public'), mainOf('@alice/y-public', '2.0.0'));

    const other = dir(makeProject());
    const denied = await yarn(anon, ['add', '@alice/y-private'], other);
    assert.notEqual(denied.code, 0, denied.output);
    // yarn prints the message of Wharf's 401 answer.
    assert.match(denied.output, /401|Unauthorized|authentication required/);
    assert.equal(fs.existsSync(path.join(other, 'node_modules/@alice/y-private')), false);
  });

  test('a tampered integrity in yarn.lock makes the install fail', T, async () => {
    const proj = dir(makeProject());
    ok(await yarn(consumer, ['add', '@alice/y-public'], proj), 'yarn add');
    const lockFile = path.join(proj, 'yarn.lock');
    const lock = read(lockFile);
    const tampered = lock.replace(/integrity sha512-[A-Za-z0-9+/=]+/, `integrity sha512-${Buffer.alloc(64, 7).toString('base64')}`);
    assert.notEqual(tampered, lock);
    fs.writeFileSync(lockFile, tampered);
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    const r = await yarn(consumer, ['install', '--frozen-lockfile'], proj);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /Integrity check failed/i);
    assert.equal(fs.existsSync(path.join(proj, 'node_modules/@alice/y-public/index.js')), false);
  });
});
