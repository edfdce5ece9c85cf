// End to end with Debian's Gradle 4.4.1 against Wharf started as `npm start` starts it (issue 5): publish with
// the legacy `maven` plugin (the only publisher that works in Debian's build), resolve for real (credentials
// after the 401 challenge, through the owner-wide root; anonymously from a public repository; refused without
// credentials), and a replay of what current Gradle's `maven-publish` sends: .module, .sha256 and .sha512.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { gradle, ok } from './helpers-maven.ts';

const T = { timeout: 240_000 };
const hex = (algo: string, b: Buffer | string) => createHash(algo).update(b).digest('hex');
const WAGON = '/usr/share/java/maven-resolver-transport-wagon.jar';

describe('Gradle 4.4.1 against Wharf', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let token: string;
  let auth: string;
  const dirs: string[] = [];
  const dir = (files: Record<string, string>) => {
    const d = tempDir('wharf-gradle-');
    dirs.push(d);
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
      fs.writeFileSync(path.join(d, name), content);
    }
    return d;
  };
  const wharf = async (args: string[]) => {
    const r = await server.cli(args);
    if (r.code !== 0) throw new Error(`wharf ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const http = (method: string, p: string, body?: string | Buffer, authorization?: string) =>
    fetch(`${server.url}${p}`, { method, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body), headers: authorization ? { authorization } : {} });

  before(async () => {
    server = await spawnWharf();
    await wharf(['user', 'create', 'alice', '--email', 'alice@example.com']);
    token = (await wharf(['token', 'create', 'alice', '--scopes', 'read:packages,write:packages'])).trim().split(/\s+/).pop()!;
    auth = `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`;
    await wharf(['repo', 'create', 'alice/hello', '--visibility', 'public']);
    await wharf(['repo', 'create', 'alice/secret', '--visibility', 'private']);
  });

  after(async () => {
    await server?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('gradle uploadArchives (legacy maven plugin) to a private repository', T, async () => {
    const d = dir({
      'settings.gradle': "rootProject.name = 'glib'\n",
      'build.gradle': `
apply plugin: 'java'
apply plugin: 'maven'
group = 'com.example'
version = '1.0'
sourceCompatibility = 1.8
targetCompatibility = 1.8
configurations { deployerJars }
dependencies { deployerJars files('${WAGON}') }
uploadArchives {
  repositories {
    mavenDeployer {
      configuration = configurations.deployerJars
      repository(url: '${server.url}/maven/alice/secret') { authentication(userName: 'alice', password: '${token}') }
    }
  }
}
`,
      'src/main/java/com/example/Glib.java': 'package com.example;\npublic class Glib { public static int answer() { return 42; } }\n',
    });
    ok(await gradle(d, ['uploadArchives']), 'gradle uploadArchives');
    const jar = await http('GET', '/maven/alice/secret/com/example/glib/1.0/glib-1.0.jar', undefined, auth);
    assert.equal(jar.status, 200);
    const bytes = Buffer.from(await jar.arrayBuffer());
    assert.deepEqual(bytes, fs.readFileSync(path.join(d, 'build/libs/glib-1.0.jar')));
    const doc = await (await http('GET', '/maven/alice/secret/com/example/glib/maven-metadata.xml', undefined, auth)).text();
    assert.match(doc, /<release>1\.0<\/release>/);
    assert.equal((await http('GET', '/maven/alice/secret/com/example/glib/1.0/glib-1.0.jar')).status, 401);
  });

  test('current Gradle maven-publish, replayed: .module, .md5, .sha1, .sha256 and .sha512, then maven-metadata.xml', async () => {
    const base = '/maven/alice/hello/com/example/modern';
    // Gradle asks for the artifact's metadata first (anonymous: a clean 404 below a public repository).
    assert.equal((await http('GET', `${base}/maven-metadata.xml`)).status, 404);
    const pomXml = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- This module was also published with a richer model, Gradle metadata,  -->
  <!-- which should be used instead. Do not delete the following line which  -->
  <!-- is to indicate to Gradle or any Gradle module metadata file consumer  -->
  <!-- that they should prefer consuming it instead. -->
  <!-- do_not_remove: published-with-gradle-metadata -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>modern</artifactId>
  <version>1.0</version>
</project>
`;
    const module = JSON.stringify({
      formatVersion: '1.1',
      component: { group: 'com.example', module: 'modern', version: '1.0', attributes: { 'org.gradle.status': 'release' } },
      createdBy: { gradle: { version: '8.10' } },
      variants: [{ name: 'runtimeElements', attributes: { 'org.gradle.usage': 'java-runtime' }, files: [{ name: 'modern-1.0.jar', url: 'modern-1.0.jar', size: 10 }] }],
    });
    const files: [string, string | Buffer][] = [
      ['modern-1.0.jar', Buffer.from('PK modern!')],
      ['modern-1.0.pom', pomXml],
      ['modern-1.0.module', module],
    ];
    // Without preemptive credentials, the first PUT is challenged.
    const challenged = await http('PUT', `${base}/1.0/modern-1.0.jar`, 'PK modern!');
    assert.equal(challenged.status, 401);
    assert.equal(challenged.headers.get('www-authenticate'), 'Basic realm="Wharf"');
    for (const [name, body] of files) {
      assert.equal((await http('PUT', `${base}/1.0/${name}`, body, auth)).status, 201, name);
      for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) {
        assert.equal((await http('PUT', `${base}/1.0/${name}.${algo}`, hex(algo, body), auth)).status, 201, `${name}.${algo}`);
      }
    }
    const meta = `<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>com.example</groupId><artifactId>modern</artifactId><versioning><latest>1.0</latest><release>1.0</release><versions><version>1.0</version></versions><lastUpdated>20261122120000</lastUpdated></versioning></metadata>`;
    assert.equal((await http('PUT', `${base}/maven-metadata.xml`, meta, auth)).status, 201);
    for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) assert.equal((await http('PUT', `${base}/maven-metadata.xml.${algo}`, hex(algo, meta), auth)).status, 201);

    // Everything reads back, with Wharf's checksums of every file.
    for (const [name, body] of files) {
      assert.deepEqual(Buffer.from(await (await http('GET', `${base}/1.0/${name}`)).arrayBuffer()), Buffer.from(body));
      for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) assert.equal(await (await http('GET', `${base}/1.0/${name}.${algo}`)).text(), hex(algo, body));
    }
    const served = await (await http('GET', `${base}/maven-metadata.xml`)).text();
    assert.match(served, /<versions>\s*<version>1\.0<\/version>\s*<\/versions>/);
    assert.equal(await (await http('GET', `${base}/maven-metadata.xml.sha256`)).text(), hex('sha256', served));
    // A .sha512 that does not match → 400; this token may not delete, so the released module stays as it was.
    assert.equal((await http('PUT', `${base}/1.1/modern-1.1.module`, module, auth)).status, 201);
    assert.equal((await http('PUT', `${base}/1.1/modern-1.1.module.sha512`, hex('sha512', 'other'), auth)).status, 400);
    assert.equal(await (await http('GET', `${base}/1.1/modern-1.1.module`)).text(), module);
  });

  test('gradle resolves: private with credentials (owner-wide root), public anonymously, private without credentials refused', T, async () => {
    const resolver = (url: string, dep: string, credentials: boolean) =>
      dir({
        'settings.gradle': "rootProject.name = 'consumer'\n",
        'build.gradle': `
repositories {
  maven {
    url '${url}'
    ${credentials ? `credentials { username 'alice'; password '${token}' }` : ''}
  }
}
configurations { deps }
dependencies { deps '${dep}' }
task fetch(type: Copy) {
  from configurations.deps
  into 'out'
}
`,
      });
    const priv = resolver(`${server.url}/maven/alice`, 'com.example:glib:1.0', true);
    const pub = resolver(`${server.url}/maven/alice/hello`, 'com.example:modern:1.0', false);
    const refused = resolver(`${server.url}/maven/alice`, 'com.example:glib:1.0', false);
    const [a, b, c] = await Promise.all([gradle(priv, ['fetch']), gradle(pub, ['fetch']), gradle(refused, ['fetch'])]);
    ok(a, 'gradle resolve with credentials');
    assert.ok(fs.existsSync(path.join(priv, 'out/glib-1.0.jar')));
    ok(b, 'gradle anonymous resolve of a public package');
    assert.equal(fs.readFileSync(path.join(pub, 'out/modern-1.0.jar'), 'utf8'), 'PK modern!');
    assert.notEqual(c.code, 0);
    assert.match(c.output, /401/);
    assert.ok(!fs.existsSync(path.join(refused, 'out/glib-1.0.jar')));
  });
});
