// Below /maven/OWNER/, a path whose first segment names a repository of OWNER reads both as that repository and
// the rest, and as a group below the owner root: /maven/acme/shared/core2/lib/… is core2:lib in acme/shared and
// shared.core2:lib of acme. bob, a member of acme with write on acme/shared, created core2:lib there after alice had
// deployed shared.core2:lib, and the URL of alice's jar then served his. A new package whose URL another package
// already has is refused (both ways round); for pairs stored before, the package that existed first is the one
// that URL serves and writes, for every reader.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const pom = (g: string, a: string, v: string) => `<project><modelVersion>4.0.0</modelVersion><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></project>`;

for (const dialect of dialects()) {
  describe(`Maven: a URL below the owner root names one package on ${dialect}`, () => {
    let s: TestServer;
    let aliceAuth: string;
    let bobAuth: string;
    let carolAuth: string;

    const put = (p: string, body: string, auth: string) => fetch(`${s.url}${p}`, { method: 'PUT', headers: { authorization: auth }, body });
    const get = (p: string, auth: string) => fetch(`${s.url}${p}`, { headers: { authorization: auth } });
    const read = async (p: string, auth: string) => {
      const r = await get(p, auth);
      assert.equal(r.status, 200, `GET ${p} → ${r.status}`);
      return r.text();
    };
    /** Deploys G:A 1.0 (a POM and a jar saying `jar`) below `base` (a repository or the owner root) → the statuses. */
    async function deploy(base: string, g: string, a: string, jar: string, auth: string, v = '1.0') {
      const dir = `${base}/${g.replace(/\./g, '/')}/${a}/${v}`;
      const r1 = await put(`${dir}/${a}-${v}.pom`, pom(g, a, v), auth);
      const r2 = await put(`${dir}/${a}-${v}.jar`, jar, auth);
      return { statuses: [r1.status, r2.status], text: await r1.text() };
    }
    const ok = async (d: Promise<{ statuses: number[]; text: string }>) => assert.deepEqual((await d).statuses, [201, 201], (await d).text);
    /** Links a package to another repository in the database, as data stored before the refusal was. */
    async function relink(name: string, repo: string) {
      const r = (await s.core.identity.findRepo('acme', repo))!;
      await s.core.db.updateTable('packages').set({ repository_id: r.id }).where('lower_name', '=', name).where('type', '=', 'maven').execute();
    }

    before(async () => {
      s = await startWharf({ dialect });
      aliceAuth = basic('alice', await s.userWithToken('alice'));
      bobAuth = basic('bob', await s.userWithToken('bob'));
      carolAuth = basic('carol', await s.userWithToken('carol'));
      await s.core.identity.createOrg(systemActor, 'acme', 'alice');
      for (const r of ['priv', 'shared', 'other', 'team.tools']) await s.core.identity.createRepo(systemActor, 'acme', r, 'private');
      // A member may create packages in acme and read its repositories; bob may write to two of them.
      await s.core.identity.addOrgMember(systemActor, 'acme', 'bob', 'member');
      await s.core.identity.grantRepo(systemActor, 'acme/shared', 'bob', 'write');
      // carol, no member, may read acme/shared only.
      await s.core.identity.grantRepo(systemActor, 'acme/shared', 'carol', 'read');
      await s.core.identity.grantRepo(systemActor, 'acme/team.tools', 'bob', 'write');
      await ok(deploy('/maven/acme/priv', 'shared.core2', 'lib', "alice's jar", aliceAuth));
    });
    after(() => s.stop());

    test("bob cannot create core2:lib in acme/shared: its URL is alice's shared.core2:lib's", async () => {
      const URL = '/maven/acme/shared/core2/lib/1.0/lib-1.0.jar';
      assert.equal(await read(URL, aliceAuth), "alice's jar");
      const d = await deploy('/maven/acme/shared', 'core2', 'lib', "bob's jar", bobAuth);
      assert.deepEqual(d.statuses, [409, 409]);
      assert.match(d.text, /core2:lib cannot be created in acme\/shared: its URL .*\/maven\/acme\/shared\/core2\/lib\/ already names the package shared\.core2:lib/);
      assert.equal(await read(URL, aliceAuth), "alice's jar");
      assert.equal((await s.core.packages.find('acme', 'maven', 'core2:lib', { includeDeleted: true })), undefined);
    });

    test('alice deploys a new version of shared.core2:lib through its owner-root URL', async () => {
      await ok(deploy('/maven/acme', 'shared.core2', 'lib', 'version 1.1', aliceAuth, '1.1'));
      assert.equal(await read('/maven/acme/priv/shared/core2/lib/1.1/lib-1.1.jar', aliceAuth), 'version 1.1');
    });

    test('the other way round: shared.util:lib cannot be created once util:lib is in acme/shared', async () => {
      await ok(deploy('/maven/acme/shared', 'util', 'lib', "bob's util", bobAuth));
      const d = await deploy('/maven/acme/priv', 'shared.util', 'lib', "alice's util", aliceAuth);
      assert.deepEqual(d.statuses, [409, 409]);
      assert.match(d.text, /shared\.util:lib cannot be created in acme\/priv: its URL .*\/maven\/acme\/shared\/util\/lib\/ already names the package util:lib/);
      assert.equal(await read('/maven/acme/shared/util/lib/1.0/lib-1.0.jar', aliceAuth), "bob's util");
    });

    test('repository names with dots: team.tools.core:lib is refused once core:lib is in acme/team.tools, and back', async () => {
      await ok(deploy('/maven/acme/team.tools', 'core', 'lib', "bob's core", bobAuth));
      assert.deepEqual((await deploy('/maven/acme/priv', 'team.tools.core', 'lib', 'x', aliceAuth)).statuses, [409, 409]);
      await ok(deploy('/maven/acme/priv', 'team.tools.api', 'lib', "alice's api", aliceAuth));
      assert.deepEqual((await deploy('/maven/acme/team.tools', 'api', 'lib', 'y', bobAuth)).statuses, [409, 409]);
      assert.equal(await read('/maven/acme/team.tools/api/lib/1.0/lib-1.0.jar', aliceAuth), "alice's api");
    });

    test('a pair stored before: the package that existed first is served, to every reader, and written', async () => {
      // shared.core3:lib first, then core3:lib (in other, so allowed), then core3:lib moved into shared.
      await ok(deploy('/maven/acme/priv', 'shared.core3', 'lib', 'first (owner root)', aliceAuth));
      await ok(deploy('/maven/acme/other', 'core3', 'lib', 'second (repository)', aliceAuth));
      await relink('core3:lib', 'shared');
      const URL = '/maven/acme/shared/core3/lib/1.0/lib-1.0.jar';
      assert.equal(await read(URL, aliceAuth), 'first (owner root)');
      assert.equal(await read(URL, bobAuth), 'first (owner root)');
      // carol may read core3:lib (in shared) but not shared.core3:lib (in priv): she is not served the other one.
      assert.equal((await get(URL, carolAuth)).status, 404);
      assert.equal(await read('/maven/acme/core3/lib/1.0/lib-1.0.jar', carolAuth), 'second (repository)');
      // A write to that URL is one to the package it serves: bob may not write it (he may write core3:lib).
      assert.equal((await put('/maven/acme/shared/core3/lib/1.1/lib-1.1.jar', "bob's", bobAuth)).status, 403);
      await ok(deploy('/maven/acme', 'shared.core3', 'lib', 'first, 1.2', aliceAuth, '1.2'));
      assert.equal(await read('/maven/acme/priv/shared/core3/lib/1.2/lib-1.2.jar', aliceAuth), 'first, 1.2');

      // core4:lib first, then shared.core4:lib (allowed while core4:lib is in other), then core4:lib moved into shared.
      await ok(deploy('/maven/acme/other', 'core4', 'lib', 'first (repository)', aliceAuth));
      await ok(deploy('/maven/acme/priv', 'shared.core4', 'lib', 'second (owner root)', aliceAuth));
      await relink('core4:lib', 'shared');
      assert.equal(await read('/maven/acme/shared/core4/lib/1.0/lib-1.0.jar', aliceAuth), 'first (repository)');
      assert.equal(await read('/maven/acme/shared/core4/lib/1.0/lib-1.0.jar', carolAuth), 'first (repository)');
    });
  });
}
