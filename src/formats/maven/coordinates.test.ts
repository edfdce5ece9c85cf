import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChecksumBody, parseFileName, parseMavenPath, splitRawPath } from './coordinates.ts';

test('parseMavenPath: files, checksums, artifact and snapshot metadata', () => {
  assert.deepEqual(parseMavenPath('com/example/hello/1.0/hello-1.0.jar'.split('/')), { kind: 'file', groupId: 'com.example', artifactId: 'hello', version: '1.0', file: 'hello-1.0.jar', checksum: null });
  assert.equal((parseMavenPath('com/example/hello/1.0/hello-1.0.jar.sha512'.split('/')) as { checksum: string }).checksum, 'sha512');
  assert.deepEqual(parseMavenPath('com/example/hello/maven-metadata.xml.sha1'.split('/')), { kind: 'artifact-metadata', groupId: 'com.example', artifactId: 'hello', checksum: 'sha1' });
  assert.deepEqual(parseMavenPath('junit/junit/4.13-SNAPSHOT/maven-metadata.xml'.split('/')), { kind: 'version-metadata', groupId: 'junit', artifactId: 'junit', version: '4.13-SNAPSHOT', checksum: null });
});

test('parseMavenPath refuses names Maven would not write', () => {
  for (const p of ['a/b/1.0/c-1.0.jar', 'a/b/1.0/b-1.1.jar', 'a/b/1.0/b-1.0', 'a/b$/1.0/b$-1.0.jar', 'a/.b/1.0/.b-1.0.jar', 'b/1.0/b-1.0.jar', 'a/b/1..0/b-1..0.jar']) {
    assert.throws(() => parseMavenPath(p.split('/')), /invalid|expected|needs/, p);
  }
});

test('splitRawPath refuses escapes, dot and empty segments', () => {
  for (const p of ['a/../b', 'a//b', 'a/%2e%2e/b', 'a\\b', 'a/./b', 'a b']) assert.throws(() => splitRawPath(p), p);
  assert.deepEqual(splitRawPath('a/b/c/'), ['a', 'b', 'c']);
});

test('parseFileName: classifiers, extensions, unique and non-unique snapshots', () => {
  assert.deepEqual(parseFileName('hello', '1.0', 'hello-1.0-sources.jar'), { classifier: 'sources', extension: 'jar', build: null });
  assert.deepEqual(parseFileName('hello', '1.0', 'hello-1.0.jar.asc'), { classifier: null, extension: 'jar.asc', build: null });
  assert.deepEqual(parseFileName('hello', '1.0-SNAPSHOT', 'hello-1.0-20261122.193812-12-javadoc.jar'), { classifier: 'javadoc', extension: 'jar', build: { timestamp: '20261122.193812', number: 12 } });
  assert.deepEqual(parseFileName('hello', '1.0-SNAPSHOT', 'hello-1.0-SNAPSHOT.pom'), { classifier: null, extension: 'pom', build: null });
  assert.throws(() => parseFileName('hello', '1.0-SNAPSHOT', 'hello-1.0-20261122.193812-0.jar'));
});

test('parseChecksumBody: bare hex or sha1sum style, right length only', () => {
  assert.equal(parseChecksumBody(`${'A'.repeat(40)}  hello.jar\n`, 'sha1'), 'a'.repeat(40));
  assert.throws(() => parseChecksumBody('abc', 'sha1'));
  assert.throws(() => parseChecksumBody('g'.repeat(32), 'md5'));
});
