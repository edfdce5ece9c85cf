// End to end with NuGet.exe 5.8 (npm nuget-exe on mono) against Wharf started as `npm start` starts it:
// nuget pack (with -Symbols -SymbolPackageFormat snupkg for one package), push (X-NuGet-ApiKey; the .snupkg
// beside the .nupkg goes to SymbolPackagePublish), 409 on a re-push, install with a dependency (anonymously:
// the packages are linked to a public repository), search, delete (unlist), and a private package: 401
// without credentials, installed with NuGet.Config packageSourceCredentials after the challenge.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, type ChildServer } from '../helpers/wharf.ts';
import { ok, userWithToken, wharf } from './helpers-npm.ts';
import { NuGetClient, nugetExe } from './helpers-nuget.ts';
import { buildPortablePdb, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';

const T = { timeout: 180_000 };
const PDB = buildPortablePdb(pdbIdOf('f6727b490a39fc44878e5a2d63b6cc4b'));
const PDB_KEY = '497b72f6390a44fc878e5a2d63b6cc4bFFFFFFFF';

describe('NuGet.exe 5.8 against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let token: string;
  let src: string;
  let exe: string;
  let alice: NuGetClient;
  const files = new Map<string, string>();
  const repo = 'https://github.com/alice/hello';

  before(async () => {
    exe = nugetExe();
    server = await spawnWharf();
    token = await userWithToken(server, 'alice');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    src = `${server.url}/nuget/alice/index.json`;
    alice = new NuGetClient(exe, src);
    files.set('Contoso.Dep', await alice.pack('Contoso.Dep', '1.0.0', { repository: repo }));
    files.set('Contoso.App', await alice.pack('Contoso.App', '2.0.0', { repository: repo, deps: [['Contoso.Dep', '1.0.0']] }));
    files.set('Contoso.Secret', await alice.pack('Contoso.Secret', '1.0.0'));
    files.set('Fabrikam.Sym', await alice.pack('Fabrikam.Sym', '1.0.0', { repository: repo, pdb: PDB }));
  });
  after(() => server?.stop());

  const installed = (c: NuGetClient, out: string) => fs.readdirSync(path.join(c.home, out)).sort();

  test('nuget push with an API key → created; pushing the same version again fails (409)', T, async () => {
    for (const f of files.values()) ok(await alice.nuget(['push', f, '-Source', src, '-ApiKey', token]), `nuget push ${f}`);
    // nuget pack put Fabrikam.Sym.1.0.0.snupkg next to the .nupkg and the source advertises SymbolPackagePublish:
    // the push sent it too, and the symbol server serves its PDB by key.
    assert.ok(fs.existsSync(files.get('Fabrikam.Sym')!.replace(/\.nupkg$/, '.snupkg')));
    const pdb = await fetch(`${server.url}/nuget/alice/symbols/Fabrikam.Sym.pdb/${PDB_KEY}/Fabrikam.Sym.pdb`);
    assert.equal(pdb.status, 200);
    assert.deepEqual(Buffer.from(await pdb.arrayBuffer()), PDB);
    const again = await alice.nuget(['push', files.get('Contoso.Dep')!, '-Source', src, '-ApiKey', token]);
    assert.notEqual(again.code, 0);
    assert.match(again.output, /409|Conflict|already exists/i);
  });

  test('anonymous nuget install of a public package brings its dependency', T, async () => {
    const anon = new NuGetClient(exe, src);
    ok(await anon.nuget(['install', 'Contoso.App', '-Version', '2.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']), 'nuget install');
    assert.deepEqual(installed(anon, 'pkgs'), ['Contoso.App.2.0.0', 'Contoso.Dep.1.0.0']);
    assert.equal(fs.readFileSync(path.join(anon.home, 'pkgs/Contoso.Dep.1.0.0/content/hello.txt'), 'utf8'), 'Contoso.Dep 1.0.0\n');
  });

  // NuGet.exe 5.8 lists only through a v2 feed (LegacyGallery), which this source does not serve yet: the search
  // service it would use for `dotnet package search` is checked over HTTP instead.
  const search = async (q: string) => ((await (await fetch(`${server.url}/nuget/alice/v3/search?q=${q}`)).json()) as { data: { id: string; version: string }[] }).data.map((d) => `${d.id} ${d.version}`);

  test('the search service finds the pushed public packages', T, async () => {
    assert.deepEqual(await search('contoso'), ['Contoso.App 2.0.0', 'Contoso.Dep 1.0.0']);
  });

  test('a private package: anonymous install fails (401), with credentials it installs', T, async () => {
    const anon = new NuGetClient(exe, src);
    const refused = await anon.nuget(['install', 'Contoso.Secret', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /401|Unauthorized|credentials/i);
    const withCreds = new NuGetClient(exe, src, { user: 'alice', token });
    ok(await withCreds.nuget(['install', 'Contoso.Secret', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']), 'nuget install with credentials');
    assert.deepEqual(installed(withCreds, 'pkgs'), ['Contoso.Secret.1.0.0']);
  });

  test('nuget delete unlists: gone from search, a pinned install still works', T, async () => {
    ok(await alice.nuget(['delete', 'Contoso.Dep', '1.0.0', '-Source', src, '-ApiKey', token]), 'nuget delete');
    assert.deepEqual(await search('contoso'), ['Contoso.App 2.0.0']);
    const anon = new NuGetClient(exe, src);
    ok(await anon.nuget(['install', 'Contoso.Dep', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']), 'install an unlisted version');
  });
});
