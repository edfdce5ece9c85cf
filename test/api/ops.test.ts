// Operations endpoints in-process: GET /readyz (what failed, in JSON), draining (readiness drops at once, new
// connections are refused, requests in flight finish or are cut at the timeout) and GET /metrics (Prometheus text
// that parses, moves with traffic, names no package, and is readable only from allowed addresses or by site admins).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { drain } from '../../src/http/ops.ts';
import { npmTarball, publishBody } from '../helpers/npm-body.ts';
import { dialects } from '../helpers/databases.ts';
import { connectError, startWharf, type TestServer } from '../helpers/wharf.ts';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

/**
 * Parses Prometheus text exposition format strictly enough to catch a malformed line: sample → value. (Values as
 * Go's ParseFloat reads them: prom-client writes NaN as "Nan".)
 */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      assert.ok(!types.has(t[1]), `TYPE twice for ${t[1]}`);
      types.add(t[1]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    assert.ok(m, `not a metric line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
function total(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [k, v] of samples) {
    if (!k.startsWith(`${name}{`) && k !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) sum += v;
  }
  return sum;
}

/** A PUT of a monolithic OCI blob upload whose body is sent by hand: `send` writes, `end` finishes. */
function slowUpload(url: string, auth: string, digest: string, size: number) {
  const req = http.request(url, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/octet-stream', 'content-length': String(size) } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
  return { req, response };
}


async function startUpload(s: TestServer, auth: string, repo: string): Promise<string> {
  const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
  assert.equal(r.status, 202, await r.text());
  return new URL(r.headers.get('location')!, s.url).toString();
}

for (const dialect of dialects()) {
  describe(`operations endpoints (${dialect})`, () => {
    let s: TestServer;
    let token: string;
    let admin: string;
    before(async () => {
      s = await startWharf({ dialect });
      token = await s.userWithToken('alice');
      admin = await s.userWithToken('root', 'read:packages,site_admin', { admin: true });
    });
    after(() => s.stop());

    test('GET /readyz → 200 {"status":"ready"} with each check ok; /healthz unchanged', async () => {
      const r = await fetch(`${s.url}/readyz`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'ready', checks: { database: 'ok', blob_store: 'ok' } });
      const h = await fetch(`${s.url}/healthz`);
      assert.deepEqual(await h.json(), { status: 'ok' });
    });

    test('GET /metrics from loopback: Prometheus text that parses, and moves with requests, bytes, blob store operations and caches', async () => {
      const before = parseMetrics(await (await fetch(`${s.url}/metrics`)).text());
      const tarball = await npmTarball('@alice/secretpkg', '1.0.0', { filler: randomBytes(6000).toString('base64') });
      const body = JSON.stringify(publishBody({ name: '@alice/secretpkg', version: '1.0.0', tarball }));
      const put = await fetch(`${s.url}/npm/@alice%2fsecretpkg`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      assert.equal(put.status, 201, await put.text());
      for (let i = 0; i < 3; i++) {
        const g = await fetch(`${s.url}/npm/@alice%2fsecretpkg`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(g.status, 200);
        await g.arrayBuffer();
      }
      const tgz = await fetch(`${s.url}/npm/@alice/secretpkg/-/secretpkg-1.0.0.tgz`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(tgz.status, 200);
      await tgz.arrayBuffer();
      assert.equal((await fetch(`${s.url}/npm/@alice%2fnothing-here`)).status, 401);
      const res = await fetch(`${s.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const after = parseMetrics(text);
      const route = '/npm/:pkg'; // @alice%2fsecretpkg, as npm asks
      const count = (m: Map<string, number>, labels: Record<string, string>) => total(m, 'wharf_http_request_duration_seconds_count', labels);
      assert.equal(count(after, { format: 'npm', route, method: 'GET', status: '200' }) - count(before, { format: 'npm', route, method: 'GET', status: '200' }), 3);
      assert.equal(count(after, { format: 'npm', method: 'PUT', status: '201' }) - count(before, { format: 'npm', method: 'PUT', status: '201' }), 1);
      assert.ok(count(after, { format: 'npm', route, status: '401' }) >= 1);
      assert.ok(total(after, 'wharf_http_received_bytes_total', { format: 'npm' }) - total(before, 'wharf_http_received_bytes_total', { format: 'npm' }) >= body.length);
      assert.ok(total(after, 'wharf_http_sent_bytes_total', { format: 'npm' }) - total(before, 'wharf_http_sent_bytes_total', { format: 'npm' }) >= tarball.length);
      assert.ok(total(after, 'wharf_blob_store_operations_total', { op: 'commit', outcome: 'ok' }) > total(before, 'wharf_blob_store_operations_total', { op: 'commit', outcome: 'ok' }));
      assert.ok(total(after, 'wharf_blob_store_operation_duration_seconds_count', { op: 'putBytes' }) + total(after, 'wharf_blob_store_operation_duration_seconds_count', { op: 'put' }) > 0);
      assert.ok(total(after, 'wharf_cache_lookups_total', { cache: 'npm_packument', result: 'hit' }) > total(before, 'wharf_cache_lookups_total', { cache: 'npm_packument', result: 'hit' }));
      assert.ok(total(after, 'wharf_cache_lookups_total', { cache: 'packages' }) > 0);
      assert.ok(after.has('wharf_queue_depth{queue="webhook_deliveries"}'));
      assert.ok(after.has('wharf_queue_depth{queue="uploads"}'));
      assert.ok(after.has('process_resident_memory_bytes'));
      assert.ok(total(after, 'nodejs_eventloop_lag_seconds') >= 0);
      // Route patterns only: the private package's name is in no label.
      assert.doesNotMatch(text, /secretpkg|nothing-here/);
    });

    test('an open upload shows in wharf_queue_depth{queue="uploads"}', async () => {
      const auth = basic('alice', token);
      const scrape = async () => parseMetrics(await (await fetch(`${s.url}/metrics`)).text()).get('wharf_queue_depth{queue="uploads"}')!;
      const n = await scrape();
      await startUpload(s, auth, 'alice/queued');
      assert.equal(await scrape(), n + 1);
    });

    test('GET /metrics through a proxy or from elsewhere: 401 without credentials, 403 for a user, 200 for a site admin', async () => {
      const viaProxy = { 'x-forwarded-for': '203.0.113.9' };
      const anon = await fetch(`${s.url}/metrics`, { headers: viaProxy });
      assert.equal(anon.status, 401);
      assert.doesNotMatch(await anon.text(), /wharf_/);
      assert.equal((await fetch(`${s.url}/metrics`, { headers: { ...viaProxy, authorization: `Bearer ${token}` } })).status, 403);
      assert.equal((await fetch(`${s.url}/metrics`, { headers: { forwarded: 'for=203.0.113.9' } })).status, 401);
      const ok = await fetch(`${s.url}/metrics`, { headers: { ...viaProxy, authorization: `Bearer ${admin}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /^# HELP /m);
    });

    test('draining: /readyz → 503 at once, a new connection is refused, the upload in flight completes and is committed', async () => {
      const auth = basic('alice', token);
      const content = randomBytes(256 * 1024);
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
      const location = await startUpload(s, auth, 'alice/slow');
      const up = slowUpload(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, auth, digest, content.length);
      up.req.write(content.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 200));
      const drained = drain(s.app, 10_000);
      const ready = await s.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().status, 'draining');
      assert.equal(await connectError(s.port), 'ECONNREFUSED');
      up.req.end(content.subarray(1000));
      const r = await up.response;
      assert.equal(r.status, 201, r.body);
      assert.deepEqual(await drained, { cut: 0 });
      assert.deepEqual(await s.core.blobs.stat(digest), { size: content.length });
    });
  });
}

test('draining with a stalled upload: cut at the timeout, nothing of it visible; WHARF_METRICS=off has no /metrics', async () => {
  const s = await startWharf({ env: { WHARF_METRICS: 'off' } });
  try {
    assert.equal((await fetch(`${s.url}/metrics`)).status, 404);
    const token = await s.userWithToken('bob');
    const auth = basic('bob', token);
    const content = randomBytes(64 * 1024);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const location = await startUpload(s, auth, 'bob/stalled');
    const up = slowUpload(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, auth, digest, content.length);
    up.response.catch(() => {});
    up.req.on('error', () => {});
    up.req.write(content.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    assert.deepEqual(await drain(s.app, 500), { cut: 1 });
    assert.ok(Date.now() - t0 < 2000, `drain took ${Date.now() - t0} ms`);
    await assert.rejects(up.response);
    assert.equal(await s.core.blobs.stat(digest), null);
  } finally {
    await s.stop();
  }
});

test('GET /readyz → 503 naming the blob store when its folder is gone', async () => {
  const s = await startWharf();
  try {
    fs.rmSync(path.join(s.dataDir, 'blobs'), { recursive: true, force: true });
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: 'unavailable', failed: ['blob_store'], checks: { database: 'ok', blob_store: 'error: ENOENT' } });
  } finally {
    await s.stop();
  }
});
