import type { Command } from './main.ts';
import { systemActor } from '../core/auth/actor.ts';
import { parse, UsageError } from './args.ts';

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['NAME']);
  if (!values.owner) throw new UsageError('--owner USER is required');
  const org = await core.identity.createOrg(systemActor, pos[0], values.owner);
  out(`created organization ${org.name} owned by ${values.owner}`);
};

const addMember: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['ORG', 'USER']);
  const role = values.role ?? 'member';
  if (role !== 'owner' && role !== 'member') throw new UsageError('--role must be owner or member');
  await core.identity.addOrgMember(systemActor, pos[0], pos[1], role);
  out(`${pos[1]} is now ${role} of ${pos[0]}`);
};

const removeMember: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['ORG', 'USER']);
  await core.identity.removeOrgMember(systemActor, pos[0], pos[1]);
  out(`${pos[1]} removed from ${pos[0]}`);
};

export const orgCommands = {
  usage: '  wharf org create NAME --owner USER\n  wharf org add-member ORG USER [--role owner|member]\n  wharf org remove-member ORG USER',
  verbs: { create, 'add-member': addMember, 'remove-member': removeMember },
};
