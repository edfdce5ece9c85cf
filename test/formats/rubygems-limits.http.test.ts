// The RubyGems index (/versions, /names, the full index, the dependency API) lists exactly the gems the
// authorizer lets the credential read: a fine-grained token limited elsewhere and a registry token (from
// /v2/token) see none of the owner's private gems, nor another owner's internal ones, whoever their person is.
// The scene: alice owns the private gems secretgem and hiddengem and the public gem opengem; carol owns the
// internal gem g4; bob is a stranger to both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { systemActor } from '../../src/core/auth/actor.ts';
import { buildGem } from '../../src/formats/rubygems/gem-fixture.ts';
import { load, RHash, sym, type RValue } from '../../src/formats/rubygems/marshal.ts';
import { dialects } from '../helpers/databases.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

for (const dialect of dialects()) {
  describe(`RubyGems index and credential limits on ${dialect}`, () => {
    let s: TestServer;
    let aliceFull: string;
    let bobFull: string;
    let carolFull: string;
    /** Alice's, naming only an npm package of hers. */
    let aliceElsewhere: string;
    /** Alice's, naming only secretgem. */
    let aliceSecretOnly: string;
    /** Bob's, naming only his own packages. */
    let bobOwn: string;
    /** A registry JWT of alice's full token, for an image she does not have. */
    let aliceJwt: string;

    const auth = (header: string | null): Record<string, string> => (header ? { authorization: header } : {});
    const get = (owner: string, p: string, header: string | null) => fetch(`${s.url}/rubygems/${owner}${p}`, { headers: auth(header) });

    /** Every gem name the index routes of `owner` show to this credential, route by route. */
    async function seen(owner: string, header: string | null, gems: string[]): Promise<Record<string, string[]>> {
      const out: Record<string, string[]> = {};
      const text = async (p: string) => {
        const r = await get(owner, p, header);
        assert.equal(r.status, 200, `${p}: ${r.status}`);
        return r.text();
      };
      out.names = (await text('/names')).split('\n').slice(1).filter(Boolean).sort();
      out.versions = (await text('/versions')).split('\n').slice(2).filter(Boolean).map((l) => l.split(' ')[0]).sort();
      for (const f of ['specs.4.8.gz', 'latest_specs.4.8.gz', 'prerelease_specs.4.8.gz']) {
        const r = await get(owner, `/${f}`, header);
        assert.equal(r.status, 200, f);
        const tuples = load(gunzipSync(Buffer.from(await r.arrayBuffer()))) as RValue[][];
        out[f] = [...new Set(tuples.map(([n]) => n as string))].sort();
      }
      const q = `gems=${gems.join(',')}`;
      const marshal = await get(owner, `/api/v1/dependencies?${q}`, header);
      assert.equal(marshal.status, 200);
      out.dependencies = [...new Set((load(Buffer.from(await marshal.arrayBuffer())) as RHash[]).map((h) => h.get(sym('name')) as string))].sort();
      const json = await get(owner, `/api/v1/dependencies.json?${q}`, header);
      assert.equal(json.status, 200);
      out['dependencies.json'] = [...new Set(((await json.json()) as { name: string }[]).map((d) => d.name))].sort();
      return out;
    }
    const everywhere = (names: string[]) => ({
      names: names, versions: names, 'specs.4.8.gz': names, 'latest_specs.4.8.gz': names, 'prerelease_specs.4.8.gz': names.filter((n) => n === 'opengem'),
      dependencies: names, 'dependencies.json': names,
    });
    const ALICE_GEMS = ['hiddengem', 'opengem', 'secretgem'];

    before(async () => {
      s = await startWharf({ dialect });
      const c = s.core;
      aliceFull = await s.userWithToken('alice', EVERY_SCOPE);
      bobFull = await s.userWithToken('bob', EVERY_SCOPE);
      carolFull = await s.userWithToken('carol', EVERY_SCOPE);
      const push = async (owner: string, token: string, name: string, version: string, deps?: [string, string[]][]) => {
        const r = await fetch(`${s.url}/rubygems/${owner}/api/v1/gems`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', authorization: token },
          body: new Uint8Array(await buildGem({ name, version, deps })),
        });
        assert.equal(r.status, 200, await r.text());
      };
      await push('alice', aliceFull, 'secretgem', '1.0.0', [['rake', ['>= 13']]]);
      await push('alice', aliceFull, 'hiddengem', '0.1.0');
      await push('alice', aliceFull, 'opengem', '1.0.0');
      await push('alice', aliceFull, 'opengem', '2.0.0.pre');
      await push('carol', carolFull, 'g4', '4.0.0', [['json', ['~> 2']]]);
      for (const [owner, name, visibility] of [['alice', 'secretgem', 'private'], ['alice', 'hiddengem', 'private'], ['alice', 'opengem', 'public'], ['carol', 'g4', 'internal']] as const) {
        const pkg = (await c.packages.find(owner, 'rubygems', name))!;
        await c.publisher.updateSettings(pkg.id, { visibility }, systemActor);
      }
      const fineGrained = async (user: string, resources: { owner: string; package?: { type: string; name: string } }[]) =>
        (await c.tokens.createPersonal(systemActor, user, { scopes: 'read:packages', resources })).token;
      aliceElsewhere = await fineGrained('alice', [{ owner: 'alice', package: { type: 'npm', name: 'other' } }]);
      aliceSecretOnly = await fineGrained('alice', [{ owner: 'alice', package: { type: 'rubygems', name: 'secretgem' } }]);
      bobOwn = await fineGrained('bob', [{ owner: 'bob' }]);
      const r = await fetch(`${s.url}/v2/token?service=x&scope=${encodeURIComponent('repository:alice/nothing:pull')}`, { headers: { authorization: basic('alice', aliceFull) } });
      assert.equal(r.status, 200);
      aliceJwt = ((await r.json()) as { token: string }).token;
    });
    after(async () => s?.stop());

    test('the owner\'s full token sees every gem of hers in every index; anonymous only the public one', async () => {
      assert.deepEqual(await seen('alice', basic('alice', aliceFull), ALICE_GEMS), everywhere(ALICE_GEMS));
      assert.deepEqual(await seen('alice', aliceFull, ALICE_GEMS), everywhere(ALICE_GEMS), 'a bare token too');
      assert.deepEqual(await seen('alice', null, ALICE_GEMS), everywhere(['opengem']));
    });

    test('a fine-grained token of the owner naming only something else sees no private gem anywhere (as /info says)', async () => {
      assert.equal((await get('alice', '/info/secretgem', basic('alice', aliceElsewhere))).status, 404);
      assert.equal((await get('alice', '/info/opengem', basic('alice', aliceElsewhere))).status, 200);
      assert.deepEqual(await seen('alice', basic('alice', aliceElsewhere), ALICE_GEMS), everywhere(['opengem']));
      assert.deepEqual(await seen('alice', aliceElsewhere, ALICE_GEMS), everywhere(['opengem']), 'a bare token too');
      // The owner's full view, cached before and after, is not what the narrowed token is served, and back.
      assert.deepEqual(await seen('alice', basic('alice', aliceFull), ALICE_GEMS), everywhere(ALICE_GEMS));
      assert.deepEqual(await seen('alice', basic('alice', aliceElsewhere), ALICE_GEMS), everywhere(['opengem']));
    });

    test('a fine-grained token naming one private gem sees that one and the public one, not the others', async () => {
      assert.equal((await get('alice', '/info/secretgem', basic('alice', aliceSecretOnly))).status, 200);
      assert.equal((await get('alice', '/info/hiddengem', basic('alice', aliceSecretOnly))).status, 404);
      assert.deepEqual(await seen('alice', basic('alice', aliceSecretOnly), ALICE_GEMS), everywhere(['opengem', 'secretgem']));
    });

    test('a registry token (/v2/token) lists none of the gems its person owns: a registry token reads container images only', async () => {
      assert.equal((await get('alice', '/info/secretgem', `Bearer ${aliceJwt}`)).status, 404);
      const view = await seen('alice', `Bearer ${aliceJwt}`, ALICE_GEMS);
      for (const [route, names] of Object.entries(view)) {
        assert.ok(!names.includes('secretgem') && !names.includes('hiddengem'), `${route}: ${names.join(',')}`);
      }
      assert.deepEqual(view, everywhere([]), 'not even a public gem');
      assert.deepEqual(await seen('alice', basic('alice', aliceFull), ALICE_GEMS), everywhere(ALICE_GEMS), 'the full token still does');
    });

    test("another owner's internal gem: listed for a signed-in full token, not for a token limited to its own owner", async () => {
      const G4 = (names: string[]) => ({ ...everywhere(names), 'prerelease_specs.4.8.gz': [] });
      assert.deepEqual(await seen('carol', basic('bob', bobFull), ['g4']), G4(['g4']));
      assert.equal((await get('carol', '/info/g4', basic('bob', bobOwn))).status, 404);
      assert.deepEqual(await seen('carol', basic('bob', bobOwn), ['g4']), G4([]));
      assert.deepEqual(await seen('carol', basic('carol', carolFull), ['g4']), G4(['g4']));
      assert.deepEqual(await seen('carol', basic('bob', bobOwn), ['g4']), G4([]), 'after the full views were cached');
    });
  });
}
