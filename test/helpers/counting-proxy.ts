// A small HTTP proxy put between a Wharf proxy and its upstream in tests: it counts the requests the upstream
// gets (method, URL, whether conditional, the Authorization scheme), can flip the last byte of chosen responses (a
// tampering upstream or a man in the middle), hold file downloads back or send them in two halves (a slow upstream),
// and can play dead (every connection dropped). A subclass can answer some requests itself (see `route`).
import http from 'node:http';
import type net from 'node:net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SeenRequest {
  method: string;
  url: string;
  /** Sent with If-None-Match or If-Modified-Since. */
  conditional: boolean;
  /** The Authorization scheme (`Basic`, `Bearer`), '' without one. */
  auth: string;
}

export interface CountingProxyOptions {
  /** Which requests (by URL as received) are file downloads, the ones `delayMs` and `stallMs` slow; default all. */
  isFile?: (url: string) => boolean;
  /** What a request (by URL as received) is looked up by in `tamper`; default its path without the query. */
  tamperKey?: (url: string) => string;
  /** Do not pass Authorization on to the upstream (when this proxy checks credentials itself). */
  stripAuth?: boolean;
}

export class CountingProxy {
  readonly seen: SeenRequest[] = [];
  down = false;
  /** Keys (see `tamperKey`; by default upstream paths such as `/maven/alice/com/x/1.0/x-1.0.jar`) answered with one byte changed. */
  tamper = new Set<string>();
  /** File downloads wait this long after the upstream answered. */
  delayMs = 0;
  /** File download bodies: the first half at once, the rest after this long. */
  stallMs = 0;
  /** When the last stalled body's second half was sent. */
  resumedAt = 0;
  origin = '';
  private server!: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly isFile: (url: string) => boolean;
  private readonly tamperKey: (url: string) => string;

  constructor(
    private readonly target: string,
    private readonly options: CountingProxyOptions = {},
  ) {
    this.isFile = options.isFile ?? (() => true);
    this.tamperKey = options.tamperKey ?? ((url) => url.split('?')[0]);
  }

  /** Counts a request in `seen`. */
  protected record(req: http.IncomingMessage): void {
    this.seen.push({
      method: req.method!,
      url: req.url!,
      conditional: !!(req.headers['if-none-match'] || req.headers['if-modified-since']),
      auth: String(req.headers.authorization ?? '').split(' ')[0],
    });
  }

  /**
   * Decides what happens to a request: the upstream path to forward it to, or null when it was answered here.
   * By default every request is counted and forwarded as it came.
   */
  protected route(req: http.IncomingMessage, _res: http.ServerResponse): string | null {
    this.record(req);
    return req.url!;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (this.down) return req.socket.destroy();
      const url = req.url!;
      const path = this.route(req, res);
      if (path === null) return;
      const t = new URL(this.target);
      const headers = { ...req.headers };
      if (this.options.stripAuth) delete headers.authorization;
      const up = http.request({ host: t.hostname, port: t.port, path, method: req.method, headers }, async (r) => {
        const file = this.isFile(url);
        if (file && this.delayMs) await sleep(this.delayMs);
        const tampered = this.tamper.has(this.tamperKey(url)) && r.statusCode === 200;
        const stalled = file && this.stallMs > 0 && r.statusCode === 200;
        if (tampered || stalled) {
          const chunks: Buffer[] = [];
          for await (const c of r) chunks.push(c as Buffer);
          const body = Buffer.concat(chunks);
          if (tampered && body.length) body[body.length - 1] ^= 0xff;
          res.writeHead(200, { 'content-type': r.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
          if (!stalled) return res.end(body);
          res.write(body.subarray(0, body.length >> 1));
          await sleep(this.stallMs);
          this.resumedAt = Date.now();
          return res.end(body.subarray(body.length >> 1));
        }
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    this.server.on('connection', (s) => (this.sockets.add(s), s.on('close', () => this.sockets.delete(s))));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  count(pred: (url: string) => boolean): number {
    return this.seen.filter((s) => pred(s.url)).length;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * A stampede on one file Wharf has not cached: 64 GETs of `url` at once, plus 8 more that hang up after 50 ms,
 * while `upstream` holds file downloads back 300 ms (so they all arrive while the first is still in flight).
 * Returns the 64 answers, for the caller to check, with the requests `upstream.seen` counted.
 */
export async function stampede(upstream: CountingProxy, url: string): Promise<{ status: number; bytes: Buffer }[]> {
  upstream.delayMs = 300;
  try {
    const quitters = Array.from({ length: 8 }, () => {
      const c = new AbortController();
      setTimeout(() => c.abort(), 50);
      return fetch(url, { signal: c.signal }).then(() => 'done', () => 'aborted');
    });
    const results = await Promise.all(Array.from({ length: 64 }, () => fetch(url).then(async (r) => ({ status: r.status, bytes: Buffer.from(await r.arrayBuffer()) }))));
    await Promise.all(quitters);
    return results;
  } finally {
    upstream.delayMs = 0;
  }
}
