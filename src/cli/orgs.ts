import type { Command } from './main.ts';
import { systemActor } from '../core/auth/actor.ts';
import { parse, table, UsageError } from './args.ts';
import { allOwners, when } from './users.ts';

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['NAME']);
  if (!values.owner) throw new UsageError('--owner USER is required');
  const org = await (await open()).identity.createOrg(systemActor, pos[0], values.owner);
  out(`created organization ${org.name} owned by ${values.owner}`);
};

const list: Command = async (open, args, out, note) => {
  parse(args, {}, []);
  const core = await open();
  const orgs = await allOwners(core, 'org');
  if (!orgs.length) return note('no organizations yet — create one with: wharf org create NAME --owner USER');
  const rows = [];
  for (const o of orgs) {
    const members = await core.identity.listOrgMembers(o.id);
    rows.push([o.name, members.filter((m) => m.role === 'owner').map((m) => m.name).join(','), members.length, when(o.created_at)]);
  }
  for (const l of table(['NAME', 'OWNERS', 'MEMBERS', 'CREATED'], rows)) out(l);
};

const addMember: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['ORG', 'USER']);
  const role = values.role ?? 'member';
  if (role !== 'owner' && role !== 'member') throw new UsageError('--role must be owner or member');
  await (await open()).identity.addOrgMember(systemActor, pos[0], pos[1], role);
  out(`${pos[1]} is now ${role} of ${pos[0]}`);
};

const removeMember: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['ORG', 'USER']);
  await (await open()).identity.removeOrgMember(systemActor, pos[0], pos[1]);
  out(`${pos[1]} removed from ${pos[0]}`);
};

export const orgCommands = {
  usage:
    '  wharf org create NAME --owner USER\n  wharf org list   (NAME OWNERS MEMBERS CREATED)\n' +
    '  wharf org add-member ORG USER [--role owner|member]\n  wharf org remove-member ORG USER',
  verbs: { create, list, 'add-member': addMember, 'remove-member': removeMember },
};
