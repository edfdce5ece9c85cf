// The README's "Quick start: the web UI", in Chromium against Wharf started as `npm start` starts it (at a
// terminal, with an empty data folder): the first administrator is created with the very command Wharf prints,
// then signs in, creates an organization, a repository and a token in the UI, publishes with that token using the
// real npm client, and sees the package on the organization's page.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, ok, run } from '../e2e/helpers-npm.ts';
import { newcomerBlocks, README } from '../e2e/helpers-newcomer.ts';
import { freePort, ROOT, serverCommand, tempDir, type ChildServer } from '../helpers/wharf.ts';
import { openBrowser, shot, type Browser } from './browser.ts';

const PASSWORD = 'a long admin password';

describe('README quick start: the web UI (Chromium, real npm)', () => {
  let proc: ChildProcess;
  let data: string;
  let port: number;
  let out = '';
  let b: Browser;
  let client: Client | undefined;

  before(async () => {
    port = await freePort();
    data = tempDir();
    // `script` gives the server a terminal, as `npm start` in a shell has: only then does it print the plain lines.
    proc = spawn('script', ['-qfec', serverCommand().join(' '), '/dev/null'], {
      cwd: ROOT, detached: true, env: { ...process.env, WHARF_DATA: data, WHARF_PORT: String(port), WHARF_HOST: '127.0.0.1', WHARF_LOG_LEVEL: 'warn' },
    });
    proc.stdout!.on('data', (d) => (out += d));
    const deadline = Date.now() + 30_000;
    while (!/--password-stdin/.test(out) && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    client?.dispose();
    if (proc?.pid) {
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {}
      if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
    }
    if (data) fs.rmSync(data, { recursive: true, force: true });
  });

  test('first admin as printed, sign in, organization, repository and token in the UI, npm publish with it, the package on the org page', async () => {
    // 1. The command Wharf printed, run as printed from the folder `npm start` ran in.
    const text = out.replace(/\r/g, '');
    const login = new RegExp(`sign in at (http://localhost:${port}/-/login):`).exec(text)?.[1];
    assert.ok(login, text);
    const printed = /^ {2}(node \S+ user create admin --admin --password-stdin)$/m.exec(text)?.[1];
    assert.equal(printed, 'node bin/wharf.mjs user create admin --admin --password-stdin', 'the README copies this command');
    const [, ...args] = printed.split(' ');
    const created = await run(process.execPath, args, { cwd: ROOT, env: { ...process.env, WHARF_DATA: data }, stdin: `${PASSWORD}\n` });
    assert.equal(created.code, 0, created.output);
    assert.match(created.stdout, /created user admin \(admin\)/);

    // 2. Sign in at the printed address.
    const page = b.page;
    await page.goto(login);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/-/login')), page.getByRole('button', { name: 'Sign in' }).click()]);
    const header = page.locator('header.top');
    await header.getByRole('button', { name: /Sign out/ }).waitFor();
    const base = new URL(page.url()).origin;

    // 3. An organization, from the header.
    await header.getByRole('link', { name: 'New organization' }).click();
    await page.getByRole('heading', { name: 'Create an organization' }).waitFor();
    await page.getByLabel('Organization name').fill('acme');
    await Promise.all([page.waitForURL(/\/acme\?created=org$/), page.getByRole('button', { name: 'Create organization' }).click()]);
    await page.getByText('Organization created: you are its owner.').waitFor();

    // 4. A repository of it.
    await header.getByRole('link', { name: 'New repository' }).click();
    await page.getByLabel('Owner', { exact: true }).selectOption('acme');
    await page.getByLabel('Repository name').fill('widgets');
    assert.equal(await page.getByLabel(/^Public/).isChecked(), true, 'public by default');
    await Promise.all([page.waitForURL(/\/acme\/widgets\?created=repo$/), page.getByRole('button', { name: 'Create repository' }).click()]);
    await page.getByText('Repository created.').waitFor();
    await shot(page, 'quickstart-repository');
    // Its access page (visibility and collaborators) is one click away for its admins.
    await page.getByRole('link', { name: 'Access and collaborators' }).click();
    await page.getByRole('heading', { name: /^Access/, level: 1 }).waitFor();
    assert.equal(await page.getByLabel(/^Public/).isChecked(), true);
    await shot(page, 'repository-access');

    // 5. A token (Settings › Tokens: the header's "Tokens").
    await header.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Name').fill('laptop npm');
    await page.getByLabel(/write:packages/).check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('#new-token').textContent())?.trim() ?? '';
    assert.match(token, /^\S{20,}$/);

    // 6. Publish with it, with the README's own commands (its blocks marked newcomer=web, after the admin command
    // compared above): the token pasted where the README says, the port the server has.
    client = new Client({ url: `http://127.0.0.1:${port}`, port } as ChildServer, { scopes: [] });
    const web = newcomerBlocks(fs.readFileSync(README, 'utf8')).filter((b) => b.formats.includes('web'));
    assert.equal(web.length, 2, 'the web quick start: the first administrator, then the publish');
    assert.equal(web[0]!.text.trim(), printed, 'the README shows the command npm start prints');
    assert.match(web[1]!.text, /PASTE-THE-TOKEN-HERE/);
    const script = web[1]!.text.replaceAll('localhost:8080', `127.0.0.1:${port}`).replace('PASTE-THE-TOKEN-HERE', token);
    const published = await run('bash', ['-eo', 'pipefail', '-c', script], { cwd: client.home, env: client.env });
    assert.equal(published.code, 0, published.output);
    assert.match(published.output, /\+ @acme\/widgets@1\.0\.0/);
    assert.doesNotMatch(published.output, /npm warn publish/i, published.output);

    // 7. On the organization's page, and linked to the repository.
    await page.goto(`${base}/acme`);
    const listed = page.locator('a.pkg-name[href="/acme/-/packages/npm/widgets"]');
    await listed.waitFor();
    assert.match((await listed.textContent()) ?? '', /widgets/);
    await shot(page, 'quickstart-org');
    await page.goto(`${base}/acme/widgets`);
    await page.locator('a.pkg-name[href="/acme/-/packages/npm/widgets"]').waitFor();
    // Public, through its repository: an anonymous visitor sees it too.
    const r = await fetch(`http://127.0.0.1:${port}/npm/@acme%2fwidgets`);
    assert.equal(r.status, 200);

    // The administrator's header leads to the users.
    await header.getByRole('link', { name: 'Site admin' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await shot(page, 'site-admin-users');
    await page.getByRole('link', { name: 'admin', exact: true }).click();
    await page.getByRole('heading', { name: /^admin/, level: 1 }).waitFor();
    await shot(page, 'site-admin-user');
    assert.deepEqual(b.errors, []);
  });
});
