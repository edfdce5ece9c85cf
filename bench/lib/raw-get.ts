// A lean keep-alive GET client for download throughput: one socket per worker, every read into the same
// buffer (net's `onread`), the body counted and dropped. node:http allocates a fresh buffer per socket read, which
// on our VMs (where each new page costs a fault) made the load generator, not the server, the bottleneck of
// every large download: both registries are measured with this client, so neither pays for the other's.
import net from 'node:net';

export interface RawReply {
  status: number;
  bytes: number;
  /** The Location header, on redirects. */
  location?: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class RawGetClient {
  private socket: net.Socket | null = null;
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private pending: { resolve(r: RawReply): void; reject(e: Error): void } | null = null;
  private header: Buffer[] = [];
  private status = 0;
  private remaining = -1;
  private bytes = 0;
  private location: string | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    if (host !== '127.0.0.1') throw new Error(`bench only talks to 127.0.0.1, not ${host}`);
  }

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port, onread: { buffer: this.buffer, callback: (n) => this.onData(this.buffer.subarray(0, n)) } });
      s.setNoDelay(true);
      s.once('connect', () => resolve(s));
      s.once('error', (e) => {
        this.fail(e);
        reject(e);
      });
      s.once('close', () => {
        this.socket = null;
        this.fail(new Error('connection closed before the response ended'));
      });
    });
  }

  private fail(e: Error) {
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  private onData(chunk: Buffer): boolean {
    if (!this.pending) return true;
    if (this.remaining < 0) {
      this.header.push(Buffer.from(chunk)); // headers are small: a copy is fine
      const all = Buffer.concat(this.header);
      const end = all.indexOf(HEADER_END);
      if (end < 0) return true;
      const head = all.subarray(0, end).toString('latin1').split('\r\n');
      this.status = Number(head[0].split(' ')[1]);
      const lengthLine = head.find((l) => /^content-length:/i.test(l));
      if (!lengthLine || head.some((l) => /^transfer-encoding:/i.test(l))) {
        this.fail(new Error(`response without a Content-Length: ${head[0]}`));
        this.socket?.destroy();
        return false;
      }
      this.remaining = Number(lengthLine.split(':')[1]);
      const loc = head.find((l) => /^location:/i.test(l));
      this.location = loc ? loc.slice(loc.indexOf(':') + 1).trim() : undefined;
      this.header = [];
      chunk = all.subarray(end + HEADER_END.length);
    }
    this.bytes += chunk.length;
    this.remaining -= chunk.length;
    if (this.remaining < 0) {
      this.fail(new Error('more bytes than Content-Length'));
      this.socket?.destroy();
    } else if (this.remaining === 0) {
      const p = this.pending!;
      this.pending = null;
      p.resolve({ status: this.status, bytes: this.bytes, location: this.location });
    }
    return true;
  }

  /** GETs `path`, counting the body. One request at a time per client. */
  async get(path: string, headers: Record<string, string> = {}): Promise<RawReply> {
    if (this.pending) throw new Error('one request at a time');
    if (!this.socket) this.socket = await this.connect();
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${this.host}:${this.port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
    return new Promise<RawReply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.header = [];
      this.remaining = -1;
      this.bytes = 0;
      this.socket!.write(lines.join('\r\n'));
    });
  }

  close() {
    this.socket?.destroy();
    this.socket = null;
  }
}
