import { parseDuration, parseScopes } from '../core/auth/tokens.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';
import { when } from './users.ts';

const duration = (s: string) => {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
};

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { scopes: { type: 'string' }, 'expires-in': { type: 'string' }, name: { type: 'string' } }, ['USER']);
  if (!values.scopes) throw new UsageError('--scopes is required, e.g. read:packages,write:packages');
  try {
    if (!parseScopes(values.scopes).size) throw new Error('--scopes names no scope');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const expiresInMs = values['expires-in'] ? duration(values['expires-in']) : null;
  const { token } = await (await open()).tokens.createPersonal(systemActor, pos[0], { scopes: values.scopes, name: values.name, expiresInMs });
  out(token);
};

const createJob: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { ttl: { type: 'string' } }, ['OWNER/REPO']);
  const ttlMs = values.ttl ? duration(values.ttl) : undefined;
  const { token } = await (await open()).tokens.createJob(systemActor, pos[0], { ttlMs });
  out(token);
};

const revoke: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TOKEN|ID']);
  const t = await (await open()).tokens.revoke(systemActor, pos[0]);
  out(`revoked token ${t.id} (${t.name})`);
};

const list: Command = async (open, args, out, note) => {
  const { pos } = parse(args, {}, ['USER']);
  const core = await open();
  const user = await core.identity.requireUser(pos[0]);
  const tokens = await core.tokens.listForUser(systemActor, user.id);
  if (!tokens.length) return note(`no tokens for ${user.name} — create one with: wharf token create ${user.name} --scopes read:packages,write:packages`);
  const rows = tokens.map((t) => [t.id, t.token_prefix + '…', t.name, t.scopes.join(','), when(t.expires_at) ?? 'never', when(t.last_used_at) ?? '-']);
  for (const l of table(['ID', 'PREFIX', 'NAME', 'SCOPES', 'EXPIRES', 'LAST-USED'], rows)) out(l);
};

export const tokenCommands = {
  usage:
    '  wharf token create USER --scopes read:packages,write:packages,delete:packages [--expires-in 30d] [--name NAME]   (prints the token alone)\n' +
    '  wharf token create-job OWNER/REPO [--ttl 1h]\n  wharf token revoke TOKEN|ID\n  wharf token list USER   (ID PREFIX NAME SCOPES EXPIRES LAST-USED; never the secret)',
  verbs: { create, 'create-job': createJob, revoke, list },
};
