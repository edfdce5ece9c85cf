// `wharf promote TYPE OWNER/NAME@VERSION --to URL | --to-owner ORG`: a version copied, file for file, to another
// registry or owner (core/promote.ts), as the operator (the system actor, as every `wharf` command).
import { systemActor } from '../core/auth/actor.ts';
import { packageSettings } from '../core/package-settings.ts';
import { formatOf } from '../formats/index.ts';
import type { Command } from './main.ts';
import { parse, readStdin, UsageError } from './args.ts';
import { packageType } from './packages.ts';

const run: Command = async (open, args, out) => {
  const { values, pos } = parse(args, {
    to: { type: 'string' }, token: { type: 'string' }, username: { type: 'string' }, 'password-stdin': { type: 'boolean' },
    'to-owner': { type: 'string' }, name: { type: 'string' },
  }, ['TYPE', 'OWNER/NAME@VERSION']);
  const type = packageType(pos[0]);
  // The version follows the last '@' (an npm name starts with one: @alice/hello@1.0.0).
  const at = pos[1].lastIndexOf('@');
  const slug = (at > 0 ? pos[1].slice(0, at) : '').replace(/^@/, '');
  const version = at > 0 ? pos[1].slice(at + 1) : '';
  const i = slug.indexOf('/');
  if (i <= 0 || i === slug.length - 1 || !version) throw new UsageError(`expected OWNER/NAME@VERSION, got "${pos[1]}"`);
  if (!values.to === !values['to-owner']) throw new UsageError('give either --to URL or --to-owner ORG');
  if (values.to && values.name) throw new UsageError('--name goes with --to-owner');
  if (values['to-owner'] && (values.token || values.username || values['password-stdin'])) throw new UsageError('credentials go with --to URL');
  if (values.token && values.username) throw new UsageError('give --token or --username, not both');
  if (values['password-stdin'] && !values.username) throw new UsageError('--password-stdin needs --username');
  const password = values['password-stdin'] ? await readStdin() : undefined;
  const core = await open();
  const pkg = await packageSettings(core).require(slug.slice(0, i), type, slug.slice(i + 1));
  const v = await core.promotions.resolve(pkg, version);
  const to = values.to
    ? { url: values.to, credentials: { token: values.token, username: values.username, password } }
    : { owner: values['to-owner']!, name: values.name };
  const row = await core.promotions.promote(systemActor, { pkg, version: v, to }, formatOf(type)!.promoter!);
  out(`promoted ${type} ${pkg.owner_name}/${pkg.name}@${v.version} to ${row.target} (${row.checked.length} digest${row.checked.length === 1 ? '' : 's'} checked there)`);
};

export const promoteCommands = {
  usage:
    '  wharf promote TYPE OWNER/NAME@VERSION --to URL [--token T | --username U --password-stdin]\n' +
    '  wharf promote TYPE OWNER/NAME@VERSION --to-owner ORG [--name NEW]',
  notes: '  copies the version and every one of its files, byte for byte, and checks the copy on the target',
  verbs: { run },
};
