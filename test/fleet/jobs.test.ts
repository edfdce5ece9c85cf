// N nodes, one truth: two (or three) Wharf nodes over one database — PostgreSQL as in a fleet, SQLite as the server
// and the CLI on one file — run their background jobs without doing any item twice or losing one: webhook
// deliveries (retries included, and a claim of a killed node taken over after its lease), garbage collection while
// pushes go on through the other node, download counts, migrations at a simultaneous start, sign-in throttling,
// sessions and read caches.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { systemActor } from '../../src/core/auth/actor.ts';
import { collectGarbage, type GcReport } from '../../src/core/blobs/gc.ts';
import { openCore, type Core } from '../../src/core/core.ts';
import { loadConfig } from '../../src/config.ts';
import { createDatabase, dialects } from '../helpers/databases.ts';
import { publish } from '../helpers/npm-body.ts';
import { basic, blob, configBlob, imageManifest, pushImage } from '../helpers/oci.ts';
import { eventually, EVERY_SCOPE, freePort, ROOT, startWharf, tempDir, type TestServer } from '../helpers/wharf.ts';

const servers = new Set<http.Server>();
after(() => Promise.all([...servers].map((s) => (s.closeAllConnections(), new Promise((r) => s.close(r))))));

interface Hit {
  id: string;
  at: number;
  action: string;
  version: string;
}

