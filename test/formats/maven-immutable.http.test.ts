// Published Maven content is immutable to anyone without delete rights (issue 17, finding 5): bob, who has write
// but not admin on alice/core, sent a wrong .sha1 for a released jar to have it dropped, then deployed other bytes
// under its name. Checksums never remove a released file for him; other bytes are refused for everyone; the same
// bytes again (a retried deploy) and SNAPSHOT files stay as Maven needs them.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { basic, hex, mavenHttp, pom } from '../helpers/maven-http.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';


for (const dialect of dialects()) {
  describe(`Maven: released files are immutable on ${dialect}`, () => {
    let s: TestServer;
    let aliceAuth: string;
    let bobAuth: string;
    const REL = '/maven/alice/core/com/acme/core/1.0';
    const SNAP = '/maven/alice/core/com/acme/core/2.0-SNAPSHOT';
    const jar = Buffer.from('PK\x03\x04 the released jar');

    const { put, bytes } = mavenHttp(() => s.url, () => aliceAuth);
    async function deploy(base: string, files: Record<string, string | Buffer>, auth: string) {
      for (const [name, body] of Object.entries(files)) {
        assert.equal((await put(`${base}/${name}`, body, auth)).status, 201, `PUT ${name}`);
        for (const algo of ['sha1', 'md5']) assert.equal((await put(`${base}/${name}.${algo}`, hex(algo, body), auth)).status, 201, `PUT ${name}.${algo}`);
      }
    }

    before(async () => {
      s = await startWharf({ dialect });
      aliceAuth = basic('alice', await s.userWithToken('alice'));
      // bob's token has every package scope: what he lacks is the admin role that deleting needs.
      bobAuth = basic('bob', await s.userWithToken('bob'));
      await s.core.identity.createRepo(systemActor, 'alice', 'core', 'private');
      await s.core.identity.grantRepo(systemActor, 'alice/core', 'bob', 'write');
      await deploy(REL, { 'core-1.0.pom': pom('com.acme', 'core', '1.0'), 'core-1.0.jar': jar }, aliceAuth);
    });
    after(() => s.stop());

    test('bob PUTs a wrong .sha1/.md5/.sha256/.sha512 for the released core-1.0.jar → 400, and the jar stays', async () => {
      for (const algo of ['sha1', 'md5', 'sha256', 'sha512']) {
        const r = await put(`${REL}/core-1.0.jar.${algo}`, hex(algo, 'bob was here'), bobAuth);
        assert.equal(r.status, 400, algo);
        assert.match(await r.text(), /checksum mismatch.*unchanged/);
        assert.deepEqual(await bytes(`${REL}/core-1.0.jar`), jar, `after a wrong .${algo}`);
      }
      assert.match((await bytes('/maven/alice/core/com/acme/core/maven-metadata.xml')).toString(), /<version>1\.0<\/version>/);
      assert.equal((await bytes(`${REL}/core-1.0.jar.sha1`)).toString(), hex('sha1', jar));
    });

    test('bob PUTs other bytes for core-1.0.jar → 409, and the original bytes remain', async () => {
      for (const other of ['bob was here', Buffer.from(jar.map((b) => b ^ 1))]) {
        const r = await put(`${REL}/core-1.0.jar`, other, bobAuth);
        assert.equal(r.status, 409, `${other.length} bytes`);
        assert.match(await r.text(), /release versions are immutable/);
      }
      assert.deepEqual(await bytes(`${REL}/core-1.0.jar`), jar);
    });

    test('alice, who may delete, gets the same 409: replacing a release takes an explicit delete', async () => {
      assert.equal((await put(`${REL}/core-1.0.jar`, 'alice rebuilt it', aliceAuth)).status, 409);
      assert.deepEqual(await bytes(`${REL}/core-1.0.jar`), jar);
    });

    test('the same bytes again (a retried deploy) → 201, for bob and alice, with nothing changed', async () => {
      await deploy(REL, { 'core-1.0.pom': pom('com.acme', 'core', '1.0'), 'core-1.0.jar': jar }, bobAuth);
      await deploy(REL, { 'core-1.0.jar': jar }, aliceAuth);
      assert.deepEqual(await bytes(`${REL}/core-1.0.jar`), jar);
    });

    test('bob may add new files, update maven-metadata.xml and replace SNAPSHOT files', async () => {
      await deploy(REL, { 'core-1.0-sources.jar': 'sources' }, bobAuth);
      const doc = '<?xml version="1.0"?><metadata><groupId>com.acme</groupId><artifactId>core</artifactId></metadata>';
      assert.equal((await put('/maven/alice/core/com/acme/core/maven-metadata.xml', doc, bobAuth)).status, 201);
      const build = 'core-2.0-20261206.120000-1.jar';
      await deploy(SNAP, { [build]: 'snapshot one' }, bobAuth);
      await deploy(SNAP, { [build]: 'snapshot one, rebuilt' }, bobAuth);
      assert.equal((await bytes(`${SNAP}/${build}`)).toString(), 'snapshot one, rebuilt');
      // A fresh SNAPSHOT file whose checksum does not match is dropped, so the deploy can be retried.
      assert.equal((await put(`${SNAP}/${build}.sha1`, hex('sha1', 'nope'), bobAuth)).status, 400);
      assert.equal((await fetch(`${s.url}${SNAP}/${build}`, { headers: { authorization: aliceAuth } })).status, 404);
    });

    test('alice, who may delete, has a fresh release file with a wrong checksum dropped, and deploys it again', async () => {
      const base = '/maven/alice/core/com/acme/core/3.0';
      assert.equal((await put(`${base}/core-3.0.jar`, 'corrupted in transit', aliceAuth)).status, 201);
      const r = await put(`${base}/core-3.0.jar.sha1`, hex('sha1', 'three'), aliceAuth);
      assert.equal(r.status, 400);
      assert.match(await r.text(), /not kept/);
      await deploy(base, { 'core-3.0.jar': 'three' }, aliceAuth);
      assert.equal((await bytes(`${base}/core-3.0.jar`)).toString(), 'three');
    });
  });
}
