// Versions are stored case-insensitively, but only an upper-case -SNAPSHOT is a snapshot: 2.0-snapshot is a
// release. bob, who has write but not admin on alice/core, must not reach the released 2.0-snapshot through its
// case alias 2.0-SNAPSHOT with a snapshot's rights (a file replaced by other bytes, a file dropped on a wrong
// checksum). Every write under a spelling other than the stored one is a 409 naming the stored spelling.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { basic, hex, mavenHttp, pom } from '../helpers/maven-http.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';


for (const dialect of dialects()) {
  describe(`Maven: a version's case alias is not a SNAPSHOT on ${dialect}`, () => {
    let s: TestServer;
    let aliceAuth: string;
    let bobAuth: string;
    const REL = '/maven/alice/core/org/w/lib/2.0-snapshot';
    const ALIAS = '/maven/alice/core/org/w/lib/2.0-SNAPSHOT';
    const relPom = pom('org.w', 'lib', '2.0-snapshot');
    const jar = Buffer.from('PK\x03\x04 released as 2.0-snapshot');

    const { put, bytes } = mavenHttp(() => s.url, () => aliceAuth);
    async function refused(p: string, body: string | Buffer, auth: string) {
      const r = await put(p, body, auth);
      const text = await r.text();
      assert.equal(r.status, 409, `PUT ${p} → ${r.status} ${text}`);
      assert.match(text, /version 2\.0-snapshot/);
    }
    async function unchanged() {
      assert.deepEqual(await bytes(`${REL}/lib-2.0-snapshot.jar`), jar);
      assert.equal((await bytes(`${REL}/lib-2.0-snapshot.pom`)).toString(), relPom);
    }

    before(async () => {
      s = await startWharf({ dialect });
      aliceAuth = basic('alice', await s.userWithToken('alice'));
      bobAuth = basic('bob', await s.userWithToken('bob'));
      await s.core.identity.createRepo(systemActor, 'alice', 'core', 'private');
      await s.core.identity.grantRepo(systemActor, 'alice/core', 'bob', 'write');
      for (const [name, body] of [['lib-2.0-snapshot.pom', relPom], ['lib-2.0-snapshot.jar', jar]] as const) {
        assert.equal((await put(`${REL}/${name}`, body, aliceAuth)).status, 201, name);
        assert.equal((await put(`${REL}/${name}.sha1`, hex('sha1', body), aliceAuth)).status, 201, `${name}.sha1`);
      }
    });
    after(() => s.stop());

    test('bob PUTs other bytes to 2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar → 409, and the released jar stays', async () => {
      await refused(`${ALIAS}/lib-2.0-SNAPSHOT.jar`, 'bob was here', bobAuth);
      await refused(`${ALIAS}/lib-2.0-SNAPSHOT.pom`, pom('org.w', 'lib', '2.0-SNAPSHOT'), bobAuth);
      await refused(`${ALIAS}/lib-2.0-20261206.120000-1.jar`, 'a build', bobAuth);
      await unchanged();
    });

    test('bob PUTs a wrong checksum to the alias path → 409, and the released POM and jar stay', async () => {
      for (const f of ['lib-2.0-SNAPSHOT.pom', 'lib-2.0-SNAPSHOT.jar']) {
        for (const algo of ['sha1', 'md5']) await refused(`${ALIAS}/${f}.${algo}`, hex(algo, 'nope'), bobAuth);
      }
      await unchanged();
    });

    test('alias writes of the snapshot metadata and other spellings are refused too; alice, who may delete, as well', async () => {
      await refused(`${ALIAS}/maven-metadata.xml`, '<metadata><groupId>org.w</groupId><artifactId>lib</artifactId></metadata>', bobAuth);
      await refused(`${ALIAS}/lib-2.0-SNAPSHOT.jar`, 'alice rebuilt it', aliceAuth);
      await refused('/maven/alice/core/org/w/lib/2.0-Snapshot/lib-2.0-Snapshot.jar', 'mixed case', aliceAuth);
      await refused('/maven/alice/org/w/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar', 'via the owner root', bobAuth);
      await unchanged();
    });

    test('the other way round: a real SNAPSHOT gets no files under its lower-case (release) spelling', async () => {
      const SNAP = '/maven/alice/core/org/w/lib/3.0-SNAPSHOT';
      assert.equal((await put(`${SNAP}/lib-3.0-SNAPSHOT.jar`, 'snapshot', bobAuth)).status, 201);
      const r = await put('/maven/alice/core/org/w/lib/3.0-snapshot/lib-3.0-snapshot-sources.jar', 'sources', bobAuth);
      assert.equal(r.status, 409);
      assert.match(await r.text(), /version 3\.0-SNAPSHOT/);
    });

    test('under the stored spelling, a retry and new files still succeed', async () => {
      assert.equal((await put(`${REL}/lib-2.0-snapshot.jar`, jar, bobAuth)).status, 201);
      assert.equal((await put(`${REL}/lib-2.0-snapshot-sources.jar`, 'sources', bobAuth)).status, 201);
      assert.equal((await bytes(`${REL}/lib-2.0-snapshot-sources.jar`)).toString(), 'sources');
      await unchanged();
    });
  });
}
