// Fine-grained tokens (issue 20) with the real clients, against Wharf started as `npm start` starts it. alice mints
// (wharf token create --package …) a token limited to one npm package, one image and one gem, none of which exists
// yet; each client publishes the one it names and is refused the one next to it, in its own words, and nothing of
// the refused one is stored. Her classic token (everything she can reach) is the control.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { Client, makePackage, ok, userWithToken, wharf } from './helpers-npm.ts';
import { buildImage, fails, Machine } from './helpers-oci.ts';
import { buildGem, GemClient } from './helpers-rubygems.ts';

const T = { timeout: 180_000 };

describe('fine-grained tokens with npm, skopeo and gem', { timeout: 600_000 }, () => {
  let server: ChildServer;
  let full: string;
  let limited: string;
  const cleanup: (() => void)[] = [];

  /** The package as alice's classic token sees it over REST (404: nothing was stored). */
  const stored = async (type: string, name: string) =>
    (await fetch(`${server.url}/api/v1/users/alice/packages/${type}/${encodeURIComponent(name)}`, { headers: { authorization: `Bearer ${full}` } })).status;

  before(async () => {
    server = await spawnWharf();
    full = await userWithToken(server, 'alice');
    limited = await wharf(server, ['token', 'create', 'alice', '--scopes', 'read:packages,write:packages', '--name', 'ci',
      '--package', 'npm:alice/allowed', '--package', 'container:alice/allowed-img', '--package', 'rubygems:alice/allowed-gem']);
    assert.match(limited, /^whp_/);
  });
  after(async () => {
    for (const c of cleanup) c();
    await server?.stop();
  });

  test('npm publish: the package the token names → published; another → refused with npm\'s E403, nothing stored', T, async () => {
    const npm = new Client(server, { token: limited });
    cleanup.push(() => npm.dispose());
    const allowed = makePackage({ name: '@alice/allowed', version: '1.0.0' });
    const denied = makePackage({ name: '@alice/denied', version: '1.0.0' });
    cleanup.push(() => fs.rmSync(allowed, { recursive: true, force: true }), () => fs.rmSync(denied, { recursive: true, force: true }));
    ok(await npm.npm(['publish'], allowed), 'npm publish @alice/allowed');
    const r = await npm.npm(['publish'], denied);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /E403/, r.output);
    assert.match(r.output, /this token may not create npm package alice\/denied/, r.output);
    assert.equal(await stored('npm', 'denied'), 404);
    assert.equal(await stored('npm', 'allowed'), 200);
    // The control: alice's classic token publishes it.
    const control = new Client(server, { token: full });
    cleanup.push(() => control.dispose());
    ok(await control.npm(['publish'], denied), 'npm publish @alice/denied with the classic token');
    // And the fine-grained token does not even see it (a private package outside its selection).
    const view = await npm.npm(['view', '@alice/denied', 'version']);
    assert.notEqual(view.code, 0);
    assert.match(view.output, /E404/, view.output);
  });

  test('skopeo copy: the image the token names → pushed and pulled back; another → refused, nothing stored', T, async () => {
    const m = new Machine();
    cleanup.push(() => m.dispose());
    const layout = tempDir('wharf-oci-layout-');
    fs.rmSync(layout, { recursive: true });
    cleanup.push(() => fs.rmSync(layout, { recursive: true, force: true }));
    await buildImage(layout, 'app', { files: { 'hello.txt': 'hello from a fine-grained push\n' } });
    const host = `127.0.0.1:${server.port}`;
    const push = (name: string) => m.skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${limited}`, `oci:${layout}:app`, `docker://${host}/alice/${name}:1`]);
    ok(await push('allowed-img'), 'skopeo copy to alice/allowed-img');
    ok(await m.skopeo(['inspect', '--tls-verify=false', '--creds', `alice:${limited}`, `docker://${host}/alice/allowed-img:1`]), 'skopeo inspect alice/allowed-img');
    const r = fails(await push('other-img'), 'skopeo copy to alice/other-img');
    assert.match(r.output, /denied|unauthorized|authentication required/i, r.output);
    assert.equal(await stored('container', 'other-img'), 404);
    assert.equal(await stored('container', 'allowed-img'), 200);
  });

  test('gem push: the gem the token names → pushed; another → refused with the server\'s reason, nothing stored', T, async () => {
    const gem = new GemClient();
    cleanup.push(() => gem.dispose());
    const src = `${server.url}/rubygems/alice`;
    const push = async (name: string) => gem.gem(['push', await buildGem(gem, { name, version: '1.0.0' }), '--host', src], gem.home, { GEM_HOST_API_KEY: limited });
    ok(await push('allowed-gem'), 'gem push allowed-gem');
    const r = await push('other-gem');
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /may not create rubygems package alice\/other-gem/, r.output);
    assert.equal(await stored('rubygems', 'other-gem'), 404);
    assert.equal(await stored('rubygems', 'allowed-gem'), 200);
  });
});
