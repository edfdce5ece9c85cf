// `npm start` as a person meets it: one plain line when it is ready (at a terminal), how to create the first user
// when there is none, and a one-line error naming WHARF_PORT when the port is taken.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, ROOT, serverCommand, tempDir } from '../helpers/wharf.ts';

/** What `npm start` runs once its prestart script has built dist/ (the last test runs `npm start` itself). */
const START = serverCommand();

test('at a terminal: "Wharf ready on http://localhost:PORT — data in DIR (SQLite)", then how to create the first administrator', async () => {
  const port = await freePort();
  const data = tempDir();
  // `script` gives the server a terminal, as `npm start` in a shell has (shared/CLIENTS.md: bsdutils).
  const proc = spawn('script', ['-qfec', START.join(' '), '/dev/null'], {
    cwd: ROOT, detached: true, env: { ...process.env, WHARF_DATA: data, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' },
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!/password-stdin/.test(out) && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const lines = out.replace(/\r/g, '').split('\n');
    assert.ok(lines.includes(`Wharf ready on http://localhost:${port} — data in ${data} (SQLite)`), out);
    assert.match(out, new RegExp(`No users yet\\. Create the first administrator .* sign in at http://localhost:${port}/-/login:`));
    assert.match(out, /node bin\/wharf\.mjs user create admin --admin --password-stdin/);
    assert.doesNotMatch(out, /"level"/, 'no JSON log lines at warn level on a quiet start');
    // The default data folder reads as the README writes it.
    assert.doesNotMatch(out, /data in data /);

    // The printed command, typed at a terminal as printed: it asks for the password twice, without echo.
    const command = out.replace(/\r/g, '').split('\n').find((l) => l.includes('user create admin'))!.trim();
    const cli = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, WHARF_DATA: data } });
    let typed = '';
    cli.stdout.on('data', (d) => (typed += d));
    const answer = async (prompt: RegExp, text: string) => {
      const end = Date.now() + 30_000;
      while (!prompt.test(typed) && Date.now() < end && cli.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.match(typed, prompt);
      cli.stdin.write(text + '\r');
    };
    await answer(/Password: /, 'first admin pw');
    await answer(/Repeat it: /, 'first admin pw');
    const code = await new Promise<number | null>((r) => (cli.exitCode !== null ? r(cli.exitCode) : cli.on('exit', r)));
    assert.equal(code, 0, typed);
    assert.match(typed, /created user admin \(admin\)/);
    assert.doesNotMatch(typed, /first admin pw/, 'the password is not echoed');
    const me = await fetch(`http://127.0.0.1:${port}/api/v1/user`, { headers: { authorization: `Basic ${Buffer.from('admin:first admin pw').toString('base64')}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { login: string; site_admin: boolean }).site_admin, true);
  } finally {
    try {
      process.kill(-proc.pid!, 'SIGTERM');
    } catch {}
  }
});

test('the port is taken → one line naming WHARF_PORT on stderr, exit 1, no stack', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const proc = spawn(START[0], START.slice(1), { cwd: ROOT, env: { ...process.env, WHARF_DATA: tempDir(), WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' } });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    assert.equal(code, 1, err);
    const lines = err.trim().split('\n');
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], new RegExp(`^wharf: port ${port} is already in use: .*WHARF_PORT=`));
  } finally {
    holder.close();
  }
});

test('`npm start` builds dist/ when src/ changed, then runs compiled JavaScript: node dist/main.js, no TypeScript loader', async () => {
  const port = await freePort();
  const data = tempDir();
  const proc = spawn('npm', ['start'], { cwd: ROOT, detached: true, env: { ...process.env, WHARF_DATA: data, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      assert.ok(Date.now() < deadline && proc.exitCode === null, 'npm start did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The process serving: npm's child (through sh), found by its parent chain.
    const children = (pid: number) => {
      const out: number[] = [];
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          if (Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid) out.push(Number(d));
        } catch {}
      }
      return out;
    };
    const tree: number[] = [];
    for (let queue = [proc.pid!]; queue.length; ) {
      const p = queue.shift()!;
      tree.push(p);
      queue.push(...children(p));
    }
    const commands = tree.map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean));
    // npm runs `sh -c "node dist/main.js"`, and sh the server itself.
    const server = commands.find((c) => /(^|\/)node$/.test(c[0]) && c.includes('dist/main.js'));
    assert.ok(server, JSON.stringify(commands));
    assert.deepEqual(server.slice(1), ['dist/main.js']);
    assert.ok(!commands.flat().some((a) => /tsx|main\.ts$/.test(a)), JSON.stringify(commands));
    assert.ok(fs.existsSync(path.join(ROOT, 'dist/main.js')));
    // Built once: another build check leaves it as it is.
    const before = fs.statSync(path.join(ROOT, 'dist/main.js')).mtimeMs;
    const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
    assert.equal(r.status, 0);
    assert.equal(fs.statSync(path.join(ROOT, 'dist/main.js')).mtimeMs, before);
  } finally {
    try {
      process.kill(-proc.pid!, 'SIGTERM');
    } catch {}
    fs.rmSync(data, { recursive: true, force: true });
  }
});
