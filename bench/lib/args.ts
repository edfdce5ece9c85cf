// Command-line options of the bench scripts: `--flag`, `--option=value`, `--help` printing the script's header.
// Anything else is refused (a mistyped option must not silently run the default benchmark).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchArgs {
  flag(name: string): boolean;
  opt(name: string): string | undefined;
  /** A positive number (`--repeat` whole; 0 only for the options in `zeroOk`), or `dflt` when absent. */
  num(name: string, dflt: number): number;
}

/** `script`: the bench's import.meta.url; `helpLines`: how many lines of its header `--help` prints. */
export function benchArgs(script: string, o: { flags: string[]; options: string[]; helpLines: number; zeroOk?: string[] }): BenchArgs {
  const file = fileURLToPath(script);
  const argv = process.argv.slice(2);
  const flag = (name: string) => argv.includes(`--${name}`);
  const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = (a: string) => o.flags.concat('help').some((f) => a === `--${f}`) || o.options.some((x) => a.startsWith(`--${x}=`) && a.length > x.length + 3);
  for (const a of argv) {
    if (!known(a)) {
      console.error(`unknown argument ${a}; see the header of bench/${path.basename(file)}`);
      process.exit(2);
    }
  }
  if (flag('help')) {
    console.log(fs.readFileSync(file, 'utf8').split('\n').slice(0, o.helpLines).join('\n'));
    process.exit(0);
  }
  const num = (name: string, dflt: number) => {
    const v = opt(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    const zero = o.zeroOk?.includes(name) ?? false;
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero) || (name === 'repeat' && !Number.isInteger(n))) {
      throw new Error(`--${name}=${v}: expected a positive number${name === 'repeat' ? ' (whole)' : ''}`);
    }
    return n;
  };
  return { flag, opt, num };
}