/** A webhook receiver: `answer(hit, nth)` decides the status of the nth request for that delivery id (null: hang). */
async function receiver(answer: (hit: Hit, nth: number) => number | null) {
  const hits: Hit[] = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const json = JSON.parse(body);
    const hit = { id: String(req.headers['x-github-delivery']), at: Date.now(), action: json.action, version: json.package?.package_version?.version };
    hits.push(hit);
    const status = answer(hit, hits.filter((h) => h.id === hit.id).length);
    if (status === null) return; // hangs until the connection is closed
    res.statusCode = status;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.add(server);
  return { hits, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

const ENV = { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WHARF_WEBHOOK_RETRY_SECONDS: '0.2', WHARF_WEBHOOK_TIMEOUT_MS: '1000' };

for (const dialect of dialects()) {
  describe(`N nodes, one truth on ${dialect}`, () => {
    let a: TestServer;
    let b: TestServer;
    let token: string;
    const api = (node: TestServer, p: string, init: RequestInit = {}) =>
      fetch(`${node.url}/api/v1${p}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

    before(async () => {
      a = await startWharf({ dialect, env: ENV });
      b = await startWharf({ reuse: a, env: ENV });
      token = await a.userWithToken('alice', EVERY_SCOPE, { password: 'alice-password-1' });
      if (dialect === 'postgres') await new Promise((r) => setTimeout(r, 300)); // B's change listener connects
    });
    after(async () => {
      await b.stop({ keep: true });
      await a.stop();
    });

    test('a webhook is delivered exactly once per event while both nodes run their senders; each retry after a 500 once', async () => {
      // The first attempt of every delivery fails with 500; the retry succeeds.
      const rx = await receiver((_, nth) => (nth === 1 ? 500 : 200));
      const hook = await (await api(a, '/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url, content_type: 'json' }, events: ['package'] }) })).json();
      const versions = Array.from({ length: 12 }, (_, i) => `1.0.${i}`);
      // Publishes through both nodes at once: each node's sender is woken by its own publishes, and polls.
      const results = await Promise.all(versions.map((v, i) => publish((i % 2 ? b : a).url, token, '@alice/hooked', v)));
      assert.deepEqual(results.map((r) => r.status), versions.map(() => 201));
      await eventually(async () => {
        const rows = await a.core.db.selectFrom('webhook_deliveries').select('status').where('hook_id', '=', hook.id).execute();
        return rows.length === versions.length && rows.every((r) => r.status === 'delivered');
      }, 'every delivery delivered', 20_000);
      await new Promise((r) => setTimeout(r, 500)); // anything sent twice would have arrived by now
      const ids = [...new Set(rx.hits.map((h) => h.id))];
      assert.equal(ids.length, versions.length, 'one delivery per event');
      for (const id of ids) assert.equal(rx.hits.filter((h) => h.id === id).length, 2, `delivery ${id}: the first attempt and one retry, no more`);
      assert.deepEqual(rx.hits.filter((h) => h.action === 'published').map((h) => h.version).sort(), [...versions, ...versions].sort());
      const rows = await a.core.db.selectFrom('webhook_deliveries').select(['attempts', 'claimed_by', 'claimed_until']).where('hook_id', '=', hook.id).execute();
      assert.ok(rows.every((r) => r.attempts === 2 && r.claimed_by === null && r.claimed_until === null), JSON.stringify(rows));
      await api(a, `/users/alice/hooks/${hook.id}`, { method: 'DELETE' });
    });

    test('a delivery claimed by a node that is killed mid-attempt is delivered by the other once its claim lapses', async () => {
      // Only the child node sends at first: the in-process senders are stopped.
      a.core.webhooks.stop();
      b.core.webhooks.stop();
      let release = false;
      const rx = await receiver(() => (release ? 200 : null));
      const hook = await (await api(a, '/users/alice/hooks', { method: 'POST', body: JSON.stringify({ config: { url: rx.url, content_type: 'json' }, events: ['package'] }) })).json();
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
        env: { ...process.env, ...ENV, WHARF_DATA: tempDir(), WHARF_DATABASE_URL: a.db.url, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'silent', WHARF_GC_INTERVAL_SECONDS: '0' },
        stdio: 'ignore',
      });
      try {
        assert.equal((await publish(a.url, token, '@alice/killed', '1.0.0')).status, 201);
        await eventually(async () => rx.hits.length > 0, 'the child node attempts the delivery', 30_000);
        const claimed = await a.core.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id).executeTakeFirstOrThrow();
        assert.ok(claimed.claimed_by && claimed.claimed_until, 'claimed while the attempt runs');
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        release = true;
        a.core.webhooks.start(100);
        b.core.webhooks.start(100);
        await eventually(async () => rx.hits.length === 2, 'the delivery taken over', 15_000);
        const [first, second] = rx.hits;
        assert.equal(second.id, first.id, 'the same delivery (X-GitHub-Delivery kept)');
        assert.ok(second.at >= Date.parse(claimed.claimed_until!) - 50, 'not before the dead node\'s claim lapsed');
        await eventually(async () => (await a.core.db.selectFrom('webhook_deliveries').select('status').where('id', '=', first.id).executeTakeFirst())?.status === 'delivered', 'recorded as delivered');
        const row = await a.core.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
        assert.equal(row.attempts, 1, 'the killed attempt was never recorded; the one that answered was');
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(rx.hits.length, 2, 'no third request');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        a.core.webhooks.start(100);
        b.core.webhooks.start(100);
        await api(a, `/users/alice/hooks/${hook.id}`, { method: 'DELETE' });
      }
    });

    test('gc on one node while pushes go on through the other loses nothing; a second collection meanwhile is refused', async () => {
      // Old, unreferenced content that the pushes below commit again (identical layers), and more that is garbage.
      const old = new Date(Date.now() - 2 * 3600_000);
      const layers = Array.from({ length: 24 }, () => blob(randomBytes(2048)));
      const garbage: string[] = [];
      for (const content of [...layers.map((l) => l.bytes), ...Array.from({ length: 24 }, () => randomBytes(2048))]) {
        const s = await a.core.blobs.put(Readable.from([content]));
        await s.commit();
        fs.utimesSync(a.core.blobs.localPath!(s.digest), old, old);
        if (!layers.some((l) => l.digest === s.digest)) garbage.push(s.digest);
      }
      const auth = basic('alice', token);
      let pushing = true;
      const reports: GcReport[] = [];
      let refused = 0;
      // PostgreSQL: node A and node B collect at once, again and again. SQLite: `wharf gc` in its own process
      // (two connections to one file in one process would wait for each other synchronously), twice at once.
      let cliRuns = 0;
      const collector = (async () => {
        while (pushing) {
          if (dialect === 'sqlite') {
            const runs = await Promise.all([a.cli(['gc']), a.cli(['gc'])]);
            for (const r of runs) {
              if (r.code === 0) cliRuns += 1;
              else if (/already running/.test(r.stderr)) refused += 1;
              else throw new Error(`wharf gc: ${r.code} ${r.stderr}`);
            }
            continue;
          }
          const [r, other] = await Promise.allSettled([collectGarbage(a.core), collectGarbage(b.core)]);
          for (const x of [r, other]) {
            if (x.status === 'fulfilled') reports.push(x.value);
            else if ((x.reason as { code?: string }).code === 'GC_RUNNING') refused += 1;
            else throw x.reason;
          }
        }
      })();
      const images = layers.map((l, i) => imageManifest({ config: configBlob({ labels: { n: String(i) } }), layers: [l] }));
      try {
        // Pushes through one node (B; on SQLite the server A), a few at a time, while collections run.
        const pusher = dialect === 'sqlite' ? a : b;
        for (let i = 0; i < images.length; i += 4) await Promise.all(images.slice(i, i + 4).map((m, j) => pushImage(pusher.url, 'alice/fleet', `t${i + j}`, m, auth)));
      } finally {
        pushing = false;
        await collector;
      }
      assert.ok(reports.length + cliRuns >= 1, 'collections ran');
      if (dialect === 'postgres') assert.ok(refused >= 1, 'two collections at once: one of them is refused (GC_RUNNING)');
      // Every pushed layer is still there and readable through both nodes.
      for (const [i, m] of images.entries()) {
        for (const node of dialect === 'sqlite' ? [a] : [a, b]) {
          const r = await fetch(`${node.url}/v2/alice/fleet/manifests/t${i}`, { headers: { authorization: auth, accept: m.mediaType } });
          assert.equal(r.status, 200);
          await r.arrayBuffer();
          const l = await fetch(`${node.url}/v2/alice/fleet/blobs/${layers[i].digest}`, { headers: { authorization: auth } });
          assert.equal(l.status, 200, `layer ${i} through ${node === a ? 'A' : 'B'}`);
          assert.ok(Buffer.from(await l.arrayBuffer()).equals(layers[i].bytes));
        }
      }
      // And what was only garbage went.
      const final = await collectGarbage(a.core);
      assert.equal(final.removedBlobs, 0, 'the layers are referenced now');
      for (const d of garbage) assert.equal(await a.core.blobs.stat(d), null, d);
    });

    // SQLite: one server per file (the CLI counts no downloads).
    test('download counts from both nodes add up exactly', { skip: dialect === 'sqlite' && 'one server per SQLite file' }, async () => {
      assert.equal((await publish(a.url, token, '@alice/counted', '1.0.0')).status, 201);
      const get = (node: TestServer) => fetch(`${node.url}/npm/@alice/counted/-/counted-1.0.0.tgz`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => {
        assert.equal(r.status, 200);
        await r.arrayBuffer();
      });
      const n = 150;
      // Downloads on both nodes, with both flushing now and then while they go on.
      const flushes: Promise<void>[] = [];
      for (let i = 0; i < n; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => get((i + j) % 3 ? a : b)));
        flushes.push(a.core.flush(), b.core.flush());
      }
      await Promise.all(flushes);
      await Promise.all([a.core.flush(), b.core.flush()]);
      const v = await a.core.db.selectFrom('package_versions').innerJoin('packages', 'packages.id', 'package_versions.package_id').select('package_versions.id').where('packages.name', '=', 'counted').executeTakeFirstOrThrow();
      const rows = await a.core.db.selectFrom('downloads').select('count').where('version_id', '=', v.id).execute();
      assert.equal(rows.reduce((s, r) => s + Number(r.count), 0), n);
    });

    test('failed sign-ins on node A count on node B; a session made on A is valid on B and ends on both', async () => {
      await a.core.identity.createUser(systemActor, { name: 'tess', password: 'tess-password-1', email: 'tess@example.com' });
      const user = (node: TestServer, password: string) => fetch(`${node.url}/api/v1/user`, { headers: { authorization: `Basic ${Buffer.from(`tess:${password}`).toString('base64')}` } });
      for (let i = 0; i < 4; i++) assert.equal((await user(i % 2 ? b : a, `wrong-${i}`)).status, 401);
      assert.equal((await user(a, 'wrong-4')).status, 401, 'the fifth failure, on A, locks the account');
      await eventually(async () => (await user(b, 'tess-password-1')).status === 429, 'B refuses even the right password during the lock');

      // A web session from node A, used on node B.
      const page = await fetch(`${a.url}/-/login`);
      const anon = /wharf_anon=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1];
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
      const res = await fetch(`${a.url}/-/login`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `wharf_anon=${anon}` },
        body: new URLSearchParams({ _csrf: csrf, username: 'alice', password: 'alice-password-1', next: '/' }).toString(),
      });
      const session = /wharf_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
      assert.ok(session, `signed in on A (${res.status})`);
      const settings = async (node: TestServer) => {
        const r = await fetch(`${node.url}/-/settings/tokens`, { redirect: 'manual', headers: { cookie: `wharf_session=${session}` } });
        await r.arrayBuffer();
        return r.status;
      };
      assert.equal(await settings(b), 200, 'the session works on B');
      // Signing out on B removes the session's row (Sessions.destroy): A does not keep it alive from a cache.
      await b.core.db.deleteFrom('sessions').execute();
      assert.ok([302, 303].includes(await settings(a)), 'signed out on B: gone on A too (a redirect to the sign-in page)');
    });

    test('read caches follow changes made through the other HTTP node', async () => {
      assert.equal((await publish(a.url, token, '@alice/cached', '1.0.0')).status, 201);
      const packument = async (node: TestServer) => (await fetch(`${node.url}/npm/@alice%2fcached`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } })).json();
      for (let i = 0; i < 3; i++) assert.deepEqual(Object.keys((await packument(b)).versions), ['1.0.0'], 'cached on B');
      assert.equal((await publish(a.url, token, '@alice/cached', '1.0.1')).status, 201);
      await eventually(async () => Object.keys((await packument(b)).versions).includes('1.0.1'), "B serves A's publish");
      // A token revoked through B stops working on A.
      const { token: t2 } = await b.core.tokens.createPersonal(systemActor, 'alice', { name: 'short-lived', scopes: 'read:packages' });
      const me = (node: TestServer) => fetch(`${node.url}/api/v1/user`, { headers: { authorization: `Bearer ${t2}` } }).then((r) => r.status);
      for (let i = 0; i < 3; i++) assert.equal(await me(a), 200);
      await b.core.tokens.revoke(systemActor, t2);
      await eventually(async () => (await me(a)) === 401, 'the revocation through B, on A');
      // A package made public through B is readable anonymously on A.
      const anonymous = () => fetch(`${a.url}/npm/@alice%2fcached`, { headers: { accept: 'application/json' } }).then((r) => r.status);
      assert.notEqual(await anonymous(), 200, 'private');
      const r = await api(b, '/users/alice/packages/npm/cached', { method: 'PATCH', body: JSON.stringify({ visibility: 'public' }) });
      assert.ok(r.status < 300, `visibility change on B: ${r.status} ${await r.text()}`);
      await eventually(async () => (await anonymous()) === 200, 'public on A');
    });
  });

  test(`migrations run once when three nodes start together on a fresh ${dialect} database`, async () => {
    const dir = tempDir();
    const db = await createDatabase(dialect, dir);
    const cores: Core[] = [];
    try {
      if (dialect === 'sqlite') {
        // Three processes on one fresh file (in one process, SQLite's connections would wait for each other
        // synchronously): each creates a user, so each migrated (or found migrated) and then wrote.
        // They wait for one instant (after their slow start) so that their migrations overlap.
        const at = Date.now() + 4000;
        const script = `const { openDatabase } = await import(${JSON.stringify(path.join(ROOT, 'src/db/database.ts'))});
          await new Promise((r) => setTimeout(r, ${at} - Date.now()));
          const { db } = await openDatabase(${JSON.stringify(db.url)});
          await db.insertInto('owners').values({ kind: 'user', name: 'p' + process.pid, lower_name: 'p' + process.pid, is_admin: 0, created_at: new Date().toISOString() }).execute();
          await db.destroy();`;
        const runs = await Promise.all([0, 1, 2].map(() => new Promise<{ code: number | null; err: string }>((resolve) => {
          const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          c.stderr!.on('data', (d) => (err += d));
          c.on('close', (code) => resolve({ code, err }));
        })));
        for (const r of runs) assert.equal(r.code, 0, r.err);
      }
      const config = loadConfig({ WHARF_DATA: dir, WHARF_DATABASE_URL: db.url, WHARF_LOG_LEVEL: 'silent' });
      const started = await Promise.allSettled(dialect === 'sqlite' ? [openCore(config)] : [openCore(config), openCore(config), openCore(config)]);
      for (const s of started) if (s.status === 'fulfilled') cores.push(s.value);
      assert.ok(started.every((s) => s.status === 'fulfilled'), String(started.find((s) => s.status === 'rejected')?.['reason' as never]));
      const ran = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(cores[0].db);
      const names = ran.rows.map((r) => r.name);
      assert.deepEqual(names, [...new Set(names)]);
      assert.ok(names.includes('0012-fleet-jobs'), names.join());
      // Every node works on the result.
      for (const [i, c] of cores.entries()) await c.identity.createUser(systemActor, { name: `n${i}` });
    } finally {
      for (const c of cores) await c.close();
      await db.drop();
    }
  });
}
