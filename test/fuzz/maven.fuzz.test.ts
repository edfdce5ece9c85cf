// Fuzzing Maven's parsers with fast-check (seeded, see property.ts): repository paths and coordinates, file
// names, checksum bodies, the POM and client maven-metadata.xml parsers on hostile XML, and over HTTP, deploys
// and downloads on hostile paths and deploys of hostile POMs: a value or a client error, never a crash; a 4xx,
// never a 500.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CHECKSUMS, parseChecksumBody, parseFileName, parseMavenPath, splitRawPath } from '../../src/formats/maven/coordinates.ts';
import { checkClientMetadata, checkPomCoordinates, parsePom } from '../../src/formats/maven/pom.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';
import { assertClientStatus, encodeSegment, mutatedText, params, returnsOrRefusesSync } from './property.ts';

const POM = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>1</version></parent>
<artifactId>fuzz</artifactId><version>1.0</version><packaging>jar</packaging><name>Fuzz</name>
<dependencies><dependency><groupId>org.x</groupId><artifactId>y</artifactId><version>[1,2)</version></dependency></dependencies>
<licenses><license><name>MIT</name></license></licenses></project>`;
const METADATA = `<?xml version="1.0"?><metadata><groupId>com.example</groupId><artifactId>fuzz</artifactId><versioning><latest>1.0</latest><versions><version>1.0</version></versions></versioning></metadata>`;
const XML_BITS = ['<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', '&e;', '&amp;', '&#0;', '&#xD800;', '<![CDATA[', ']]>', '<project>', '</project>', '<groupId>', '</groupId>', '<version/>', '<artifactId>', 'xmlns:m="x"', '<m:project>', '<?xml version="1.1"?>', '<!--', '-->', '__proto__', '<constructor>'];

const PATH_BITS = ['com', 'example', 'fuzz', '1.0', '1.0-SNAPSHOT', 'fuzz-1.0.jar', 'fuzz-1.0-SNAPSHOT.pom', 'fuzz-1.0-20240101.120000-1.jar', 'maven-metadata.xml', 'maven-metadata.xml.sha1', 'fuzz-1.0.pom.sha512', '.', '..', '', '%2e%2e', '%E0%A4%A', '\\', '~', 'fuzz-1.0-sources.jar.asc', 'fuzz-1.0.tar.gz', '-', '--'];
/** A path of Maven-looking segments and hostile ones. */
const mavenPath = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...PATH_BITS), fc.string({ maxLength: 10 })), { minLength: 1, maxLength: 8 }).map((s) => s.join('/')),
  fc.constantFrom('com/example/fuzz/1.0/fuzz-1.0.jar', 'com/example/fuzz/1.0-SNAPSHOT/fuzz-1.0-20240101.120000-3-sources.jar.sha1', 'com/example/fuzz/maven-metadata.xml.md5').chain((p) => mutatedText(p, PATH_BITS)),
);

describe('Maven parsers', () => {
  test('repository paths and coordinates: a typed path or a client error', async (t) => {
    fc.assert(
      fc.property(mavenPath, (raw) => returnsOrRefusesSync(() => parseMavenPath(splitRawPath(raw)))),
      params(t, 4000),
    );
  });

  test('file names and checksum bodies: parsed or a client error', async (t) => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.constantFrom('1.0', '1.0-SNAPSHOT', '', '-'), mutatedText('fuzz-1.0-SNAPSHOT-20240101.120000-1-tests.jar', PATH_BITS), fc.string({ maxLength: 140 }), fc.constantFrom(...CHECKSUMS), (artifact, version, file, body, algo) => {
        returnsOrRefusesSync(() => parseFileName(artifact || 'fuzz', version, file));
        returnsOrRefusesSync(() => parseChecksumBody(body, algo));
      }),
      params(t, 3000),
    );
  });

  test('POM and maven-metadata.xml parsers on hostile XML: facts or a client error', async (t) => {
    const deep = fc.integer({ min: 1, max: 5000 }).map((n) => `<project>${'<a>'.repeat(n)}${'</a>'.repeat(n)}</project>`);
    fc.assert(
      fc.property(fc.oneof(mutatedText(POM, XML_BITS), mutatedText(METADATA, XML_BITS), deep, fc.string({ maxLength: 100 })), (xml) => {
        const buf = Buffer.from(xml);
        returnsOrRefusesSync(() => checkPomCoordinates(parsePom(buf), { groupId: 'com.example', artifactId: 'fuzz', version: '1.0' }));
        returnsOrRefusesSync(() => checkClientMetadata(buf, { groupId: 'com.example', artifactId: 'fuzz' }));
      }),
      params(t, 2000),
    );
  });
});

describe('Maven over HTTP', () => {
  let s: TestServer;
  let auth: string;
  // One database is enough: what is fuzzed here is parsing, which happens before any query.
  before(async () => {
    s = await startWharf({ dialect: 'sqlite' });
    auth = `Basic ${Buffer.from(`alice:${await s.userWithToken('alice')}`).toString('base64')}`;
    await s.core.identity.createRepo(systemActor, 'alice', 'lib', 'public');
  });
  after(() => s.stop());

  test('PUT, GET and DELETE on hostile paths → 4xx (or 2xx), never 500', async (t) => {
    await fc.assert(
      fc.asyncProperty(mavenPath, fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'), fc.constantFrom('/maven/alice/lib/', '/maven/alice/', '/maven/'), async (p, method, root) => {
        const url = root + p.split('/').map((seg) => (/^[\x21-\x7e]*$/.test(seg) ? seg : encodeSegment(seg))).join('/');
        const r = await s.app.inject({ method, url, headers: { authorization: auth }, payload: method === 'PUT' ? 'bytes' : undefined });
        assert.ok(r.statusCode < 500, `${method} ${url} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
      }),
      params(t, 1500),
    );
  });

  test('PUT a hostile POM (and its checksum) → 4xx (or 201), never 500', async (t) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutatedText(POM, XML_BITS), async (xml) => {
        const v = `1.${++n}`;
        const pom = xml.replace('<version>1.0</version>', `<version>${v}</version>`);
        const base = `/maven/alice/lib/com/example/fuzz/${v}/fuzz-${v}.pom`;
        const r = await s.app.inject({ method: 'PUT', url: base, headers: { authorization: auth }, payload: pom });
        assertClientStatus(r.statusCode, r.body, `PUT ${base}`, true);
        const c = await s.app.inject({ method: 'PUT', url: `${base}.sha1`, headers: { authorization: auth }, payload: n % 2 ? createHash('sha1').update(pom).digest('hex') : pom.slice(0, 50) });
        assertClientStatus(c.statusCode, c.body, `PUT ${base}.sha1`, true);
      }),
      params(t, 500),
    );
  });
});
