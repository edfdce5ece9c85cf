// Argument parsing for the CLI (node:util parseArgs), with usage errors instead of exceptions.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: printed with the noun's usage, exit code 2. */
export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals: string[]) {
  let r;
  try {
    r = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (r.positionals.length !== positionals.length) throw new UsageError(`expected ${positionals.join(' ')}`);
  return { values: r.values as { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string }, pos: r.positionals };
}

/** Reads all of stdin (for --password-stdin), without the trailing newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A value from a fixed list (visibility, role), or a usage error naming the choices. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${what} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}
