// End to end with the real npm CLI (npm 11) against Wharf started as `npm start` starts it: publish, install
// (with package-lock.json and integrity checks), view, dist-tag, deprecate, unpublish, whoami, search, legacy
// login, the publishing rules, repository linking, visibility and job tokens (issue 2, sections 3 and 4).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, type ChildServer } from '../helpers/wharf.ts';
import { Client, json, mainOf, makePackage, makeProject, ok, read, userWithToken, wharf, type RunResult } from './helpers-npm.ts';

const T = { timeout: 120_000 };

describe('npm CLI against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let alice: Client; // publisher, with a read/write/delete token
  let consumer: Client; // alice's token too, but its own cache: installs really download
  let anon: Client; // no token
  let carol: Client; // signed in, with no access to alice's private packages
  const clients: Client[] = [];
  const dirs: string[] = [];

  const client = (token?: string, scopes?: string[]) => {
    const c = new Client(server, { token, scopes });
    clients.push(c);
    return c;
  };
  const pkgDir = (...a: Parameters<typeof makePackage>) => {
    const d = makePackage(...a);
    dirs.push(d);
    return d;
  };
  const project = () => {
    const d = makeProject();
    dirs.push(d);
    return d;
  };
  const publish = async (c: Client, dir: string, args: string[] = []) => ok(await c.npm(['publish', ...args], dir), `npm publish in ${dir}`);
  const installed = (proj: string, name: string, file = 'index.js') => read(proj, 'node_modules', name, file);

  before(async () => {
    server = await spawnWharf();
    const aliceToken = await userWithToken(server, 'alice', undefined, 'alice-secret-pw', 'alice@example.com');
    await userWithToken(server, 'bob');
    const carolToken = await userWithToken(server, 'carol');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    await wharf(server, ['repo', 'create', 'alice/secret', '--visibility', 'private']);
    alice = client(aliceToken, ['alice', 'bob']);
    consumer = client(aliceToken);
    anon = client();
    carol = client(carolToken);
  });

  after(async () => {
    await server?.stop();
    for (const c of clients) c.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('npm publish, then npm install downloads it; npm ci checks the lock file integrity', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/hello', version: '1.0.0', repository: 'https://github.com/alice/hello.git' }));

    const proj = project();
    const r = ok(await consumer.npm(['install', '@alice/hello'], proj), 'npm install @alice/hello');
    assert.match(r.output, /added 1 package/);
    assert.equal(installed(proj, '@alice/hello'), mainOf('@alice/hello', '1.0.0'));
    assert.equal(JSON.parse(read(proj, 'node_modules/@alice/hello/package.json')).version, '1.0.0');
    assert.equal(JSON.parse(read(proj, 'package.json')).dependencies['@alice/hello'], '^1.0.0');

    // The lock file records Wharf's tarball URL and the sha512 of the bytes that were published.
    const lock = JSON.parse(read(proj, 'package-lock.json'));
    const entry = lock.packages['node_modules/@alice/hello'];
    assert.equal(entry.version, '1.0.0');
    assert.equal(entry.resolved, `${server.url}/npm/@alice/hello/-/hello-1.0.0.tgz`);
    const tgz = Buffer.from(await (await fetch(entry.resolved, { headers: { authorization: `Bearer ${tokenOf(consumer)}` } })).arrayBuffer());
    assert.equal(entry.integrity, `sha512-${createHash('sha512').update(tgz).digest('base64')}`);

    // npm ci from the lock file, with an empty cache: downloads and verifies.
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    consumer.freshCache();
    ok(await consumer.npm(['ci'], proj), 'npm ci');
    assert.equal(installed(proj, '@alice/hello'), mainOf('@alice/hello', '1.0.0'));

    // A lock file whose integrity does not match what Wharf serves makes the install fail.
    entry.integrity = `sha512-${createHash('sha512').update('something else').digest('base64')}`;
    fs.writeFileSync(path.join(proj, 'package-lock.json'), JSON.stringify(lock, null, 2));
    fs.rmSync(path.join(proj, 'node_modules'), { recursive: true });
    consumer.freshCache();
    // (npm retries a corrupted download with backoff; no retries keeps the test quick.)
    const bad = await consumer.npm(['ci', '--fetch-retries=0'], proj);
    assert.notEqual(bad.code, 0, bad.output);
    assert.match(bad.output, /EINTEGRITY|integrity/i);
    assert.equal(fs.existsSync(path.join(proj, 'node_modules/@alice/hello/index.js')), false);
  });

  test('npm view shows the fields, versions and dist-tags', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/viewme', version: '1.0.0', description: 'a package to look at', keywords: ['wharf-e2e', 'look'] }));
    await publish(alice, pkgDir({ name: '@alice/viewme', version: '1.1.0', description: 'a package to look at', keywords: ['wharf-e2e', 'look'] }));
    await publish(alice, pkgDir({ name: '@alice/viewme', version: '2.0.0-beta.1', description: 'the next one' }), ['--tag', 'beta']);

    const v = json(ok(await consumer.npm(['view', '@alice/viewme', '--json']), 'npm view'));
    assert.equal(v.name, '@alice/viewme');
    assert.equal(v.version, '1.1.0'); // latest, not the beta
    assert.equal(v.description, 'a package to look at');
    assert.deepEqual(v.keywords, ['wharf-e2e', 'look']);
    assert.equal(v.license, 'MIT');
    assert.deepEqual(v.versions, ['1.0.0', '1.1.0', '2.0.0-beta.1']);
    assert.deepEqual(v['dist-tags'], { latest: '1.1.0', beta: '2.0.0-beta.1' });
    assert.equal(v.dist.tarball, `${server.url}/npm/@alice/viewme/-/viewme-1.1.0.tgz`);
    assert.match(v.dist.integrity, /^sha512-/);
    assert.match(v.dist.shasum, /^[0-9a-f]{40}$/);
    assert.ok(v.time?.['1.0.0'] && v.time?.created && v.time?.modified, 'time fields');

    const one = json(ok(await consumer.npm(['view', '@alice/viewme@1.0.0', 'version', '--json']), 'npm view version'));
    assert.equal(one, '1.0.0');
    const beta = json(ok(await consumer.npm(['view', '@alice/viewme@beta', 'description', '--json']), 'npm view @beta'));
    assert.equal(beta, 'the next one');
    const plain = ok(await consumer.npm(['view', '@alice/viewme']), 'npm view (human)');
    assert.match(plain.stdout, /@alice\/viewme@1\.1\.0/);
    assert.match(plain.stdout, /beta: 2\.0\.0-beta\.1/);
    // The publisher and maintainers with the email Wharf knows (issue 18, item 8: it said "alice <undefined>").
    assert.match(plain.stdout, /published .* by alice <alice@example\.com>/);
    assert.match(plain.stdout, /maintainers:\n- alice <alice@example\.com>/);
    assert.ok(!plain.stdout.includes('undefined'), plain.stdout);
  });

  test('npm dist-tag add, ls and rm', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/tags', version: '1.0.0' }));
    await publish(alice, pkgDir({ name: '@alice/tags', version: '1.1.0' }));

    ok(await alice.npm(['dist-tag', 'add', '@alice/tags@1.0.0', 'stable']), 'npm dist-tag add');
    let ls = ok(await alice.npm(['dist-tag', 'ls', '@alice/tags']), 'npm dist-tag ls');
    assert.match(ls.stdout, /^latest: 1\.1\.0$/m);
    assert.match(ls.stdout, /^stable: 1\.0\.0$/m);

    // An install by tag resolves to the tagged version.
    const proj = project();
    ok(await consumer.npm(['install', '@alice/tags@stable'], proj), 'npm install @stable');
    assert.equal(installed(proj, '@alice/tags'), mainOf('@alice/tags', '1.0.0'));

    // Moving a tag.
    ok(await alice.npm(['dist-tag', 'add', '@alice/tags@1.1.0', 'stable']), 'npm dist-tag add (move)');
    ls = ok(await alice.npm(['dist-tag', 'ls', '@alice/tags']), 'npm dist-tag ls');
    assert.match(ls.stdout, /^stable: 1\.1\.0$/m);

    ok(await alice.npm(['dist-tag', 'rm', '@alice/tags', 'stable']), 'npm dist-tag rm');
    ls = ok(await alice.npm(['dist-tag', 'ls', '@alice/tags']), 'npm dist-tag ls');
    assert.doesNotMatch(ls.stdout, /stable/);
    assert.match(ls.stdout, /^latest: 1\.1\.0$/m);
    const tags = json(ok(await consumer.npm(['view', '@alice/tags', 'dist-tags', '--json']), 'npm view dist-tags'));
    assert.deepEqual(tags, { latest: '1.1.0' });

    // Someone who cannot write the package cannot tag it.
    const denied = await carol.npm(['dist-tag', 'add', '@alice/tags@1.0.0', 'hijack']);
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /E404/); // a private package: carol cannot even see it
  });

  test('a consumer with a warm cache sees new versions and tags (revalidation, no stale packument)', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/fresh', version: '1.0.0' }));
    const proj = project();
    ok(await consumer.npm(['install', '@alice/fresh'], proj), 'npm install');
    assert.deepEqual(json(ok(await consumer.npm(['view', '@alice/fresh', 'versions', '--json']), 'view')), ['1.0.0']);

    await publish(alice, pkgDir({ name: '@alice/fresh', version: '1.0.1' }));
    assert.deepEqual(json(ok(await consumer.npm(['view', '@alice/fresh', 'versions', '--json']), 'view')), ['1.0.0', '1.0.1']);
    ok(await consumer.npm(['update'], proj), 'npm update');
    assert.equal(installed(proj, '@alice/fresh'), mainOf('@alice/fresh', '1.0.1'));
    const outdated = await consumer.npm(['outdated', '--json'], proj);
    assert.deepEqual(JSON.parse(outdated.stdout || '{}'), {});

    ok(await alice.npm(['dist-tag', 'add', '@alice/fresh@1.0.0', 'lts']), 'dist-tag add');
    assert.equal(json(ok(await consumer.npm(['view', '@alice/fresh@lts', 'version', '--json']), 'view @lts')), '1.0.0');
  });

  test('npm dist-tag add for a version that does not exist fails', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/tags2', version: '1.0.0' }));
    const r = await alice.npm(['dist-tag', 'add', '@alice/tags2@9.9.9', 'next']);
    assert.notEqual(r.code, 0, r.output);
    const tags = json(ok(await consumer.npm(['view', '@alice/tags2', 'dist-tags', '--json']), 'view dist-tags'));
    assert.deepEqual(tags, { latest: '1.0.0' });
  });

  test('npm deprecate: npm view shows it and npm install warns', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/old', version: '1.0.0' }));
    await publish(alice, pkgDir({ name: '@alice/old', version: '1.0.1' }));
    ok(await alice.npm(['deprecate', '@alice/old@1.0.0', 'use 1.0.1 instead']), 'npm deprecate');

    const d = json(ok(await consumer.npm(['view', '@alice/old@1.0.0', 'deprecated', '--json']), 'npm view deprecated'));
    assert.equal(d, 'use 1.0.1 instead');
    const other = await consumer.npm(['view', '@alice/old@1.0.1', 'deprecated', '--json']);
    assert.equal(other.stdout.trim(), '', 'the other version is not deprecated');

    const proj = project();
    const r = ok(await consumer.npm(['install', '@alice/old@1.0.0'], proj), 'npm install deprecated');
    assert.match(r.output, /deprecated @alice\/old@1\.0\.0: use 1\.0\.1 instead/);
    assert.equal(installed(proj, '@alice/old'), mainOf('@alice/old', '1.0.0'));

    // A range deprecates every version it matches.
    ok(await alice.npm(['deprecate', '@alice/old', 'the whole package is old']), 'npm deprecate (all versions)');
    const all = json(ok(await consumer.npm(['view', '@alice/old', '--json']), 'npm view'));
    assert.equal(all.deprecated, 'the whole package is old');
    const d101 = json(ok(await consumer.npm(['view', '@alice/old@1.0.1', 'deprecated', '--json']), 'npm view 1.0.1 deprecated'));
    assert.equal(d101, 'the whole package is old');

    // Un-deprecating with an empty message.
    ok(await alice.npm(['deprecate', '@alice/old', '']), 'npm deprecate ""');
    for (const v of ['1.0.0', '1.0.1']) {
      const cleared = await consumer.npm(['view', `@alice/old@${v}`, 'deprecated', '--json']);
      assert.equal(cleared.stdout.trim(), '', `${v} is no longer deprecated`);
    }
    const quiet = ok(await consumer.npm(['install', '@alice/old@1.0.0'], project()), 'install after un-deprecating');
    assert.doesNotMatch(quiet.output, /deprecated/);
  });

  test('npm unpublish of one version removes it, the others remain', T, async () => {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await publish(alice, pkgDir({ name: '@alice/gone', version: v }));
    ok(await alice.npm(['unpublish', '@alice/gone@1.0.0']), 'npm unpublish @alice/gone@1.0.0');

    const v = json(ok(await consumer.npm(['view', '@alice/gone', '--json']), 'npm view'));
    assert.deepEqual(v.versions, ['1.1.0', '1.2.0']);
    assert.equal(v['dist-tags'].latest, '1.2.0');

    const proj = project();
    consumer.freshCache();
    const r = await consumer.npm(['install', '@alice/gone@1.0.0'], proj);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /ETARGET|No matching version/);
    const tgz = await fetch(`${server.url}/npm/@alice/gone/-/gone-1.0.0.tgz`, { headers: { authorization: `Bearer ${tokenOf(consumer)}` } });
    assert.equal(tgz.status, 404);

    ok(await consumer.npm(['install', '@alice/gone@1.1.0'], proj), 'install a remaining version');
    assert.equal(installed(proj, '@alice/gone'), mainOf('@alice/gone', '1.1.0'));

    // Unpublishing the latest version moves latest to the newest remaining one.
    ok(await alice.npm(['unpublish', '@alice/gone@1.2.0']), 'npm unpublish latest');
    const after = json(ok(await consumer.npm(['view', '@alice/gone', '--json']), 'npm view'));
    assert.deepEqual(after.versions, ['1.1.0']);
    assert.equal(after['dist-tags'].latest, '1.1.0');
  });

  test('npm unpublish --force removes the whole package', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/doomed', version: '1.0.0' }));
    await publish(alice, pkgDir({ name: '@alice/doomed', version: '1.0.1' }));
    // Someone without access cannot.
    const denied = await carol.npm(['unpublish', '@alice/doomed', '--force']);
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /E404/);

    ok(await alice.npm(['unpublish', '@alice/doomed', '--force']), 'npm unpublish --force');
    const v = await consumer.npm(['view', '@alice/doomed', '--json']);
    assert.notEqual(v.code, 0, v.output);
    assert.match(v.output, /E404/);
    const proj = project();
    consumer.freshCache();
    const r = await consumer.npm(['install', '@alice/doomed'], proj);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /E404/);
  });

  test('npm whoami', T, async () => {
    const r = ok(await alice.npm(['whoami', '--registry', alice.registry]), 'npm whoami');
    assert.equal(r.stdout.trim(), 'alice');
    const c = ok(await carol.npm(['whoami', '--registry', carol.registry]), 'npm whoami (carol)');
    assert.equal(c.stdout.trim(), 'carol');
    const a = await anon.npm(['whoami', '--registry', anon.registry]);
    assert.notEqual(a.code, 0, a.output);
    assert.match(a.output, /ENEEDAUTH|E401|npm login|npm adduser/);
    // A token that does not exist is refused.
    const bogus = client('wharf_doesnotexist0000000000000000000000');
    const b = await bogus.npm(['whoami', '--registry', bogus.registry]);
    assert.notEqual(b.code, 0, b.output);
    assert.match(b.output, /E401|npm login/);
  });

  test('npm search finds only the packages the user may see', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/findme-public', version: '1.0.0', description: 'zebrafish public', keywords: ['zebrafish'], repository: 'https://github.com/alice/hello' }));
    await publish(alice, pkgDir({ name: '@alice/findme-private', version: '1.0.0', description: 'zebrafish private', keywords: ['zebrafish'] }));

    const names = async (c: Client) => {
      const r = ok(await c.npm(['search', 'zebrafish', '--registry', c.registry, '--json']), 'npm search');
      return (json<{ name: string }[]>(r)).map((p) => p.name).sort();
    };
    assert.deepEqual(await names(alice), ['@alice/findme-private', '@alice/findme-public']);
    assert.deepEqual(await names(carol), ['@alice/findme-public']);
    assert.deepEqual(await names(anon), ['@alice/findme-public']);

    // By scope and by full name.
    const byName = ok(await anon.npm(['search', '@alice/findme-public', '--registry', anon.registry, '--json']), 'npm search by name');
    assert.deepEqual(json<{ name: string }[]>(byName).map((p) => p.name), ['@alice/findme-public']);
    const byScope = json<{ name: string }[]>(ok(await anon.npm(['search', '@alice', '--registry', anon.registry, '--json']), 'npm search by scope')).map((p) => p.name);
    assert.ok(byScope.includes('@alice/findme-public'), `search by scope: ${byScope}`);
    assert.ok(!byScope.includes('@alice/findme-private'), `search by scope: ${byScope}`);
    const none = ok(await carol.npm(['search', 'findme-private', '--registry', carol.registry, '--json']), 'npm search for a private name');
    assert.deepEqual(json(none), []);

    const human = ok(await alice.npm(['search', 'zebrafish', '--registry', alice.registry]), 'npm search (table)');
    assert.match(human.stdout, /@alice\/findme-public/);
    assert.match(human.stdout, /zebrafish public/);
  });

  test('npm login (legacy flow) gets a token that works', T, async () => {
    const c = client();
    const r = await npmLogin(c, 'alice', 'alice-secret-pw');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Logged in (as alice )?on/i);
    const rc = fs.readFileSync(c.npmrc, 'utf8');
    const m = new RegExp(`^${c.nerf.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:_authToken=(.+)$`, 'm').exec(rc);
    assert.ok(m, `npm login saved a token in .npmrc:\n${rc}`);
    const who = ok(await c.npm(['whoami', '--registry', c.registry]), 'npm whoami after login');
    assert.equal(who.stdout.trim(), 'alice');
    // The new token can publish and install.
    await publish(c, pkgDir({ name: '@alice/via-login', version: '1.0.0' }));
    const proj = project();
    ok(await consumer.npm(['install', '@alice/via-login'], proj), 'install what the logged-in token published');

    // A wrong password gets no token.
    const w = client();
    const bad = await npmLogin(w, 'alice', 'wrong-password');
    assert.notEqual(bad.code, 0, bad.output);
    assert.match(bad.output, /E401|incorrect|Unauthorized|authentication/i);
    assert.doesNotMatch(fs.readFileSync(w.npmrc, 'utf8'), /_authToken/);

    // npm logout revokes the token it used.
    ok(await c.npm(['logout', '--registry', c.registry]), 'npm logout');
    const res = await fetch(`${server.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${m![1].trim()}` } });
    assert.equal(res.status, 401, 'the token is revoked after npm logout');
  });

  test('npm publish --access public and --tag work; a package removed with --force can be published again', T, async () => {
    ok(await alice.npm(['publish', '--access', 'public'], pkgDir({ name: '@alice/access', version: '1.0.0' })), 'npm publish --access public');
    ok(await alice.npm(['publish', '--tag', 'next'], pkgDir({ name: '@alice/access', version: '1.1.0' })), 'npm publish --tag next');
    const tags = json(ok(await consumer.npm(['view', '@alice/access', 'dist-tags', '--json']), 'view dist-tags'));
    assert.deepEqual(tags, { latest: '1.0.0', next: '1.1.0' });

    ok(await alice.npm(['unpublish', '@alice/access', '--force']), 'npm unpublish --force');
    ok(await alice.npm(['publish'], pkgDir({ name: '@alice/access', version: '2.0.0' })), 'publish a new version after the package was removed');
    const v = json(ok(await consumer.npm(['view', '@alice/access', '--json']), 'view'));
    assert.deepEqual(v.versions, ['2.0.0']);
    assert.deepEqual(v['dist-tags'], { latest: '2.0.0' });
    const proj = project();
    ok(await consumer.npm(['install', '@alice/access'], proj), 'install');
    assert.equal(installed(proj, '@alice/access'), mainOf('@alice/access', '2.0.0'));
  });

  test('republishing an existing version fails', T, async () => {
    const dir = pkgDir({ name: '@alice/immutable', version: '1.0.0' });
    await publish(alice, dir);
    const again = await alice.npm(['publish'], dir);
    assert.notEqual(again.code, 0, again.output);
    // npm sees the version in the packument and refuses before sending anything (npm's usual error).
    assert.match(again.output, /cannot publish over the previously published versions: 1\.0\.0/);
    // Different content under the same version is refused too, and the original stays.
    fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = "changed";\n');
    const changed = await alice.npm(['publish'], dir);
    assert.notEqual(changed.code, 0, changed.output);
    const proj = project();
    ok(await consumer.npm(['install', '@alice/immutable'], proj), 'install');
    assert.equal(installed(proj, '@alice/immutable'), mainOf('@alice/immutable', '1.0.0'));
  });

  test('publishing to a scope the token cannot write fails with 403', T, async () => {
    const r = await alice.npm(['publish'], pkgDir({ name: '@bob/x', version: '1.0.0' }));
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /E403/);
    // Nothing was created: bob does not see a package either.
    const res = await fetch(`${server.url}/npm/@bob%2fx`, { headers: { authorization: `Bearer ${tokenOf(alice)}` } });
    assert.equal(res.status, 404);
  });

  test('a read-only token cannot publish', T, async () => {
    const ro = client(await wharf(server, ['token', 'create', 'alice', '--scopes', 'read:packages']));
    const r = await ro.npm(['publish'], pkgDir({ name: '@alice/readonly', version: '1.0.0' }));
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /E403/);
    assert.match(r.output, /write:packages/);
  });

  test('an unscoped name fails', T, async () => {
    const r = await alice.npm(['publish', '--registry', alice.registry], pkgDir({ name: 'unscoped-wharf-e2e', version: '1.0.0' }));
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /E400/);
    assert.match(r.output, /must be scoped/);
    assert.doesNotMatch(r.output, /\+ unscoped-wharf-e2e@1\.0\.0/);
  });

  test('a package linked to a public repository inherits it: anonymous install works', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/linked', version: '1.0.0', repository: { type: 'git', url: 'git+ssh://git@git.example.com/alice/hello' } }));
    await publish(alice, pkgDir({ name: '@alice/linked-https', version: '1.0.0', repository: 'https://github.com/alice/hello.git' }));
    for (const name of ['@alice/linked', '@alice/linked-https']) {
      const proj = project();
      anon.freshCache();
      const r = ok(await anon.npm(['install', name], proj), `anonymous npm install ${name}`);
      assert.match(r.output, /added 1 package/);
      assert.equal(installed(proj, name), mainOf(name, '1.0.0'));
    }
    // The REST API shows the link.
    const res = await fetch(`${server.url}/api/v1/users/alice/packages/npm/linked`, { headers: { authorization: `Bearer ${tokenOf(alice)}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { repository?: { full_name?: string }; visibility?: string };
    assert.equal(body.repository?.full_name, 'alice/hello');

    // Linked to a private repository: private to the anonymous client.
    await publish(alice, pkgDir({ name: '@alice/linked-secret', version: '1.0.0', repository: 'https://github.com/alice/secret.git' }));
    const proj = project();
    const denied = await anon.npm(['install', '@alice/linked-secret'], proj);
    assert.notEqual(denied.code, 0, denied.output);
    assert.match(denied.output, /E401|npm login/);
  });

  test('an unlinked new package is private until its owner makes it public', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/private', version: '1.0.0' }));

    // Anonymous: npm tells the person to log in.
    let proj = project();
    anon.freshCache();
    const a = await anon.npm(['install', '@alice/private'], proj);
    assert.notEqual(a.code, 0, a.output);
    assert.match(a.output, /E401/);
    assert.match(a.output, /npm login/);
    assert.equal(fs.existsSync(path.join(proj, 'node_modules/@alice/private')), false);

    // Anonymous asking for a missing package gets the same answer (no existence leak).
    const av = await anon.npm(['view', '@alice/private']);
    assert.match(av.output, /E401/);
    const am = await anon.npm(['view', '@alice/no-such-package']);
    assert.match(am.output, /E401/);

    // Signed in without access: indistinguishable from a missing package.
    const c = await carol.npm(['install', '@alice/private'], proj);
    assert.notEqual(c.code, 0, c.output);
    assert.match(c.output, /E404/);
    const missing = await carol.npm(['install', '@alice/no-such-package'], proj);
    assert.match(missing.output, /E404/);
    const v = await carol.npm(['view', '@alice/private']);
    assert.match(v.output, /E404/);

    // The owner can read it.
    ok(await consumer.npm(['install', '@alice/private'], project()), 'owner installs own private package');

    await wharf(server, ['package', 'visibility', 'npm', 'alice/private', 'public']);
    proj = project();
    anon.freshCache();
    ok(await anon.npm(['install', '@alice/private'], proj), 'anonymous install after making it public');
    assert.equal(installed(proj, '@alice/private'), mainOf('@alice/private', '1.0.0'));
    ok(await carol.npm(['install', '@alice/private'], project()), 'carol installs it once public');

    // And back to private.
    await wharf(server, ['package', 'visibility', 'npm', 'alice/private', 'private']);
    anon.freshCache();
    const again = await anon.npm(['install', '@alice/private'], project());
    assert.notEqual(again.code, 0, again.output);
    assert.match(again.output, /E401|npm login/);
  });

  test('internal packages install for any signed-in user, not anonymously', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/internal', version: '1.0.0' }));
    await wharf(server, ['package', 'visibility', 'npm', 'alice/internal', 'internal']);
    const proj = project();
    ok(await carol.npm(['install', '@alice/internal'], proj), 'carol installs an internal package');
    assert.equal(installed(proj, '@alice/internal'), mainOf('@alice/internal', '1.0.0'));
    anon.freshCache();
    const a = await anon.npm(['install', '@alice/internal'], project());
    assert.notEqual(a.code, 0, a.output);
    assert.match(a.output, /E401|npm login/);
  });

  test('a package linked to a private repository inherits its access grants', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/team', version: '1.0.0', repository: 'git+https://github.com/alice/secret.git' }));
    const before = await carol.npm(['install', '@alice/team'], project());
    assert.match(before.output, /E404/);
    await wharf(server, ['repo', 'grant', 'alice/secret', 'carol', '--role', 'read']);
    const proj = project();
    ok(await carol.npm(['install', '@alice/team'], proj), 'carol installs after a read grant on the repository');
    assert.equal(installed(proj, '@alice/team'), mainOf('@alice/team', '1.0.0'));
    // read is not write.
    const pub = await carol.npm(['publish'], pkgDir({ name: '@alice/team', version: '1.0.1', repository: 'https://github.com/alice/secret' }));
    assert.notEqual(pub.code, 0, pub.output);
    assert.match(pub.output, /E403/);
    // write is.
    await wharf(server, ['repo', 'grant', 'alice/secret', 'carol', '--role', 'write']);
    ok(await carol.npm(['publish'], pkgDir({ name: '@alice/team', version: '1.0.1', repository: 'https://github.com/alice/secret' })), 'carol publishes with write');
    const v = json(ok(await consumer.npm(['view', '@alice/team', 'versions', '--json']), 'npm view versions'));
    assert.deepEqual(v, ['1.0.0', '1.0.1']);
  });

  test('token scopes cap what npm can do: no delete:packages, no unpublish', T, async () => {
    await publish(alice, pkgDir({ name: '@alice/keep', version: '1.0.0' }));
    await publish(alice, pkgDir({ name: '@alice/keep', version: '1.0.1' }));
    const rw = client(await wharf(server, ['token', 'create', 'alice', '--scopes', 'read:packages,write:packages']));
    const one = await rw.npm(['unpublish', '@alice/keep@1.0.0']);
    assert.notEqual(one.code, 0, one.output);
    assert.match(one.output, /E403/);
    const all = await rw.npm(['unpublish', '@alice/keep', '--force']);
    assert.notEqual(all.code, 0, all.output);
    assert.match(all.output, /E403/);
    const v = json(ok(await consumer.npm(['view', '@alice/keep', 'versions', '--json']), 'npm view versions'));
    assert.deepEqual(v, ['1.0.0', '1.0.1']);
    // It can still publish and deprecate (write:packages).
    ok(await rw.npm(['publish'], pkgDir({ name: '@alice/keep', version: '1.0.2' })), 'publish with write:packages');
    ok(await rw.npm(['deprecate', '@alice/keep@1.0.0', 'old']), 'deprecate with write:packages');
  });

  test('a job token publishes a package linked to its repository and installs it', T, async () => {
    const job = client(await wharf(server, ['token', 'create-job', 'alice/hello']));
    await publish(job, pkgDir({ name: '@alice/from-ci', version: '1.0.0', repository: 'git+https://github.com/alice/hello.git' }));
    const proj = project();
    const r = ok(await job.npm(['install', '@alice/from-ci'], proj), 'npm install with the job token');
    assert.equal(installed(proj, '@alice/from-ci'), mainOf('@alice/from-ci', '1.0.0'));
    assert.match(r.output, /added 1 package/);
    const who = ok(await job.npm(['whoami', '--registry', job.registry]), 'whoami with a job token');
    assert.ok(who.stdout.trim().length > 0);

    // Not a package of another repository, and not another owner's scope.
    const other = await job.npm(['publish'], pkgDir({ name: '@alice/from-ci-secret', version: '1.0.0', repository: 'https://github.com/alice/secret.git' }));
    assert.notEqual(other.code, 0, other.output);
    assert.match(other.output, /E403/);
    const jobBob = new Client(server, { token: tokenOf(job), scopes: ['bob'] });
    clients.push(jobBob);
    const bob = await jobBob.npm(['publish'], pkgDir({ name: '@bob/from-ci', version: '1.0.0' }));
    assert.notEqual(bob.code, 0, bob.output);
    assert.match(bob.output, /E403/);

    // It reads what its repository was granted, and not other private packages.
    await publish(alice, pkgDir({ name: '@alice/shared-lib', version: '1.0.0' }));
    const before = await job.npm(['install', '@alice/shared-lib'], project());
    assert.match(before.output, /E404/);
    await wharf(server, ['package', 'grant', 'npm', 'alice/shared-lib', 'alice/hello', '--role', 'read']);
    const granted = project();
    ok(await job.npm(['install', '@alice/shared-lib'], granted), 'the job installs a package granted to its repository');
    assert.equal(installed(granted, '@alice/shared-lib'), mainOf('@alice/shared-lib', '1.0.0'));

    // Revoked: it stops working.
    await wharf(server, ['token', 'revoke', tokenOf(job)]);
    const revoked = await job.npm(['publish'], pkgDir({ name: '@alice/from-ci', version: '1.0.1', repository: 'https://github.com/alice/hello' }));
    assert.notEqual(revoked.code, 0, revoked.output);
    assert.match(revoked.output, /E401|npm login/);
  });
});

/** The token in a client's .npmrc. */
function tokenOf(c: Client): string {
  const m = /:_authToken=(.+)$/m.exec(fs.readFileSync(c.npmrc, 'utf8'));
  if (!m) throw new Error('client has no token');
  return m[1].trim();
}

/**
 * `npm login --auth-type=legacy` on a pseudo-terminal (npm prompts only on a TTY): `script` gives it one, and
 * we answer the Username and Password prompts as they appear. npm 11 first tries web login (POST /-/v1/login),
 * which Wharf answers 404, and falls back to the prompts.
 */
function npmLogin(c: Client, user: string, password: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const cmd = `npm login --registry=${c.registry} --auth-type=legacy`;
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { cwd: c.home, env: { ...c.env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let stage = 0;
    const onData = (d: Buffer) => {
      output += d;
      if (stage === 0 && /Username:\s*$/m.test(output)) {
        stage = 1;
        child.stdin.write(`${user}\r`);
      } else if (stage === 1 && /Password:\s*$/m.test(output)) {
        stage = 2;
        child.stdin.write(`${password}\r`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm login timed out (stage ${stage}):\n${output}`));
    }, 60_000);
    child.on('error', (e) => reject(new Error(`cannot run script: ${e.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: output, stderr: '', output });
    });
  });
}
