// Two Wharf nodes on PostgreSQL + S3 behind nginx (scripts/fleet.sh, deploy/nginx.conf), round-robin, with
// WHARF_S3_REDIRECT=on for every size: the real Maven, RubyGems and NuGet clients publish through the balancer and
// install at once from a fresh cache (read-your-writes across nodes), and their downloads are answered with a 307
// that they follow to S3, getting the very bytes they published.
//
// S3 here (radosgw) speaks plain HTTP, and gem and NuGet refuse to follow a redirect from https to http (a real S3
// is https), so the fleet runs with FLEET_S3_TLS=on: a TLS front for S3 with the fleet's certificate, which logs
// each request and the authentication scheme it carried (a presigned GET must carry none).
// Each client trusts the fleet's self-signed certificate its own way: Java a PKCS12 trust store, Ruby
// SSL_CERT_FILE, mono its user store (~/.config/.mono/new-certs/Trust/<subject hash>.0). Mono's TLS (btls) does
// not match a certificate's IP address, so NuGet talks to https://localhost:PORT (and S3 is on localhost too: its
// credentials are challenge-based, so a redirect to the same host name sends none).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fleetUnavailable, startFleet, type Fleet } from '../helpers/fleet.ts';
import { tempDir } from '../helpers/wharf.ts';
import { javaProject, localFile, mvn, ok as mvnOk, settingsXml } from '../e2e/helpers-maven.ts';
import { ok } from '../e2e/helpers-npm.ts';
import { NuGetClient, nugetExe } from '../e2e/helpers-nuget.ts';
import { buildGem, GemClient } from '../e2e/helpers-rubygems.ts';

const skip = fleetUnavailable();
const T = { timeout: 240_000 };
const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The node (upstream address) each access-log line was answered by. */
const upstreams = (lines: string[]) => lines.map((l) => /upstream=(\S+)/.exec(l)?.[1] ?? '-');

