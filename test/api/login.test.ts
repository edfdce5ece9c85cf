// Signing in with a password, as an attacker and as the person: wrong guesses lock the account and the address out
// (429 + Retry-After in each protocol's format, before any hashing, the right password included) while tokens are
// never slowed; a password change, suspension or deletion takes effect at once on every node sharing the database.
// Two nodes: the server on a port (A) and a second app over the same database (B, driven with inject).
import assert from 'node:assert/strict';
import { systemActor } from '../../src/core/auth/actor.ts';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { dialects } from '../helpers/databases.ts';
import { publishNpm } from '../helpers/npm-publish.ts';
import { eventually, EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

for (const dialect of dialects()) {
  describe(`sign-in on ${dialect}: lockout, and changes that take effect at once on every node`, () => {
    let s: TestServer;
    let b: { core: Core; app: FastifyInstance };
    let adminToken: string;
    /** The throttle's clock, shared by both nodes: each test starts in a fresh window. */
    let clock = Date.now();

    before(async () => {
      s = await startWharf({ dialect });
      const core = await openCore(loadConfig({ WHARF_DATA: s.dataDir, WHARF_DATABASE_URL: s.db.url, WHARF_LOG_LEVEL: 'silent' }));
      b = { core, app: await buildApp(core) };
      for (const c of [s.core, b.core]) c.authn.throttle.now = () => clock;
      adminToken = await s.userWithToken('root', EVERY_SCOPE, { admin: true, password: 'root-password-1' });
      if (dialect === 'postgres') await new Promise((r) => setTimeout(r, 300)); // let B's listener connect
    });
    after(async () => {
      await b.app.close();
      await b.core.close();
      await s.stop();
    });
    beforeEach(() => {
      clock += 3600_000;
    });

    /** GET /api/v1/user on node A (fetch) or B (inject) → status. */
    async function user(auth: string | null, node: 'A' | 'B' = 'A'): Promise<{ status: number; retryAfter: string | null; body: any }> {
      const headers: Record<string, string> = auth ? { authorization: auth } : {};
      if (node === 'B') {
        const r = await b.app.inject({ method: 'GET', url: '/api/v1/user', headers });
        return { status: r.statusCode, retryAfter: (r.headers['retry-after'] as string) ?? null, body: r.json() };
      }
      const r = await fetch(`${s.url}/api/v1/user`, { headers });
      return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() };
    }
    const npmLogin = (name: string, password: string) =>
      fetch(`${s.url}/npm/-/user/org.couchdb.user:${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user' }) });
    const dockerToken = (auth: string) => fetch(`${s.url}/v2/token?service=wharf&scope=repository:x/y:pull`, { headers: { authorization: auth } });

    /** Signs in through the web form; returns the response and the session cookie it set (if any). */
    async function webLogin(name: string, password: string): Promise<{ res: Response; session: string | null }> {
      const page = await fetch(`${s.url}/-/login`);
      const anon = /wharf_anon=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1];
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
      const res = await fetch(`${s.url}/-/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_anon=${anon}` },
        body: new URLSearchParams({ _csrf: csrf, username: name, password, next: '/' }).toString(),
      });
      const session = /wharf_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;
      return { res, session };
    }
    /** GET /-/settings/tokens with a session cookie → 200 when signed in, a redirect to /-/login when not. */
    const settingsStatus = async (session: string) => {
      const r = await fetch(`${s.url}/-/settings/tokens`, { redirect: 'manual', headers: { cookie: `wharf_session=${session}` } });
      await r.arrayBuffer();
      return r.status;
    };
    /** Counts password hashes (identity.checkPassword calls) on node A while `f` runs. */
    async function hashesDuring(f: () => Promise<void>): Promise<number> {
      const original = s.core.identity.checkPassword;
      let n = 0;
      s.core.identity.checkPassword = (...args) => {
        n++;
        return original.apply(s.core.identity, args);
      };
      try {
        await f();
      } finally {
        s.core.identity.checkPassword = original;
      }
      return n;
    }

    test('setPassword → Basic with the old password is 401 at once on this node and on the other (no 5-minute cache); npm login with it too', async () => {
      await s.core.identity.createUser(systemActor, { name: 'carol', password: 'old-password-1' });
      for (let i = 0; i < 2; i++) {
        assert.equal((await user(basic('carol', 'old-password-1'), 'A')).status, 200);
        assert.equal((await user(basic('carol', 'old-password-1'), 'B')).status, 200, 'cached on B');
      }
      await s.core.identity.setPassword('carol', 'new-password-2');
      assert.equal((await user(basic('carol', 'old-password-1'), 'A')).status, 401);
      await eventually(async () => (await user(basic('carol', 'old-password-1'), 'B')).status === 401, 'the old password refused on B');
      assert.equal((await npmLogin('carol', 'old-password-1')).status, 401, 'npm login with the old password mints nothing');
      assert.equal((await user(basic('carol', 'new-password-2'), 'A')).status, 200);
      assert.equal((await user(basic('carol', 'new-password-2'), 'B')).status, 200);
    });

    test('setPassword on the other node → this node refuses the old password as soon as it hears of it', async () => {
      await s.core.identity.createUser(systemActor, { name: 'cora', password: 'old-password-1' });
      assert.equal((await user(basic('cora', 'old-password-1'), 'A')).status, 200);
      await b.core.identity.setPassword('cora', 'new-password-2');
      await eventually(async () => (await user(basic('cora', 'old-password-1'), 'A')).status === 401, 'the old password refused on A');
    });

    test('setPassword → the web session signed in with the old password is gone; signing in again works', async () => {
      await s.core.identity.createUser(systemActor, { name: 'dora', password: 'old-password-1' });
      const { res, session } = await webLogin('dora', 'old-password-1');
      assert.equal(res.status, 303, 'signed in');
      assert.ok(session);
      assert.equal(await settingsStatus(session), 200);
      await s.core.identity.setPassword('dora', 'new-password-2');
      assert.equal(await settingsStatus(session), 303, 'sent to the sign-in page');
      const again = await webLogin('dora', 'new-password-2');
      assert.equal(await settingsStatus(again.session!), 200);
    });

    test('5 wrong passwords → 429 with Retry-After; the right password during the lockout → 429 without hashing; after it ends → 200', async () => {
      await s.core.identity.createUser(systemActor, { name: 'dave', password: 'dave-password-1' });
      for (let i = 1; i <= 5; i++) assert.equal((await user(basic('dave', `guess-${i}`))).status, 401, `guess ${i}`);
      let locked!: Awaited<ReturnType<typeof user>>;
      const hashes = await hashesDuring(async () => {
        locked = await user(basic('dave', 'dave-password-1'));
        assert.equal((await user(basic('dave', 'guess-6'))).status, 429);
        assert.equal((await user(basic('DAVE', 'guess-7'), 'B')).status, 429, 'the other node and any spelling of the name too');
      });
      assert.equal(locked.status, 429, 'the right password is refused while locked');
      assert.equal(locked.retryAfter, '15');
      assert.match(locked.body.message, /too many failed sign-ins/);
      assert.equal(hashes, 0, 'no scrypt hash while locked');

      clock += 16_000;
      assert.equal((await user(basic('dave', 'dave-password-1'))).status, 200, 'the lock ended');
      // The correct password ended the streak: the next mistake is one of five again.
      assert.equal((await user(basic('dave', 'guess-8'))).status, 401);
      assert.equal((await user(basic('dave', 'dave-password-1'))).status, 200);
    });

    test('the lock doubles with each failure after one ends (15 s, 30 s, 60 s …)', async () => {
      await s.core.identity.createUser(systemActor, { name: 'dirk', password: 'dirk-password-1' });
      for (let i = 1; i <= 5; i++) await user(basic('dirk', `guess-${i}`));
      assert.equal((await user(basic('dirk', 'x'))).retryAfter, '15');
      clock += 15_000;
      assert.equal((await user(basic('dirk', 'guess-6'))).status, 401);
      assert.equal((await user(basic('dirk', 'dirk-password-1'))).retryAfter, '30');
      clock += 30_000;
      assert.equal((await user(basic('dirk', 'guess-7'))).status, 401);
      assert.equal((await user(basic('dirk', 'dirk-password-1'))).retryAfter, '60');
    });

    test('a valid token during the account\'s lockout → 200, and token requests never consult the limiter', async () => {
      const token = await s.userWithToken('erin', undefined, { password: 'erin-password-1' });
      for (let i = 1; i <= 5; i++) await user(basic('erin', `guess-${i}`));
      assert.equal((await user(basic('erin', 'erin-password-1'))).status, 429);
      const check = s.core.authn.throttle.check;
      let consulted = 0;
      s.core.authn.throttle.check = (...args) => (consulted++, check.apply(s.core.authn.throttle, args));
      try {
        for (const auth of [`Bearer ${token}`, basic('erin', token), `token ${token}`]) assert.equal((await user(auth)).status, 200, auth.split(' ')[0]);
        assert.equal((await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
        // An invalid token is a 401, and counts nowhere (see throttle.ts).
        assert.equal((await user(`Bearer whp_${'0'.repeat(36)}`)).status, 401);
      } finally {
        s.core.authn.throttle.check = check;
      }
      assert.equal(consulted, 0);
    });

    test('a burst of parallel guesses pays for at most five hashes on a node before the lock refuses the rest', async () => {
      await s.core.identity.createUser(systemActor, { name: 'fay', password: 'fay-password-1' });
      let statuses: number[] = [];
      const hashes = await hashesDuring(async () => {
        statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => user(basic('fay', `guess-${i}`)).then((r) => r.status)));
      });
      assert.equal(hashes, 5);
      assert.deepEqual(statuses.filter((x) => x === 401).length, 5);
      assert.deepEqual(statuses.filter((x) => x === 429).length, 15);
    });

    test('failures on both nodes add up to one lockout', async () => {
      await s.core.identity.createUser(systemActor, { name: 'gus', password: 'gus-password-1' });
      for (let i = 1; i <= 3; i++) assert.equal((await user(basic('gus', `guess-${i}`), 'A')).status, 401);
      for (let i = 4; i <= 5; i++) assert.equal((await user(basic('gus', `guess-${i}`), 'B')).status, 401);
      await eventually(async () => (await user(basic('gus', 'gus-password-1'), 'A')).status === 429, 'A sees the lock B set');
    });

    test('30 wrong passwords from one address, over many accounts → that address is locked out for every account; tokens still work', async () => {
      const token = await s.userWithToken('hal', undefined, { password: 'hal-password-1' });
      for (let i = 1; i <= 30; i++) assert.equal((await user(basic(`nobody${i}`, 'guess'))).status, 401, `guess ${i}`);
      const r = await user(basic('hal', 'hal-password-1'));
      assert.equal(r.status, 429, 'a correct password from a locked address');
      assert.equal(r.retryAfter, '15');
      assert.equal((await user(`Bearer ${token}`)).status, 200);
      clock += 15_000;
      assert.equal((await user(basic('hal', 'hal-password-1'))).status, 200);
    });

    test('npm login: 5 wrong passwords → 429 {error} with Retry-After; after the lock the right one mints a token', async () => {
      await s.core.identity.createUser(systemActor, { name: 'ivy', password: 'ivy-password-1' });
      for (let i = 1; i <= 5; i++) assert.equal((await npmLogin('ivy', `guess-${i}`)).status, 401);
      const r = await npmLogin('ivy', 'ivy-password-1');
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '15');
      assert.match((await r.json()).error, /too many failed sign-ins/);
      clock += 15_000;
      const ok = await npmLogin('ivy', 'ivy-password-1');
      assert.equal(ok.status, 201);
      assert.match((await ok.json()).token, /^whp_/);
    });

    test('GET /v2/token with Basic: 5 wrong passwords → 429 TOOMANYREQUESTS with Retry-After', async () => {
      await s.core.identity.createUser(systemActor, { name: 'jay', password: 'jay-password-1' });
      for (let i = 1; i <= 5; i++) assert.equal((await dockerToken(basic('jay', `guess-${i}`))).status, 401);
      const r = await dockerToken(basic('jay', 'jay-password-1'));
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '15');
      assert.equal((await r.json()).errors[0].code, 'TOOMANYREQUESTS');
      clock += 15_000;
      assert.equal((await dockerToken(basic('jay', 'jay-password-1'))).status, 200);
    });

    test('the web sign-in form: 5 wrong passwords → 429 page saying so, with Retry-After; no session', async () => {
      await s.core.identity.createUser(systemActor, { name: 'kim', password: 'kim-password-1' });
      for (let i = 1; i <= 5; i++) assert.equal((await webLogin('kim', `guess-${i}`)).res.status, 401);
      const { res, session } = await webLogin('kim', 'kim-password-1');
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '15');
      assert.match(await res.text(), /Too many failed sign-ins/);
      assert.equal(session, null);
      clock += 15_000;
      assert.equal((await webLogin('kim', 'kim-password-1')).res.status, 303);
    });

    test('PUT /api/v1/users/:user/suspended → password, tokens and sessions refused on both nodes; DELETE → they work again', async () => {
      const token = await s.userWithToken('lee', undefined, { password: 'lee-password-1' });
      const { session } = await webLogin('lee', 'lee-password-1');
      for (const node of ['A', 'B'] as const) {
        assert.equal((await user(basic('lee', 'lee-password-1'), node)).status, 200);
        assert.equal((await user(`Bearer ${token}`, node)).status, 200);
      }
      const suspend = (auth: string, method: 'PUT' | 'DELETE', name = 'lee') => fetch(`${s.url}/api/v1/users/${name}/suspended`, { method, headers: { authorization: auth } });
      assert.equal((await suspend(`Bearer ${token}`, 'PUT', 'root')).status, 403, 'not a site administrator');
      const readOnly = (await s.core.tokens.createPersonal(systemActor, 'root', { scopes: 'read:packages' })).token;
      assert.equal((await suspend(`Bearer ${readOnly}`, 'PUT')).status, 403, 'an administrator\'s read-only token');
      assert.equal((await fetch(`${s.url}/api/v1/users/lee/suspended`, { method: 'PUT' })).status, 401);

      assert.equal((await suspend(`Bearer ${adminToken}`, 'PUT')).status, 204);
      for (const node of ['A', 'B'] as const) {
        await eventually(async () => (await user(`Bearer ${token}`, node)).status === 401, `the token refused on ${node}`);
        assert.equal((await user(basic('lee', 'lee-password-1'), node)).status, 401, `the password refused on ${node}`);
      }
      assert.equal(await settingsStatus(session!), 303, 'the session is gone');
      assert.equal((await webLogin('lee', 'lee-password-1')).res.status, 401);

      assert.equal((await suspend(basic('root', 'root-password-1'), 'DELETE')).status, 204);
      await eventually(async () => (await user(`Bearer ${token}`, 'B')).status === 200, 'the token works again on B');
      assert.equal((await user(basic('lee', 'lee-password-1'))).status, 200);
    });

    test('DELETE /api/v1/admin/users/:user → 409 while they own packages; ?force=true deletes them, their tokens and sessions', async () => {
      const token = await s.userWithToken('max', undefined, { password: 'max-password-1' });
      const published = await publishNpm(s.url, token, { scope: 'max', name: 'tool', version: '1.0.0' });
      assert.equal(published.status, 201);
      const { session } = await webLogin('max', 'max-password-1');
      const del = (q = '') => fetch(`${s.url}/api/v1/admin/users/max${q}`, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
      const refused = await del();
      assert.equal(refused.status, 409);
      assert.match((await refused.json()).message, /owns 1 package/);
      assert.equal((await user(`Bearer ${token}`)).status, 200, 'nothing changed');

      assert.equal((await del('?force=true')).status, 204);
      assert.equal((await user(`Bearer ${token}`)).status, 401);
      await eventually(async () => (await user(`Bearer ${token}`, 'B')).status === 401, 'the token refused on B');
      assert.equal((await user(basic('max', 'max-password-1'))).status, 401);
      assert.equal(await settingsStatus(session!), 303);
      assert.equal((await fetch(`${s.url}/npm/@max%2ftool`, { headers: { authorization: `Bearer ${adminToken}` } })).status, 404, 'the package went with its owner');
      assert.equal((await del()).status, 404);
    });
  });
}
