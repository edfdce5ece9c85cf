import type { Command } from './main.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import type { Owner } from '../db/tables.ts';
import { parse, table, UsageError } from './args.ts';
import { readPassword } from './password.ts';

/** An ISO timestamp to the second, for tables. */
export const when = (iso: string | null | undefined) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : null);

/** Every user or every organization, oldest first (the core lists them a page at a time). */
export async function allOwners(core: Core, kind: 'user' | 'org'): Promise<Owner[]> {
  const all: Owner[] = [];
  for (let page: Owner[]; (page = await core.identity.listOwners(kind, 1000, all.length)).length; ) {
    all.push(...page);
    if (page.length < 1000) break;
  }
  return all;
}

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { admin: { type: 'boolean' }, email: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, ['NAME']);
  let password: string | null = null;
  if (values['password-stdin']) {
    password = await readPassword();
  }
  const core = await open();
  const user = await core.identity.createUser(systemActor, { name: pos[0], email: values.email ?? null, password, isAdmin: !!values.admin });
  out(`created user ${user.name}${user.is_admin ? ' (admin)' : ''}`);
};

const list: Command = async (open, args, out, note) => {
  parse(args, {}, []);
  const users = await allOwners(await open(), 'user');
  if (!users.length) return note('no users yet — create one with: wharf user create NAME [--admin] [--email E] [--password-stdin]');
  const rows = users.map((u) => [u.name, u.is_admin ? 'yes' : 'no', u.email, u.password_hash ? 'set' : 'none', u.suspended_at ? 'suspended' : 'active', when(u.created_at)]);
  for (const l of table(['NAME', 'ADMIN', 'EMAIL', 'PASSWORD', 'STATE', 'CREATED'], rows)) out(l);
};

const password: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const pw = await readPassword();
  await (await open()).identity.setPassword(pos[0], pw);
  out(`password set for ${pos[0]}; their web sessions were ended`);
};

const suspend: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const u = await (await open()).identity.suspendUser(systemActor, pos[0]);
  out(`suspended ${u.name}: their password, tokens and sessions no longer work`);
};

const unsuspend: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const u = await (await open()).identity.unsuspendUser(systemActor, pos[0]);
  out(`unsuspended ${u.name}`);
};

const admin: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['NAME', 'on|off']);
  if (pos[1] !== 'on' && pos[1] !== 'off') throw new UsageError(`expected on or off, got "${pos[1]}"`);
  const u = await (await open()).identity.setSiteAdmin(systemActor, pos[0], pos[1] === 'on');
  out(u.is_admin ? `${u.name} is a site administrator` : `${u.name} is not a site administrator`);
};

// Refused while the user owns packages or is an organization's only owner: --force deletes their packages too.
const del: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { force: { type: 'boolean' } }, ['NAME']);
  const { packages } = await (await open()).identity.deleteUser(systemActor, pos[0], { force: !!values.force });
  out(`deleted user ${pos[0]}${packages ? ` and ${packages} package${packages === 1 ? '' : 's'}` : ''}`);
};

export const userCommands = {
  usage: [
    '  wharf user create NAME [--admin] [--email E] [--password-stdin]   (the password from a pipe, or asked for at a terminal)',
    '  wharf user list           (NAME ADMIN EMAIL PASSWORD STATE CREATED)',
    '  wharf user password NAME   (new password from a pipe, or asked for at a terminal; ends their web sessions)',
    '  wharf user admin NAME on|off   (make them a site administrator, or no longer)',
    '  wharf user suspend NAME    (password, tokens and sessions stop working)',
    '  wharf user unsuspend NAME',
    '  wharf user delete NAME [--force]   (--force: also when they own packages, which are deleted)',
  ].join('\n'),
  verbs: { create, list, password, admin, suspend, unsuspend, delete: del },
};
