import { ROLES, VISIBILITIES } from '../core/identity/identity.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import { packageSettings } from '../core/package-settings.ts';
import { isWharfError, WharfError } from '../core/errors.ts';
import { formats } from '../formats/index.ts';
import type { Command } from './main.ts';
import { oneOf, parse, table, UsageError } from './args.ts';
import { when } from './users.ts';

/** What people call a format that Wharf calls otherwise: `docker` and `oci` are the container format. */
const ALIASES: Record<string, string> = { docker: 'container', oci: 'container' };

/** TYPE, checked against the formats Wharf serves (src/formats/index.ts). */
export function packageType(s: string): string {
  const type = ALIASES[s.toLowerCase()] ?? s.toLowerCase();
  if (!formats.some((f) => f.type === type)) throw new UsageError(`unknown package type "${s}": one of ${formats.map((f) => f.type).join(', ')}`);
  return type;
}

/**
 * TYPE and OWNER/NAME, where a container name may have more segments (alice/team/app) and an npm package may be
 * written as npm writes it (@alice/hello).
 */
export const target = (rawType: string, slug: string) => {
  const type = packageType(rawType);
  if (slug.startsWith('@')) {
    if (type !== 'npm') throw new UsageError(`"${slug}" is an npm name: a ${type} package is OWNER/NAME`);
    slug = slug.slice(1);
  }
  const i = slug.indexOf('/');
  const owner = slug.slice(0, i);
  const name = slug.slice(i + 1);
  if (i <= 0 || !name || name.split('/').some((p) => !p) || (type === 'npm' && name.includes('/'))) {
    throw new UsageError(`expected OWNER/NAME${type === 'npm' ? ' or @OWNER/NAME' : ''}, got "${slug}"`);
  }
  return { type, owner, name };
};

/** How a package is named to its clients, and to this CLI: @alice/hello for npm, alice/app elsewhere. */
/** As the web UI names a package (formats/*: displayName): npm's `@OWNER/NAME`, a proxy's npm package as upstream. */
const displayName = (type: string, owner: string, name: string, proxied?: number) => (type === 'npm' && proxied ? name : `${type === 'npm' ? '@' : ''}${owner}/${name}`);

const find = (core: Core, t: { type: string; owner: string; name: string }) => packageSettings(core).require(t.owner, t.type, t.name);

const visibility: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'VISIBILITY']);
  const t = target(pos[0], pos[1]);
  const v = oneOf(pos[2], VISIBILITIES, 'VISIBILITY');
  const core = await open();
  const pkg = await find(core, t);
  try {
    await packageSettings(core).update(pkg, { visibility: v }, systemActor);
  } catch (e) {
    if (isWharfError(e) && e.code === 'inherits_visibility') throw new WharfError(e.kind, `${e.message} (wharf package inherit ${pos[0]} ${pos[1]} off)`, e.code);
    throw e;
  }
  out(`${t.type} package ${t.owner}/${t.name} is now ${pos[2]}`);
};

const grant: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { role: { type: 'string' } }, ['TYPE', 'OWNER/NAME', 'USER|OWNER/REPO']);
  const t = target(pos[0], pos[1]);
  if (!values.role) throw new UsageError('--role read|write|admin is required');
  const role = oneOf(values.role, ROLES, '--role');
  const core = await open();
  await packageSettings(core).grant(await find(core, t), pos[2], role, systemActor);
  out(`${pos[2]} has ${values.role} on ${t.type} package ${t.owner}/${t.name}`);
};

const revoke: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'USER|OWNER/REPO']);
  const t = target(pos[0], pos[1]);
  const core = await open();
  await packageSettings(core).revoke(await find(core, t), pos[2], systemActor);
  out(`${pos[2]} no longer has access to ${t.type} package ${t.owner}/${t.name}`);
};

const link: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'OWNER/REPO|none']);
  const t = target(pos[0], pos[1]);
  const core = await open();
  await packageSettings(core).update(await find(core, t), { repository: pos[2] === 'none' ? null : pos[2] }, systemActor);
  out(pos[2] === 'none' ? `${t.owner}/${t.name} is no longer linked` : `${t.owner}/${t.name} is linked to ${pos[2]}`);
};

const inherit: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TYPE', 'OWNER/NAME', 'on|off']);
  const t = target(pos[0], pos[1]);
  if (pos[2] !== 'on' && pos[2] !== 'off') throw new UsageError('expected on or off');
  const core = await open();
  await packageSettings(core).update(await find(core, t), { inheritAccess: pos[2] === 'on' }, systemActor);
  out(`${t.owner}/${t.name} inherits access from its repository: ${pos[2]}`);
};

/** An owner's live packages, newest first. VISIBILITY is the one that applies (the repository's, while inheriting). */
const list: Command = async (open, args, out, note) => {
  const { values, pos } = parse(args, { type: { type: 'string' } }, ['OWNER']);
  const type = values.type === undefined ? undefined : packageType(values.type);
  const core = await open();
  const owner = await core.identity.requireOwner(pos[0]);
  const rows = [];
  for (let offset = 0; ; ) {
    const page = await core.packages.listByOwner(owner.id, { type, limit: 500, offset });
    for (const p of page) {
      const repo = p.repository_id === null ? undefined : await core.identity.repoById(p.repository_id);
      const inherits = !!p.inherit_access && repo !== undefined;
      const versions = await core.packages.versions(p.id);
      rows.push([p.type, displayName(p.type, owner.name, p.name, p.proxied), inherits ? repo.visibility : p.visibility, repo ? `${repo.owner_name}/${repo.name}` : null, repo ? (inherits ? 'yes' : 'no') : null, versions.length, when(p.updated_at)]);
    }
    if (page.length < 500) break;
    offset += page.length;
  }
  if (!rows.length) return note(`no ${type ? `${type} ` : ''}packages of ${owner.name}`);
  for (const l of table(['TYPE', 'NAME', 'VISIBILITY', 'REPOSITORY', 'INHERITS', 'VERSIONS', 'UPDATED'], rows)) out(l);
};

export const packageCommands = {
  usage:
    '  wharf package list OWNER [--type TYPE]   (TYPE NAME VISIBILITY REPOSITORY INHERITS VERSIONS UPDATED)\n' +
    '  wharf package visibility TYPE OWNER/NAME public|private|internal\n' +
    '  wharf package grant TYPE OWNER/NAME USER|OWNER/REPO --role read|write|admin\n' +
    '  wharf package revoke TYPE OWNER/NAME USER|OWNER/REPO\n' +
    '  wharf package link TYPE OWNER/NAME OWNER/REPO|none\n  wharf package inherit TYPE OWNER/NAME on|off',
  notes: `  TYPE: ${formats.map((f) => f.type).join(', ')} (docker and oci mean container); an npm OWNER/NAME may be written @OWNER/NAME`,
  verbs: { list, visibility, grant, revoke, link, inherit },
};
