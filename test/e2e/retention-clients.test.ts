// Retention and protected tags with the real clients, against Wharf in this process (so the clock can be injected:
// Date mocked while the ten simulated days of pushes and the run happen). A multi-arch image with two platforms,
// a cosign-style signature (tag scheme) and an SBOM referrer is pushed daily; the rule "delete untagged older than
// 3 days, keep last 5" runs over REST; then `podman pull --platform` of every kept tag, each platform, works and
// has that day's file, and a deleted day's image does not pull. Protected tags: skopeo and podman pushing over
// `v*` and skopeo deleting it get DENIED; `npm dist-tag add` over a protected dist-tag fails in npm's words.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { dialects } from '../helpers/databases.ts';
import { artifactManifest, basic, blob, emptyConfig, imageIndex, imageManifest, pushImage, pushManifest, type Content, type Manifest } from '../helpers/oci.ts';
import { EVERY_SCOPE, startWharf, tempDir, type ChildServer, type TestServer } from '../helpers/wharf.ts';
import { Client, makePackage, ok as npmOk } from './helpers-npm.ts';
import { buildImage, fails, Machine, ok } from './helpers-oci.ts';

const T = { timeout: 600_000 };
const DAY = 864e5;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A real gzipped layer holding /hello.txt, and its uncompressed digest (the config's diff_id). */
async function helloLayer(text: string): Promise<{ layer: Content; diffId: string }> {
  const pack = tar.pack();
  pack.entry({ name: 'hello.txt', mtime: new Date(0), mode: 0o644 }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return { layer: blob(gzipSync(raw), 'application/vnd.oci.image.layer.v1.tar+gzip'), diffId: sha256(raw) };
}

/** A runnable single-platform image whose /hello.txt says `text`. */
async function platformImage(architecture: string, text: string): Promise<Manifest> {
  const { layer, diffId } = await helloLayer(text);
  const config = blob(JSON.stringify({ architecture, os: 'linux', config: { Cmd: ['/hello.txt'] }, rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: text }] }), 'application/vnd.oci.image.config.v1+json');
  return imageManifest({ config, layers: [layer] });
}

