// Argument parsing for the CLI (node:util parseArgs), with usage errors instead of exceptions: a person reads
// "unknown option --foo" and "missing USER" followed by the command's usage, never the parser's own wording.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** parseArgs's error, said the way the rest of the CLI speaks. */
function usageMessage(e: Error & { code?: string }, args: string[]): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    // A string option at the end, or followed by another option ("--owner --json"), or a boolean given a value.
    const name = option.replace(/^(--?[^ =]+).*$/, '$1');
    return args.some((a) => a.startsWith(`${name}=`)) ? `${name} takes no value` : `${name} needs a value`;
  }
  return e.message;
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals: string[]) {
  let r;
  try {
    r = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(usageMessage(e as Error, args));
  }
  // Optional positionals are written [LIKE_THIS] and come last.
  const got = r.positionals.length;
  const required = positionals.filter((p) => !p.startsWith('[')).length;
  if (got < required) throw new UsageError(`missing ${positionals.slice(got, required).join(' ')}`);
  if (got > positionals.length) throw new UsageError(`unexpected argument${got - positionals.length > 1 ? 's' : ''} ${r.positionals.slice(positionals.length).map((p) => `"${p}"`).join(' ')}`);
  return { values: r.values as { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : T[K] extends { multiple: true } ? string[] : string }, pos: r.positionals };
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

/**
 * Rows under a header, in columns padded to the widest cell (as `docker ps` prints them); the last column is not
 * padded. Empty cells print as "-" so that every row splits into as many fields as the header.
 */
/**
 * Text from the database as a terminal may show it: control characters (an escape sequence in a token's name could
 * retitle or clear the operator's terminal) and bidirectional overrides are written as \uXXXX.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function table(header: string[], rows: (string | number | null | undefined)[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : printable(String(c)))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}
