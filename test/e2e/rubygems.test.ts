// End to end with Debian's gem (RubyGems 3.3) and bundle (Bundler 2.3) against Wharf started as `npm start`
// starts it: gem build + gem push, gem install from the full index (public anonymously, private with
// credentials in the URL), bundle install from the compact index (public; private with BUNDLE_127__0__0__1),
// dependencies between gems, a prerelease, a platform gem, gem yank, and 409 on a re-push (issue 6).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnWharf, type ChildServer } from '../helpers/wharf.ts';
import { ok, userWithToken, wharf } from './helpers-npm.ts';
import { buildGem, GemClient, makeProject, type GemDef } from './helpers-rubygems.ts';

const T = { timeout: 120_000 };

describe('gem and bundle against Wharf', { timeout: 180_000 }, () => {
  let server: ChildServer;
  let aliceToken: string;
  let src: string;
  let alice: GemClient;
  const clients: GemClient[] = [];
  const dirs: string[] = [];
  const gems = new Map<string, string>();

  const client = (env: Record<string, string> = {}) => {
    const c = new GemClient(env);
    clients.push(c);
    return c;
  };
  const project = (gemfile: string) => {
    const d = makeProject(gemfile);
    dirs.push(d);
    return d;
  };
  const linked = { github_repo: 'ssh://github.com/alice/hello' };
  const defs: GemDef[] = [
    { name: 'greeter', version: '1.0.0', metadata: linked },
    { name: 'greeter', version: '1.1.0', metadata: linked },
    { name: 'greeter', version: '2.0.0.pre', metadata: linked },
    { name: 'fancy', version: '0.1.0', deps: [['greeter', '~> 1.0']], metadata: { source_code_uri: 'https://github.com/alice/hello' } },
    { name: 'native', version: '1.0.0', platform: 'x86_64-linux', metadata: linked },
    { name: 'secret', version: '1.0.0' },
  ];
  const key = (g: GemDef) => `${g.name}-${g.version}${g.platform ? `-${g.platform}` : ''}`;
  const push = (c: GemClient, file: string, apiKey = aliceToken) => c.gem(['push', file, '--host', src], c.home, { GEM_HOST_API_KEY: apiKey });
  /** `gem install` from Wharf only (gem 3.3 resolves through the compact index, since the source root answers its HEAD). */
  const install = (c: GemClient, args: string[], source = `${src}/`) => c.gem(['install', ...args, '--clear-sources', '--source', source, '--no-document']);

  before(async () => {
    server = await spawnWharf();
    aliceToken = await userWithToken(server, 'alice');
    await userWithToken(server, 'bob');
    await wharf(server, ['repo', 'create', 'alice/hello', '--visibility', 'public']);
    src = `${server.url}/rubygems/alice`;
    alice = client();
    for (const d of defs) {
      const file = await buildGem(alice, d);
      dirs.push(path.dirname(file));
      gems.set(key(d), file);
    }
  });

  after(async () => {
    await server?.stop();
    for (const c of clients) c.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('gem push with GEM_HOST_API_KEY registers each gem; a re-push of the same version is refused (409)', T, async () => {
    for (const d of defs) {
      const r = ok(await push(alice, gems.get(key(d))!), `gem push ${key(d)}`);
      assert.match(r.output, new RegExp(`Successfully registered gem: ${d.name} \\(${d.version.replace(/\./g, '\\.')}${d.platform ? `-${d.platform}` : ''}\\)`));
    }
    const again = await push(alice, gems.get('greeter-1.0.0')!);
    assert.notEqual(again.code, 0, again.output);
    assert.match(again.output, /Repushing of gem versions is not allowed/);
    const anon = await push(client(), gems.get('greeter-1.0.0')!, 'not-a-token');
    assert.notEqual(anon.code, 0);
  });

  test('gem install (public, anonymous): dependencies resolve; prerelease and platform gems install', T, async () => {
    const c = client();
    const r = ok(await install(c, ['fancy']), 'gem install fancy');
    assert.match(r.output, /Successfully installed greeter-1\.1\.0/);
    assert.match(r.output, /Successfully installed fancy-0\.1\.0/);
    assert.equal(ok(await c.required('greeter'), 'require greeter').stdout, '1.1.0 ruby');

    ok(await install(c, ['greeter', '--pre', '-v', '2.0.0.pre']), 'gem install greeter --pre');
    assert.equal(ok(await c.required('greeter', '2.0.0.pre'), 'require greeter 2.0.0.pre').stdout, '2.0.0.pre ruby');

    // By name: gem resolves through the compact index (the source root answers its HEAD) and picks the
    // gem built for this platform.
    const n = ok(await install(c, ['native']), 'gem install native');
    assert.match(n.output, /Successfully installed native-1\.0\.0-x86_64-linux/);
    assert.equal(ok(await c.required('native'), 'require native').stdout, '1.0.0 x86_64-linux');
  });

  test('the full index: gem fetch, gem list --remote and gem search read specs.4.8.gz and the quick gemspecs', T, async () => {
    const c = client();
    const f = ok(await c.gem(['fetch', 'native', '--clear-sources', '--source', `${src}/`], c.home), 'gem fetch native');
    assert.match(f.output, /Downloaded native-1\.0\.0-x86_64-linux/);
    const g = ok(await c.gem(['fetch', 'greeter', '-v', '1.0.0', '--clear-sources', '--source', `${src}/`], c.home), 'gem fetch greeter 1.0.0');
    assert.match(g.output, /Downloaded greeter-1\.0\.0/);
    const l = ok(await c.gem(['list', '--remote', '--all', '--clear-sources', '--source', `${src}/`], c.home), 'gem list --remote');
    assert.match(l.output, /greeter \(1\.1\.0, 1\.0\.0\)/);
    assert.match(l.output, /native \(1\.0\.0 x86_64-linux\)/);
    const p = ok(await c.gem(['search', 'gree', '--remote', '--prerelease', '--clear-sources', '--source', `${src}/`], c.home), 'gem search --prerelease');
    assert.match(p.output, /greeter \(2\.0\.0\.pre\)/);
  });

  test('gem install of a private gem: refused anonymously, installed with credentials in the source URL', T, async () => {
    const c = client();
    const anon = await install(c, ['secret']);
    assert.notEqual(anon.code, 0, anon.output);
    const withCreds = `http://alice:${aliceToken}@127.0.0.1:${server.port}/rubygems/alice/`;
    ok(await install(c, ['secret'], withCreds), 'gem install secret with credentials');
    assert.equal(ok(await c.required('secret'), 'require secret').stdout, '1.0.0 ruby');
  });

  test('bundle install from the compact index: public anonymously; private with BUNDLE_127__0__0__1', T, async () => {
    const c = client();
    const proj = project(`source "${src}"\n\ngem "fancy"\ngem "native"\n`);
    const r = ok(await c.bundle(['install'], proj), 'bundle install');
    assert.match(r.output, /Bundle complete!/);
    const lock = fs.readFileSync(path.join(proj, 'Gemfile.lock'), 'utf8');
    assert.match(lock, /^ {4}fancy \(0\.1\.0\)$/m);
    assert.match(lock, /^ {6}greeter \(~> 1\.0\)$/m);
    assert.match(lock, /^ {4}greeter \(1\.1\.0\)$/m);
    assert.match(lock, /^ {4}native \(1\.0\.0-x86_64-linux\)$/m);
    const exec = ok(await c.bundle(['exec', 'ruby', '-e', 'require "fancy"; require "greeter"; print Greeter::VERSION'], proj), 'bundle exec');
    assert.equal(exec.stdout, '1.1.0');

    const priv = project(`source "${src}"\n\ngem "secret"\n`);
    const denied = await c.bundle(['install'], priv);
    assert.notEqual(denied.code, 0, denied.output);
    const withCreds = client({ BUNDLE_127__0__0__1: `alice:${aliceToken}` });
    ok(await withCreds.bundle(['install'], priv), 'bundle install secret with BUNDLE_127__0__0__1');
    assert.match(fs.readFileSync(path.join(priv, 'Gemfile.lock'), 'utf8'), /^ {4}secret \(1\.0\.0\)$/m);
  });

  test('gem yank: the yanked version no longer resolves, for gem and for bundle', T, async () => {
    const y = ok(await alice.gem(['yank', 'greeter', '-v', '1.1.0', '--host', src], alice.home, { GEM_HOST_API_KEY: aliceToken }), 'gem yank');
    assert.match(y.output, /Successfully deleted gem: greeter \(1\.1\.0\)/);

    const c = client();
    const pinned = await install(c, ['greeter', '-v', '1.1.0']);
    assert.notEqual(pinned.code, 0, pinned.output);
    const r = ok(await install(c, ['fancy']), 'gem install fancy after the yank');
    assert.match(r.output, /Successfully installed greeter-1\.0\.0/);

    const proj = project(`source "${src}"\n\ngem "fancy"\n`);
    ok(await c.bundle(['install'], proj), 'bundle install after the yank');
    assert.match(fs.readFileSync(path.join(proj, 'Gemfile.lock'), 'utf8'), /^ {4}greeter \(1\.0\.0\)$/m);
  });
});
