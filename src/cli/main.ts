// `wharf [--data DIR] NOUN VERB ...`: admin commands over the core, one file per noun. Output: only what was asked
// for (a token prints as the token alone); which data it opened, notes and errors on stderr, with exit code 1
// (2 for usage). Where the data is: see data.ts.
import fs from 'node:fs';
import { loadConfig } from '../config.ts';
import { openCore, type Core } from '../core/core.ts';
import { isWharfError } from '../core/errors.ts';
import { webhookPayloads } from '../http/webhook-payload.ts';
import { auditCommands } from './audit.ts';
import { cliEnvironment, DEFAULT_DATA, describeData, noDatabase, sqliteFile, takeDataOption } from './data.ts';
import { gcCommands } from './gc.ts';
import { hookCommands } from './hooks.ts';
import { orgCommands } from './orgs.ts';
import { packageCommands } from './packages.ts';
import { promoteCommands } from './promote.ts';
import { proxyCommands } from './proxies.ts';
import { repoCommands } from './repos.ts';
import { retentionCommands, tagCommands } from './retention.ts';
import { signingCommands } from './signing.ts';
import { tokenCommands } from './tokens.ts';
import { trustCommands } from './trust.ts';
import { userCommands } from './users.ts';
import { quotaCommands, usageCommands } from './usage.ts';
import { UsageError } from './args.ts';

export type Out = (line: string) => void;
/**
 * One verb. `open` opens the database (once; call it after the arguments are checked, so that a usage error
 * touches nothing); `out` is stdout, `note` stderr (an empty list says so there, never on stdout).
 */
export type Command = (open: () => Promise<Core>, args: string[], out: Out, note: Out) => Promise<void>;

interface Noun {
  usage: string;
  /** Lines that apply to every verb of the noun (printed after its usage, or a verb's). */
  notes?: string;
  verbs: Record<string, Command>;
}

const nouns: Record<string, Noun> = {
  user: userCommands,
  org: orgCommands,
  repo: repoCommands,
  token: tokenCommands,
  package: packageCommands,
  proxy: proxyCommands,
  gc: gcCommands,
  signing: signingCommands,
  trust: trustCommands,
  hook: hookCommands,
  // `wharf hooks allow …` reads as naturally as `wharf hook create …`.
  hooks: hookCommands,
  audit: auditCommands,
  promote: promoteCommands,
  retention: retentionCommands,
  tag: tagCommands,
  usage: usageCommands,
  quota: quotaCommands,
};

/** `wharf gc [--dry-run]` reads better than `wharf gc run`: a noun with one verb may omit it. */
const only: Record<string, string> = { gc: 'run', audit: 'list', promote: 'run' };

const GLOBAL =
  `  --data DIR   the data folder to use, before or after NOUN VERB (else WHARF_DATABASE_URL / WHARF_DATA as the server reads them,\n` +
  `               else ${DEFAULT_DATA}, the folder \`npm start\` uses)`;

function overview(): string {
  return [
    'usage: wharf [--data DIR] NOUN VERB [args]',
    ...new Set(Object.values(nouns).map((n) => (n.notes ? `${n.usage}\n${n.notes}` : n.usage))),
    GLOBAL,
    'Help on one noun or verb: wharf help NOUN, wharf NOUN --help, wharf NOUN VERB --help',
  ].join('\n');
}

/** The usage entries of a noun (an entry is a `  wharf …` line and the more indented lines under it). */
function entries(n: Noun): string[] {
  const out: string[] = [];
  for (const line of n.usage.split('\n')) {
    if (/^ {2}wharf /.test(line) || !out.length) out.push(line);
    else out[out.length - 1] += '\n' + line;
  }
  return out;
}

/**
 * The usage of one verb (`wharf user create …`), else the noun's (a noun whose one verb is implied: gc, audit);
 * asked-for help also explains --data.
 */
function usageOf(n: Noun, verb?: string, help = false): string {
  const mine = verb ? entries(n).filter((e) => e.trim().split(/\s+/)[2] === verb) : [];
  return ['usage:', mine.length ? mine.join('\n') : n.usage, ...(n.notes ? [n.notes] : []), ...(help ? [GLOBAL] : [])].join('\n');
}

const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

export async function main(argv: string[], out: Out = (l) => process.stdout.write(l + '\n'), note: Out = (l) => process.stderr.write(l + '\n')): Promise<number> {
  let data: string | undefined;
  try {
    ({ argv, data } = takeDataOption(argv));
  } catch (e) {
    note(`wharf: ${(e as Error).message}\n${overview()}`);
    return 2;
  }
  // `wharf promote TYPE …`: its first argument is never a verb.
  if (argv.length && Object.hasOwn(only, argv[0]) && (argv.length === 1 || argv[1].startsWith('-') || (argv[0] === 'promote' && !['run', 'help'].includes(argv[1])))) argv = [argv[0], only[argv[0]], ...argv.slice(1)];
  const [noun, verb, ...rest] = argv;
  if (!noun) {
    note(overview());
    return 2;
  }
  if (noun === 'help' || noun === '--help' || noun === '-h') {
    // `wharf help`, `wharf help user`, `wharf help user create`.
    if (!verb) {
      out(overview());
      return 0;
    }
    const n = nouns[verb];
    if (!n || (rest[0] !== undefined && !Object.hasOwn(n.verbs, rest[0]))) {
      note(`wharf: unknown command "${[verb, rest[0]].filter(Boolean).join(' ')}"\n${n ? usageOf(n) : overview()}`);
      return 2;
    }
    out(usageOf(n, rest[0], true));
    return 0;
  }
  const n = Object.hasOwn(nouns, noun) ? nouns[noun] : undefined;
  if (n && (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h')) {
    // `wharf user` alone is a mistake (exit 2); `wharf user --help` asked for it.
    if (verb === undefined) {
      note(`wharf: missing VERB after "${noun}"\n${usageOf(n)}`);
      return 2;
    }
    out(usageOf(n, undefined, true));
    return 0;
  }
  const cmd = n && Object.hasOwn(n.verbs, verb) ? n.verbs[verb] : undefined;
  if (!n || !cmd) {
    note(`wharf: unknown command "${n ? `${noun} ${verb}` : noun}"\n${n ? usageOf(n) : overview()}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    out(usageOf(n, verb, true));
    return 0;
  }

  let core: Core | undefined;
  const open = async () => {
    if (core) return core;
    const config = loadConfig(cliEnvironment(process.env, data));
    const file = sqliteFile(config);
    const fresh = file !== null && !fs.existsSync(file);
    // Only a create may start a database; anything else would find it empty and mislead ("no user named alice").
    if (fresh && verb !== 'create') throw new Error(noDatabase(config, file));
    note(`wharf: ${describeData(config)}${fresh ? ', a new database' : ''}`);
    core = await openCore(config, undefined, { short: true });
    // Changes made here queue their webhook deliveries like the server's do (the server sends them).
    core.webhooks.builder = webhookPayloads(core);
    return core;
  };
  try {
    await cmd(open, rest, out, note);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      note(`wharf: ${e.message}\n${usageOf(n, verb)}`);
      return 2;
    }
    note(`wharf: ${isWharfError(e) || e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await core?.close();
  }
}
