// The client of `--sink` downloads (bench/lib/sink-get.c): the same interface as RawGetClient, but the body is
// dropped by the kernel (recv with MSG_TRUNC) in a small C process instead of copied into Node. On a 2-core box the
// load generator's copy of every byte takes a core's worth of CPU away from the servers it measures; with this
// client nearly all of the machine is left to them, for both registries alike.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { RawReply } from './raw-get.ts';

let binary: string | undefined;

/** Compiles sink-get.c into `workDir` (once per run; `cc` is on every machine here). */
export function buildSinkGet(workDir: string): string {
  if (binary) return binary;
  const src = path.join(import.meta.dirname, 'sink-get.c');
  const out = path.join(workDir, 'sink-get');
  fs.mkdirSync(workDir, { recursive: true });
  execFileSync('cc', ['-O2', '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  return (binary = out);
}

export class SinkGetClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve(r: RawReply): void; reject(e: Error): void }[] = [];

  constructor(
    host: string,
    private readonly port: number,
  ) {
    if (host !== '127.0.0.1') throw new Error(`bench only talks to 127.0.0.1, not ${host}`);
    if (!binary) throw new Error('buildSinkGet() first');
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (line.startsWith('ERR ')) return w.reject(new Error(line.slice(4)));
      const [status, bytes, location] = line.split(' ');
      w.resolve({ status: Number(status), bytes: Number(bytes), ...(location && location !== '-' ? { location } : {}) });
    });
    this.child.on('exit', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error('sink-get exited'));
    });
  }

  get(pathAndQuery: string, headers: Record<string, string> = {}): Promise<RawReply> {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
    if (/[\s]/.test(pathAndQuery) || lines.some((l) => /[\t\r\n]/.test(l))) throw new Error('sink-get: no whitespace in a path, no tabs or newlines in headers');
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${this.port} ${pathAndQuery}${lines.length ? ` ${lines.join('\t')}` : ''}\n`);
    });
  }

  close() {
    this.child.stdin.end();
  }
}
