import { parseDuration, parseScopes } from '../core/auth/tokens.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Command } from './main.ts';
import { parse, UsageError } from './args.ts';

const duration = (s: string) => {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
};

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { scopes: { type: 'string' }, 'expires-in': { type: 'string' }, name: { type: 'string' } }, ['USER']);
  if (!values.scopes) throw new UsageError('--scopes is required, e.g. read:packages,write:packages');
  try {
    if (!parseScopes(values.scopes).size) throw new Error('--scopes names no scope');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const expiresInMs = values['expires-in'] ? duration(values['expires-in']) : null;
  const { token } = await core.tokens.createPersonal(systemActor, pos[0], { scopes: values.scopes, name: values.name, expiresInMs });
  out(token);
};

const createJob: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { ttl: { type: 'string' } }, ['OWNER/REPO']);
  const { token } = await core.tokens.createJob(systemActor, pos[0], { ttlMs: values.ttl ? duration(values.ttl) : undefined });
  out(token);
};

const revoke: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['TOKEN|ID']);
  const t = await core.tokens.revoke(systemActor, pos[0]);
  out(`revoked token ${t.id} (${t.name})`);
};

const list: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['USER']);
  const user = await core.identity.requireUser(pos[0]);
  for (const t of await core.tokens.listForUser(systemActor, user.id)) {
    out([t.id, t.token_prefix + '…', t.name, t.scopes.join(','), t.expires_at ?? 'never', t.last_used_at ?? '-'].join('\t'));
  }
};

export const tokenCommands = {
  usage:
    '  wharf token create USER --scopes read:packages,write:packages,delete:packages [--expires-in 30d] [--name NAME]\n' +
    '  wharf token create-job OWNER/REPO [--ttl 1h]\n  wharf token revoke TOKEN|ID\n  wharf token list USER',
  verbs: { create, 'create-job': createJob, revoke, list },
};
