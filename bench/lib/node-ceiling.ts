// Node's own ceiling for sending large bodies on this machine: a bare node:http server that answers
// GET /bytes/N with N bytes straight from memory, written in 1 MiB slices with backpressure, as Wharf's
// FileStream writes them. No file read, no routing, no auth, no database: no Node server can send faster
// than this one through the same socket API, so its figure tells whether a target ratio is reachable at all.
//
//   node bench/lib/node-ceiling.ts PORT MAX_BYTES     (run by bench/oci.ts through startNodeCeiling)
import http from 'node:http';
import { waitFor } from './http.ts';
import { startServer, type ServerProcess } from './proc.ts';

const SLICE = 1 << 20;

export async function startNodeCeiling(root: string, port: number, maxBytes: number, logFile: string): Promise<ServerProcess> {
  const proc = startServer('node-ceiling', ['--import', 'tsx', 'bench/lib/node-ceiling.ts', String(port), String(maxBytes)], { cwd: root, env: process.env, logFile });
  await waitFor(`http://127.0.0.1:${port}/bytes/1`, 200, 30_000, proc.alive);
  return proc;
}

function serve(port: number, maxBytes: number) {
  // Touched once (fill), so every page is real memory before the first request, as a page-cached file would be.
  const body = Buffer.allocUnsafeSlow(maxBytes).fill(0x5a);
  const server = http
    .createServer((req, res) => {
      const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
      const size = m ? Number(m[1]) : NaN;
      if (req.method !== 'GET' || !(size >= 0 && size <= maxBytes)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      let at = 0;
      const pump = () => {
        while (at < size) {
          const end = Math.min(size, at + SLICE);
          const more = res.write(body.subarray(at, end));
          at = end;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    })
    .listen(port, '127.0.0.1');
  // Idle keep-alive connections stay open as long as Wharf's (Fastify: 72 s): with node's default of 5 s, the bench's
  // agent reusing a pooled socket after a pause between rounds raced the server closing it ("socket hang up").
  server.keepAliveTimeout = 72_000;
}

if (process.argv[1]?.endsWith('node-ceiling.ts')) {
  const [port, max] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(port) || !Number.isInteger(max) || max <= 0) {
    console.error('usage: node --import tsx bench/lib/node-ceiling.ts PORT MAX_BYTES');
    process.exit(2);
  }
  serve(port, max);
}
