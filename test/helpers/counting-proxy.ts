// A small HTTP proxy put between a Wharf proxy and its upstream in tests: it counts the requests the upstream
// gets, can flip the last byte of chosen responses (a tampering upstream or a man in the middle), and can play
// dead (every connection dropped).
import http from 'node:http';
import type net from 'node:net';

export class CountingProxy {
  readonly seen: { method: string; url: string; conditional: boolean }[] = [];
  down = false;
  /** Upstream paths (as requested, e.g. `/maven/alice/com/x/1.0/x-1.0.jar`) answered with one byte changed. */
  tamper = new Set<string>();
  origin = '';
  private server!: http.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      if (this.down) return req.socket.destroy();
      this.seen.push({ method: req.method!, url: req.url!, conditional: !!(req.headers['if-none-match'] || req.headers['if-modified-since']) });
      const t = new URL(this.target);
      const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, async (r) => {
        if (this.tamper.has(req.url!.split('?')[0]) && r.statusCode === 200) {
          const chunks: Buffer[] = [];
          for await (const c of r) chunks.push(c as Buffer);
          const body = Buffer.concat(chunks);
          if (body.length) body[body.length - 1] ^= 0xff;
          res.writeHead(200, { 'content-type': r.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
          return res.end(body);
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
