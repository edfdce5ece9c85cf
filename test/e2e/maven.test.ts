// End to end with the real Maven 3.8.7 against Wharf started as `npm start` starts it (issue 5): mvn deploy of
// a release and of a SNAPSHOT twice (build number 2), deploy:deploy-file with sources, javadoc and a signature,
// the same deploy again (a retry: fine) and with other bytes (409), and mvn dependency:get resolving a public
// package anonymously, a private one with credentials (through the owner-wide root), and refusing it without
// them or to a user without access.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { dependencyGet, javaProject, localFile, mvn, ok, settingsXml } from './helpers-maven.ts';

const T = { timeout: 200_000 };
const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');

describe('Maven 3.8.7 against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let aliceToken: string;
  let bobToken: string;
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('wharf-mvn-');
    dirs.push(d);
    return d;
  };
  const project = (...a: Parameters<typeof javaProject>) => {
    const d = javaProject(...a);
    dirs.push(d);
    return d;
  };
  const wharf = async (args: string[]) => {
    const r = await server.cli(args);
    if (r.code !== 0) throw new Error(`wharf ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const settings = (user?: string, password?: string) => settingsXml(dir(), user ? [{ id: 'wharf', username: user, password: password! }] : []);
  const get = (p: string, auth?: string) => fetch(`${server.url}${p}`, { headers: auth ? { authorization: auth } : {} });

  before(async () => {
    server = await spawnWharf();
    await wharf(['user', 'create', 'alice', '--email', 'alice@example.com']);
    await wharf(['user', 'create', 'bob', '--email', 'bob@example.com']);
    aliceToken = (await wharf(['token', 'create', 'alice', '--scopes', 'read:packages,write:packages,delete:packages'])).trim().split(/\s+/).pop()!;
    bobToken = (await wharf(['token', 'create', 'bob', '--scopes', 'read:packages'])).trim().split(/\s+/).pop()!;
    await wharf(['repo', 'create', 'alice/hello', '--visibility', 'public']);
    await wharf(['repo', 'create', 'alice/secret', '--visibility', 'private']);
  });

  after(async () => {
    await server?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('mvn deploy of a release, and of a SNAPSHOT twice (build numbers 1 then 2)', T, async () => {
    const s = settings('alice', aliceToken);
    const url = `${server.url}/maven/alice/hello`;
    const release = project({ groupId: 'com.example', artifactId: 'hello', version: '1.0', url, message: 'release' });
    ok(await mvn(s, ['deploy', '-DskipTests'], release), 'mvn deploy (release)');
    const jar = await get('/maven/alice/hello/com/example/hello/1.0/hello-1.0.jar');
    assert.equal(jar.status, 200);
    const bytes = Buffer.from(await jar.arrayBuffer());
    assert.equal(await (await get('/maven/alice/hello/com/example/hello/1.0/hello-1.0.jar.sha1')).text(), sha1(bytes));
    assert.equal(bytes.subarray(0, 2).toString(), 'PK');

    const snap = project({ groupId: 'com.example', artifactId: 'hello', version: '1.1-SNAPSHOT', url, message: 'snapshot' });
    ok(await mvn(s, ['deploy', '-DskipTests'], snap), 'mvn deploy (snapshot, first)');
    let doc = await (await get('/maven/alice/hello/com/example/hello/1.1-SNAPSHOT/maven-metadata.xml')).text();
    assert.match(doc, /<buildNumber>1<\/buildNumber>/);
    ok(await mvn(s, ['deploy', '-DskipTests'], snap), 'mvn deploy (snapshot, second)');
    doc = await (await get('/maven/alice/hello/com/example/hello/1.1-SNAPSHOT/maven-metadata.xml')).text();
    assert.match(doc, /<buildNumber>2<\/buildNumber>/);
    const value = /<extension>jar<\/extension>\s*<value>([^<]+)<\/value>/.exec(doc)![1];
    assert.match(value, /^1\.1-\d{8}\.\d{6}-2$/);
    assert.equal((await get(`/maven/alice/hello/com/example/hello/1.1-SNAPSHOT/hello-${value}.jar`)).status, 200);

    const art = await (await get('/maven/alice/hello/com/example/hello/maven-metadata.xml')).text();
    assert.match(art, /<release>1\.0<\/release>/);
    assert.match(art, /<latest>1\.1-SNAPSHOT<\/latest>/);
  });

  test('deploy:deploy-file to a private repository, with sources, javadoc and a signature; redeploying other bytes fails with 409', T, async () => {
    const s = settings('alice', aliceToken);
    const d = dir();
    const file = (name: string, content: string) => {
      fs.writeFileSync(path.join(d, name), content);
      return path.join(d, name);
    };
    const jar = file('tool.jar', 'PK not a real jar, but Maven does not look');
    const args = [
      'org.apache.maven.plugins:maven-deploy-plugin:2.7:deploy-file', `-Dfile=${jar}`, '-DgroupId=com.example', '-DartifactId=tool', '-Dversion=2.0',
      '-Dpackaging=jar', `-Durl=${server.url}/maven/alice/secret`, '-DrepositoryId=wharf',
    ];
    ok(
      await mvn(s, [...args, `-Dsources=${file('src.jar', 'sources')}`, `-Djavadoc=${file('doc.jar', 'javadoc')}`, `-Dfiles=${file('tool.jar.asc', '-----BEGIN PGP SIGNATURE-----\n')}`, '-Dclassifiers=', '-Dtypes=jar.asc'], d),
      'mvn deploy:deploy-file',
    );
    const auth = `Basic ${Buffer.from(`alice:${aliceToken}`).toString('base64')}`;
    for (const f of ['tool-2.0.jar', 'tool-2.0.pom', 'tool-2.0-sources.jar', 'tool-2.0-javadoc.jar', 'tool-2.0.jar.asc']) {
      assert.equal((await get(`/maven/alice/secret/com/example/tool/2.0/${f}`, auth)).status, 200, f);
    }
    // The same bytes again are a retry and succeed; other bytes under a released name are refused.
    ok(await mvn(s, args, d), 'mvn deploy:deploy-file again, same bytes');
    fs.writeFileSync(jar, 'PK other bytes');
    const again = await mvn(s, args, d);
    assert.notEqual(again.code, 0, 'a release redeploy with other bytes must fail');
    assert.match(again.output, /409|Conflict/);
  });

  test('mvn dependency:get: a public package anonymously, a private one with credentials, refused otherwise', T, async () => {
    const anon = settings();
    const withAlice = settings('alice', aliceToken);
    const withBob = settings('bob', bobToken);
    const anonPrivate = settings();
    const snapshot = settings();
    const cwd = dir();
    const [pub, priv, refusedAnon, refusedBob, snap] = await Promise.all([
      dependencyGet(anon, 'com.example:hello:1.0', `${server.url}/maven/alice/hello`, cwd),
      dependencyGet(withAlice, 'com.example:tool:2.0', `${server.url}/maven/alice`, cwd),
      dependencyGet(anonPrivate, 'com.example:tool:2.0', `${server.url}/maven/alice`, cwd),
      dependencyGet(withBob, 'com.example:tool:2.0', `${server.url}/maven/alice/secret`, cwd),
      dependencyGet(snapshot, 'com.example:hello:1.1-SNAPSHOT', `${server.url}/maven/alice/hello`, cwd),
    ]);
    ok(pub, 'anonymous resolve of a public package');
    assert.ok(fs.existsSync(localFile(anon, 'com/example/hello/1.0/hello-1.0.jar')));
    ok(priv, 'resolve of a private package with credentials');
    assert.equal(fs.readFileSync(localFile(withAlice, 'com/example/tool/2.0/tool-2.0.jar'), 'utf8'), 'PK not a real jar, but Maven does not look');
    assert.notEqual(refusedAnon.code, 0);
    assert.match(refusedAnon.output, /401|Unauthorized|Not authorized/i);
    assert.notEqual(refusedBob.code, 0);
    assert.ok(!fs.existsSync(localFile(withBob, 'com/example/tool/2.0/tool-2.0.jar')));
    ok(snap, 'resolve of a SNAPSHOT');
    const jars = fs.readdirSync(localFile(snapshot, 'com/example/hello/1.1-SNAPSHOT')).filter((f) => f.endsWith('.jar'));
    assert.ok(jars.some((f) => /-2\.jar$/.test(f)), `the newest build was resolved: ${jars.join(', ')}`);
  });

  test('a checksum that does not match what was deployed is refused, and the file is not kept', async () => {
    const auth = `Basic ${Buffer.from(`alice:${aliceToken}`).toString('base64')}`;
    const base = `${server.url}/maven/alice/hello/com/example/hello/3.0`;
    assert.equal((await fetch(`${base}/hello-3.0.jar`, { method: 'PUT', body: 'jar', headers: { authorization: auth } })).status, 201);
    const r = await fetch(`${base}/hello-3.0.jar.sha1`, { method: 'PUT', body: sha1('not the jar'), headers: { authorization: auth } });
    assert.equal(r.status, 400);
    assert.equal((await get('/maven/alice/hello/com/example/hello/3.0/hello-3.0.jar')).status, 404);
  });
});
