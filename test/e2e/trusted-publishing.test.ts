// Trusted publishing end to end, with no stored secret, on every database, against Wharf started as `npm start`
// starts it (trusting the test issuer's CA through NODE_EXTRA_CA_CERTS):
// - the real npm 11 inside what looks like a GitHub Actions job (GITHUB_ACTIONS, ACTIONS_ID_TOKEN_REQUEST_URL and
//   _TOKEN pointing at the test issuer): `npm publish` with no token at all fetches an ID token for
//   `npm:127.0.0.1`, calls Wharf's exchange itself (at the registry's origin) and publishes with the answer; the
//   same from a workflow the policy does not name is refused and publishes nothing;
// - skopeo pushing an image, and mvn deploying a jar, each with a token from the generic exchange as password.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDatabase, dialects, type TestDatabase } from '../helpers/databases.ts';
import { githubClaims, startIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { javaProject, mvn, ok as mvnOk, settingsXml } from './helpers-maven.ts';
import { Client, makePackage, ok, run, userWithToken, wharf } from './helpers-npm.ts';
import { buildImage, Machine, ok as ociOk } from './helpers-oci.ts';

const T = { timeout: 240_000 };
type Json = any;

for (const dialect of dialects()) {
  describe(`trusted publishing with real clients on ${dialect}`, { timeout: 900_000 }, () => {
    let issuer: TestIssuer;
    let server: ChildServer;
    let db: TestDatabase;
    let alice: string;
    const cleanup: (() => void)[] = [];

    const api = async (p: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
      const token = init.token === undefined ? alice : init.token;
      const r = await fetch(`${server.url}/api/v1${p}`, {
        method: init.method ?? 'GET',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
      return { status: r.status, body: (await r.text()) as string };
    };
    /** A token from the generic exchange for a run of acme/app's release workflow. */
    const ciToken = async () => {
      const r = await api('/oidc/token', { method: 'POST', token: null, body: { id_token: await issuer.sign(githubClaims('acme/app'), { aud: 'wharf:127.0.0.1' }) } });
      assert.equal(r.status, 201, r.body);
      return JSON.parse(r.body) as { token: string; username: string };
    };

    before(async () => {
      issuer = await startIssuer();
      const dataDir = tempDir();
      db = await createDatabase(dialect, dataDir);
      server = await spawnWharf({ WHARF_DATA: dataDir, WHARF_DATABASE_URL: db.url, WHARF_OIDC_ISSUERS: issuer.url, NODE_EXTRA_CA_CERTS: issuer.caFile });
      alice = await userWithToken(server, 'alice', 'read:packages,write:packages,delete:packages,repo,admin:org,user');
      await wharf(server, ['org', 'create', 'acme', '--owner', 'alice']);
      await wharf(server, ['repo', 'create', 'acme/app', '--visibility', 'private']);
    });
    after(async () => {
      for (const c of cleanup) c();
      await server?.stop();
      await db?.drop();
      await issuer?.close();
    });

    test('npm publish inside a GitHub Actions job, with no token: npm exchanges the ID token itself; another workflow is refused', T, async () => {
      // The trust policy, from the CLI: the release workflow of acme/app may create and publish @acme/tool.
      const added = await wharf(server, ['trust', 'add', 'acme', '--package', 'npm/tool', '--provider', 'github', '--issuer', issuer.url,
        '--repository', 'acme/app', '--workflow-ref', 'acme/app/.github/workflows/release.yml@refs/heads/*']);
      assert.match(added, /added trusted publisher \d+/);
      // As actions/setup-node's registry-url writes it: npm sends the ID token to the exchange at the origin of `registry`.
      const client = new Client(server, { scopes: ['acme'] });
      client.writeNpmrc({ scopes: ['acme'], extra: [`registry=${client.registry}`] });
      cleanup.push(() => client.dispose());
      const job = (claims: Record<string, unknown>) => {
        issuer.claims = claims;
        return { ...client.env, GITHUB_ACTIONS: 'true', CI: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: issuer.tokenEndpoint, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken, NODE_EXTRA_CA_CERTS: issuer.caFile };
      };
      const dir = makePackage({ name: '@acme/tool', version: '1.0.0', repository: { type: 'git', url: 'https://github.com/acme/app' } });
      cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      ok(await run('npm', ['publish', '--loglevel', 'verbose'], { cwd: dir, env: job(githubClaims('acme/app')) }), 'npm publish from the trusted workflow');
      const versions = JSON.parse((await api('/orgs/acme/packages/npm/tool/versions')).body) as Json[];
      assert.deepEqual(versions.map((v) => v.name), ['1.0.0']);
      assert.equal(versions[0].published_via.claims.workflow_ref, 'acme/app/.github/workflows/release.yml@refs/heads/main');
      // npm's own view shows who published it.
      const view = ok(await client.npm(['view', '@acme/tool', '_npmUser.name', '--registry', client.registry, `--${client.nerf}:_authToken=${alice}`], dir), 'npm view');
      assert.match(view.stdout, /github:acme\/app/);

      // The same job running another workflow (ci.yml): the exchange refuses, npm has no token, nothing is published.
      const dir2 = makePackage({ name: '@acme/tool', version: '1.0.1' });
      cleanup.push(() => fs.rmSync(dir2, { recursive: true, force: true }));
      const refused = await run('npm', ['publish', '--loglevel', 'verbose'], { cwd: dir2, env: job(githubClaims('acme/app', 'ci.yml')) });
      assert.notEqual(refused.code, 0);
      assert.match(refused.output, /no trusted publisher of npm package acme\/tool accepts github:acme\/app/);
      assert.match(refused.output, /ENEEDAUTH|requires you to be logged in/);
      assert.deepEqual((JSON.parse((await api('/orgs/acme/packages/npm/tool/versions')).body) as Json[]).map((v) => v.name), ['1.0.0']);
      const list = await wharf(server, ['trust', 'list', 'acme', '--package', 'npm/tool']);
      assert.match(list, /github\s+.*repository=acme\/app/);
    });

    test('skopeo pushes an image with a token from the generic exchange as its password', T, async () => {
      assert.equal((await api('/orgs/acme/trusted-publishers', { method: 'POST', body: { issuer: issuer.url, provider: 'github', package_type: 'container', package_name: 'app', claims: { repository: 'acme/app' } } })).status, 201);
      const { token, username } = await ciToken();
      const m = new Machine();
      cleanup.push(() => m.dispose());
      const layout = path.join(m.dir, 'layout');
      await buildImage(layout, 'app', { files: { 'hello.txt': 'hello from CI\n' } });
      const host = `127.0.0.1:${server.port}`;
      ociOk(await m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${username}:${token}`, `oci:${layout}:app`, `docker://${host}/acme/app:1.0`]), 'skopeo copy with the exchanged token');
      const versions = JSON.parse((await api('/orgs/acme/packages/container/app/versions')).body) as Json[];
      assert.equal(versions.length, 1);
      assert.equal(versions[0].published_via.provider, 'github');
      // The token reaches no other image, and deletes nothing.
      const other = await m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${username}:${token}`, `oci:${layout}:app`, `docker://${host}/acme/other:1.0`]);
      assert.notEqual(other.code, 0);
      const del = await m.skopeo(['delete', '--tls-verify=false', '--creds', `${username}:${token}`, `docker://${host}/acme/app:1.0`]);
      assert.notEqual(del.code, 0);
      assert.equal((JSON.parse((await api('/orgs/acme/packages/container/app/versions')).body) as Json[]).length, 1);
    });

    test('mvn deploy with a token from the generic exchange as its password (a policy on the repository)', T, async () => {
      await wharf(server, ['trust', 'add', 'acme/app', '--provider', 'github', '--issuer', issuer.url, '--repository', 'acme/app']);
      const { token, username } = await ciToken();
      const home = tempDir('wharf-mvn-home-');
      cleanup.push(() => fs.rmSync(home, { recursive: true, force: true }));
      const settings = settingsXml(home, [{ id: 'wharf', username, password: token }]);
      const project = javaProject({ groupId: 'com.acme', artifactId: 'lib', version: '1.0.0', url: `${server.url}/maven/acme/app` });
      cleanup.push(() => fs.rmSync(project, { recursive: true, force: true }));
      mvnOk(await mvn(settings, ['deploy', '-DskipTests'], project), 'mvn deploy with the exchanged token');
      const pkgs = JSON.parse((await api('/orgs/acme/packages?package_type=maven')).body) as Json[];
      assert.equal(pkgs.length, 1);
      assert.equal(pkgs[0].repository.full_name, 'acme/app');
      const versions = JSON.parse((await api(`/orgs/acme/packages/maven/${encodeURIComponent(pkgs[0].name)}/versions`)).body) as Json[];
      assert.equal(versions[0].published_via.claims.repository, 'acme/app');
      assert.ok(fs.existsSync(path.join(project, 'target')));
    });
  });
}
