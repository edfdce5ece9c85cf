// How many publishes per second a server can answer here if it keeps the promise "nothing is lost": a bare
// node:http server that takes npm's publish PUT and, before answering 201, makes its body durable the way Wharf
// makes a tarball durable (temp file, write, fsync, close, rename into a fan-out directory, fsync that
// directory). No JSON parsing, base64, gzip, hashing, database or auth. Verdaccio fsyncs nothing; this ceiling
// bounds what any registry that does can reach against it in the same run on this machine.
//
//   node --import tsx bench/lib/durable-ceiling.ts PORT DATA_DIR     (run by bench/npm.ts through startDurableCeiling)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { waitFor } from './http.ts';
import { startServer, type ServerProcess } from './proc.ts';

export async function startDurableCeiling(root: string, port: number, dataDir: string, logFile: string): Promise<ServerProcess> {
  const proc = startServer('durable-ceiling', ['--import', 'tsx', 'bench/lib/durable-ceiling.ts', String(port), dataDir], { cwd: root, env: process.env, logFile });
  await waitFor(`http://127.0.0.1:${port}/healthz`, 200, 30_000, proc.alive);
  return proc;
}

async function durable(dataDir: string, body: Buffer) {
  const tmp = path.join(dataDir, 'tmp', randomUUID());
  const fh = await fsp.open(tmp, 'wx', 0o644);
  try {
    await fh.write(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const name = randomUUID();
  const dir = path.join(dataDir, name.slice(0, 2));
  fs.renameSync(tmp, path.join(dir, name));
  const d = await fsp.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

function serve(port: number, dataDir: string) {
  fs.mkdirSync(path.join(dataDir, 'tmp'), { recursive: true });
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(dataDir, i.toString(16).padStart(2, '0')), { recursive: true });
  http
    .createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/healthz') return void res.writeHead(200).end('ok');
      if (req.method !== 'PUT') return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        durable(dataDir, Buffer.concat(chunks)).then(
          () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      });
    })
    .listen(port, '127.0.0.1');
}

if (process.argv[1]?.endsWith('durable-ceiling.ts')) {
  const [port, dataDir] = [Number(process.argv[2]), process.argv[3]];
  if (!Number.isInteger(port) || !dataDir) {
    console.error('usage: node --import tsx bench/lib/durable-ceiling.ts PORT DATA_DIR');
    process.exit(2);
  }
  serve(port, dataDir);
}
