// The `wharf` admin CLI (bin/wharf.mjs), run as a real process against the database of a running server:
// every command of the section 2, what it prints (a token prints as the token alone), its exit codes
// (2 for usage, 1 for errors, with a message on stderr), and that the server sees its effects at once — on SQLite
// here (test/e2e/cli-suite.ts; cli-postgres.test.ts runs it on PostgreSQL) — and the CLI run from any folder.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ROOT, runProcess, tempDir } from '../helpers/wharf.ts';
import { cliSuite, inBatches } from './cli-suite.ts';

cliSuite('sqlite');

describe('wharf from any folder: where its data is, help, and no empty database made by mistake', () => {
  const BIN = path.join(ROOT, 'bin/wharf.mjs');
  /** The environment without any WHARF_* setting of the test run. */
  const clean = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_'))) as Record<string, string>;
  /** Runs `command args` in `cwd` (a folder other than the checkout), with only `env` as Wharf's settings. */
  function run(cwd: string, command: string[], env: Record<string, string> = {}, stdin = '') {
    return runProcess(command, { cwd, env: { ...clean(), ...env }, stdin });
  }
  const wharfIn = (cwd: string, args: string[], env: Record<string, string> = {}, stdin = '') => run(cwd, [process.execPath, BIN, ...args], env, stdin);
  const listing = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : null);

  let cwd: string;
  let data: string;
  before(() => {
    cwd = tempDir('wharf-cwd-');
    data = path.join(tempDir('wharf-data-'), 'data');
  });

  test('a command that is not a create finds no database: one line naming the folder and how to point elsewhere, exit 1, nothing created', async () => {
    const missing = path.join(cwd, 'nowhere');
    const empty = tempDir('wharf-empty-');
    const commands = [['user', 'list'], ['token', 'list', 'alice'], ['repo', 'list'], ['package', 'list', 'alice'], ['gc', '--dry-run'], ['audit'], ['user', 'suspend', 'alice'], ['hook', 'list', 'alice'], ['org', 'add-member', 'acme', 'bob'], ['token', 'create-job', 'alice/app']];
    // Each once (a CLI run costs a Node process), half against a missing folder, half against an empty one.
    await inBatches(commands.map((args, i) => [args, i % 2 ? empty : missing] as const), 4, async ([args, dir]) => {
      {
        const r = await wharfIn(cwd, [...args, '--data', dir]);
        assert.equal(r.code, 1, `wharf ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^wharf: no Wharf data in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(there is no wharf\\.db\\): point wharf .*--data DIR, WHARF_DATA=DIR or WHARF_DATABASE_URL=URL`));
      }
    });
    // The same through the environment.
    const r = await wharfIn(cwd, ['user', 'list'], { WHARF_DATA: missing });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Wharf data in .*nowhere/);
    assert.equal(listing(missing), null, 'no data folder was made');
    assert.deepEqual(listing(empty), [], 'nothing was made in an empty one');
    assert.deepEqual(listing(cwd), [], 'nor in the current folder');
  });

  test('with no --data and no WHARF_DATA, the data folder is the checkout\'s (where npm start keeps it), not the current folder', async () => {
    const root = path.join(ROOT, 'data');
    const existed = fs.existsSync(path.join(root, 'wharf.db'));
    const before = listing(root);
    const r = await wharfIn(cwd, ['user', 'list']);
    if (existed) assert.match(r.stderr, new RegExp(`^wharf: data in ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(SQLite\\)\n`));
    else {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `wharf: no Wharf data in ${root} (there is no wharf.db): point wharf at the server's data with --data DIR, WHARF_DATA=DIR or WHARF_DATABASE_URL=URL (nothing was created)\n`);
      assert.deepEqual(listing(root), before, 'nothing created in the checkout');
    }
    assert.deepEqual(listing(cwd), [], 'nothing created in the current folder');
  });

  test('create makes the database; --data before or after NOUN VERB, WHARF_DATA and WHARF_DATABASE_URL all reach it; stderr says which, once', async () => {
    const created = await wharfIn(cwd, ['user', 'create', 'alice', '--admin', '--data', data]);
    assert.deepEqual([created.code, created.stdout, created.stderr], [0, 'created user alice (admin)\n', `wharf: data in ${data} (SQLite), a new database\n`]);
    assert.ok(fs.existsSync(path.join(data, 'wharf.db')));
    const token = await wharfIn(cwd, ['--data', data, 'token', 'create', 'alice', '--scopes', 'read:packages']);
    assert.match(token.stdout, /^whp_[0-9A-Za-z]{36}\n$/, 'TOKEN=$(wharf token create …) gets the token alone');
    assert.equal(token.stderr, `wharf: data in ${data} (SQLite)\n`);

    const other = tempDir('wharf-other-');
    for (const [args, env] of [
      [['--data', data, 'user', 'list'], {}],
      [['user', '--data', data, 'list'], {}],
      [['user', 'list', `--data=${data}`], {}],
      [['user', 'list'], { WHARF_DATA: data }],
      [['user', 'list'], { WHARF_DATA: path.relative(cwd, data) }],
      [['user', 'list', '--data', data], { WHARF_DATA: other, WHARF_DATABASE_URL: `sqlite:${path.join(other, 'x.db')}` }],
    ] as [string[], Record<string, string>][]) {
      const r = await wharfIn(cwd, args, env);
      assert.equal(r.code, 0, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.equal(r.stderr, `wharf: data in ${data} (SQLite)\n`, `${args.join(' ')} ${JSON.stringify(env)}`);
      assert.match(r.stdout, /^NAME +ADMIN .*\nalice +yes /);
    }
    // A database elsewhere than its files: both are named.
    const apart = await wharfIn(cwd, ['user', 'list'], { WHARF_DATA: other, WHARF_DATABASE_URL: `sqlite:${path.join(data, 'wharf.db')}` });
    assert.equal(apart.stderr, `wharf: database ${path.join(data, 'wharf.db')} (SQLite), files in ${other}\n`);
    assert.deepEqual(listing(cwd), [], 'nothing created in the current folder');
  });

  test('a PostgreSQL URL is named without its password', async () => {
    const pg = await wharfIn(cwd, ['user', 'list'], { WHARF_DATA: data, WHARF_DATABASE_URL: 'postgres://wharf:s3cret@127.0.0.1:1/wharf' });
    assert.equal(pg.code, 1, 'nothing listens on port 1');
    assert.match(pg.stderr, /^wharf: database postgres:\/\/wharf:\*\*\*@127\.0\.0\.1:1\/wharf \(PostgreSQL\), files in /);
    assert.doesNotMatch(pg.stderr, /s3cret/);
  });

  test('bin/wharf on PATH and a symlink elsewhere (as npm link makes) run from any folder', async () => {
    const viaPath = await run(cwd, ['wharf', 'user', 'list', '--data', data], { PATH: `${path.join(ROOT, 'bin')}${path.delimiter}${process.env.PATH}` });
    assert.equal(viaPath.code, 0, viaPath.stderr);
    assert.match(viaPath.stdout, /^NAME +ADMIN/);
    assert.ok(fs.lstatSync(path.join(ROOT, 'bin/wharf')).isSymbolicLink(), 'bin/wharf is a symlink to wharf.mjs');
    const linkDir = tempDir('wharf-link-');
    fs.symlinkSync(BIN, path.join(linkDir, 'wharf'));
    // A tsconfig in the current folder is not Wharf's: it must not change how Wharf is compiled.
    fs.writeFileSync(path.join(cwd, 'tsconfig.json'), '{"compilerOptions":{"jsx":"preserve","experimentalDecorators":true,"useDefineForClassFields":false}}');
    try {
      const linked = await run(cwd, ['wharf', '--data', data, 'user', 'list'], { PATH: `${linkDir}${path.delimiter}${process.env.PATH}` });
      assert.equal(linked.code, 0, linked.stderr);
      assert.match(linked.stdout, /^NAME +ADMIN/);
    } finally {
      fs.rmSync(path.join(cwd, 'tsconfig.json'));
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.bin.wharf, 'bin/wharf.mjs', 'npm link puts bin/wharf.mjs on PATH');
  });

  test('help: wharf help NOUN, wharf NOUN --help, wharf NOUN VERB --help print usage on stdout, exit 0, and open nothing', async () => {
    const missing = path.join(cwd, 'nowhere');
    const help = (args: string[]) => wharfIn(cwd, [...args, '--data', missing]);
    for (const args of [['user', '--help'], ['help', 'user'], ['user', '-h'], ['user', 'help']]) {
      const r = await help(args);
      assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
      assert.match(r.stdout, /^usage:\n  wharf user create NAME .*\n  wharf user list .*\n(.*\n)*  --data DIR /, args.join(' '));
      assert.doesNotMatch(r.stdout, /wharf org /);
    }
    for (const args of [['user', 'create', '--help'], ['help', 'user', 'create'], ['user', 'create', 'x', '--admin', '-h']]) {
      const r = await help(args);
      assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
      assert.match(r.stdout, /^usage:\n  wharf user create NAME \[--admin\] \[--email E\] \[--password-stdin\] .*\n  --data DIR /, args.join(' '));
    }
    const pkg = await help(['package', 'grant', '--help']);
    assert.match(pkg.stdout, /^usage:\n  wharf package grant TYPE .*\n  TYPE: npm, container, maven, rubygems, nuget, generic \(docker and oci mean container\)/);
    const gc = await help(['gc', '--help']);
    assert.match(gc.stdout, /^usage:\n  wharf gc \[--dry-run\]/);
    const all = await help(['help']);
    assert.equal(all.code, 0);
    assert.match(all.stdout, /^usage: wharf \[--data DIR\] NOUN VERB \[args\]\n[^]*wharf user list[^]*wharf org list[^]*wharf repo list \[OWNER\][^]*wharf package list OWNER \[--type TYPE\]/);
    const bare = await wharfIn(cwd, []);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /^usage: wharf \[--data DIR\] NOUN VERB/);
    for (const [args, message] of [[['frobnicate', '--help'], /^wharf: unknown command "frobnicate"\nusage: wharf /], [['help', 'frobnicate'], /^wharf: unknown command "frobnicate"\n/], [['user', 'frobnicate', '--help'], /^wharf: unknown command "user frobnicate"\nusage:\n  wharf user create/]] as const) {
      const r = await help([...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    // Usage errors open nothing either, a create's included.
    const bad = await help(['user', 'create']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^wharf: missing NAME\n/);
    assert.equal(listing(missing), null);
    assert.deepEqual(listing(cwd), []);
  });

  test('signing keygen needs no database: it opens none and says nothing about data', async () => {
    const missing = path.join(cwd, 'nowhere');
    const out = tempDir('wharf-keys-');
    const r = await wharfIn(out, ['signing', 'keygen', '--data', missing], { COSIGN_PASSWORD: 'pw' });
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.deepEqual(listing(out), ['cosign.key', 'cosign.pub'], 'written in the current folder');
    assert.equal(listing(missing), null);
  });
});
