// End to end with Debian's nuget (NuGet.exe 2.8.7 on mono: the v2 OData protocol only) against Wharf started as
// `npm start` starts it: pack, push to OWNER/api/v2 (X-NuGet-ApiKey), 409 on a re-push, anonymous install of a
// public package with and without -Version (bringing its dependency), nuget list (with -Prerelease), a private
// package (refused anonymously, installed and listed with credentials through OWNER/auth/api/v2), and
// nuget delete = unlist (gone from list, a pinned install still works).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, type ChildServer } from '../helpers/wharf.ts';
import { ok, userWithToken, wharf } from './helpers-npm.ts';
import { NuGet2Client } from './helpers-nuget.ts';

const T = { timeout: 180_000 };

describe('nuget 2.8.7 (v2 OData) against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let token: string;
  let src: string;
  let alice: NuGet2Client;
  const files = new Map<string, string>();
  const repo = 'https://github.com/alice/hello';

  before(async () => {
    server = await spawnWharf();
    token = await userWithToken(server, 'alice');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    src = `${server.url}/nuget/alice/api/v2`;
    alice = new NuGet2Client(src);
    files.set('Contoso.Dep', await alice.pack('Contoso.Dep', '1.0.0', { repository: repo }));
    files.set('Contoso.App', await alice.pack('Contoso.App', '2.0.0', { repository: repo, deps: [['Contoso.Dep', '1.0.0']] }));
    files.set('Contoso.App-beta', await alice.pack('Contoso.App', '2.1.0-beta', { repository: repo, deps: [['Contoso.Dep', '1.0.0']] }));
    files.set('Contoso.Secret', await alice.pack('Contoso.Secret', '1.0.0'));
  });
  after(() => server?.stop());

  const installed = (c: NuGet2Client, out: string) => (fs.existsSync(path.join(c.home, out)) ? fs.readdirSync(path.join(c.home, out)).sort() : []);
  /** nuget push with a path relative to the package's folder (2.8.7 mangles absolute paths on mono). */
  const push = (f: string, source = src) => alice.nuget(['push', path.basename(f), '-Source', source, '-ApiKey', token], path.dirname(f));

  test('nuget push to OWNER/api/v2 with an API key; the same version again fails (409)', T, async () => {
    for (const f of files.values()) {
      const r = await push(f);
      ok(r, `nuget push ${f}`);
      assert.match(r.output, /Your package was pushed/);
    }
    const again = await push(files.get('Contoso.Dep')!);
    assert.notEqual(again.code, 0);
    assert.match(again.output, /409|Conflict/i);
  });

  test('anonymous nuget install -Version of a public package brings its dependency', T, async () => {
    const anon = new NuGet2Client(src);
    ok(await anon.nuget(['install', 'Contoso.App', '-Version', '2.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache']), 'nuget install -Version');
    assert.deepEqual(installed(anon, 'pkgs'), ['Contoso.App.2.0.0', 'Contoso.Dep.1.0.0']);
    assert.equal(fs.readFileSync(path.join(anon.home, 'pkgs/Contoso.Dep.1.0.0/content/hello.txt'), 'utf8'), 'Contoso.Dep 1.0.0\n');
  });

  test('nuget install without -Version takes the latest release, not the prerelease', T, async () => {
    const anon = new NuGet2Client(src);
    ok(await anon.nuget(['install', 'Contoso.App', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache']), 'nuget install');
    assert.deepEqual(installed(anon, 'pkgs'), ['Contoso.App.2.0.0', 'Contoso.Dep.1.0.0']);
    ok(await anon.nuget(['install', 'Contoso.App', '-Prerelease', '-Source', src, '-OutputDirectory', 'pre', '-NoCache']), 'nuget install -Prerelease');
    assert.deepEqual(installed(anon, 'pre'), ['Contoso.App.2.1.0-beta', 'Contoso.Dep.1.0.0']);
  });

  test('nuget list shows the latest public versions (-Prerelease: the beta), never the private package', T, async () => {
    const anon = new NuGet2Client(src);
    const { result, lines } = await anon.list();
    ok(result, 'nuget list');
    assert.deepEqual(lines, ['Contoso.App 2.0.0', 'Contoso.Dep 1.0.0']);
    assert.deepEqual((await anon.list(['-Prerelease'])).lines, ['Contoso.App 2.1.0-beta', 'Contoso.Dep 1.0.0']);
    assert.deepEqual((await anon.list(['-AllVersions'])).lines, ['Contoso.App 2.0.0', 'Contoso.Dep 1.0.0']);
  });

  test('a private package: anonymous install fails; with credentials (through OWNER/auth/api/v2) it installs and lists', T, async () => {
    const anon = new NuGet2Client(src);
    const refused = await anon.nuget(['install', 'Contoso.Secret', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /Unable to find version '1.0.0' of package 'Contoso.Secret'|401|Unauthorized/);
    assert.deepEqual(installed(anon, 'pkgs'), []);

    const signIn = `${server.url}/nuget/alice/auth/api/v2`;
    const withCreds = new NuGet2Client(signIn, { user: 'alice', token });
    const r = await withCreds.nuget(['install', 'Contoso.Secret', '-Version', '1.0.0', '-Source', signIn, '-OutputDirectory', 'pkgs', '-NoCache']);
    ok(r, 'nuget install with credentials');
    assert.match(r.output, /Using credentials from config. UserName: alice/);
    assert.deepEqual(installed(withCreds, 'pkgs'), ['Contoso.Secret.1.0.0']);
    assert.deepEqual((await withCreds.list()).lines, ['Contoso.App 2.0.0', 'Contoso.Dep 1.0.0', 'Contoso.Secret 1.0.0']);
  });

  test('nuget delete unlists: gone from nuget list, a pinned install still works', T, async () => {
    const r = await alice.nuget(['delete', 'Contoso.Dep', '1.0.0', '-Source', src, '-ApiKey', token]);
    ok(r, 'nuget delete');
    assert.match(r.output, /was deleted successfully/);
    const anon = new NuGet2Client(src);
    assert.deepEqual((await anon.list()).lines, ['Contoso.App 2.0.0']);
    ok(await anon.nuget(['install', 'Contoso.Dep', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache']), 'install an unlisted version');
    assert.deepEqual(installed(anon, 'pkgs'), ['Contoso.Dep.1.0.0']);
  });
});
