// How many publishes per second a server can answer here if it keeps the promise "nothing is lost": a bare
// node:http server that takes npm's publish PUT and, before answering 201, stores its body with Wharf's own blob
// store (FsBlobStore.putBytes + commit: sha256, temp file, write, fsync, rename into the content-addressed
// layout, fsync of that directory). No JSON parsing, base64, gzip, tarball checks, database or auth. Verdaccio
// fsyncs nothing; this ceiling bounds what Wharf's durable write leaves for everything else, in the same run.
//
//   node --import tsx bench/lib/durable-ceiling.ts PORT DATA_DIR     (run by bench/npm.ts through startDurableCeiling)
import http from 'node:http';
import { FsBlobStore } from '../../src/core/blobs/fs-store.ts';
import { waitFor } from './http.ts';
import { startServer, type ServerProcess } from './proc.ts';

export async function startDurableCeiling(root: string, port: number, dataDir: string, logFile: string): Promise<ServerProcess> {
  const proc = startServer('durable-ceiling', ['--import', 'tsx', 'bench/lib/durable-ceiling.ts', String(port), dataDir], { cwd: root, env: process.env, logFile });
  await waitFor(`http://127.0.0.1:${port}/healthz`, 200, 30_000, proc.alive);
  return proc;
}

async function durable(store: FsBlobStore, body: Buffer) {
  const staged = await store.putBytes(body);
  await staged.commit();
}

function serve(port: number, dataDir: string) {
  const store = new FsBlobStore(dataDir);
  const server = http
    .createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/healthz') return void res.writeHead(200).end('ok');
      if (req.method !== 'PUT') return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        durable(store, Buffer.concat(chunks)).then(
          () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      });
    })
    .listen(port, '127.0.0.1');
  // Idle keep-alive connections stay open as long as Wharf's (Fastify: 72 s): with node's default of 5 s, the bench's
  // agent reusing a pooled socket after a pause between rounds raced the server closing it ("socket hang up").
  server.keepAliveTimeout = 72_000;
}

if (process.argv[1]?.endsWith('durable-ceiling.ts')) {
  const [port, dataDir] = [Number(process.argv[2]), process.argv[3]];
  if (!Number.isInteger(port) || !dataDir) {
    console.error('usage: node --import tsx bench/lib/durable-ceiling.ts PORT DATA_DIR');
    process.exit(2);
  }
  serve(port, dataDir);
}
