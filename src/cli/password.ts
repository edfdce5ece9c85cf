// A password for `user create --password-stdin` and `user password`: from a pipe as it is (scripts), or, at a
// terminal, asked for twice without echo (a person typing it, as `npm start` tells the first administrator to).
import { readStdin, UsageError } from './args.ts';

/** Reads one line from a terminal in raw mode, echoing nothing; Ctrl-C or Ctrl-D abandons. */
function askHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('no password given'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (ch >= ' ') line += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

export async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const pw = await readStdin();
    if (!pw) throw new UsageError('empty password on stdin');
    return pw;
  }
  const pw = await askHidden('Password: ');
  if (!pw) throw new UsageError('empty password');
  if ((await askHidden('Repeat it: ')) !== pw) throw new UsageError('the two passwords differ');
  return pw;
}
