import { ROLES, VISIBILITIES } from '../core/identity/identity.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Owner } from '../db/tables.ts';
import type { Command } from './main.ts';
import { oneOf, parse, table, UsageError } from './args.ts';
import { allOwners, when } from './users.ts';

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { visibility: { type: 'string' } }, ['OWNER/NAME']);
  const [owner, name, ...rest] = pos[0].split('/');
  if (!owner || !name || rest.length) throw new UsageError('expected OWNER/NAME');
  const visibility = oneOf(values.visibility ?? 'public', VISIBILITIES, '--visibility');
  const repo = await (await open()).identity.createRepo(systemActor, owner, name, visibility);
  out(`created repository ${owner}/${repo.name} (${repo.visibility})`);
};

/** Repositories of one owner, or of every user and organization. */
const list: Command = async (open, args, out, note) => {
  const owner = parse(args, {}, ['[OWNER]']).pos[0];
  const core = await open();
  const owners: Owner[] = owner ? [await core.identity.requireOwner(owner)] : [...(await allOwners(core, 'user')), ...(await allOwners(core, 'org'))];
  const rows = [];
  for (const o of owners) {
    for (const r of await core.identity.listRepos(o.id)) {
      const collaborators = await core.identity.listRepoCollaborators(r.id);
      const packages = await core.packages.listByRepository(r.id);
      rows.push([`${o.name}/${r.name}`, r.visibility, packages.length, collaborators.length, when(r.created_at)]);
    }
  }
  if (!rows.length) {
    return note(owner ? `no repositories of ${owner} — create one with: wharf repo create ${owner}/NAME` : 'no repositories yet — create one with: wharf repo create OWNER/NAME');
  }
  for (const l of table(['NAME', 'VISIBILITY', 'PACKAGES', 'COLLABORATORS', 'CREATED'], rows)) out(l);
};

const grant: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['OWNER/NAME', 'USER']);
  if (!values.role) throw new UsageError('--role read|write|admin is required');
  const role = oneOf(values.role, ROLES, '--role');
  await (await open()).identity.grantRepo(systemActor, pos[0], pos[1], role);
  out(`${pos[1]} has ${values.role} on ${pos[0]}`);
};

const visibility: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER/NAME', 'VISIBILITY']);
  const v = oneOf(pos[1], VISIBILITIES, 'VISIBILITY');
  const core = await open();
  const repo = await core.identity.requireRepo(pos[0]);
  await core.identity.setRepoVisibility(systemActor, repo.id, v);
  out(`${pos[0]} is now ${pos[1]}`);
};

export const repoCommands = {
  usage:
    '  wharf repo create OWNER/NAME [--visibility public|private|internal]\n' +
    '  wharf repo list [OWNER]   (NAME VISIBILITY PACKAGES COLLABORATORS CREATED; every owner\'s without OWNER)\n' +
    '  wharf repo grant OWNER/NAME USER --role read|write|admin\n  wharf repo visibility OWNER/NAME public|private|internal',
  verbs: { create, list, grant, visibility },
};
