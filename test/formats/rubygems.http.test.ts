// The RubyGems source over HTTP, on every database: push, the compact index (validators, ranges), the full
// index, the dependency and JSON APIs, yank, access, and hostile pushes that are refused with nothing written.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { buildGem, tarOf, type FixtureGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { load, RHash, RUserDefined, RUserMarshal, sym, type RValue } from '../../src/formats/rubygems/marshal.ts';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

function storedBlobs(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs', 'sha256');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)));
}
const tmpFiles = (dataDir: string) => fs.readdirSync(path.join(dataDir, 'blobs', 'tmp'));
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

for (const dialect of dialects()) {
  describe(`RubyGems source over HTTP on ${dialect}`, () => {
    let s: TestServer;
    let alice: string;
    let bob: string;
    let aliceRead: string;
    const pushed = new Map<string, Buffer>();

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_MAX_BLOB_SIZE: String(1024 * 1024) } });
      alice = await s.userWithToken('alice');
      bob = await s.userWithToken('bob');
      aliceRead = (await s.core.tokens.createPersonal(systemActor, 'alice', { scopes: 'read:packages' })).token;
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    });
    after(() => s.stop());

    const src = () => `${s.url}/rubygems/alice`;
    const get = (p: string, headers: Record<string, string> = {}) => fetch(`${src()}${p}`, { headers });
    const push = (body: Buffer, token: string | null = alice, owner = 'alice') =>
      fetch(`${s.url}/rubygems/${owner}/api/v1/gems`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: token } : {}) }, body: new Uint8Array(body) });
    async function pushGem(g: FixtureGem, token = alice) {
      const bytes = await buildGem(g);
      const r = await push(bytes, token);
      assert.equal(r.status, 200, await r.clone().text());
      pushed.set(`${g.name}-${g.version}${g.platform ? `-${g.platform}` : ''}`, bytes);
      return r;
    }
    const yank = (form: Record<string, string>, token: string | null = alice) =>
      fetch(`${src()}/api/v1/gems/yank`, { method: 'DELETE', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token ? { authorization: token } : {}) }, body: new URLSearchParams(form).toString() });

    test('POST /api/v1/gems with a bare token → 200 and a text message; linked through github_repo, so public', async () => {
      const r = await pushGem({ name: 'hello', version: '1.0.0', metadata: { github_repo: 'ssh://github.com/alice/hello' } });
      assert.equal(await r.text(), 'Successfully registered gem: hello (1.0.0)\n');
      assert.match(r.headers.get('content-type')!, /^text\/plain/);
      await pushGem({ name: 'hello', version: '1.1.0', deps: [['dep', ['>= 1.0', '< 2']]], metadata: { source_code_uri: 'https://github.com/alice/hello' } });
      await pushGem({ name: 'hello', version: '2.0.0.pre', metadata: { github_repo: 'https://github.com/alice/hello' } });
      await pushGem({ name: 'hello', version: '1.1.0', platform: 'x86_64-linux', metadata: { github_repo: 'alice/hello' } });
      await pushGem({ name: 'dep', version: '1.5', metadata: { github_repo: 'alice/hello' } });
      const pkg = await s.core.packages.find('alice', 'rubygems', 'hello');
      assert.ok(pkg?.repository_id, 'linked to alice/hello');
    });

    test('GET /versions: header, one line per gem with its versions and the MD5 of its /info', async () => {
      const r = await get('/versions');
      assert.equal(r.status, 200);
      const body = await r.text();
      assert.match(body, /^created_at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n---\n/);
      const lines = body.split('\n').slice(2).filter(Boolean);
      assert.equal(lines.length, 2);
      const hello = lines.find((l) => l.startsWith('hello '))!.split(' ');
      assert.deepEqual(hello[1].split(','), ['1.0.0', '1.1.0', '2.0.0.pre', '1.1.0-x86_64-linux']);
      const info = await get('/info/hello');
      assert.equal(info.status, 200);
      const infoBody = Buffer.from(await info.arrayBuffer());
      assert.equal(hello[2], md5(infoBody), 'the MD5 in /versions is that of /info/hello');
      assert.equal(info.headers.get('etag'), `"${md5(infoBody)}"`);
      assert.equal(r.headers.get('etag'), `"${md5(body)}"`);
      assert.equal(r.headers.get('repr-digest'), `sha-256=:${createHash('sha256').update(body).digest('base64')}:`);
      const text = infoBody.toString();
      assert.equal(text.split('\n')[0], '---');
      assert.ok(text.includes(`1.0.0 |checksum:${sha256(pushed.get('hello-1.0.0')!)}\n`), text);
      assert.ok(text.includes(`1.1.0 dep:>= 1.0&< 2|checksum:${sha256(pushed.get('hello-1.1.0')!)}\n`), text);
      assert.ok(text.includes(`1.1.0-x86_64-linux |checksum:${sha256(pushed.get('hello-1.1.0-x86_64-linux')!)}\n`), text);
      assert.equal(await (await get('/names')).text(), '---\ndep\nhello\n');
    });

    test('conditional and ranged GETs of /versions: 304 on the ETag, 206 from an offset, 416 past the end', async () => {
      const full = Buffer.from(await (await get('/versions')).arrayBuffer());
      const etag = `"${md5(full)}"`;
      assert.equal((await get('/versions', { 'if-none-match': etag })).status, 304);
      const part = await get('/versions', { range: `bytes=${full.length - 10}-` });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes ${full.length - 10}-${full.length - 1}/${full.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), full.subarray(full.length - 10));
      assert.equal((await get('/versions', { range: `bytes=${full.length}-` })).status, 416);
      // Bundler's update: a stale ETag with a Range gets the new bytes from the offset.
      assert.equal((await get('/versions', { range: 'bytes=5-', 'if-none-match': '"stale"' })).status, 206);
    });

    test('full index: specs, prerelease_specs and latest_specs are gzipped Marshal tuples; gemspec.rz and .gem download', async () => {
      const tuples = async (f: string) => {
        const r = await get(`/${f}`);
        assert.equal(r.status, 200, f);
        return (load(gunzipSync(Buffer.from(await r.arrayBuffer()))) as RValue[][]).map(([n, v, p]) => `${n}-${((v as RUserMarshal).data as string[])[0]}-${p}`);
      };
      assert.deepEqual(await tuples('specs.4.8.gz'), ['dep-1.5-ruby', 'hello-1.0.0-ruby', 'hello-1.1.0-ruby', 'hello-1.1.0-x86_64-linux']);
      assert.deepEqual(await tuples('prerelease_specs.4.8.gz'), ['hello-2.0.0.pre-ruby']);
      assert.deepEqual((await tuples('latest_specs.4.8.gz')).sort(), ['dep-1.5-ruby', 'hello-1.1.0-ruby', 'hello-1.1.0-x86_64-linux']);
      const rz = await get('/quick/Marshal.4.8/hello-1.1.0-x86_64-linux.gemspec.rz');
      assert.equal(rz.status, 200);
      const spec = load(inflateSync(Buffer.from(await rz.arrayBuffer()))) as RUserDefined;
      assert.equal(spec.cls, 'Gem::Specification');
      const fields = load(spec.bytes) as RValue[];
      assert.equal(fields[2], 'hello');
      assert.equal(fields[8], 'x86_64-linux');
      const gem = await get('/gems/hello-1.1.0-x86_64-linux.gem');
      assert.equal(gem.status, 200);
      assert.deepEqual(Buffer.from(await gem.arrayBuffer()), pushed.get('hello-1.1.0-x86_64-linux'));
      assert.equal((await get('/gems/hello-9.9.9.gem')).status, 404);
      assert.equal((await get('/quick/Marshal.4.8/hello-9.9.9.gemspec.rz')).status, 404);
    });

    test('the source root answers HEAD (gem then resolves through the compact index); an unknown owner is 404', async () => {
      assert.equal((await fetch(`${src()}/`, { method: 'HEAD' })).status, 200);
      const root = await fetch(`${src()}/`);
      assert.equal(root.status, 200);
      assert.match(await root.text(), /compact index/);
      assert.equal((await fetch(`${src().replace(/\/[^/]+$/, '/nobody-here')}/`, { method: 'HEAD' })).status, 404);
    });

    test('dependency API: Marshal and JSON; without gems= → 200 empty', async () => {
      const r = await get('/api/v1/dependencies?gems=hello,dep,unknown');
      assert.equal(r.status, 200);
      const list = load(Buffer.from(await r.arrayBuffer())) as RHash[];
      const hello11 = list.find((h) => h.get(sym('name')) === 'hello' && h.get(sym('number')) === '1.1.0' && h.get(sym('platform')) === 'ruby')!;
      assert.deepEqual(hello11.get(sym('dependencies')), [['dep', '>= 1.0, < 2']]);
      assert.equal(list.length, 5);
      const empty = await get('/api/v1/dependencies');
      assert.equal(empty.status, 200);
      assert.equal((await empty.arrayBuffer()).byteLength, 0);
      const json = await (await get('/api/v1/dependencies.json?gems=dep')).json();
      assert.deepEqual(json, [{ name: 'dep', number: '1.5', platform: 'ruby', dependencies: [] }]);
    });

    test('JSON API: gems/NAME.json (latest release) and versions/NAME.json', async () => {
      const g = await (await get('/api/v1/gems/hello.json')).json();
      assert.equal(g.name, 'hello');
      assert.equal(g.version, '1.1.0');
      assert.equal(g.platform, 'ruby');
      assert.equal(g.sha, sha256(pushed.get('hello-1.1.0')!));
      assert.deepEqual(g.dependencies.runtime, [{ name: 'dep', requirements: '>= 1.0, < 2' }]);
      assert.equal(g.gem_uri, `${src()}/gems/hello-1.1.0.gem`);
      const vs = await (await get('/api/v1/versions/hello.json')).json();
      assert.deepEqual(vs.map((v: any) => `${v.number}-${v.platform}`), ['2.0.0.pre-ruby', '1.1.0-x86_64-linux', '1.1.0-ruby', '1.0.0-ruby']);
      assert.equal(vs[0].prerelease, true);
      assert.deepEqual(await (await get('/api/v1/versions/hello/latest.json')).json(), { version: '1.1.0' });
      assert.equal((await get('/api/v1/gems/nope.json')).status, 401, 'anonymous: a missing gem looks private');
    });

    test('pushing the same name+version+platform again → 409, nothing written', async () => {
      const before = storedBlobs(s.dataDir).length;
      const bytes = await buildGem({ name: 'hello', version: '1.0.0', summary: 'different bytes' });
      const r = await push(bytes);
      assert.equal(r.status, 409);
      assert.match(await r.text(), /Repushing of gem versions is not allowed: hello \(1\.0\.0\) already exists/);
      assert.equal(storedBlobs(s.dataDir).length, before);
      assert.deepEqual(tmpFiles(s.dataDir), []);
    });

    test('a gem cannot claim another gem\'s file name: a platform starting with a digit is refused, nothing written', async () => {
      // Gem `baz-4` 2.1 is stored as baz-4-2.1.gem; gem `baz` 4 for platform `2.1` would have the same file name.
      await pushGem({ name: 'baz-4', version: '2.1' });
      const genuine = pushed.get('baz-4-2.1')!;
      const before = storedBlobs(s.dataDir).length;
      const r = await push(await buildGem({ name: 'baz', version: '4', platform: '2.1' }));
      assert.equal(r.status, 400, await r.clone().text());
      assert.match(await r.text(), /invalid gem platform "2\.1": a platform starts with a letter/);
      assert.equal(storedBlobs(s.dataDir).length, before);
      assert.equal(await s.core.packages.find('alice', 'rubygems', 'baz'), undefined);
      assert.deepEqual(Buffer.from(await (await get('/gems/baz-4-2.1.gem', { authorization: basic('alice', aliceRead) })).arrayBuffer()), genuine);
    });

    test('a private gem: hidden from anonymous indexes, 401 + Basic challenge for its files, readable with Basic user:token', async () => {
      await pushGem({ name: 'secret', version: '1.0.0' });
      assert.ok(!(await (await get('/versions')).text()).includes('secret'));
      const info = await get('/info/secret');
      assert.equal(info.status, 401);
      const nosuch = await get('/info/nosuch');
      assert.equal(nosuch.status, 401);
      assert.equal(await info.clone().text(), await nosuch.text(), 'a hidden gem is challenged exactly as a missing one');
      assert.match(info.headers.get('www-authenticate')!, /^Basic /);
      assert.equal((await get('/gems/secret-1.0.0.gem')).status, 401);
      assert.equal((await get('/quick/Marshal.4.8/secret-1.0.0.gemspec.rz')).status, 401);
      const auth = { authorization: basic('alice', aliceRead) };
      assert.match(await (await get('/versions', auth)).text(), /^secret 1\.0\.0 /m);
      assert.equal((await get('/info/secret', auth)).status, 200);
      assert.equal((await get('/gems/secret-1.0.0.gem', auth)).status, 200);
      const specs = load(gunzipSync(Buffer.from(await (await get('/specs.4.8.gz', auth)).arrayBuffer()))) as RValue[][];
      assert.ok(specs.some(([n]) => n === 'secret'));
      // Another user: as if it did not exist.
      assert.equal((await get('/info/secret', { authorization: basic('bob', bob) })).status, 404);
      assert.ok(!(await (await get('/versions', { authorization: basic('bob', bob) })).text()).includes('secret'));
    });

    test('yank: DELETE /api/v1/gems/yank → 200; the version leaves every index and its files 404', async () => {
      assert.equal((await yank({ gem_name: 'hello', version: '1.0.0' }, bob)).status, 403, "bob may read alice's public gem, not yank it");
      assert.equal((await yank({ gem_name: 'hello', version: '1.0.0' }, null)).status, 401);
      const before = await (await get('/versions')).text();
      const r = await yank({ gem_name: 'hello', version: '1.0.0' });
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(await r.text(), 'Successfully deleted gem: hello (1.0.0)\n');
      const after = await (await get('/versions')).text();
      assert.notEqual(after, before);
      assert.match(after, /^hello 1\.1\.0,2\.0\.0\.pre,1\.1\.0-x86_64-linux [0-9a-f]{32}$/m);
      assert.ok(!(await (await get('/info/hello')).text()).includes('1.0.0 |'));
      assert.equal((await get('/gems/hello-1.0.0.gem')).status, 404);
      assert.equal((await get('/quick/Marshal.4.8/hello-1.0.0.gemspec.rz')).status, 404);
      const specs = load(gunzipSync(Buffer.from(await (await get('/specs.4.8.gz')).arrayBuffer()))) as RValue[][];
      assert.ok(!specs.some(([n, v]) => n === 'hello' && ((v as RUserMarshal).data as string[])[0] === '1.0.0'));
      // A platform version is yanked on its own.
      assert.equal((await yank({ gem_name: 'hello', version: '1.1.0', platform: 'x86_64-linux' })).status, 200);
      assert.match(await (await get('/versions')).text(), /^hello 1\.1\.0,2\.0\.0\.pre [0-9a-f]{32}$/m);
      const again = await yank({ gem_name: 'hello', version: '1.0.0' });
      assert.equal(again.status, 404);
      assert.match(await again.text(), /already been yanked/);
      // A yanked version cannot be pushed again.
      assert.equal((await push(pushed.get('hello-1.0.0')!)).status, 409);
    });

    test('a collaborator with write on the linked repository pushes a new version of its gem, but creates no gem', async () => {
      const carol = await s.userWithToken('carol');
      assert.equal((await push(await buildGem({ name: 'hello', version: '3.0.0' }), carol)).status, 403, 'no role yet: refused on the owner');
      await s.core.identity.grantRepo(systemActor, 'alice/hello', 'carol', 'write');
      await pushGem({ name: 'hello', version: '3.0.0', metadata: { github_repo: 'alice/hello' } }, carol);
      const create = await push(await buildGem({ name: 'carols', version: '1.0.0', metadata: { github_repo: 'alice/hello' } }), carol);
      assert.equal(create.status, 403);
      const refusal = await create.text();
      assert.match(refusal, /may not publish packages to alice/);
      // alice's private gem `secret`, in another case: refused exactly as a new gem (its name was confirmed by a 409).
      const hidden = await push(await buildGem({ name: 'SECRET', version: '9.0.0', metadata: { github_repo: 'alice/hello' } }), carol);
      assert.equal(hidden.status, 403);
      assert.equal(await hidden.text(), refusal);
    });

    test('gem signin: POST /api/v1/api_key with Basic user:password → a token that pushes; a token buys no other token', async () => {
      await s.core.identity.createUser(systemActor, { name: 'dave', password: 'dave-secret-pw', email: 'dave@example.com' });
      const r = await fetch(`${s.url}/rubygems/dave/api/v1/api_key`, { method: 'POST', headers: { authorization: basic('dave', 'dave-secret-pw') } });
      assert.equal(r.status, 200);
      const key = await r.text();
      assert.match(key, /^whp_/);
      assert.equal((await push(await buildGem({ name: 'daves', version: '1.0.0' }), key, 'dave')).status, 200);
      assert.equal((await fetch(`${s.url}/rubygems/dave/api/v1/api_key`, { method: 'POST', headers: { authorization: basic('dave', key) } })).status, 403);
      assert.equal((await fetch(`${s.url}/rubygems/dave/api/v1/api_key`, { method: 'POST', headers: { authorization: basic('dave', 'wrong') } })).status, 401);
    });

    test('a job token pushes gems linked to its repository, and nothing else', async () => {
      const { token: job } = await s.core.tokens.createJob(systemActor, 'alice/hello');
      await pushGem({ name: 'from-ci', version: '1.0.0', metadata: { github_repo: 'alice/hello' } }, job);
      const unlinked = await push(await buildGem({ name: 'ci-unlinked', version: '1.0.0' }), job);
      assert.equal(unlinked.status, 403);
      assert.match(await unlinked.text(), /only create packages linked to that repository/);
      const elsewhere = await push(await buildGem({ name: 'ci-bob', version: '1.0.0', metadata: { github_repo: 'alice/hello' } }), job, 'bob');
      assert.equal(elsewhere.status, 403, 'refused on the owner, before the body is read');
    });

    test('while gems are pushed, every gem /versions lists has an /info with at least those versions', async () => {
      const pushes = Array.from({ length: 12 }, (_, i) => buildGem({ name: `busy${i % 4}`, version: `1.${i}.0` }).then((b) => push(b)));
      let stop = false;
      const reader = (async () => {
        let checks = 0;
        while (!stop || checks === 0) {
          const auth = { authorization: basic('alice', alice) };
          const lines = (await (await get('/versions', auth)).text()).split('\n').slice(2).filter(Boolean);
          for (const line of lines.filter((l) => l.startsWith('busy'))) {
            const [name, versions] = line.split(' ');
            const info = await get(`/info/${name}`, auth);
            assert.equal(info.status, 200, `${name} is in /versions but its /info is ${info.status}`);
            const listed = (await info.text()).split('\n').slice(1).filter(Boolean).map((l) => l.split(' ')[0]);
            for (const v of versions.split(',')) assert.ok(listed.includes(v), `${name} ${v} is in /versions but not in /info`);
            checks += 1;
          }
        }
      })();
      const results = await Promise.all(pushes);
      stop = true;
      await reader;
      for (const r of results) assert.equal(r.status, 200, await r.text());
      const final = await (await get('/versions', { authorization: basic('alice', alice) })).text();
      for (let i = 0; i < 4; i++) assert.match(final, new RegExp(`^busy${i} (1\\.\\d+\\.0,?){3} [0-9a-f]{32}$`, 'm'));
    });

    describe('hostile and unauthorized pushes are refused with a clear message and nothing written', () => {
      const cases: [string, () => Promise<{ body: Buffer; token?: string | null; owner?: string }>, number, RegExp][] = [
        ['anonymous', async () => ({ body: await buildGem({ name: 'anon', version: '1.0' }), token: null }), 401, /needs an API key/],
        ['a read-only token', async () => ({ body: await buildGem({ name: 'ro', version: '1.0' }), token: aliceRead }), 403, /write:packages/],
        ["bob pushing to alice's source", async () => ({ body: await buildGem({ name: 'bobs', version: '1.0' }), token: bob }), 403, /you may not publish packages to alice/],
        ["bob pushing a version of alice's gem", async () => ({ body: await buildGem({ name: 'hello', version: '3.0' }), token: bob }), 403, /you may not publish packages to alice/],
        ['an unknown owner', async () => ({ body: await buildGem({ name: 'x', version: '1.0' }), owner: 'nobody' }), 404, /no user or organization named "nobody"/],
        ['an empty body', async () => ({ body: Buffer.alloc(0) }), 400, /not a valid \.gem|metadata\.gz is missing/],
        ['not a tar', async () => ({ body: Buffer.from('GIF89a'.repeat(200)) }), 400, /not a valid \.gem/],
        ['a traversal entry in the .gem', async () => ({ body: await buildGem({ name: 'trav', version: '1.0' }, { extra: [{ name: '../../../tmp/evil', body: Buffer.from('x') }] }) }), 400, /unexpected entry/],
        ['a traversal path in data.tar.gz', async () => ({ body: await buildGem({ name: 'trav2', version: '1.0' }, { data: gzipSync(await tarOf([{ name: '../evil.rb', body: Buffer.from('x') }])) }) }), 400, /points outside the gem/],
        ['an object tag in the gemspec', async () => ({ body: await buildGem({ name: 'yml', version: '1.0' }, { metadata: gzipSync('--- !ruby/object:Gem::Specification\nname: !ruby/object:ERB\n  src: system("id")\n') }) }), 400, /tag !ruby\/object:ERB is not allowed/],
        ['a checksum mismatch', async () => ({ body: await buildGem({ name: 'sum', version: '1.0' }, { checksums: gzipSync(`SHA256:\n  data.tar.gz: ${'a'.repeat(64)}\n`) }) }), 400, /checksum mismatch/],
        ['a body over the size limit', async () => ({ body: await buildGem({ name: 'big', version: '1.0', files: { 'lib/big.rb': 'x'.repeat(2 * 1024 * 1024) } }, { data: Buffer.concat([gzipSync(await tarOf([{ name: 'lib/big.rb', body: Buffer.from('x') }])), Buffer.from(Array.from({ length: 1200 * 1024 }, (_, i) => i % 251))]) }) }), 413, /exceeds/],
      ];
      for (const [what, make, status, message] of cases) {
        test(`${what} → ${status} ${message.source}`, async () => {
          const beforeBlobs = storedBlobs(s.dataDir).length;
          const { body, token, owner } = await make();
          const r = await push(body, token === undefined ? alice : token, owner);
          assert.equal(r.status, status, await r.clone().text());
          assert.match(await r.text(), message);
          assert.equal(storedBlobs(s.dataDir).length, beforeBlobs, 'no blob was committed');
          assert.deepEqual(tmpFiles(s.dataDir), [], 'no temp file was left');
        });
      }
    });
  });
}