describe('real Maven, RubyGems and NuGet clients through a fleet of two nodes on PostgreSQL + S3, S3 redirect on', { skip: skip ?? false, timeout: 900_000 }, () => {
  let fleet: Fleet;
  let token: string;
  const dirs: string[] = [];
  const dir = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };

  before(async () => {
    fleet = await startFleet({ blobStore: 's3', s3Redirect: true, s3Tls: true, env: { WHARF_S3_REDIRECT_MIN_BYTES: '0' } });
    token = await fleet.userWithToken('alice');
    const r = await fleet.cli(['repo', 'create', 'alice/hello', '--visibility', 'private']);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await fleet?.down();
  });

  const s3Log = () => fs.readFileSync(fleet.env.FLEET_S3_ACCESS_LOG, 'utf8').split('\n').filter(Boolean);

  /**
   * The requests since `start`: `write` (the upload) and the reads that followed; checks that the reads were
   * answered by both nodes (so the node that did not take the upload served it at once), that `download` answered
   * 307, and that S3 then served the blob of `bytes` to a request carrying no credentials.
   */
  async function checkFleetRun(start: number, s3Start: number, write: RegExp, download: RegExp, bytes: Buffer) {
    await fleet.settle();
    const lines = fleet.accessLog().slice(start);
    const w = lines.findIndex((l) => write.test(l));
    assert.ok(w >= 0, `no upload matching ${write} in:\n${lines.join('\n')}`);
    assert.match(lines[w], /" 20[01] /, lines[w]);
    const reads = lines.slice(w + 1).filter((l) => /"(GET|HEAD) /.test(l));
    assert.deepEqual(new Set(upstreams(reads)), new Set(fleet.nodePorts.map((p) => `127.0.0.1:${p}`)), `the reads did not use both nodes:\n${reads.join('\n')}`);
    const dl = reads.filter((l) => download.test(l));
    assert.ok(dl.length >= 1, `no download matching ${download} in:\n${reads.join('\n')}`);
    // A client may first ask anonymously (401) and retry with credentials after the challenge.
    assert.ok(dl.some((l) => /" 307 /.test(l)), `the download was not redirected to S3:\n${dl.join('\n')}`);
    for (const l of dl) assert.match(l, /" (307|401) /, l);
    // S3 served the blob (its key ends with the content's sha256) to a request without any Authorization.
    const key = `/sha256/${hex(bytes).slice(0, 2)}/${hex(bytes)}?`;
    let gets: string[] = [];
    for (let i = 0; i < 20 && !gets.length; i++) {
      gets = s3Log().slice(s3Start).filter((l) => l.includes('"GET ') && l.includes(key));
      if (!gets.length) await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(gets.length >= 1, `S3 was not asked for ${key}`);
    for (const g of gets) {
      assert.match(g, /X-Amz-Signature=/);
      assert.match(g, /" 200 \d+ auth=-$/, `S3 answered or was asked otherwise: ${g}`);
    }
  }

  test('mvn deploy of a jar, then mvn dependency:get with an empty local repository: pom and jar come from S3', T, async () => {
    const url = `${fleet.url}/maven/alice/hello`;
    const home = dir('wharf-fleet-mvn-');
    const settings = settingsXml(home, [{ id: 'wharf', username: 'alice', password: token }]);
    // Java trusts the fleet's certificate through a trust store of its own.
    const store = path.join(home, 'trust.p12');
    const k = spawnSync('keytool', ['-importcert', '-noprompt', '-alias', 'fleet', '-file', fleet.ca, '-keystore', store, '-storetype', 'PKCS12', '-storepass', 'changeit'], { encoding: 'utf8' });
    assert.equal(k.status, 0, k.stderr);
    const trust = [`-Djavax.net.ssl.trustStore=${store}`, '-Djavax.net.ssl.trustStorePassword=changeit', '-Djavax.net.ssl.trustStoreType=PKCS12'];
    const project = javaProject({ groupId: 'com.example.fleet', artifactId: 'hello', version: '1.0', url, message: 'from the fleet' });
    dirs.push(project);
    await fleet.settle();
    const start = fleet.accessLog().length;
    const s3Start = s3Log().length;
    mvnOk(await mvn(settings, [...trust, 'deploy', '-DskipTests'], project), 'mvn deploy');
    const jar = fs.readFileSync(path.join(project, 'target/hello-1.0.jar'));

    // A fresh local repository: everything is downloaded.
    fs.rmSync(path.join(home, 'm2'), { recursive: true, force: true });
    const get = ['org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get', '-Dartifact=com.example.fleet:hello:1.0', `-DremoteRepositories=wharf::default::${url}`, '-Dtransitive=false'];
    mvnOk(await mvn(settings, [...trust, ...get], home), 'mvn dependency:get');
    assert.ok(fs.readFileSync(localFile(settings, 'com/example/fleet/hello/1.0/hello-1.0.jar')).equals(jar), 'the resolved jar differs from the deployed one');
    await checkFleetRun(start, s3Start, /"PUT \/maven\/alice\/hello\/com\/example\/fleet\/hello\/1\.0\/hello-1\.0\.jar /, /"GET \/maven\/alice\/hello\/com\/example\/fleet\/hello\/1\.0\/hello-1\.0\.jar /, jar);
  });

  test('gem push, then gem install from an empty GEM_HOME: the .gem comes from S3', T, async () => {
    // Ruby's OpenSSL trusts the fleet's certificate through SSL_CERT_FILE (the S3 front has the same one).
    const builder = new GemClient();
    dirs.push(builder.home);
    const file = await buildGem(builder, { name: 'fleetgem', version: '1.0.0' });
    dirs.push(path.dirname(file));
    const gem = fs.readFileSync(file);
    const c = new GemClient({ SSL_CERT_FILE: fleet.ca });
    dirs.push(c.home);
    await fleet.settle();
    const start = fleet.accessLog().length;
    const s3Start = s3Log().length;
    const push = ok(await c.gem(['push', file, '--host', `${fleet.url}/rubygems/alice`], c.home, { GEM_HOST_API_KEY: token }), 'gem push');
    assert.match(push.output, /Successfully registered gem: fleetgem \(1\.0\.0\)/);
    // A private gem: read credentials in the source URL, sent preemptively (none follow the redirect: S3 is another host).
    const source = `https://alice:${token}@${new URL(fleet.url).host}/rubygems/alice/`;
    ok(await c.gem(['install', 'fleetgem', '-v', '1.0.0', '--clear-sources', '--source', source, '--no-document']), 'gem install');
    assert.ok(fs.readFileSync(path.join(c.home, 'gems/cache/fleetgem-1.0.0.gem')).equals(gem), 'the installed .gem differs from the pushed one');
    assert.equal(ok(await c.required('fleetgem'), 'require fleetgem').stdout, '1.0.0 ruby');
    await checkFleetRun(start, s3Start, /"POST \/rubygems\/alice\/api\/v1\/gems /, /"GET \/rubygems\/alice\/gems\/fleetgem-1\.0\.0\.gem /, gem);
  });

  test('NuGet.exe 5.8 push, then install with -NoCache -DirectDownload: the .nupkg comes from S3', T, async () => {
    // Mono's TLS does not match IP addresses in certificates: the client talks to https://localhost:PORT.
    const src = `https://localhost:${fleet.port}/nuget/alice/index.json`;
    const trustIn = (c: NuGetClient) => {
      const subjectHash = spawnSync('openssl', ['x509', '-in', fleet.ca, '-noout', '-subject_hash'], { encoding: 'utf8' }).stdout.trim();
      assert.match(subjectHash, /^[0-9a-f]{8}$/);
      const trust = path.join(c.home, '.config/.mono/new-certs/Trust');
      fs.mkdirSync(trust, { recursive: true });
      fs.copyFileSync(fleet.ca, path.join(trust, `${subjectHash}.0`));
    };
    const pusher = new NuGetClient(nugetExe(), src);
    dirs.push(pusher.home);
    trustIn(pusher);
    const nupkg = await pusher.pack('Fleet.Pkg', '1.0.0');
    dirs.push(path.dirname(path.dirname(nupkg)));
    const bytes = fs.readFileSync(nupkg);
    await fleet.settle();
    const start = fleet.accessLog().length;
    const s3Start = s3Log().length;
    ok(await pusher.nuget(['push', nupkg, '-Source', src, '-ApiKey', token]), 'nuget push');
    // Another machine, credentials in its NuGet.Config (sent after the challenge, to Wharf only).
    const c = new NuGetClient(nugetExe(), src, { user: 'alice', token });
    dirs.push(c.home);
    trustIn(c);
    ok(await c.nuget(['install', 'Fleet.Pkg', '-Version', '1.0.0', '-Source', src, '-OutputDirectory', 'pkgs', '-NoCache', '-DirectDownload']), 'nuget install');
    assert.ok(fs.readFileSync(path.join(c.home, 'pkgs/Fleet.Pkg.1.0.0/Fleet.Pkg.1.0.0.nupkg')).equals(bytes), 'the installed .nupkg differs from the pushed one');
    assert.equal(fs.readFileSync(path.join(c.home, 'pkgs/Fleet.Pkg.1.0.0/content/hello.txt'), 'utf8'), 'Fleet.Pkg 1.0.0\n');
    await checkFleetRun(start, s3Start, /"PUT \/nuget\/alice\/api\/v2\/package\/ /, /"GET \/nuget\/alice\/v3\/flat\/fleet\.pkg\/1\.0\.0\/fleet\.pkg\.1\.0\.0\.nupkg /, bytes);
  });
});
