// Upstream bodies a proxy reads whole (a Maven checksum file, a Docker token endpoint's answer) are read as far as
// they may be long, within the proxy's timeout: a body that never ends, one that stalls and one cut off midway
// each give a 502 promptly, and the upstream is not read on.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { systemActor } from '../../src/core/auth/actor.ts';
import { startWharf, type TestServer } from '../helpers/wharf.ts';

/** An upstream whose paths say how it misbehaves: ENDLESS streams forever, STALL stops after 3 bytes, RESET cuts the connection. */
class MisbehavingUpstream {
  private server!: http.Server;
  origin = '';
  /** Bytes written into ENDLESS bodies, by path, until the reader went away. */
  readonly sent = new Map<string, number>();

  async start() {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    this.server = http.createServer((req, res) => {
      const url = req.url!;
      if (url.startsWith('/v2/')) {
        // A container upstream that wants a token from a realm that never stops answering.
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${this.origin}/ENDLESS-token",service="up"`, 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (url.includes('ENDLESS')) {
        let n = 0;
        const pump = () => {
          while (!res.destroyed) {
            n += chunk.length;
            this.sent.set(url.split('?')[0], n);
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        res.on('close', () => this.sent.set(url.split('?')[0], n));
        return pump();
      }
      res.write('abc');
      if (url.includes('RESET')) setTimeout(() => res.socket?.destroy(), 50);
      // STALL: nothing more, ever (closed when the test ends).
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('proxies read an upstream\'s small documents boundedly', { timeout: 60_000 }, () => {
  let server: TestServer;
  const upstream = new MisbehavingUpstream();
  const TIMEOUT = 1500;

  before(async () => {
    await upstream.start();
    server = await startWharf();
    await server.core.proxies.create(systemActor, 'mvn', { format: 'maven', upstream: upstream.origin, ttlSeconds: 0, timeoutMs: TIMEOUT });
    await server.core.proxies.create(systemActor, 'img', { format: 'container', upstream: upstream.origin, ttlSeconds: 0, timeoutMs: TIMEOUT });
  });
  after(async () => {
    await server?.stop();
    await upstream.stop();
  });

  const timed = async (path: string) => {
    const start = Date.now();
    const r = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(20_000) });
    const body = await r.text();
    return { status: r.status, body, ms: Date.now() - start };
  };

  test('a Maven checksum file that never ends: 502, and the upstream is not read past the limit', async () => {
    const r = await timed('/maven/mvn/com/ENDLESS/x/1.0/x-1.0.jar');
    assert.equal(r.status, 502, r.body);
    assert.match(r.body, /larger than 1024 bytes/);
    await new Promise((res) => setTimeout(res, 200));
    const sent = upstream.sent.get('/com/ENDLESS/x/1.0/x-1.0.jar.sha256') ?? 0;
    // What the sockets' buffers hold, not the gigabytes an unbounded read takes in within the timeout.
    assert.ok(sent < 32 * 1024 * 1024, `the upstream wrote ${sent} bytes`);
  });

  test('a Maven checksum file that stalls: 502 after the proxy\'s timeout, not a hang', async () => {
    const r = await timed('/maven/mvn/com/STALL/x/1.0/x-1.0.jar');
    assert.equal(r.status, 502, r.body);
    assert.ok(r.ms < TIMEOUT + 3000, `answered after ${r.ms} ms`);
    // A second request for the same file is not stuck behind the first.
    assert.equal((await timed('/maven/mvn/com/STALL/x/1.0/x-1.0.jar')).status, 502);
  });

  test('a Maven checksum file cut off midway: 502, not 500', async () => {
    for (const p of ['/maven/mvn/com/RESET/x/1.0/x-1.0.jar', '/maven/mvn/com/RESET/x/1.0/x-1.0.pom.sha1']) {
      const r = await timed(p);
      assert.equal(r.status, 502, `${p}: ${r.body}`);
    }
  });

  test('a token endpoint that never stops answering: 502, and it is not read past 64 KiB', async () => {
    const r = await timed('/v2/img/library/alpine/manifests/latest');
    assert.equal(r.status, 502, r.body);
    assert.match(r.body, /token answer is larger than/);
    await new Promise((res) => setTimeout(res, 200));
    const sent = upstream.sent.get('/ENDLESS-token') ?? 0;
    assert.ok(sent > 0 && sent < 32 * 1024 * 1024, `the token endpoint wrote ${sent} bytes`);
  });
});
