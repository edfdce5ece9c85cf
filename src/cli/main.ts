// `wharf NOUN VERB ...`: admin commands over the core, one file per noun. Output: only what was asked for
// (a token prints as the token alone), errors on stderr with exit code 1 (2 for usage).
import { loadConfig } from '../config.ts';
import { openCore, type Core } from '../core/core.ts';
import { isWharfError } from '../core/errors.ts';
import { webhookPayloads } from '../http/webhook-payload.ts';
import { auditCommands } from './audit.ts';
import { gcCommands } from './gc.ts';
import { hookCommands } from './hooks.ts';
import { orgCommands } from './orgs.ts';
import { packageCommands } from './packages.ts';
import { repoCommands } from './repos.ts';
import { signingCommands } from './signing.ts';
import { tokenCommands } from './tokens.ts';
import { userCommands } from './users.ts';
import { UsageError } from './args.ts';

export type Command = (core: Core, args: string[], out: (line: string) => void) => Promise<void>;

const nouns: Record<string, { usage: string; verbs: Record<string, Command> }> = {
  user: userCommands,
  org: orgCommands,
  repo: repoCommands,
  token: tokenCommands,
  package: packageCommands,
  gc: gcCommands,
  signing: signingCommands,
  hook: hookCommands,
  // `wharf hooks allow …` reads as naturally as `wharf hook create …`.
  hooks: hookCommands,
  audit: auditCommands,
};

function usage(): string {
  return ['usage: wharf NOUN VERB [args]', ...new Set(Object.values(nouns).map((n) => n.usage))].join('\n');
}

export async function main(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  // `wharf gc [--dry-run]` reads better than `wharf gc run`: a noun with one verb may omit it.
  const only: Record<string, string> = { gc: 'run', audit: 'list' };
  if (argv.length && Object.hasOwn(only, argv[0]) && (argv.length === 1 || argv[1].startsWith('-'))) argv = [argv[0], only[argv[0]], ...argv.slice(1)];
  const [noun, verb, ...rest] = argv;
  if (!noun) {
    process.stderr.write(usage() + '\n');
    return 2;
  }
  if (noun === 'help' || noun === '--help' || noun === '-h') {
    out(usage());
    return 0;
  }
  const n = nouns[noun];
  const cmd = n?.verbs[verb ?? ''];
  if (!cmd) {
    process.stderr.write(`wharf: unknown command "${[noun, verb].filter(Boolean).join(' ')}"\n${n ? n.usage : usage()}\n`);
    return 2;
  }
  let core: Core | undefined;
  try {
    const config = loadConfig();
    core = await openCore(config, undefined, { short: true });
    // Changes made here queue their webhook deliveries like the server's do (the server sends them).
    core.webhooks.builder = webhookPayloads(core);
    await cmd(core, rest, out);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`wharf: ${e.message}\n${n.usage}\n`);
      return 2;
    }
    process.stderr.write(`wharf: ${isWharfError(e) || e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await core?.close();
  }
}
