import type { Command } from './main.ts';
import { systemActor } from '../core/auth/actor.ts';
import { parse } from './args.ts';
import { readPassword } from './password.ts';

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { admin: { type: 'boolean' }, email: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, ['NAME']);
  let password: string | null = null;
  if (values['password-stdin']) {
    password = await readPassword();
  }
  const user = await core.identity.createUser({ name: pos[0], email: values.email ?? null, password, isAdmin: !!values.admin });
  out(`created user ${user.name}${user.is_admin ? ' (admin)' : ''}`);
};

const password: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const pw = await readPassword();
  await core.identity.setPassword(pos[0], pw);
  out(`password set for ${pos[0]}; their web sessions were ended`);
};

const suspend: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const u = await core.identity.suspendUser(systemActor, pos[0]);
  out(`suspended ${u.name}: their password, tokens and sessions no longer work`);
};

const unsuspend: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const u = await core.identity.unsuspendUser(systemActor, pos[0]);
  out(`unsuspended ${u.name}`);
};

// Refused while the user owns packages or is an organization's only owner: --force deletes their packages too.
const del: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { force: { type: 'boolean' } }, ['NAME']);
  const { packages } = await core.identity.deleteUser(systemActor, pos[0], { force: !!values.force });
  out(`deleted user ${pos[0]}${packages ? ` and ${packages} package${packages === 1 ? '' : 's'}` : ''}`);
};

export const userCommands = {
  usage: [
    '  wharf user create NAME [--admin] [--email E] [--password-stdin]   (the password from a pipe, or asked for at a terminal)',
    '  wharf user password NAME   (new password from a pipe, or asked for at a terminal; ends their web sessions)',
    '  wharf user suspend NAME    (password, tokens and sessions stop working)',
    '  wharf user unsuspend NAME',
    '  wharf user delete NAME [--force]   (--force: also when they own packages, which are deleted)',
  ].join('\n'),
  verbs: { create, password, suspend, unsuspend, delete: del },
};
