// End to end with the real curl and wget against Wharf on a real port: curl uploads (PUT -T) with a token as
// Basic and as Bearer, a second file in the same version, the same file again (409), downloads (GET, HEAD, Range,
// resume with curl -C - and wget -c), wget on a private package (it sends credentials after the 401 challenge)
// and anonymously on a public one; the web UI page lists the files with their curl commands; and a large file is
// streamed both ways with the server's memory flat (WHARF_GENERIC_E2E_MB, default 1024).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runProcess, startWharf, tempDir, type TestServer } from '../helpers/wharf.ts';

const BIG_MB = Number(process.env.WHARF_GENERIC_E2E_MB ?? 1024);

/** Runs a client; a missing client rejects (a failure, never a skip). */
async function run(cmd: string[], cwd: string) {
  return runProcess(cmd, { cwd, env: { PATH: process.env.PATH, HOME: cwd } });
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file)) h.update(c);
  return h.digest('hex');
}

describe('curl and wget against Wharf', { timeout: 600_000 }, () => {
  let s: TestServer;
  let token: string;
  let bobToken: string;
  let dir: string;
  const url = (p: string) => `${s.url}/generic/alice/tool/${p}`;
  const curl = (...args: string[]) => run(['curl', '-sS', ...args], dir);
  const status = async (...args: string[]) => (await curl('-o', '/dev/null', '-w', '%{http_code}', ...args)).stdout;

  before(async () => {
    s = await startWharf();
    token = await s.userWithToken('alice');
    bobToken = await s.userWithToken('bob');
    dir = tempDir('wharf-generic-e2e-');
    fs.writeFileSync(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz'), Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff)));
    fs.writeFileSync(path.join(dir, 'SHA256SUMS'), 'sums\n');
  });
  after(async () => {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('curl -T uploads with Basic (-u) and with a Bearer header; the same file again → 409', async () => {
    const up = await curl('-f', '-u', `alice:${token}`, '-T', 'tool-1.0.0-linux-amd64.tar.gz', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.equal(up.code, 0, up.stderr);
    assert.equal(JSON.parse(up.stdout).sha256, await fileSha256(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz')));
    const up2 = await curl('-f', '-H', `Authorization: Bearer ${token}`, '-T', 'SHA256SUMS', url('1.0.0/SHA256SUMS'));
    assert.equal(up2.code, 0, up2.stderr);
    assert.equal(await status('-u', `alice:${token}`, '-T', 'SHA256SUMS', url('1.0.0/SHA256SUMS')), '409');
    const again = await curl('-u', `alice:${token}`, '-T', 'SHA256SUMS', url('1.0.0/SHA256SUMS'));
    assert.match(again.stdout, /immutable/);
    // From a pipe: chunked, with no Content-Length.
    const piped = await runProcess(['curl', '-sSf', '-u', `alice:${token}`, '-T', '-', url('1.0.0/notes.txt')], { cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, stdin: 'release notes\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(JSON.parse(piped.stdout).size, 14);
    assert.equal(await status('-T', 'SHA256SUMS', url('1.0.0/anon')), '401');
    assert.equal(await status('-u', `alice:${token}`, '-T', 'SHA256SUMS', url('1.0.0/..%2F..%2Fetc%2Fpasswd')), '400');
  });

  test('curl downloads: GET -O, HEAD -I, Range -r, resume -C -', async () => {
    const src = path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz');
    const got = await curl('-f', '-u', `alice:${token}`, '-o', 'dl.tgz', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'dl.tgz')), fs.readFileSync(src));
    const head = await curl('-f', '-I', '-u', `alice:${token}`, url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.match(head.stdout, /content-length: 100000/i);
    assert.match(head.stdout, /content-disposition: attachment; filename="tool-1.0.0-linux-amd64.tar.gz"/i);
    const part = await curl('-f', '-r', '10-19', '-u', `alice:${token}`, '-o', 'part', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.equal(part.code, 0, part.stderr);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'part')), fs.readFileSync(src).subarray(10, 20));
    fs.writeFileSync(path.join(dir, 'resumed.tgz'), fs.readFileSync(src).subarray(0, 40_000));
    const resumed = await curl('-f', '-C', '-', '-u', `alice:${token}`, '-o', 'resumed.tgz', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'resumed.tgz')), fs.readFileSync(src));
  });

  test('wget: a private file with --user/--password (after the challenge); other users and anonymous fail', async () => {
    const w = await run(['wget', '-q', '--user', 'alice', '--password', token, '-O', 'w.txt', url('1.0.0/SHA256SUMS')], dir);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'w.txt'), 'utf8'), 'sums\n');
    const bob = await run(['wget', '-q', '--user', 'bob', '--password', bobToken, '-O', 'b.txt', url('1.0.0/SHA256SUMS')], dir);
    assert.equal(bob.code, 8, 'wget exits 8 on a server error response (404)');
    const anon = await run(['wget', '-q', '-O', 'a.txt', url('1.0.0/SHA256SUMS')], dir);
    assert.equal(anon.code, 6, 'wget exits 6 on an authentication failure');
  });

  test('a public package: anonymous curl and wget (with wget -c resuming)', async () => {
    const r = await fetch(`${s.url}/api/v1/users/alice/packages/generic/tool`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ visibility: 'public' }) });
    assert.equal(r.status, 200);
    const src = fs.readFileSync(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz'));
    const c = await curl('-fL', '-o', 'anon.tgz', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz'));
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'anon.tgz')), src);
    fs.writeFileSync(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz.part'), src.subarray(0, 12_345));
    const w = await run(['wget', '-q', '-c', '-O', 'tool-1.0.0-linux-amd64.tar.gz.part', url('1.0.0/tool-1.0.0-linux-amd64.tar.gz')], dir);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz.part')), src);
  });

  test('the web UI page lists the files of the version with their curl commands', async () => {
    const html = await (await fetch(`${s.url}/alice/-/packages/generic/tool`)).text();
    for (const f of ['tool-1.0.0-linux-amd64.tar.gz', 'SHA256SUMS', 'notes.txt']) {
      // Public by now: the commands need no credentials.
      assert.ok(html.includes(`curl -fLO ${s.url}/generic/alice/tool/1.0.0/${f}`), `install command for ${f}`);
    }
    // The details list each file with its size and sha256.
    assert.match(html, /Files/);
    assert.ok(html.includes(await fileSha256(path.join(dir, 'tool-1.0.0-linux-amd64.tar.gz'))));
  });

  test(`a ${BIG_MB} MiB file streams up and down with the server's memory flat`, async () => {
    const big = path.join(dir, 'big.bin');
    const fd = fs.openSync(big, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < BIG_MB; i++) {
      chunk.fill(i & 0xff, 0, 16);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const t0 = Date.now();
      const up = await curl('-f', '-u', `alice:${token}`, '-T', 'big.bin', url('2.0.0/big.bin'));
      assert.equal(up.code, 0, up.stderr);
      const t1 = Date.now();
      const down = await curl('-f', '-u', `alice:${token}`, '-o', 'big.out', url('2.0.0/big.bin'));
      assert.equal(down.code, 0, down.stderr);
      const t2 = Date.now();
      const want = await fileSha256(big);
      assert.equal(JSON.parse(up.stdout).sha256, want);
      assert.equal(await fileSha256(path.join(dir, 'big.out')), want);
      const grew = (peak - rss0) / 1024 / 1024;
      console.log(`# ${BIG_MB} MiB: upload ${t1 - t0} ms, download ${t2 - t1} ms, server RSS grew ${grew.toFixed(1)} MiB at peak`);
      assert.ok(grew < 128, `the server's RSS grew ${grew.toFixed(1)} MiB for a ${BIG_MB} MiB file`);
    } finally {
      clearInterval(timer);
      fs.rmSync(big, { force: true });
      fs.rmSync(path.join(dir, 'big.out'), { force: true });
    }
  });
});
