// Graceful shutdown of the server process as `npm start` runs it: SIGTERM while a slow upload is in flight. The
// upload completes and is committed, a new connection is refused, and the process exits 0 within the timeout;
// one that stalls is cut off at WHARF_SHUTDOWN_TIMEOUT and leaves nothing visible.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { connectError, spawnWharf, tempDir, type ChildServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

async function tokenFor(s: ChildServer, user: string): Promise<string> {
  const u = await s.cli(['user', 'create', user, '--email', `${user}@example.com`]);
  assert.equal(u.code, 0, u.stderr);
  const t = await s.cli(['token', 'create', user, '--scopes', 'read:packages,write:packages', '--expires-in', '1d']);
  assert.equal(t.code, 0, t.stderr);
  return t.stdout.trim();
}

/** POSTs an upload and starts its monolithic PUT; the body is written by the caller. */
async function beginUpload(s: ChildServer, auth: string, repo: string, digest: string, size: number) {
  const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
  assert.equal(r.status, 202, await r.text());
  const location = new URL(r.headers.get('location')!, s.url);
  location.searchParams.set('digest', digest);
  const req = http.request(location, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(size) } });
  const response = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
  return { req, response };
}

const exited = (s: ChildServer) => new Promise<number | null>((r) => (s.proc.exitCode !== null ? r(s.proc.exitCode) : s.proc.once('exit', (code) => r(code))));


test('SIGTERM during a slow upload: it completes and is committed, new connections are refused, exit 0 within the timeout', async () => {
  const data = tempDir();
  const s = await spawnWharf({ WHARF_DATA: data, WHARF_SHUTDOWN_TIMEOUT: '20' });
  let again: ChildServer | undefined;
  try {
    const auth = basic('alice', await tokenFor(s, 'alice'));
    const content = randomBytes(2 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const up = await beginUpload(s, auth, 'alice/slow', digest, content.length);
    up.req.write(content.subarray(0, 64 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await connectError(s.port), 'ECONNREFUSED', 'a new connection after SIGTERM is refused');
    assert.equal(s.proc.exitCode, null, 'still running while the upload is in flight');
    // The rest of the body, slowly: well after the signal.
    for (let at = 64 * 1024; at < content.length; at += 256 * 1024) {
      up.req.write(content.subarray(at, at + 256 * 1024));
      await new Promise((r) => setTimeout(r, 50));
    }
    up.req.end();
    assert.equal(await up.response, 201);
    assert.equal(await exited(s), 0);
    assert.ok(Date.now() - t0 < 20_000, `exited after ${Date.now() - t0} ms`);

    // Committed: a new server on the same data serves it.
    again = await spawnWharf({ WHARF_DATA: data });
    const head = await fetch(`${again.url}/v2/alice/slow/blobs/${digest}`, { method: 'HEAD', headers: { authorization: auth } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(content.length));
  } finally {
    await s.stop();
    await again?.stop();
  }
});

test('SIGTERM with an upload that stalls: cut off at WHARF_SHUTDOWN_TIMEOUT, exit 0, nothing of it visible', async () => {
  const data = tempDir();
  const s = await spawnWharf({ WHARF_DATA: data, WHARF_SHUTDOWN_TIMEOUT: '1' });
  let again: ChildServer | undefined;
  try {
    const auth = basic('bob', await tokenFor(s, 'bob'));
    const content = randomBytes(512 * 1024);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const up = await beginUpload(s, auth, 'bob/stalled', digest, content.length);
    up.response.catch(() => {});
    up.req.write(content.subarray(0, 1024));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    assert.equal(await exited(s), 0);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `exited after ${took} ms`);
    await assert.rejects(up.response);
    again = await spawnWharf({ WHARF_DATA: data });
    const head = await fetch(`${again.url}/v2/bob/stalled/blobs/${digest}`, { method: 'HEAD', headers: { authorization: auth } });
    assert.equal(head.status, 404);
  } finally {
    await s.stop();
    await again?.stop();
  }
});
