// The `wharf` admin CLI (bin/wharf.mjs), run as a real process against the database of a running server, as a suite
// for one database (cli.test.ts runs it on SQLite, cli-postgres.test.ts on PostgreSQL):
// every command of the issue's section 2, what it prints (a token prints as the token alone), its exit codes
// (2 for usage, 1 for errors, with a message on stderr), and that the server sees its effects at once.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { publishNpm, type NpmPublishOptions } from '../helpers/npm-publish.ts';
import { EVERY_SCOPE, startWharf, type TestServer } from '../helpers/wharf.ts';

type Json = any;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A table the CLI printed (a header row, then columns two or more spaces apart) as one object per row. */
function rows(out: string): Record<string, string>[] {
  const [header, ...lines] = out.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
  assert.ok(header.length > 1 && header.every((h) => /^[A-Z-]+$/.test(h)), `a header row: ${out}`);
  return lines.map((l) => Object.fromEntries(header.map((h, i) => [h, l[i]])));
}

/** Runs `fn` over `items`, `n` at a time (each CLI run is a Node process; this machine has few cores). */
export async function inBatches<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

/** The CLI suite against a running server on one database (each database in its own test file, so they run in parallel). */
export function cliSuite(dialect: 'sqlite' | 'postgres'): void {
  describe(`wharf CLI on ${dialect}, with the server running`, () => {
    let s: TestServer;
    let aliceToken: string;

    const env = { WHARF_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WHARF_WEBHOOK_RETRY_SECONDS: '0.2' };
    before(async () => {
      s = await startWharf({ dialect, env });
    });
    after(() => s.stop());

    /** The one line every command that opens the database prints on stderr. */
    const opened = () =>
      dialect === 'sqlite' ? `wharf: data in ${s.dataDir} (SQLite)\n` : `wharf: database ${s.db.url.replace(/:[^/@:]*@/, ':***@')} (PostgreSQL), files in ${s.dataDir}\n`;
    /** `wharf ARGS` must succeed and print nothing on stderr but which data it opened; returns stdout. */
    async function wharf(args: string[], stdin?: string): Promise<string> {
      const r = await s.cli(args, stdin);
      assert.equal(r.code, 0, `wharf ${args.join(' ')} → exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stderr, opened(), `wharf ${args.join(' ')}: stderr says once where the data is, nothing else`);
      return r.stdout;
    }
    /** `wharf ARGS` must fail with `code`, a message on stderr and nothing on stdout. */
    async function wharfFails(args: string[], code: number, message: RegExp, stdin?: string) {
      const r = await s.cli(args, stdin);
      assert.equal(r.code, code, `wharf ${args.join(' ')} → exit ${r.code}, expected ${code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, `wharf ${args.join(' ')}: stderr`);
      assert.equal(r.stdout, '', `wharf ${args.join(' ')}: nothing on stdout`);
    }

    const api = (path: string, auth: string | null, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${s.url}/api/v1${path}`, {
        method: init.method ?? 'GET',
        headers: { ...(auth ? { authorization: auth.includes(' ') ? auth : `Bearer ${auth}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
    async function json(r: Response | Promise<Response>, status: number): Promise<Json> {
      const res = await r;
      const text = await res.text();
      assert.equal(res.status, status, `${res.url} → ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    }
    const publish = async (token: string | null, o: NpmPublishOptions, status = 201) => {
      const r = await publishNpm(s.url, token, o);
      assert.equal(r.status, status, `publish @${o.scope}/${o.name}@${o.version} → ${r.status} ${await r.text()}`);
    };
    const packumentStatus = async (scope: string, name: string, token: string | null) => {
      const r = await fetch(`${s.url}/npm/@${scope}%2f${name}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      await r.arrayBuffer();
      return r.status;
    };
    /** A personal token minted by the CLI (stdout is the token and a newline, nothing else). */
    const tokenFor = async (user: string, scopes = EVERY_SCOPE, extra: string[] = []) => {
      const out = await wharf(['token', 'create', user, '--scopes', scopes, ...extra]);
      assert.match(out, /^whp_[0-9A-Za-z]{36}\n$/, 'only the token is printed');
      return out.trim();
    };

    test('user create NAME --admin --email E --password-stdin → the password works as Basic auth on /api/v1/user', async () => {
      const out = await wharf(['user', 'create', 'alice', '--admin', '--email', 'alice@example.com', '--password-stdin'], 'correct horse battery staple\n');
      assert.equal(out, 'created user alice (admin)\n');
      const me = await json(api('/user', basic('alice', 'correct horse battery staple')), 200);
      assert.equal(me.login, 'alice');
      assert.equal(me.site_admin, true);
      assert.equal(me.email, 'alice@example.com');
      await json(api('/user', basic('alice', 'correct horse battery staple\n')), 401);
      await json(api('/user', basic('alice', 'wrong')), 401);

      assert.equal(await wharf(['user', 'create', 'bob']), 'created user bob\n');
      assert.equal(await wharf(['user', 'create', 'carol', '--email', 'carol@example.com']), 'created user carol\n');
      // No password was set: none signs in.
      await json(api('/user', basic('bob', '')), 401);
      assert.equal((await json(api('/users/bob', null), 200)).login, 'bob', 'the server sees the new user at once');
    });

    test('token create USER --scopes … prints only the token; --name and --expires-in are kept; the server accepts it at once', async () => {
      aliceToken = await tokenFor('alice', EVERY_SCOPE, ['--name', 'laptop', '--expires-in', '30d']);
      const me = await json(api('/user', aliceToken), 200);
      assert.equal(me.login, 'alice');
      const listed = (await json(api('/user/tokens', aliceToken), 200) as Json[]).find((t) => t.name === 'laptop');
      assert.ok(listed, 'listed by its --name');
      assert.deepEqual([...listed.scopes].sort(), EVERY_SCOPE.split(',').sort());
      const ttl = Date.parse(listed.expires_at) - Date.now();
      assert.ok(ttl > 29.9 * 864e5 && ttl <= 30 * 864e5, `expires_at ${listed.expires_at}`);

      const forever = await tokenFor('bob', 'read:packages,user');
      const bobs: Json[] = await json(api('/user/tokens', forever), 200);
      assert.equal(bobs.length, 1);
      assert.equal(bobs[0].expires_at, null, 'no --expires-in: no expiry');
      assert.deepEqual(bobs[0].scopes, ['read:packages', 'user']);
      // Its scopes cap it: a read:packages token cannot publish.
      await publish(forever, { scope: 'bob', name: 'nope', version: '1.0.0' }, 403);
    });

    test('token create USER --package/--repo/--owner makes a fine-grained token: it publishes what it names only; token list shows the selection; a wrong form → exit 2', async () => {
      await wharf(['user', 'create', 'fgrain']);
      await wharf(['repo', 'create', 'fgrain/app', '--visibility', 'private']);
      const t = (await wharf(['token', 'create', 'fgrain', '--scopes', 'read:packages,write:packages', '--name', 'ci', '--package', 'npm:@fgrain/web=write', '--repo', 'fgrain/app=read'])).trim();
      await publish(t, { scope: 'fgrain', name: 'web', version: '1.0.0' });
      await publish(t, { scope: 'fgrain', name: 'other', version: '1.0.0' }, 403);
      await json(api('/user/tokens', t), 403);
      const row = rows(await wharf(['token', 'list', 'fgrain'])).find((r) => r.NAME === 'ci');
      assert.equal(row?.RESOURCES, 'fgrain/app=read,npm:fgrain/web=write');
      await wharfFails(['token', 'create', 'fgrain', '--scopes', 'read:packages', '--repo', 'fgrain'], 2, /--repo takes OWNER\/REPO\[=REACH\], got "fgrain"/);
      await wharfFails(['token', 'create', 'fgrain', '--scopes', 'read:packages', '--package', 'npm:fgrain/web=own'], 2, /invalid permission "own"/);
      await wharfFails(['token', 'create', 'fgrain', '--scopes', 'read:packages', '--owner', 'nobody'], 1, /no user or organization named "nobody"/);
    });

    test('token list USER shows ids, prefixes, names and scopes under a header, never the secret; no tokens → a note on stderr', async () => {
      const out = await wharf(['token', 'list', 'alice']);
      assert.match(out, /^ID +PREFIX +NAME +SCOPES +EXPIRES +LAST-USED +RESOURCES\n/);
      const row = rows(out).find((r) => r.NAME === 'laptop');
      assert.ok(row, out);
      assert.match(row.ID, /^\d+$/);
      assert.ok(aliceToken.startsWith(row.PREFIX.replace('…', '')));
      assert.equal(row.SCOPES, EVERY_SCOPE);
      assert.match(row.EXPIRES, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(!out.includes(aliceToken.slice(8)), 'no secret in the list');

      await wharf(['user', 'create', 'tokenless']);
      const none = await s.cli(['token', 'list', 'tokenless']);
      assert.deepEqual([none.code, none.stdout], [0, '']);
      assert.match(none.stderr, /^wharf: .*\nno tokens for tokenless — create one with: wharf token create tokenless --scopes /);
    });

    test('org create NAME --owner USER; org add-member ORG USER [--role owner|member] → the server sees them at once', async () => {
      assert.equal(await wharf(['org', 'create', 'acme', '--owner', 'alice']), 'created organization acme owned by alice\n');
      assert.equal((await json(api('/orgs/acme', null), 200)).type, 'Organization');
      const bob = await tokenFor('bob');
      await publish(bob, { scope: 'acme', name: 'tool', version: '1.0.0' }, 403);

      assert.equal(await wharf(['org', 'add-member', 'acme', 'bob']), 'bob is now member of acme\n');
      await publish(bob, { scope: 'acme', name: 'tool', version: '1.0.0' });
      const members: Json[] = await json(api('/orgs/acme/members', aliceToken), 200);
      assert.deepEqual(members.map((m) => [m.login, m.role]), [['alice', 'admin'], ['bob', 'member']]);
      await json(api('/orgs/acme/memberships/carol', bob, { method: 'PUT', body: {} }), 403);

      assert.equal(await wharf(['org', 'add-member', 'acme', 'bob', '--role', 'owner']), 'bob is now owner of acme\n');
      await json(api('/orgs/acme/memberships/carol', bob, { method: 'PUT', body: {} }), 200);
      assert.deepEqual((await json(api('/orgs/acme/members', bob), 200) as Json[]).map((m) => [m.login, m.role]), [['alice', 'admin'], ['bob', 'admin'], ['carol', 'member']]);
    });

    test('repo create OWNER/NAME [--visibility]; repo grant OWNER/NAME USER --role → visibility and collaborators apply at once', async () => {
      assert.equal(await wharf(['repo', 'create', 'alice/secret', '--visibility', 'private']), 'created repository alice/secret (private)\n');
      const bob = await tokenFor('bob', 'read:packages,repo');
      assert.equal((await json(api('/repos/alice/secret', aliceToken), 200)).visibility, 'private');
      await json(api('/repos/alice/secret', bob), 404);
      await json(api('/repos/alice/secret', null), 404);

      assert.equal(await wharf(['repo', 'grant', 'alice/secret', 'bob', '--role', 'read']), 'bob has read on alice/secret\n');
      assert.equal((await json(api('/repos/alice/secret', bob), 200)).full_name, 'alice/secret');
      const collaborators: Json[] = await json(api('/repos/alice/secret/collaborators', aliceToken), 200);
      assert.deepEqual(collaborators.map((c) => [c.login, c.role_name]), [['bob', 'read']]);
      await wharf(['repo', 'grant', 'alice/secret', 'bob', '--role', 'admin']);
      assert.deepEqual((await json(api('/repos/alice/secret/collaborators', bob), 200) as Json[]).map((c) => c.role_name), ['admin']);

      assert.equal(await wharf(['repo', 'create', 'alice/app']), 'created repository alice/app (public)\n');
      assert.equal((await json(api('/repos/alice/app', null), 200)).visibility, 'public');
      assert.equal(await wharf(['repo', 'create', 'acme/site', '--visibility', 'internal']), 'created repository acme/site (internal)\n');
      await json(api('/repos/acme/site', null), 404);
      assert.equal((await json(api('/repos/acme/site', bob), 200)).visibility, 'internal');
    });

    test('package visibility TYPE OWNER/NAME public|internal|private → anonymous and other users see it change at once', async () => {
      await publish(aliceToken, { scope: 'alice', name: 'hello', version: '1.0.0' });
      const bob = await tokenFor('bob', 'read:packages');
      assert.equal(await packumentStatus('alice', 'hello', null), 401, 'a new unlinked package is private');
      assert.equal(await packumentStatus('alice', 'hello', bob), 404);

      assert.equal(await wharf(['package', 'visibility', 'npm', 'alice/hello', 'public']), 'npm package alice/hello is now public\n');
      assert.equal(await packumentStatus('alice', 'hello', null), 200);
      const tgz = await fetch(`${s.url}/npm/@alice/hello/-/hello-1.0.0.tgz`);
      assert.equal(tgz.status, 200);
      await tgz.arrayBuffer();
      assert.equal((await json(api('/users/alice/packages/npm/hello', null), 200)).visibility, 'public');

      await wharf(['package', 'visibility', 'npm', 'alice/hello', 'internal']);
      assert.equal(await packumentStatus('alice', 'hello', null), 401);
      assert.equal(await packumentStatus('alice', 'hello', bob), 200);

      await wharf(['package', 'visibility', 'npm', 'alice/hello', 'private']);
      assert.equal(await packumentStatus('alice', 'hello', bob), 404);
      assert.equal(await packumentStatus('alice', 'hello', aliceToken), 200);
    });

    test('package grant TYPE OWNER/NAME USER --role read|write → that user reads, then publishes; package revoke → 404 again', async () => {
      await publish(aliceToken, { scope: 'alice', name: 'granted', version: '1.0.0' });
      const carol = await tokenFor('carol');
      assert.equal(await packumentStatus('alice', 'granted', carol), 404);

      assert.equal(await wharf(['package', 'grant', 'npm', 'alice/granted', 'carol', '--role', 'read']), 'carol has read on npm package alice/granted\n');
      assert.equal(await packumentStatus('alice', 'granted', carol), 200);
      await publish(carol, { scope: 'alice', name: 'granted', version: '1.1.0' }, 403);
      await wharf(['package', 'grant', 'npm', 'alice/granted', 'carol', '--role', 'write']);
      await publish(carol, { scope: 'alice', name: 'granted', version: '1.1.0' });
      const access = await json(api('/users/alice/packages/npm/granted/access', aliceToken), 200);
      assert.deepEqual(access.users, [{ login: 'carol', role: 'write' }]);

      await wharf(['package', 'revoke', 'npm', 'alice/granted', 'carol']);
      assert.equal(await packumentStatus('alice', 'granted', carol), 404);
    });

    test('package grant TYPE OWNER/NAME OWNER/REPO --role read → that repository\'s job token reads the package', async () => {
      await publish(aliceToken, { scope: 'alice', name: 'shared-lib', version: '1.0.0' });
      await wharf(['repo', 'create', 'alice/consumer', '--visibility', 'private']);
      const job = (await wharf(['token', 'create-job', 'alice/consumer'])).trim();
      assert.equal(await packumentStatus('alice', 'shared-lib', job), 404);

      assert.equal(await wharf(['package', 'grant', 'npm', 'alice/shared-lib', 'alice/consumer', '--role', 'read']), 'alice/consumer has read on npm package alice/shared-lib\n');
      assert.equal(await packumentStatus('alice', 'shared-lib', job), 200);
      const access = await json(api('/users/alice/packages/npm/shared-lib/access', aliceToken), 200);
      assert.deepEqual(access.repositories, [{ full_name: 'alice/consumer', role: 'read' }]);
      await publish(job, { scope: 'alice', name: 'shared-lib', version: '1.0.1' }, 403);
    });

    test('token create-job OWNER/REPO --ttl 1h prints only a whj_ token; it publishes packages linked to that repository only; token revoke TOKEN → 401', async () => {
      const out = await wharf(['token', 'create-job', 'alice/app', '--ttl', '1h']);
      assert.match(out, /^whj_[0-9A-Za-z]{36}\n$/, 'only the token is printed');
      const job = out.trim();
      const row = await s.core.db.selectFrom('tokens').selectAll().where('kind', '=', 'job').orderBy('id', 'desc').executeTakeFirstOrThrow();
      const ttl = Date.parse(row.expires_at!) - Date.now();
      assert.ok(ttl > 55 * 60e3 && ttl <= 60 * 60e3, `expires_at ${row.expires_at}`);

      await publish(job, { scope: 'alice', name: 'app', version: '1.0.0', repository: 'git+https://github.com/alice/app.git' });
      assert.equal((await json(api('/users/alice/packages/npm/app', aliceToken), 200)).repository.full_name, 'alice/app');
      await publish(job, { scope: 'alice', name: 'not-the-app', version: '1.0.0' }, 403);
      await publish(job, { scope: 'alice', name: 'secret-pkg', version: '1.0.0', repository: 'https://github.com/alice/secret' }, 403);
      await publish(job, { scope: 'acme', name: 'app', version: '1.0.0', repository: 'https://github.com/alice/app' }, 403);

      const revoked = await wharf(['token', 'revoke', job]);
      assert.equal(revoked, `revoked token ${row.id} (job:alice/app)\n`);
      await publish(job, { scope: 'alice', name: 'app', version: '1.0.1', repository: 'https://github.com/alice/app' }, 401);
    });

    test('token create-job --ttl 1s → the token stops working at its TTL', async () => {
      const job = (await wharf(['token', 'create-job', 'alice/app', '--ttl', '1s'])).trim();
      await new Promise((r) => setTimeout(r, 1100));
      await publish(job, { scope: 'alice', name: 'app', version: '2.0.0', repository: 'https://github.com/alice/app' }, 401);
      const r = await fetch(`${s.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${job}` } });
      assert.equal(r.status, 401);
    });

    test('token revoke ID → that token gets 401; other tokens keep working', async () => {
      const victim = await tokenFor('carol', 'read:packages,user', ['--name', 'to-revoke']);
      const keeper = await tokenFor('carol', 'read:packages,user');
      const id = ((await json(api('/user/tokens', victim), 200)) as Json[]).find((t) => t.name === 'to-revoke').id;
      assert.equal(await wharf(['token', 'revoke', String(id)]), `revoked token ${id} (to-revoke)\n`);
      await json(api('/user', victim), 401);
      assert.equal((await json(api('/user', keeper), 200)).login, 'carol');
      assert.ok(!((await json(api('/user/tokens', keeper), 200)) as Json[]).some((t) => t.id === id));
    });

    test('user suspend NAME → its password and token get 401 at once; user unsuspend NAME → they work again', async () => {
      await wharf(['user', 'create', 'sus', '--password-stdin'], 'sus-password-1\n');
      const token = await tokenFor('sus');
      await json(api('/user', basic('sus', 'sus-password-1')), 200);
      await json(api('/user', token), 200);
      assert.equal(await wharf(['user', 'suspend', 'sus']), 'suspended sus: their password, tokens and sessions no longer work\n');
      await json(api('/user', token), 401);
      await json(api('/user', basic('sus', 'sus-password-1')), 401);
      await publish(token, { scope: 'sus', name: 'lib', version: '1.0.0' }, 401);
      assert.equal(await wharf(['user', 'unsuspend', 'sus']), 'unsuspended sus\n');
      await json(api('/user', token), 200);
      await json(api('/user', basic('sus', 'sus-password-1')), 200);
    });

    test('user admin NAME on|off → site administrator rights at once (GET /api/v1/users needs them)', async () => {
      const token = await tokenFor('sus');
      await json(api('/users', token), 403);
      assert.equal(await wharf(['user', 'admin', 'sus', 'on']), 'sus is a site administrator\n');
      await json(api('/users', token), 200);
      assert.equal(await wharf(['user', 'admin', 'sus', 'off']), 'sus is not a site administrator\n');
      await json(api('/users', token), 403);
      await wharfFails(['user', 'admin', 'sus', 'maybe'], 2, /expected on or off, got "maybe"/);
    });

    test('user delete NAME → exit 1 while they own packages; --force deletes them and their packages; their token gets 401', async () => {
      const token = await tokenFor('sus');
      await publish(token, { scope: 'sus', name: 'lib', version: '1.0.0' });
      await wharfFails(['user', 'delete', 'sus'], 1, /sus owns 1 package: delete them first, or force/);
      await json(api('/user', token), 200);
      assert.equal(await wharf(['user', 'delete', 'sus', '--force']), 'deleted user sus and 1 package\n');
      await json(api('/user', token), 401);
      await json(api('/users/sus', null), 404);
      assert.equal(await packumentStatus('sus', 'lib', aliceToken), 404);
      await wharfFails(['user', 'suspend', 'sus'], 1, /no user named "sus"/);
      await wharf(['user', 'create', 'gone']);
      assert.equal(await wharf(['user', 'delete', 'gone']), 'deleted user gone\n', 'a user who owns nothing');
    });

    test('usage errors exit 2 with the usage on stderr, and change nothing', async () => {
      const cases: [string[], RegExp, string?][] = [
        [[], /^usage: wharf \[--data DIR\] NOUN VERB/],
        [['frobnicate'], /unknown command "frobnicate"/],
        [['user', 'create'], /^wharf: missing NAME\nusage:\n  wharf user create NAME/],
        [['user', 'create', 'x1', '--bogus'], /^wharf: unknown option --bogus\nusage:\n  wharf user create NAME \[--admin\][^\n]*\n$/],
        [['user', 'create', 'x1', '--email'], /^wharf: --email needs a value\n/],
        [['user', 'create', 'x1', 'x2'], /^wharf: unexpected argument "x2"\n/],
        [['user', 'list', '--admin'], /^wharf: unknown option --admin\nusage:\n  wharf user list/],
        [['token', 'list'], /^wharf: missing USER\n/],
        [['package', 'grant', 'npm'], /^wharf: missing OWNER\/NAME USER\|OWNER\/REPO\n/],
        [['user'], /^wharf: missing VERB after "user"\nusage:\n  wharf user create/],
        [['user', 'frobnicate'], /^wharf: unknown command "user frobnicate"\nusage:\n  wharf user create/],
        [['user', 'create', 'x1', '--password-stdin'], /empty password/, ''],
        [['org', 'create', 'x1'], /--owner USER is required/],
        [['org', 'add-member', 'acme', 'carol', '--role', 'boss'], /--role must be owner or member/],
        [['repo', 'create', 'noslash'], /expected OWNER\/NAME/],
        [['repo', 'create', 'alice/x1', '--visibility', 'secret'], /--visibility must be one of public, private, internal/],
        [['repo', 'grant', 'alice/secret', 'carol'], /--role read\|write\|admin is required/],
        [['token', 'create', 'alice'], /--scopes is required/],
        [['token', 'create', 'alice', '--scopes', 'root'], /unknown scope: root/],
        [['token', 'create', 'alice', '--scopes', 'read:packages', '--expires-in', 'forever'], /bad duration/],
        [['token', 'create-job', 'alice/app', '--ttl', 'soon'], /bad duration/],
        [['package', 'visibility', 'npm', 'alice/hello', 'secret'], /VISIBILITY must be one of/],
        [['package', 'grant', 'npm', 'alice/hello', 'carol'], /--role read\|write\|admin is required/],
        [['package', 'grant', 'npm', 'alice/hello', 'carol', '--role', 'owner'], /--role must be one of/],
      ];
      await inBatches(cases, 4, ([args, message, stdin]) => wharfFails(args, 2, message, stdin));
      await json(api('/users/x1', null), 404);
      await json(api('/repos/alice/x1', aliceToken), 404);
      assert.equal(await packumentStatus('alice', 'hello', null), 401, 'still private');
      assert.equal((await s.cli(['help'])).code, 0, '`wharf help` is not an error');
    });

    test('unknown users, owners, repositories, packages and tokens exit 1 with a message on stderr', async () => {
      const cases: [string[], RegExp][] = [
        [['token', 'create', 'ghost', '--scopes', 'read:packages'], /no user named "ghost"/],
        [['org', 'create', 'ghostorg', '--owner', 'ghost'], /no user named "ghost"/],
        [['org', 'add-member', 'acme', 'ghost'], /no user named "ghost"/],
        [['repo', 'create', 'ghost/x'], /no user or organization named "ghost"/],
        [['repo', 'grant', 'alice/secret', 'ghost', '--role', 'read'], /no user named "ghost"/],
        [['token', 'create-job', 'alice/nothing'], /no repository alice\/nothing/],
        [['package', 'grant', 'npm', 'alice/hello', 'ghost', '--role', 'read'], /no user named "ghost"/],
        [['package', 'visibility', 'npm', 'alice/nothing', 'public'], /no npm package alice\/nothing/],
        [['token', 'revoke', 'whp_000000000000000000000000000000000000'], /no such token/],
        [['user', 'create', 'alice'], /already taken/],
      ];
      await inBatches(cases, 4, ([args, message]) => wharfFails(args, 1, message));
      await json(api('/orgs/ghostorg', null), 404);
    });

    test('hook create/list/update/deliveries/redeliver/delete: the same hooks as the REST API, sent by the server', async () => {
      // A receiver that fails the first request, then answers 200.
      const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];
      const rx = http.createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        got.push({ headers: req.headers, body });
        res.statusCode = got.length === 1 ? 500 : 200;
        res.end('ok');
      });
      await new Promise<void>((r) => rx.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
      const until = async <T>(what: string, fn: () => T | false | Promise<T | false>): Promise<T> => {
        for (const end = Date.now() + 8000; ; await new Promise((r) => setTimeout(r, 50))) {
          const v = await fn();
          if (v) return v as T;
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        }
      };
      try {
        const id = (await wharf(['hook', 'create', 'alice', '--url', url, '--secret-stdin', '--events', 'package'], 'cli-secret\n')).trim();
        assert.match(id, /^\d+$/, 'create prints the hook id alone');
        const repoHook = (await wharf(['hook', 'create', 'alice/app', '--url', `${url}?repo`, '--secret', 'x', '--inactive'])).trim();
        const hookRow = (id: string, url: string, state: string, secret: string) => ({ ID: id, URL: url, EVENTS: 'package', STATE: state, 'CONTENT-TYPE': 'json', SECRET: secret });
        const listed = await wharf(['hook', 'list', 'alice']);
        assert.match(listed, /^ID +URL +EVENTS +STATE +CONTENT-TYPE +SECRET\n/);
        assert.deepEqual(rows(listed), [hookRow(id, url, 'active', 'secret')]);
        assert.deepEqual(rows(await wharf(['hook', 'list', 'alice/app'])), [hookRow(repoHook, `${url}?repo`, 'inactive', 'secret')]);
        // The REST API sees the same hooks.
        const rest: Json[] = await json(api('/users/alice/hooks', aliceToken), 200);
        assert.deepEqual(rest.map((h) => [String(h.id), h.config.url, h.active]), [[id, url, true]]);
        assert.equal((await json(api(`/repos/alice/app/hooks/${repoHook}`, aliceToken), 200)).active, false);

        await publish(aliceToken, { scope: 'alice', name: 'hooked', version: '1.0.0' });
        const first = await until('the retried delivery', () => got.length >= 2 && got);
        assert.equal(first[0].headers['x-github-delivery'], first[1].headers['x-github-delivery'], 'a retry keeps its id');
        assert.equal(first[1].headers['x-hub-signature-256'], `sha256=${createHmac('sha256', 'cli-secret').update(first[1].body).digest('hex')}`, 'the secret from stdin, without its newline');
        const [line] = (await until('delivered', async () => {
          const out = await wharf(['hook', 'deliveries', id]);
          return / delivered /.test(out) && out;
        })).trim().split('\n').slice(1);
        const [deliveryId, state, status, duration, attempts, action] = line.split(/ +/);
        assert.equal(deliveryId, first[0].headers['x-github-delivery']);
        assert.deepEqual([state, status, attempts, action], ['delivered', '200', '2', 'published']);
        assert.match(duration, /^\d+ms$/);

        const again = (await wharf(['hook', 'redeliver', id, deliveryId])).trim();
        assert.match(again, /^[0-9a-f-]{36}$/);
        await until('the redelivery', () => got.some((g) => g.headers['x-github-delivery'] === again));
        const delivered = await wharf(['hook', 'deliveries', id]);
        assert.match(delivered, /^ID +STATE +STATUS +DURATION +ATTEMPTS +ACTION +CREATED +REDELIVERY +ERROR\n/);
        assert.match(delivered, new RegExp(`^${again} +(pending|delivered) .* redelivery`, 'm'));

        assert.deepEqual(rows(await wharf(['hook', 'update', id, '--inactive', '--no-secret', '--url', `${url}/v2`])), [hookRow(id, `${url}/v2`, 'inactive', 'no-secret')]);
        const before = got.length;
        await publish(aliceToken, { scope: 'alice', name: 'hooked', version: '1.0.1' });
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(got.length, before, 'an inactive hook hears nothing');

        await wharfFails(['hook', 'create', 'alice', '--url', 'ftp://example.com/'], 1, /must be http or https/);
        await wharfFails(['hook', 'create', 'alice'], 2, /--url URL is required/);
        await wharfFails(['hook', 'create', 'alice', '--url', url, '--events', 'push'], 2, /--events must be one of package, \*/);
        await wharfFails(['hook', 'create', 'alice', '--url', url, '--secret', 'a', '--secret-stdin'], 2, /give one of --secret, --secret-stdin/, 'b');
        await wharfFails(['hook', 'create', 'ghost', '--url', url], 1, /no user or organization named "ghost"/);
        await wharfFails(['hook', 'update', id], 2, /nothing to change/);
        await wharfFails(['hook', 'update', 'abc', '--active'], 2, /expected a hook ID/);
        await wharfFails(['hook', 'redeliver', id, 'no-such-delivery'], 1, /delivery not found/);
        await wharfFails(['hook', 'redeliver', repoHook, deliveryId], 1, /delivery not found/);
        assert.equal(await wharf(['hook', 'delete', id]), `deleted hook ${id}\n`);
        await wharfFails(['hook', 'delete', id], 1, new RegExp(`no hook ${id}`));
        const none = await s.cli(['hook', 'list', 'alice']);
        assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', `${opened()}no hooks on alice — add one with: wharf hook create alice --url URL\n`]);
        await json(api(`/users/alice/hooks/${id}`, aliceToken), 404);
        assert.equal(await wharf(['hook', 'delete', repoHook]), `deleted hook ${repoHook}\n`);
      } finally {
        rx.closeAllConnections();
        await new Promise((r) => rx.close(r));
      }
    });

    test('user list, org list, repo list [OWNER], package list OWNER [--type TYPE]: a header row, then aligned columns', async () => {
      const users = await wharf(['user', 'list']);
      assert.match(users, /^NAME +ADMIN +EMAIL +PASSWORD +STATE +CREATED\n/);
      const byName = new Map(rows(users).map((r) => [r.NAME, r]));
      assert.deepEqual({ ...byName.get('alice'), CREATED: undefined }, { NAME: 'alice', ADMIN: 'yes', EMAIL: 'alice@example.com', PASSWORD: 'set', STATE: 'active', CREATED: undefined });
      assert.deepEqual([byName.get('bob')?.ADMIN, byName.get('bob')?.EMAIL, byName.get('bob')?.PASSWORD], ['no', '-', 'none']);
      assert.equal(byName.get('carol')?.EMAIL, 'carol@example.com');
      assert.ok(!byName.has('sus') && !byName.has('acme'), 'deleted users and organizations are not users');
      // The columns line up: every row's second column starts where the header's does.
      const lines = users.trimEnd().split('\n');
      assert.ok(lines.every((l) => l.length > 10 && l.indexOf(l.split(/ {2,}/)[1]) === lines[0].indexOf('ADMIN')), users);

      assert.deepEqual(rows(await wharf(['org', 'list'])).map((r) => [r.NAME, r.OWNERS, r.MEMBERS]), [['acme', 'alice,bob', '3']]);

      const repos = rows(await wharf(['repo', 'list', 'alice']));
      const secret = repos.find((r) => r.NAME === 'alice/secret');
      assert.deepEqual([secret?.VISIBILITY, secret?.COLLABORATORS], ['private', '1']);
      assert.ok(repos.some((r) => r.NAME === 'alice/app'));
      assert.ok(repos.every((r) => r.NAME.startsWith('alice/')), 'only alice\'s');
      const everyone = rows(await wharf(['repo', 'list']));
      assert.ok(everyone.length >= repos.length && everyone.some((r) => r.NAME === 'alice/secret'));
      const noRepos = await s.cli(['repo', 'list', 'bob']);
      assert.deepEqual([noRepos.code, noRepos.stdout, noRepos.stderr], [0, '', `${opened()}no repositories of bob — create one with: wharf repo create bob/NAME\n`]);

      const npm = rows(await wharf(['package', 'list', 'alice', '--type', 'npm']));
      const hello = npm.find((r) => r.NAME === '@alice/hello');
      assert.ok(hello, 'npm packages are listed as npm names them');
      assert.deepEqual([hello.TYPE, hello.VISIBILITY, hello.VERSIONS], ['npm', 'private', '1']);
      const app = npm.find((r) => r.NAME === '@alice/app');
      assert.deepEqual([app?.REPOSITORY, app?.INHERITS], ['alice/app', 'yes'], 'linked to its repository, and inherits from it');
      assert.deepEqual(rows(await wharf(['package', 'list', 'alice'])).map((r) => r.NAME).sort(), npm.map((r) => r.NAME).sort());
      const none = await s.cli(['package', 'list', 'alice', '--type', 'docker']);
      assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', `${opened()}no container packages of alice\n`]);
      await wharfFails(['package', 'list', 'ghost'], 1, /no user or organization named "ghost"/);
    });

    test('TYPE is checked against the formats (docker means container); @OWNER/NAME is an npm name', async () => {
      const cases: [string[], RegExp][] = [
        [['package', 'visibility', 'pypi', 'alice/hello', 'public'], /^wharf: unknown package type "pypi": one of npm, container, maven, rubygems, nuget, generic\nusage:\n  wharf package visibility TYPE/],
        [['package', 'list', 'alice', '--type', 'deb'], /^wharf: unknown package type "deb": one of npm, container, maven, rubygems, nuget, generic\n/],
        [['package', 'grant', 'container', '@alice/hello', 'bob', '--role', 'read'], /"@alice\/hello" is an npm name: a container package is OWNER\/NAME/],
        [['package', 'visibility', 'npm', '@alice', 'public'], /expected OWNER\/NAME or @OWNER\/NAME, got "alice"/],
      ];
      await inBatches(cases, 4, ([args, message]) => wharfFails(args, 2, message));
      // docker is accepted, and means the container format.
      await wharfFails(['package', 'visibility', 'docker', 'alice/nothing', 'public'], 1, /no container package alice\/nothing/);

      assert.equal(await wharf(['package', 'visibility', 'npm', '@alice/hello', 'internal']), 'npm package alice/hello is now internal\n');
      assert.equal((await json(api('/users/alice/packages/npm/hello', aliceToken), 200)).visibility, 'internal');
      assert.equal(await wharf(['package', 'visibility', 'npm', 'alice/hello', 'private']), 'npm package alice/hello is now private\n', 'OWNER/NAME still works');
      assert.equal(await wharf(['package', 'grant', 'npm', '@alice/hello', 'carol', '--role', 'read']), 'carol has read on npm package alice/hello\n');
      assert.equal(await wharf(['package', 'revoke', 'npm', '@alice/hello', 'carol']), 'carol no longer has access to npm package alice/hello\n');
    });

    test('gc --dry-run says what it would do, in the conditional, lists it, and changes nothing; gc then does it', async () => {
      // What earlier tests left unreferenced goes first, so that what follows is all there is to collect.
      await wharf(['gc', '--grace', '1s']);
      // A version deleted long ago (its tarball named by nothing else) and an upload abandoned long ago.
      await publish(aliceToken, { scope: 'alice', name: 'gc-me', version: '1.0.0' });
      await publish(aliceToken, { scope: 'alice', name: 'gc-me', version: '2.0.0' });
      const pkg = (await s.core.packages.find('alice', 'npm', 'gc-me'))!;
      const v1 = (await s.core.packages.version(pkg.id, '1.0.0'))!;
      const [file] = await s.core.packages.files(v1.id);
      const longAgo = new Date(Date.now() - 400 * 864e5).toISOString();
      await s.core.db.updateTable('package_versions').set({ deleted_at: longAgo }).where('id', '=', v1.id).execute();
      const upload = await s.core.uploads.create(pkg.id);
      await s.core.db.updateTable('upload_sessions').set({ updated_at: longAgo }).where('id', '=', upload.id).execute();
      await new Promise((r) => setTimeout(r, 1100)); // past --grace 1s

      const dry = await wharf(['gc', '--dry-run', '--grace', '1s']);
      const lines = dry.trimEnd().split('\n');
      assert.match(lines[0], /^would purge 1 version and 0 packages deleted more than 30 days ago/);
      assert.equal(lines[1], `  npm @alice/gc-me 1.0.0, deleted ${longAgo}`);
      assert.match(lines[2], /^would expire 1 abandoned upload \(0 bytes\)$/);
      assert.match(lines[3], new RegExp(`^  upload ${upload.id}, 0 bytes, idle since ${longAgo}$`));
      assert.match(lines[4], /^would remove 1 blob no version refers to \(\d+(\.\d)? (bytes|kB)\), would release 0 holds /, 'the tarball only the purged version names');
      assert.match(lines[5], new RegExp(`^  ${file.blob_digest}, \\d`));
      assert.match(lines[6], /^would remove 0 temp files/);
      assert.match(lines[7], /^would free \S+ (bytes|kB) in all — nothing was changed \(dry run\)$/);
      assert.doesNotMatch(dry, /\b(purged|expired|removed|freed)\b/, 'nothing in the past tense');
      assert.ok(await s.core.packages.version(pkg.id, '1.0.0', { includeDeleted: true }), 'the version is still there');
      assert.ok(await s.core.blobs.stat(file.blob_digest), 'the blob is still there');
      await s.core.uploads.get(upload.id, pkg.id);

      const done = await wharf(['gc', '--grace', '1s']);
      assert.match(done, /^purged 1 version and 0 packages .*\nexpired 1 abandoned upload\nremoved 1 blob no version refers to, releasing 0 holds .*\nremoved 0 temp files .*\nfreed \S+ (bytes|kB) in all\n$/);
      assert.equal(await s.core.packages.version(pkg.id, '1.0.0', { includeDeleted: true }), undefined);
      assert.equal(await s.core.blobs.stat(file.blob_digest), null);
      assert.equal(await packumentStatus('alice', 'gc-me', aliceToken), 200, 'the live version stays');
      assert.match(await wharf(['gc', '--dry-run']), /^would purge 0 versions and 0 packages .*\nwould expire 0 abandoned uploads\nwould remove 0 blobs/);
    });

    test('the CLI works with the server stopped; the restarted server sees its changes', async () => {
      await s.stop({ keep: true });
      await wharf(['user', 'create', 'dave']);
      const token = await tokenFor('dave', 'read:packages');
      await wharf(['package', 'visibility', 'npm', 'alice/hello', 'public']);
      s = await startWharf({ env, reuse: s });
      assert.equal((await json(api('/user', token), 200)).login, 'dave');
      assert.equal(await packumentStatus('alice', 'hello', null), 200);
      assert.equal((await json(api('/user', aliceToken), 200)).login, 'alice', 'tokens survive a restart');
    });
  });
}
