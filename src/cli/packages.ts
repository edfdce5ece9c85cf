import { ROLES, VISIBILITIES } from '../core/identity/identity.ts';
import { systemActor } from '../core/auth/actor.ts';
import { packageSettings } from '../core/package-settings.ts';
import { isWharfError, WharfError } from '../core/errors.ts';
import type { Command } from './main.ts';
import { oneOf, parse, UsageError } from './args.ts';

/** OWNER/NAME, where a container name may have more segments (alice/team/app). */
const split = (slug: string) => {
  const i = slug.indexOf('/');
  const owner = slug.slice(0, i);
  const name = slug.slice(i + 1);
  if (i <= 0 || !name || name.split('/').some((p) => !p)) throw new UsageError(`expected OWNER/NAME, got "${slug}"`);
  return { owner, name };
};

const visibility: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'VISIBILITY']);
  const { owner, name } = split(pos[1]);
  const v = oneOf(pos[2], VISIBILITIES, 'VISIBILITY');
  const s = packageSettings(core);
  const pkg = await s.require(owner, pos[0], name);
  try {
    await s.update(pkg, { visibility: v }, systemActor);
  } catch (e) {
    if (isWharfError(e) && e.code === 'inherits_visibility') throw new WharfError(e.kind, `${e.message} (wharf package inherit ${pos[0]} ${pos[1]} off)`, e.code);
    throw e;
  }
  out(`${pos[0]} package ${owner}/${name} is now ${pos[2]}`);
};

const grant: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['TYPE', 'OWNER/NAME', 'USER|OWNER/REPO']);
  if (!values.role) throw new UsageError('--role read|write|admin is required');
  const role = oneOf(values.role, ROLES, '--role');
  const { owner, name } = split(pos[1]);
  const s = packageSettings(core);
  const pkg = await s.require(owner, pos[0], name);
  await s.grant(pkg, pos[2], role, systemActor);
  out(`${pos[2]} has ${values.role} on ${pos[0]} package ${owner}/${name}`);
};

const revoke: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'USER|OWNER/REPO']);
  const { owner, name } = split(pos[1]);
  const s = packageSettings(core);
  await s.revoke(await s.require(owner, pos[0], name), pos[2], systemActor);
  out(`${pos[2]} no longer has access to ${pos[0]} package ${owner}/${name}`);
};

const link: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'OWNER/REPO|none']);
  const { owner, name } = split(pos[1]);
  const s = packageSettings(core);
  const pkg = await s.require(owner, pos[0], name);
  await s.update(pkg, { repository: pos[2] === 'none' ? null : pos[2] }, systemActor);
  out(pos[2] === 'none' ? `${owner}/${name} is no longer linked` : `${owner}/${name} is linked to ${pos[2]}`);
};

const inherit: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'on|off']);
  if (pos[2] !== 'on' && pos[2] !== 'off') throw new UsageError('expected on or off');
  const { owner, name } = split(pos[1]);
  const s = packageSettings(core);
  await s.update(await s.require(owner, pos[0], name), { inheritAccess: pos[2] === 'on' }, systemActor);
  out(`${owner}/${name} inherits access from its repository: ${pos[2]}`);
};

export const packageCommands = {
  usage:
    '  wharf package visibility TYPE OWNER/NAME public|private|internal\n' +
    '  wharf package grant TYPE OWNER/NAME USER|OWNER/REPO --role read|write|admin\n' +
    '  wharf package revoke TYPE OWNER/NAME USER|OWNER/REPO\n' +
    '  wharf package link TYPE OWNER/NAME OWNER/REPO|none\n  wharf package inherit TYPE OWNER/NAME on|off',
  verbs: { visibility, grant, revoke, link, inherit },
};
