// Webhooks: GitHub-shaped payloads and headers for every package event, signatures, retries that keep their
// delivery id, a queue that survives a restart, redelivery, and no requests to private addresses unless allowed.
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/databases.ts';
import { publish } from '../helpers/npm-body.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

const open = new Set<http.Server>();
after(() => Promise.all([...open].map((s) => new Promise((r) => s.close(r)))));

/** A webhook receiver on 127.0.0.1 that answers `status()` (and can be slow); closed at the end of the file. */
async function receiver(status: () => number = () => 200, delayMs = 0) {
  const got: Received[] = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    got.push({ headers: req.headers, body, json: JSON.parse(body) });
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    res.statusCode = status();
    res.end('thanks');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  open.add(server);
  const close = () => {
    open.delete(server);
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close };
}

async function until<T>(what: string, fn: () => T | Promise<T>, ms = 8000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const dialect of dialects()) {
  describe(`webhooks on ${dialect}`, () => {
    let s: TestServer;
    let token: string;
    const env = { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WHARF_WEBHOOK_RETRY_SECONDS: '0.2' };
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${s.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const createHook = async (path: string, url: string, secret = 's3cret') => {
      const r = await api(path, { method: 'POST', body: JSON.stringify({ config: { url, secret, content_type: 'json' }, events: ['package'], active: true }) });
      assert.equal(r.status, 201, await r.clone().text());
      return r.json();
    };

    before(async () => {
      s = await startWharf({ dialect, env });
      token = await s.userWithToken('alice', EVERY_SCOPE);
      await s.core.identity.createRepo(systemActor, 'alice', 'hello', 'public');
    });
    after(() => s.stop());

    test('a hook created after publishes that had none still gets the next publish (no stale "no hooks")', async () => {
      // Runs first: no hook exists yet, so the publish below finds none (and may remember that).
      assert.equal((await publish(s.url, token, '@alice/early', '1.0.0', { repository: 'https://github.com/alice/hello.git' })).status, 201);
      const rx = await receiver();
      const hook = await createHook('/users/alice/hooks', rx.url);
      assert.equal((await publish(s.url, token, '@alice/early', '1.0.1', { repository: 'https://github.com/alice/hello.git' })).status, 201);
      const got = await until('published 1.0.1', () => rx.got.find((g) => g.json.action === 'published' && g.json.package.package_version.version === '1.0.1'));
      assert.equal(got.json.package.name, 'early');
      assert.equal((await api(`/users/alice/hooks/${hook.id}`, { method: 'DELETE' })).status, 204);
      await rx.close();
    });

    test('events that are not names are a 422 (Validation Failed), not a 500', async () => {
      for (const events of [[{ toString: 1 }], [1], 'package']) {
        const r = await api('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: 'http://x.invalid/' }, events }) });
        assert.equal(r.status, 422, `${JSON.stringify(events)}: ${await r.clone().text()}`);
        assert.match(JSON.stringify(await r.json()), /Validation Failed.*events must be an array of event names/);
      }
    });

    test('a repository hook receives published, updated, deleted and restored, signed like GitHub', async () => {
      const rx = await receiver();
      const hook = await createHook('/repos/alice/hello/hooks', rx.url);
      assert.equal(hook.config.secret, '********', 'the secret is never shown again');
      assert.equal((await publish(s.url, token, '@alice/hooked', '1.0.0', { repository: 'https://github.com/alice/hello.git', description: 'd' })).status, 201);
      const first = await until('published', () => rx.got.find((g) => g.json.action === 'published'));
      assert.equal(first.headers['x-github-event'], 'package');
      assert.match(String(first.headers['x-github-delivery']), /^[0-9a-f-]{36}$/);
      assert.equal(first.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', 's3cret').update(first.body).digest('hex')}`);
      assert.equal(first.json.package.name, 'hooked');
      assert.equal(first.json.package.package_type, 'npm');
      assert.equal(first.json.package.owner.login, 'alice');
      assert.equal(first.json.package.package_version.version, '1.0.0');
      assert.equal(first.json.package.package_version.package_files[0].name, 'hooked-1.0.0.tgz');
      assert.match(first.json.package.package_version.installation_command, /npm install @alice\/hooked@1.0.0/);
      assert.equal(first.json.repository.full_name, 'alice/hello');
      assert.equal(first.json.sender.login, 'alice');

      const tag = await fetch(`${s.url}/npm/-/package/@alice%2fhooked/dist-tags/beta`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '"1.0.0"' });
      assert.equal(tag.status, 201);
      await until('updated', () => rx.got.find((g) => g.json.action === 'updated'));
      const versions = await (await api('/users/alice/packages/npm/hooked/versions')).json();
      assert.equal((await api(`/users/alice/packages/npm/hooked/versions/${versions[0].id}`, { method: 'DELETE' })).status, 204);
      await until('deleted', () => rx.got.find((g) => g.json.action === 'deleted'));
      assert.equal((await api(`/users/alice/packages/npm/hooked/versions/${versions[0].id}/restore`, { method: 'POST' })).status, 204);
      await until('restored', () => rx.got.find((g) => g.json.action === 'restored'));

      const deliveries = await (await api(`/repos/alice/hello/hooks/${hook.id}/deliveries`)).json();
      assert.ok(deliveries.length >= 4);
      assert.ok(deliveries.every((d: any) => d.status_code === 200 && d.state === 'delivered'));
      await rx.close();
    });

    test('a repository hook hears nothing of a linked package that does not inherit the repository\'s access', async () => {
      // The repository's admins may not see such a package (it keeps its own grants): its events are not theirs.
      const rx = await receiver();
      const hook = await createHook('/repos/alice/hello/hooks', rx.url);
      const ownerRx = await receiver();
      const ownerHook = await createHook('/users/alice/hooks', ownerRx.url);
      const repo = { repository: 'https://github.com/alice/hello.git' };
      assert.equal((await publish(s.url, token, '@alice/apart', '1.0.0', repo)).status, 201);
      await until('published 1.0.0 to the repository hook', () => rx.got.find((g) => g.json.package?.name === 'apart'));
      const off = await api('/users/alice/packages/npm/apart', { method: 'PATCH', body: JSON.stringify({ inherit_access: false }) });
      assert.equal(off.status, 200, await off.clone().text());
      assert.equal((await publish(s.url, token, '@alice/apart', '1.0.1', repo)).status, 201);
      // The owner's hook hears of 1.0.1; by then the repository's would have been queued in the same transaction.
      await until('1.0.1 to the owner hook', () => ownerRx.got.find((g) => g.json.package?.package_version?.version === '1.0.1'));
      const deliveries = await (await api(`/repos/alice/hello/hooks/${hook.id}/deliveries`)).json();
      const payloads = await Promise.all(deliveries.map(async (d: any) => (await (await api(`/repos/alice/hello/hooks/${hook.id}/deliveries/${d.id}`)).json()).request.payload));
      assert.deepEqual(payloads.filter((p: any) => p.package?.name === 'apart').map((p: any) => p.package.package_version.version), ['1.0.0']);
      assert.ok(!rx.got.some((g) => g.json.package?.package_version?.version === '1.0.1'));
      assert.equal((await api(`/repos/alice/hello/hooks/${hook.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await api(`/users/alice/hooks/${ownerHook.id}`, { method: 'DELETE' })).status, 204);
      await rx.close();
      await ownerRx.close();
    });

    test('a Maven deploy: the first file publishes the version, each later file is an update naming it', async () => {
      const rx = await receiver();
      await createHook('/users/alice/hooks', rx.url);
      const put = (file: string, body: string) =>
        fetch(`${s.url}/maven/alice/hello/com/example/hooked/1.0/${file}`, { method: 'PUT', body, headers: { authorization: `Bearer ${token}` } });
      const pom = '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>hooked</artifactId><version>1.0</version></project>';
      assert.equal((await put('hooked-1.0.pom', pom)).status, 201);
      const published = await until('published', () => rx.got.find((g) => g.json.action === 'published' && g.json.package.package_type === 'maven'));
      assert.deepEqual(published.json.package.package_version.package_files.map((f: { name: string }) => f.name), ['hooked-1.0.pom']);
      assert.equal((await put('hooked-1.0.jar', 'jar bytes')).status, 201);
      const updated = await until('updated', () => rx.got.find((g) => g.json.action === 'updated' && g.json.package.package_type === 'maven'));
      assert.deepEqual(updated.json.package.package_version.package_files.map((f: { name: string }) => f.name).sort(), ['hooked-1.0.jar', 'hooked-1.0.pom']);
      await rx.close();
    });

    test('a failing receiver gets retries with the same delivery id; redelivery sends it again', async () => {
      let calls = 0;
      const rx = await receiver(() => (++calls <= 2 ? 500 : 200));
      const hook = await createHook('/users/alice/hooks', rx.url);
      assert.equal((await publish(s.url, token, '@alice/flaky', '1.0.0')).status, 201);
      await until('third attempt', () => rx.got.length >= 3);
      const ids = new Set(rx.got.map((g) => g.headers['x-github-delivery']));
      assert.equal(ids.size, 1, 'retries keep the delivery id');
      const [d] = await (await api(`/users/alice/hooks/${hook.id}/deliveries`)).json();
      assert.equal(d.attempts, 3);
      assert.equal(d.state, 'delivered');
      const full = await (await api(`/users/alice/hooks/${hook.id}/deliveries/${d.id}`)).json();
      assert.equal(full.request.payload.package.name, 'flaky');
      assert.equal((await api(`/users/alice/hooks/${hook.id}/deliveries/${d.id}/attempts`, { method: 'POST' })).status, 202);
      await until('redelivery', () => rx.got.length >= 4);
      assert.notEqual(rx.got[3].headers['x-github-delivery'], rx.got[0].headers['x-github-delivery']);
      assert.equal((await api(`/users/alice/hooks/${hook.id}`, { method: 'DELETE' })).status, 204);
      await rx.close();
    });

    test('a slow endpoint never slows a publish', async () => {
      const rx = await receiver(() => 200, 3000);
      const hook = await createHook('/users/alice/hooks', rx.url);
      const t0 = Date.now();
      assert.equal((await publish(s.url, token, '@alice/slowhook', '1.0.0')).status, 201);
      assert.ok(Date.now() - t0 < 1500, `publish took ${Date.now() - t0} ms`);
      await until('delivery', () => rx.got.length >= 1);
      await api(`/users/alice/hooks/${hook.id}`, { method: 'DELETE' });
      await rx.close();
    });

    test('a change and its deliveries commit together: a rolled-back publish queues nothing, a committed one is queued even if nothing runs after the commit', async () => {
      const rx = await receiver();
      const hook = await createHook('/users/alice/hooks', rx.url);
      const rows = () => s.core.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id).execute();

      // Something fails inside the transaction after the hook's deliveries were written: all of it rolls back.
      let fail = true;
      s.core.events.inTransaction(async () => {
        if (fail) {
          fail = false;
          throw new Error('simulated failure before the commit');
        }
      });
      assert.equal((await publish(s.url, token, '@alice/atomic', '1.0.0')).status, 500);
      assert.equal(await s.core.packages.find('alice', 'npm', 'atomic'), undefined, 'no package');
      assert.deepEqual(await rows(), [], 'no delivery for a change that did not happen');

      // The process "dies" right after the commit: no in-process announcement, no sender running.
      s.core.webhooks.stop();
      const emit = s.core.events.emit;
      s.core.events.emit = () => {};
      try {
        assert.equal((await publish(s.url, token, '@alice/atomic', '1.0.0')).status, 201);
      } finally {
        s.core.events.emit = emit;
      }
      const [d, ...more] = await rows();
      assert.equal(more.length, 0);
      assert.equal(d.status, 'pending', 'queued with the version, in the same commit');
      assert.equal(d.action, 'published');
      const payload = JSON.parse(d.payload);
      assert.equal(payload.package.name, 'atomic');
      assert.equal(payload.package.package_version.version, '1.0.0');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(rx.got.length, 0, 'nothing was sent yet');
      // Whichever sender runs next (after a restart, or another node) sends it.
      s.core.webhooks.start(100);
      const got = await until('the delivery', () => rx.got.find((g) => g.json.package.name === 'atomic'));
      assert.equal(got.headers['x-github-delivery'], d.id);
      await api(`/users/alice/hooks/${hook.id}`, { method: 'DELETE' });
      await rx.close();
    });

    test('only admins of the repository or owner manage hooks; others get 404', async () => {
      const bob = await s.userWithToken('bob', EVERY_SCOPE);
      const r = await fetch(`${s.url}/api/v1/repos/alice/hello/hooks`, { headers: { authorization: `Bearer ${bob}` } });
      assert.equal(r.status, 403, 'a public repository is visible, but its hooks are for admins');
      assert.equal((await fetch(`${s.url}/api/v1/users/alice/hooks`, { headers: { authorization: `Bearer ${bob}` } })).status, 404);
      const bad = await api('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: 'ftp://x/' } }) });
      assert.equal(bad.status, 422);
      assert.equal((await bad.json()).message, 'Validation Failed');
    });
  });
}

// Private targets (finding 9): refused when a hook is created or changed, refused again at delivery with an error
// that names no address; a site admin allows them per owner; their responses are for site admins' eyes only.
const PRIVATE_TARGETS = [
  'http://169.254.169.254/latest/meta-data/iam/', 'http://127.0.0.1:9/hook', 'http://[::1]/', 'http://10.0.0.5/', 'https://192.168.1.1/', 'http://172.16.0.1/',
  'http://[fe80::1]/', 'http://[fd00::1]/', 'http://100.64.0.1/', 'http://0.0.0.0/',
  'http://[::ffff:127.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[::127.0.0.1]/', 'http://[64:ff9b::a9fe:a9fe]/',
  'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://0xa9fea9fe/', 'http://127.1/', 'http://0/',
  'http://localhost:8080/', 'http://LOCALHOST./',
];

for (const dialect of dialects()) {
  describe(`webhook targets on ${dialect}`, () => {
    let s: TestServer;
    const tokens: Record<string, string> = {};
    const as = (who: string) => (path: string, init: RequestInit = {}) =>
      fetch(`${s.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const hookCount = async () => (await s.core.db.selectFrom('webhooks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    /** The first delivery of a hook once it was attempted, as `who` reads it. */
    const attempted = (who: string, path: string) =>
      until('an attempt', async () => {
        const [d] = await (await as(who)(`${path}/deliveries`)).json();
        return d?.attempts ? (await as(who)(`${path}/deliveries/${d.id}`)).json() : null;
      });

    before(async () => {
      s = await startWharf({ dialect, env: { WHARF_WEBHOOK_RETRY_SECONDS: '60' } });
      for (const who of ['alice', 'bob']) tokens[who] = await s.userWithToken(who, EVERY_SCOPE);
      tokens.root = await s.userWithToken('root', EVERY_SCOPE, { admin: true });
      await s.core.identity.createRepo(systemActor, 'alice', 'app', 'private');
    });
    after(() => s.stop());

    test('POST or PATCH a hook to a private, loopback or link-local target, in any spelling → 422 Validation Failed, nothing written', async () => {
      const alice = as('alice');
      const publicUrl = 'http://93.184.216.34/hook';
      // Inactive: no test sends anything to this public address.
      const owned = await (await alice('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: publicUrl }, active: false }) })).json();
      const repoHook = await (await alice('/repos/alice/app/hooks', { method: 'POST', body: JSON.stringify({ config: { url: publicUrl }, active: false }) })).json();
      assert.ok(owned.id && repoHook.id);
      const before = await hookCount();
      for (const url of PRIVATE_TARGETS) {
        for (const path of ['/users/alice/hooks', '/repos/alice/app/hooks']) {
          const r = await alice(path, { method: 'POST', body: JSON.stringify({ config: { url }, events: ['package'] }) });
          assert.equal(r.status, 422, `POST ${url}`);
          const body = await r.json();
          assert.equal(body.message, 'Validation Failed');
          assert.equal(body.errors[0].resource, 'Hook');
          assert.equal(body.errors[0].field, 'config.url');
          assert.match(body.errors[0].message, /loopback, private, link-local/);
        }
        for (const path of [`/users/alice/hooks/${owned.id}`, `/repos/alice/app/hooks/${repoHook.id}`]) {
          const r = await alice(path, { method: 'PATCH', body: JSON.stringify({ config: { url }, active: true }) });
          assert.equal(r.status, 422, `PATCH ${url}`);
          const now = await (await alice(path)).json();
          assert.equal(now.config.url, publicUrl, 'the hook is unchanged');
          assert.equal(now.active, false);
        }
      }
      assert.equal(await hookCount(), before, 'no hook was created');
      // A name that resolves to localhost does not tell which address it resolved to.
      const named = await (await alice('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: 'http://localhost/' } }) })).json();
      assert.doesNotMatch(named.errors[0].message, /127\.0\.0\.1|::1/);
      // The CLI goes through the same core call.
      const cli = await s.cli(['hook', 'create', 'alice', '--url', 'http://169.254.169.254/latest/meta-data/']);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /169\.254\.169\.254 is a loopback, private, link-local or otherwise special address/);
      assert.equal(await hookCount(), before);
      for (const path of [`/users/alice/hooks/${owned.id}`, `/repos/alice/app/hooks/${repoHook.id}`]) assert.equal((await alice(path, { method: 'DELETE' })).status, 204);
    });

    test('an allow-list entry for alice lets her hooks reach 127.0.0.1, not bob\'s; only site admins manage it', async () => {
      const rx = await receiver();
      const entry = { owner: 'alice', pattern: '127.0.0.1' };
      assert.equal((await as('alice')('/admin/hooks/allowlist', { method: 'PUT', body: JSON.stringify(entry) })).status, 403);
      assert.equal((await as('alice')('/admin/hooks/allowlist')).status, 403);
      const put = await as('root')('/admin/hooks/allowlist', { method: 'PUT', body: JSON.stringify(entry) });
      assert.equal(put.status, 201);
      assert.deepEqual({ ...(await put.json()), created_at: undefined }, { pattern: '127.0.0.1', owner: 'alice', source: 'database', created_at: undefined });
      assert.equal((await as('root')('/admin/hooks/allowlist', { method: 'PUT', body: JSON.stringify(entry) })).status, 200, 'already there');
      assert.equal((await as('root')('/admin/hooks/allowlist', { method: 'PUT', body: JSON.stringify({ pattern: '127.1' }) })).status, 400);
      const listed = await (await as('root')('/admin/hooks/allowlist?owner=bob')).json();
      assert.deepEqual(listed, [], "alice's entry is not bob's");

      const a = await as('alice')('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url } }) });
      assert.equal(a.status, 201);
      const r = await as('alice')('/repos/alice/app/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url } }) });
      assert.equal(r.status, 201, "alice's repository's hooks are alice's");
      const b = await as('bob')('/users/bob/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url } }) });
      assert.equal(b.status, 422);
      // A hook bob had before (or wrote into the database) is refused at delivery: the check is on the connection.
      const now = new Date().toISOString();
      const bobs = await s.core.db.insertInto('webhooks').values({ owner_id: (await s.core.identity.findOwner('bob'))!.id, repository_id: null, url: rx.url, secret: null, content_type: 'json', events: '["package"]', active: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
      assert.equal((await publish(s.url, tokens.bob, '@bob/nope', '1.0.0')).status, 201);
      const refused = await attempted('bob', `/users/bob/hooks/${bobs.id}`);
      assert.equal(refused.status, 'the target address is not allowed');
      assert.equal(refused.status_code, 0);

      assert.equal((await publish(s.url, tokens.alice, '@alice/allowed', '1.0.0')).status, 201);
      await until("alice's delivery", () => rx.got.find((g) => g.json.package.name === 'allowed'));
      assert.equal(rx.got.length, 1, "bob's hook reached nothing");

      // The CLI lists and removes the same entries.
      const cliList = await s.cli(['hooks', 'allowed', '--owner', 'alice']);
      assert.deepEqual(cliList.stdout.trimEnd().split('\n').map((l) => l.split(/ +/)), [['PATTERN', 'OWNER', 'SOURCE'], ['127.0.0.1', 'alice', 'database']]);
      const off = await s.cli(['hooks', 'disallow', '127.0.0.1', '--owner', 'alice']);
      assert.equal(off.code, 0, off.stderr);
      assert.deepEqual(await (await as('root')('/admin/hooks/allowlist?owner=alice')).json(), []);
      const again = await as('alice')(`/users/alice/hooks/${(await a.json()).id}`, { method: 'PATCH', body: JSON.stringify({ config: { url: rx.url } }) });
      assert.equal(again.status, 422, 'no longer allowed');
      await s.core.db.deleteFrom('webhooks').execute();
      await rx.close();
    });

    test('delivery errors name no resolved or connected address', async () => {
      const rx = await receiver();
      const closed = http.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
      const closedPort = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      assert.equal((await as('root')('/admin/hooks/allowlist', { method: 'PUT', body: JSON.stringify({ owner: 'alice', pattern: '127.0.0.1' }) })).status, 201);
      const refusedConn = await (await as('alice')('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: `http://127.0.0.1:${closedPort}/` } }) })).json();
      // Bob's hook to a name that resolves to loopback, written before this check existed (or when the name
      // resolved elsewhere): refused at delivery without saying what the name resolved to.
      const now = new Date().toISOString();
      const named = await s.core.db.insertInto('webhooks').values({ owner_id: (await s.core.identity.findOwner('bob'))!.id, repository_id: null, url: rx.url.replace('127.0.0.1', 'localhost'), secret: null, content_type: 'json', events: '["package"]', active: 1, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
      assert.equal((await publish(s.url, tokens.alice, '@alice/errors', '1.0.0')).status, 201);
      assert.equal((await publish(s.url, tokens.bob, '@bob/errors', '1.0.0')).status, 201);
      const conn = await attempted('alice', `/users/alice/hooks/${refusedConn.id}`);
      assert.equal(conn.status, 'could not connect');
      const viaName = await attempted('bob', `/users/bob/hooks/${named.id}`);
      assert.equal(viaName.status, 'the target address is not allowed');
      assert.equal(rx.got.length, 0);
      const rows = await s.core.db.selectFrom('webhook_deliveries').select('error').execute();
      for (const r of rows) assert.doesNotMatch(r.error ?? '', /127\.0\.0\.1|::1|localhost/);
      assert.equal((await as('root')('/admin/hooks/allowlist?owner=alice&pattern=127.0.0.1', { method: 'DELETE' })).status, 204);
      await s.core.db.deleteFrom('webhooks').execute();
      await rx.close();
    });

    test('the response of an allow-listed private target: its owner sees the status code only, a site admin the body', async () => {
      const rx = await receiver();
      const on = await s.cli(['hooks', 'allow', '127.0.0.1']);
      assert.equal(on.stdout, 'allowed: 127.0.0.1 for every hook\n', on.stderr);
      assert.deepEqual((await (await as('root')('/admin/hooks/allowlist')).json()).map((e: any) => [e.pattern, e.owner]), [['127.0.0.1', null]]);
      const hook = await (await as('alice')('/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url } }) })).json();
      assert.equal((await publish(s.url, tokens.alice, '@alice/secretive', '1.0.0')).status, 201);
      const own = await attempted('alice', `/users/alice/hooks/${hook.id}`);
      assert.equal(own.status_code, 200);
      assert.equal(own.request.payload.package.name, 'secretive');
      assert.equal(own.response.body, null);
      assert.equal(own.response.hidden, true);
      assert.match(own.response.note, /only site admins/);
      assert.doesNotMatch(JSON.stringify(own), /thanks/);
      const admin = await attempted('root', `/users/alice/hooks/${hook.id}`);
      assert.equal(admin.response.body, 'thanks');
      assert.equal((await as('root')('/admin/hooks/allowlist?pattern=127.0.0.1', { method: 'DELETE' })).status, 204);
      await s.core.db.deleteFrom('webhooks').execute();
      await rx.close();
    });
  });
}

describe('webhook safety and durability', () => {
  test('the queue survives a restart: a delivery pending when the server stops is sent after it starts', async () => {
    const env = { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WHARF_WEBHOOK_RETRY_SECONDS: '0.3' };
    let s = await startWharf({ env });
    let up = false;
    const rx = await receiver(() => (up ? 200 : 503));
    const token = await s.userWithToken('alice', EVERY_SCOPE);
    await fetch(`${s.url}/api/v1/users/alice/hooks`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ config: { url: rx.url } }) });
    assert.equal((await publish(s.url, token, '@alice/durable', '1.0.0')).status, 201);
    await until('a failed first attempt', () => rx.got.length >= 1);
    const keep = { dataDir: s.dataDir, db: s.db };
    await s.stop({ keep: true });
    up = true;
    const seen = rx.got.length;
    s = await startWharf({ env, reuse: keep });
    try {
      await until('delivery after restart', () => rx.got.length > seen);
      const last = rx.got[rx.got.length - 1];
      assert.equal(last.headers['x-github-delivery'], rx.got[0].headers['x-github-delivery']);
      assert.equal(last.json.package.name, 'durable');
    } finally {
      await rx.close();
      await s.stop();
    }
  });
});
