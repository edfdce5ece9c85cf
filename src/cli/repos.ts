import { ROLES, VISIBILITIES } from '../core/identity/identity.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Command } from './main.ts';
import { oneOf, parse, UsageError } from './args.ts';

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { visibility: { type: 'string' } }, ['OWNER/NAME']);
  const [owner, name, ...rest] = pos[0].split('/');
  if (!owner || !name || rest.length) throw new UsageError('expected OWNER/NAME');
  const repo = await core.identity.createRepo(systemActor, owner, name, oneOf(values.visibility ?? 'public', VISIBILITIES, '--visibility'));
  out(`created repository ${owner}/${repo.name} (${repo.visibility})`);
};

const grant: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['OWNER/NAME', 'USER']);
  if (!values.role) throw new UsageError('--role read|write|admin is required');
  await core.identity.grantRepo(systemActor, pos[0], pos[1], oneOf(values.role, ROLES, '--role'));
  out(`${pos[1]} has ${values.role} on ${pos[0]}`);
};

const visibility: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['OWNER/NAME', 'VISIBILITY']);
  const v = oneOf(pos[1], VISIBILITIES, 'VISIBILITY');
  const repo = await core.identity.requireRepo(pos[0]);
  await core.identity.setRepoVisibility(systemActor, repo.id, v);
  out(`${pos[0]} is now ${pos[1]}`);
};

export const repoCommands = {
  usage: '  wharf repo create OWNER/NAME [--visibility public|private|internal]\n  wharf repo grant OWNER/NAME USER --role read|write|admin\n  wharf repo visibility OWNER/NAME public|private|internal',
  verbs: { create, grant, visibility },
};
