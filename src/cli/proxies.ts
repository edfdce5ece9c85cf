// `wharf proxy ...`: pull-through proxies (core/proxy/proxies.ts), through the same core service as the REST API.
import { systemActor } from '../core/auth/actor.ts';
import { VISIBILITIES } from '../core/identity/identity.ts';
import { PROXY_FORMATS, publicInfo, type ProxyConfig, type ProxyInput } from '../core/proxy/proxies.ts';
import type { Command } from './main.ts';
import { oneOf, parse, readStdin, table, UsageError } from './args.ts';

const settings = {
  upstream: { type: 'string' },
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  visibility: { type: 'string' },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  default: { type: 'boolean' },
  'no-default': { type: 'boolean' },
} as const;

function seconds(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(s)) throw new UsageError(`${what} must be a number of seconds, got "${s}"`);
  return Number(s);
}

/** The settings given on the command line (the password from stdin, never from an argument: it would show in `ps`). */
async function inputOf(values: { upstream?: string; username?: string; 'password-stdin'?: boolean; visibility?: string; ttl?: string; timeout?: string; default?: boolean; 'no-default'?: boolean }): Promise<ProxyInput> {
  if (values.default && values['no-default']) throw new UsageError('give one of --default and --no-default');
  const input: ProxyInput = {};
  if (values.upstream !== undefined) input.upstream = values.upstream;
  if (values.username !== undefined) input.username = values.username;
  if (values.visibility !== undefined) input.visibility = oneOf(values.visibility, VISIBILITIES, '--visibility');
  input.ttlSeconds = seconds(values.ttl, '--ttl');
  const timeout = seconds(values.timeout, '--timeout');
  if (timeout !== undefined) input.timeoutMs = timeout * 1000;
  if (values.default) input.isDefault = true;
  if (values['no-default']) input.isDefault = false;
  if (values['password-stdin']) {
    if (!values.username) throw new UsageError('--password-stdin needs --username');
    input.password = await readStdin();
    if (!input.password) throw new UsageError('empty password on stdin');
  }
  return input;
}

const describe = (p: ProxyConfig) => {
  const i = publicInfo(p);
  return `${i.name}: ${i.format} proxy of ${i.upstream}${i.username ? ` as ${i.username}` : ''}, ${i.visibility}, ttl ${i.ttlSeconds} s, timeout ${i.timeoutMs / 1000} s${i.isDefault ? ', default' : ''}`;
};

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { format: { type: 'string' }, ...settings }, ['NAME']);
  if (!values.format) throw new UsageError('--format is required');
  oneOf(values.format, PROXY_FORMATS, '--format');
  if (!values.upstream) throw new UsageError('--upstream URL is required');
  const input = await inputOf(values);
  const p = await (await open()).proxies.create(systemActor, pos[0], { ...input, format: values.format });
  out(`created ${describe(p)}`);
};

const update: Command = async (open, args, out) => {
  const { values, pos } = parse(args, settings, ['NAME']);
  const p = await (await open()).proxies.update(systemActor, pos[0], await inputOf(values));
  out(`updated ${describe(p)}`);
};

const list: Command = async (open, args, out, note) => {
  parse(args, {}, []);
  const all = await (await open()).proxies.list();
  if (!all.length) return note('no proxies yet — create one with: wharf proxy create NAME --format npm --upstream URL');
  for (const l of table(['NAME', 'FORMAT', 'UPSTREAM', 'VISIBILITY', 'TTL', 'DEFAULT'], all.map((p) => [p.name, p.format, p.upstream, p.visibility, p.ttlSeconds, p.isDefault ? 'default' : '']))) out(l);
};

const remove: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  await (await open()).proxies.remove(systemActor, pos[0]);
  out(`${pos[0]} no longer proxies (its organization and what it cached remain)`);
};

const block: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { format: { type: 'string' } }, ['PATTERN']);
  const format = oneOf(values.format ?? 'npm', PROXY_FORMATS, '--format');
  await (await open()).proxies.block(systemActor, format, pos[0]);
  out(`${pos[0]} never falls through to the default ${format} proxy`);
};

const unblock: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { format: { type: 'string' } }, ['PATTERN']);
  const format = oneOf(values.format ?? 'npm', PROXY_FORMATS, '--format');
  await (await open()).proxies.unblock(systemActor, format, pos[0]);
  out(`${pos[0]} may fall through to the default ${format} proxy again`);
};

const blocks: Command = async (open, args, out, note) => {
  const { values } = parse(args, { format: { type: 'string' } }, []);
  const format = oneOf(values.format ?? 'npm', PROXY_FORMATS, '--format');
  const all = await (await open()).proxies.blocks(format);
  if (!all.length) return note(`no blocked names — block one with: wharf proxy block PATTERN`);
  for (const p of all) out(p);
};

export const proxyCommands = {
  usage:
    '  wharf proxy create NAME --format npm|container|maven|rubygems|nuget --upstream URL [--username U --password-stdin] [--visibility public|private|internal]\n' +
    '                    [--ttl SECONDS] [--timeout SECONDS] [--default]\n' +
    '                    (an organization NAME whose packages are fetched from URL and cached; ttl: how long a package\n' +
    '                    document is served before it is revalidated, default 300; timeout: default 30; --default: /npm/\n' +
    '                    falls through to it for every name Wharf does not hold, never for the scope of a Wharf owner)\n' +
    '  wharf proxy update NAME [--upstream URL] [--username U --password-stdin] [--visibility V] [--ttl S] [--timeout S] [--default|--no-default]\n' +
    '  wharf proxy list   (NAME FORMAT UPSTREAM VISIBILITY TTL DEFAULT)\n' +
    '  wharf proxy delete NAME   (stops proxying; the organization and what it cached remain)\n' +
    '  wharf proxy block PATTERN [--format npm]   (@scope, @scope/*, name or name-*: never falls through to the default proxy)\n' +
    '  wharf proxy unblock PATTERN [--format npm]\n  wharf proxy blocks [--format npm]',
  verbs: { create, update, list, delete: remove, block, unblock, blocks },
};