for (const dialect of dialects()) {
  describe(`retention and protected tags with podman, skopeo and npm on ${dialect}`, { timeout: 900_000 }, () => {
    let s: TestServer;
    let token: string;
    let host: string;
    const machines: Machine[] = [];
    const dirs: string[] = [];
    const tls = '--tls-verify=false';
    const machine = () => {
      const m = new Machine();
      machines.push(m);
      return m;
    };
    const api = (method: string, p: string, body?: unknown) =>
      fetch(`${s.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });

    before(async () => {
      s = await startWharf({ dialect });
      token = await s.userWithToken('alice', EVERY_SCOPE);
      host = `127.0.0.1:${s.port}`;
    });
    after(async () => {
      mock.timers.reset();
      await s?.stop();
      for (const m of machines) m.dispose();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    });

    /** /hello.txt of an image pulled into a machine. */
    async function helloOf(m: Machine, image: string): Promise<string> {
      const dir = ok(await m.podman(['image', 'mount', image]), 'podman image mount').stdout.trim();
      try {
        return fs.readFileSync(path.join(dir, 'hello.txt'), 'utf8');
      } finally {
        await m.podman(['image', 'unmount', image]);
      }
    }

    test('10 daily multi-arch pushes, a rule run over REST, then podman pull --platform of each kept tag', T, async () => {
      const auth = basic('alice', token);
      const name = 'alice/app';
      const day0 = Math.ceil(Date.now() / DAY) * DAY + 30 * DAY;
      mock.timers.enable({ apis: ['Date'], now: day0 });
      const days: Manifest[][] = [];
      try {
        for (let d = 1; d <= 10; d++) {
          mock.timers.setTime(day0 + d * DAY);
          const amd64 = await platformImage('amd64', `day ${d} amd64\n`);
          const arm64 = await platformImage('arm64', `day ${d} arm64\n`);
          const index = imageIndex([
            { manifest: amd64, platform: { architecture: 'amd64', os: 'linux' } },
            { manifest: arm64, platform: { architecture: 'arm64', os: 'linux' } },
          ]);
          await pushImage(s.url, name, amd64.digest, amd64, auth);
          await pushImage(s.url, name, arm64.digest, arm64, auth);
          await pushImage(s.url, name, 'latest', index, auth);
          if (d === 2 || d === 4) assert.equal((await pushManifest(s.url, name, `v1.0.${d}`, index, auth)).status, 201);
          const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': index.digest }, type: 'cosign container image signature' } }));
          const sig = imageManifest({ config: emptyConfig(), layers: [blob(payload, 'application/vnd.dev.cosign.simplesigning.v1+json')] });
          await pushImage(s.url, name, `${index.digest.replace(':', '-')}.sig`, sig, auth);
          const sbom = artifactManifest({ subject: index, artifactType: 'application/spdx+json' });
          await pushImage(s.url, name, sbom.digest, sbom, auth);
          days.push([index, amd64, arm64, sig, sbom]);
        }
        mock.timers.setTime(day0 + 10 * DAY);
        const rule = { delete_untagged_older_than_days: 3, keep_last: 5 };
        const preview = await (await api('POST', '/users/alice/packages/container/app/retention/preview', rule)).json();
        assert.equal((await api('PUT', '/users/alice/packages/container/app/retention', rule)).status, 200);
        const run = await (await api('POST', '/users/alice/packages/container/app/retention/run', {})).json();
        assert.equal(run.dry_run, false);
        assert.deepEqual(run.deleted, preview.deleted, 'the run deleted exactly what the preview listed');
        const expected = [1, 3, 5].flatMap((d) => days[d - 1].map((m) => m.digest)).sort();
        assert.deepEqual(run.deleted.map((i: { version: string }) => i.version).sort(), expected);
      } finally {
        mock.timers.reset();
      }

      // Every kept tag pulls, each platform with that day's file.
      const creds = `alice:${token}`;
      for (const [tag, day] of [['latest', 10], ['v1.0.2', 2], ['v1.0.4', 4]] as const) {
        for (const arch of ['amd64', 'arm64']) {
          const m = machine();
          const ref = `${host}/${name}:${tag}`;
          ok(await m.podman(['pull', tls, '--creds', creds, '--platform', `linux/${arch}`, ref]), `podman pull --platform linux/${arch} ${tag}`);
          assert.equal(await helloOf(m, ref), `day ${day} ${arch}\n`);
        }
      }
      // Kept untagged days pull by digest; a deleted day does not.
      const m = machine();
      ok(await m.podman(['pull', tls, '--creds', creds, '--platform', 'linux/arm64', `${host}/${name}@${days[6][0].digest}`]), 'pull day 7 by digest');
      fails(await m.podman(['pull', tls, '--creds', creds, '--platform', 'linux/arm64', `${host}/${name}@${days[0][0].digest}`]), 'pull of deleted day 1');
      // skopeo sees the signature of a kept image by its tag.
      const tags = JSON.parse(ok(await m.skopeo(['list-tags', tls, '--creds', creds, `docker://${host}/${name}`]), 'skopeo list-tags').stdout).Tags as string[];
      for (const d of [2, 4, 6, 10]) assert.ok(tags.includes(`${days[d - 1][0].digest.replace(':', '-')}.sig`), `day ${d}'s signature tag`);
    });

    test('protected v*: skopeo copy and podman push over v1.0.2, and skopeo delete of it → DENIED; a new v tag is fine', T, async () => {
      assert.equal((await api('POST', '/users/alice/protected-tags', { type: 'container', pattern: 'v*' })).status, 201);
      const layout = tempDir('wharf-retention-layout-');
      dirs.push(layout);
      fs.rmSync(layout, { recursive: true });
      await buildImage(layout, 'other', { files: { 'hello.txt': 'another image\n' } });
      const m = machine();
      const creds = `alice:${token}`;
      const dest = (tag: string) => `docker://${host}/alice/app:${tag}`;
      const copy = fails(await m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:other`, dest('v1.0.2')]), 'skopeo copy over a protected tag');
      assert.match(copy.output, /denied/i);
      assert.match(copy.output, /tag v1\.0\.2 is protected/);
      const del = fails(await m.skopeo(['delete', tls, '--creds', creds, dest('v1.0.4')]), 'skopeo delete of a protected tag');
      assert.match(del.output, /denied|protected/i);
      ok(await m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:other`, dest('v2.0.0')]), 'skopeo copy to a new v tag');
      // podman: pull the new image, tag it over the protected one, push.
      ok(await m.podman(['pull', tls, '--creds', creds, `${host}/alice/app:v2.0.0`]), 'podman pull v2.0.0');
      ok(await m.podman(['tag', `${host}/alice/app:v2.0.0`, `${host}/alice/app:v1.0.2`]), 'podman tag');
      const push = fails(await m.podman(['push', tls, '--creds', creds, `${host}/alice/app:v1.0.2`]), 'podman push over a protected tag');
      assert.match(push.output, /denied/i);
      const tags = await (await fetch(`${s.url}/v2/alice/app/tags/list`, { headers: { authorization: basic('alice', token) } })).json();
      assert.ok(tags.tags.includes('v1.0.2') && tags.tags.includes('v1.0.4'));
    });

    test('protected npm dist-tag: npm dist-tag add over it fails with npm\'s 403 and the reason', T, async () => {
      assert.equal((await api('POST', '/users/alice/protected-tags', { type: 'npm', pattern: 'stable' })).status, 201);
      const alice = new Client(s as unknown as ChildServer, { token });
      dirs.push(alice.home);
      for (const v of ['1.0.0', '1.1.0']) {
        const dir = makePackage({ name: '@alice/guarded', version: v });
        dirs.push(dir);
        npmOk(await alice.npm(['publish'], dir), `npm publish ${v}`);
      }
      npmOk(await alice.npm(['dist-tag', 'add', '@alice/guarded@1.0.0', 'stable']), 'npm dist-tag add (first time)');
      const moved = await alice.npm(['dist-tag', 'add', '@alice/guarded@1.1.0', 'stable']);
      assert.notEqual(moved.code, 0, moved.output);
      assert.match(moved.output, /403/);
      assert.match(moved.output, /tag stable is protected/);
      const rm = await alice.npm(['dist-tag', 'rm', '@alice/guarded', 'stable']);
      assert.notEqual(rm.code, 0, rm.output);
      assert.match(rm.output, /tag stable is protected/);
      const ls = npmOk(await alice.npm(['dist-tag', 'ls', '@alice/guarded']), 'npm dist-tag ls');
      assert.match(ls.stdout, /^stable: 1\.0\.0$/m);
    });
  });
}
