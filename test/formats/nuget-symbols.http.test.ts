// NuGet symbols over HTTP, on every database: SymbolPackagePublish/4.9.0 in the service index, .snupkg pushes
// (multipart with X-NuGet-ApiKey) for a pushed version, 409 on a second one, the .snupkg download, the SSQP
// symbol server (`symbols/{file.pdb}/{guid}FFFFFFFF/{file.pdb}`, SymbolChecksum checked when sent) with access
// following the package, and hostile symbol packages refused with nothing stored.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildNupkg, zipOf } from '../../src/formats/nuget/nupkg-fixture.ts';
import { buildAssemblyFor, buildPortablePdb, buildSnupkg, pdbIdOf } from '../../src/formats/nuget/pdb-fixture.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs', 'sha256');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}
function multipart(file: Buffer): { body: Buffer; type: string } {
  const b = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.snupkg; filename*=utf-8''package.snupkg\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary="${b}"` };
}

const GUID_BYTES = 'f6727b490a39fc44878e5a2d63b6cc4b';
const KEY = '497b72f6390a44fc878e5a2d63b6cc4bFFFFFFFF';
const PDB = buildPortablePdb(pdbIdOf(GUID_BYTES));
const PDB2 = buildPortablePdb(pdbIdOf('00112233445566778899aabbccddeeff'));
const KEY2 = '33221100554477668899aabbccddeeffFFFFFFFF';

for (const dialect of dialects()) {
  describe(`NuGet symbols over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: String(1024 * 1024) } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    });
    after(() => s.stop());

    const src = () => `${s.url}/nuget/alice`;
    const get = (p: string, headers: Record<string, string> = {}) => fetch(`${src()}${p}`, { headers });
    const put = (endpoint: string, file: Buffer, headers: Record<string, string> = { 'x-nuget-apikey': alice }) => {
      const { body, type } = multipart(file);
      return fetch(`${src()}/api/v2/${endpoint}/`, { method: 'PUT', headers: { 'content-type': type, ...headers }, body: new Uint8Array(body) });
    };
    const pushSymbols = (file: Buffer, headers?: Record<string, string>) => put('symbolpackage', file, headers);

    test('the service index advertises SymbolPackagePublish/4.9.0', async () => {
      const idx = (await (await get('/index.json')).json()) as { resources: { '@id': string; '@type': string }[] };
      assert.equal(idx.resources.find((r) => r['@type'] === 'SymbolPackagePublish/4.9.0')?.['@id'], `${src()}/api/v2/symbolpackage`);
    });

    test('a .snupkg for a version not pushed yet → 404; after the .nupkg → 201; a second one → 409', async () => {
      const snupkg = buildSnupkg('Contoso.Sym', '1.0.0', { 'lib/net6.0/Contoso.Sym.pdb': PDB, 'lib/netstandard2.0/Contoso.Sym.pdb': PDB, 'lib/net6.0/Other.pdb': PDB2 });
      const early = await pushSymbols(snupkg);
      assert.equal(early.status, 404, await early.text());
      const r = await put('package', buildNupkg({ id: 'Contoso.Sym', version: '1.0', extra: '<repository url="https://github.com/alice/hello" />', dll: buildAssemblyFor(PDB), files: { 'lib/net6.0/Other.dll': buildAssemblyFor(PDB2) } }));
      assert.equal(r.status, 201, await r.text());
      const ok = await pushSymbols(snupkg);
      assert.equal(ok.status, 201, await ok.text());
      const again = await pushSymbols(buildSnupkg('contoso.sym', '1.0.0.0', { 'Contoso.Sym.pdb': PDB }));
      assert.equal(again.status, 409, await again.text());
      const pkg = await s.core.packages.find('alice', 'nuget', 'Contoso.Sym');
      const v = await s.core.packages.version(pkg!.id, '1.0.0');
      const names = (await s.core.packages.files(v!.id)).map((f) => f.name).sort();
      assert.deepEqual(names, ['contoso.sym.1.0.0.nupkg', 'contoso.sym.1.0.0.snupkg', 'contoso.sym.nuspec', `symbols/Contoso.Sym.pdb/${KEY}/Contoso.Sym.pdb`, `symbols/Other.pdb/${KEY2}/Other.pdb`].sort());
    });

    test('GET symbols/{file}/{key}/{file}: the PDB, whatever the case of name and key; the .snupkg download', async () => {
      for (const p of [`/symbols/Contoso.Sym.pdb/${KEY}/Contoso.Sym.pdb`, `/symbols/contoso.sym.pdb/${KEY.toLowerCase()}/contoso.sym.pdb`]) {
        const r = await get(p);
        assert.equal(r.status, 200, p);
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), PDB);
      }
      // SymbolChecksum: SHA-256 of the PDB with its 20-byte id zeroed, as an assembly's debug directory records it.
      const id = pdbIdOf(GUID_BYTES);
      const at = PDB.indexOf(id);
      const sum = createHash('sha256').update(Buffer.concat([PDB.subarray(0, at), Buffer.alloc(20), PDB.subarray(at + 20)])).digest('hex');
      const withSum = (c: string) => get(`/symbols/contoso.sym.pdb/${KEY}/contoso.sym.pdb`, { symbolchecksum: c, authorization: basic('alice', alice) });
      assert.equal((await withSum(`SHA256:${sum.toUpperCase()}`)).status, 200);
      assert.equal((await withSum(`SHA256:${'0'.repeat(64)};SHA256:${sum}`)).status, 200, 'one of several');
      assert.equal((await withSum(`SHA256:${'0'.repeat(64)}`)).status, 404, 'not the PDB the assembly was built with');
      const other = await get(`/symbols/other.pdb/${KEY2}/other.pdb`);
      assert.deepEqual(Buffer.from(await other.arrayBuffer()), PDB2);
      assert.equal((await get(`/symbols/other.pdb/${KEY}/other.pdb`, { authorization: basic('alice', alice) })).status, 404, 'a key of another PDB');
      assert.equal((await get(`/symbols/contoso.sym.pdb/${KEY}/other.pdb`, { authorization: basic('alice', alice) })).status, 404);
      assert.equal((await get(`/symbols/contoso.sym.pdb/${KEY.slice(0, 32)}1/contoso.sym.pdb`, { authorization: basic('alice', alice) })).status, 404, 'a Windows PDB age');
      assert.equal((await fetch(`${s.url}/nuget/bob/symbols/contoso.sym.pdb/${KEY}/contoso.sym.pdb`, { headers: { authorization: basic('bob', bob) } })).status, 404, 'another owner');
      const dl = await get('/v3/symbol-packages/contoso.sym/1.0.0/contoso.sym.1.0.0.snupkg');
      assert.equal(dl.status, 200);
      assert.equal(Buffer.from(await dl.arrayBuffer()).subarray(0, 2).toString(), 'PK');
      assert.equal((await get('/v3/symbol-packages/contoso.sym/1.0.0/contoso.sym.1.0.0.nupkg')).status, 404);
    });

    test('a PDB larger than the head kept for its id: stored whole, its checksum over every byte', async () => {
      const id = pdbIdOf('aa'.repeat(16));
      const big = buildPortablePdb(id, randomBytes(300_000));
      assert.equal((await put('package', buildNupkg({ id: 'Big.Sym', version: '1.0.0', extra: '<repository url="https://github.com/alice/hello" />', dll: buildAssemblyFor(big) }))).status, 201);
      assert.equal((await pushSymbols(buildSnupkg('Big.Sym', '1.0.0', { 'lib/net6.0/Big.pdb': big }))).status, 201);
      const at = big.indexOf(id);
      const sum = createHash('sha256').update(Buffer.concat([big.subarray(0, at), Buffer.alloc(20), big.subarray(at + 20)])).digest('hex');
      const r = await get(`/symbols/big.pdb/${'aa'.repeat(16)}FFFFFFFF/big.pdb`, { symbolchecksum: `SHA256:${sum}` });
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), big);
    });

    test('access follows the package: private symbols are 401 to anonymous, 404 to strangers; strangers may not push', async () => {
      assert.equal((await put('package', buildNupkg({ id: 'Secret.Sym', version: '2.0.0', dll: buildAssemblyFor(PDB2) }))).status, 201);
      assert.equal((await pushSymbols(buildSnupkg('Secret.Sym', '2.0.0', { 'lib/net6.0/Secret.pdb': PDB2 }), { 'x-nuget-apikey': bob })).status, 403);
      assert.equal((await pushSymbols(buildSnupkg('Secret.Sym', '2.0.0', { 'lib/net6.0/Secret.pdb': PDB2 }), {})).status, 401);
      assert.equal((await pushSymbols(buildSnupkg('Secret.Sym', '2.0.0', { 'lib/net6.0/Secret.pdb': PDB2 }), { authorization: basic('alice', alice) })).status, 201);
      const p = `/symbols/secret.pdb/${KEY2}/secret.pdb`;
      const anon = await get(p);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="Wharf"');
      assert.equal((await get(p, { authorization: basic('bob', bob) })).status, 404);
      assert.equal((await get(p, { authorization: basic('alice', alice) })).status, 200);
      assert.equal((await get('/v3/symbol-packages/secret.sym/2.0.0/secret.sym.2.0.0.snupkg', { authorization: basic('bob', bob) })).status, 404);
      // A public package's symbols are readable, yet not writable, by bob: the version already has symbols, but 403 comes first.
      assert.equal((await pushSymbols(buildSnupkg('Contoso.Sym', '1.0.0', { 'x.pdb': PDB }), { 'x-nuget-apikey': bob })).status, 403);
    });

    test('a PDB no assembly of its own package was built with → 400, nothing stored: nobody serves their PDB under another\'s key', async () => {
      // A package of one's own whose .nupkg has no assembly for the PDB, and one with a copy of Contoso's assembly.
      assert.equal((await put('package', buildNupkg({ id: 'Evil.Sym', version: '1.0.0' }))).status, 201);
      assert.equal((await put('package', buildNupkg({ id: 'Evil2.Sym', version: '1.0.0', dll: buildAssemblyFor(PDB) }))).status, 201);
      const before = storedBlobs(s.dataDir).length;
      const noAssembly = await pushSymbols(buildSnupkg('Evil.Sym', '1.0.0', { 'lib/net6.0/Contoso.Sym.pdb': PDB }));
      assert.equal(noAssembly.status, 400);
      assert.match(await noAssembly.text(), /is not the PDB of an assembly in Evil\.Sym 1\.0\.0/);
      // Contoso's real assembly copied in, with a PDB of the same id but other content: its checksum gives it away.
      const forged = buildPortablePdb(pdbIdOf(GUID_BYTES), Buffer.from('a source link to elsewhere'));
      const wrongSum = await pushSymbols(buildSnupkg('Evil2.Sym', '1.0.0', { 'lib/net6.0/Contoso.Sym.pdb': forged }));
      assert.equal(wrongSum.status, 400, await wrongSum.clone().text());
      assert.equal((await get(`/symbols/contoso.sym.pdb/${KEY}/contoso.sym.pdb`)).status, 200);
      assert.deepEqual(Buffer.from(await (await get(`/symbols/contoso.sym.pdb/${KEY}/contoso.sym.pdb`)).arrayBuffer()), PDB, 'the genuine PDB is still what is served');
      assert.equal(storedBlobs(s.dataDir).length, before, 'nothing of the refused symbol packages was stored');
      // A DLL of one's own naming another package's PDB id (read from its published DLL), without a checksum: the id
      // belongs to the package whose assembly named it first.
      const victimPdb = buildPortablePdb(pdbIdOf('22'.repeat(16)));
      assert.equal((await put('package', buildNupkg({ id: 'Victim.Sym', version: '1.0.0', dll: buildAssemblyFor(victimPdb) }))).status, 201);
      const evilPdb = buildPortablePdb(pdbIdOf('22'.repeat(16)), Buffer.from('EVIL-PDB-SOURCELINK'));
      assert.equal((await put('package', buildNupkg({ id: 'Mal.Sym', version: '1.0.0', dll: buildAssemblyFor(evilPdb, { checksum: false }) }))).status, 201);
      const claimed = await pushSymbols(buildSnupkg('Mal.Sym', '1.0.0', { 'lib/net6.0/Victim.Sym.pdb': evilPdb }));
      assert.equal(claimed.status, 409, await claimed.clone().text());
      assert.match(await claimed.text(), /named by an assembly another package published first/);
      assert.equal((await get(`/symbols/victim.sym.pdb/${'22'.repeat(16)}FFFFFFFF/victim.sym.pdb`, { authorization: basic('alice', alice) })).status, 404);
      assert.equal((await pushSymbols(buildSnupkg('Victim.Sym', '1.0.0', { 'lib/net6.0/Victim.Sym.pdb': victimPdb }))).status, 201);
      // An assembly recording no checksum is matched by its CodeView entry.
      const plain = buildPortablePdb(pdbIdOf('11'.repeat(16)));
      assert.equal((await put('package', buildNupkg({ id: 'Plain.Sym', version: '1.0.0', dll: buildAssemblyFor(plain, { checksum: false }) }))).status, 201);
      assert.equal((await pushSymbols(buildSnupkg('Plain.Sym', '1.0.0', { 'lib/net6.0/Plain.pdb': plain }))).status, 201);
    });

    test('hostile symbol packages → 400 with nothing stored', async () => {
      assert.equal((await put('package', buildNupkg({ id: 'Bad.Sym', version: '1.0.0', dll: buildAssemblyFor(PDB) }))).status, 201);
      const before = storedBlobs(s.dataDir).length;
      const windowsPdb = Buffer.concat([Buffer.from('Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0'), Buffer.alloc(64)]);
      const noPdbStream = Buffer.from(PDB);
      noPdbStream.write('#Pdx', 40, 'latin1');
      for (const [why, bad] of [
        ['a DLL inside', buildSnupkg('Bad.Sym', '1.0.0', { 'lib/net6.0/Bad.pdb': PDB, 'lib/net6.0/Bad.dll': 'MZ' })],
        ['a Windows PDB', buildSnupkg('Bad.Sym', '1.0.0', { 'lib/net6.0/Bad.pdb': windowsPdb })],
        ['a PDB with no #Pdb stream', buildSnupkg('Bad.Sym', '1.0.0', { 'lib/net6.0/Good.pdb': PDB, 'lib/net6.0/Bad.pdb': noPdbStream })],
        ['not a symbols package', buildSnupkg('Bad.Sym', '1.0.0', { 'lib/net6.0/Bad.pdb': PDB }, { packageType: 'Dependency' })],
        ['no PDB', buildSnupkg('Bad.Sym', '1.0.0', {})],
        ['two .nuspec files', zipOf([['a.nuspec', '<package/>'], ['b.nuspec', '<package/>']])],
        ['a path escaping the archive', buildSnupkg('Bad.Sym', '1.0.0', { '../../Bad.pdb': PDB })],
        ['not a zip', Buffer.from('not a zip')],
      ] as const) {
        const r = await pushSymbols(bad as Buffer);
        assert.equal(r.status, 400, `${why}: ${await r.text()}`);
      }
      assert.equal((await pushSymbols(Buffer.alloc(2 * 1024 * 1024))).status, 413);
      assert.equal(storedBlobs(s.dataDir).length, before, 'nothing stored');
      assert.equal(fs.readdirSync(path.join(s.dataDir, 'tmp', 'nuget')).length, 0, 'no spooled upload left');
      const pkg = await s.core.packages.find('alice', 'nuget', 'Bad.Sym');
      const v = await s.core.packages.version(pkg!.id, '1.0.0');
      assert.equal((await s.core.packages.files(v!.id)).length, 2);
    });
  });
}
