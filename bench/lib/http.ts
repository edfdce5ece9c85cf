// A small keep-alive HTTP client on node:http for seeding, checks and the big streamed publish (127.0.0.1 only).
import http from 'node:http';
import type { Readable } from 'node:stream';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string | Readable;
  timeoutMs?: number;
  /** Consume the response body without keeping it (returns an empty body and its length in `length`). */
  discard?: (chunk: Buffer) => void;
}

function assertLoopback(url: URL) {
  if (url.hostname !== '127.0.0.1') throw new Error(`bench only talks to 127.0.0.1, not ${url.hostname}`);
}

/**
 * One request. A request sent on a pooled keep-alive socket that the server closed meanwhile (Verdaccio and bare
 * node:http servers close idle ones after 5 s; the bench pauses longer while it builds publish requests) fails
 * with ECONNRESET before any response: it is sent again once on a fresh socket, as node's documentation advises
 * (`request.reusedSocket`). A streamed body cannot be replayed, so those are not retried.
 */
export async function request(method: string, target: string, opts: RequestOptions = {}): Promise<Reply> {
  try {
    return await requestOnce(method, target, opts);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { reusedSocket?: boolean };
    const replayable = opts.body === undefined || typeof opts.body === 'string' || Buffer.isBuffer(opts.body);
    if (err.reusedSocket && err.code === 'ECONNRESET' && replayable) return requestOnce(method, target, opts);
    throw e;
  }
}

function requestOnce(method: string, target: string, opts: RequestOptions): Promise<Reply> {
  const url = new URL(target);
  assertLoopback(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: opts.headers, timeout: opts.timeoutMs ?? 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => (opts.discard ? opts.discard(c) : chunks.push(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${target}: timed out`)));
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

export async function getJson(target: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }> {
  const r = await request('GET', target, { headers: { accept: 'application/json', ...headers } });
  let json: any = undefined;
  try {
    json = JSON.parse(r.body.toString('utf8'));
  } catch {
    json = r.body.toString('utf8').slice(0, 300);
  }
  return { status: r.status, json, headers: r.headers };
}

export function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Polls `url` until it answers `status` (bounded by `timeoutMs`); `alive()` lets a dead child fail fast. */
export async function waitFor(url: string, status: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`server exited while waiting for ${url}`);
    try {
      const r = await request('GET', url, { timeoutMs: 2000 });
      if (r.status === status) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
