import type { Command } from './main.ts';
import { parse, readStdin, UsageError } from './args.ts';

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { admin: { type: 'boolean' }, email: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, ['NAME']);
  let password: string | null = null;
  if (values['password-stdin']) {
    password = await readStdin();
    if (!password) throw new UsageError('--password-stdin read an empty password');
  }
  const user = await core.identity.createUser({ name: pos[0], email: values.email ?? null, password, isAdmin: !!values.admin });
  out(`created user ${user.name}${user.is_admin ? ' (admin)' : ''}`);
};

const password: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['NAME']);
  const pw = await readStdin();
  if (!pw) throw new UsageError('empty password on stdin');
  await core.identity.setPassword(pos[0], pw);
  out(`password set for ${pos[0]}`);
};

export const userCommands = {
  usage: '  wharf user create NAME [--admin] [--email E] [--password-stdin]\n  wharf user password NAME   (new password on stdin)',
  verbs: { create, password },
};
