import { checkKnownTypes, formatResource, parseResource, type ResourceSpec } from '../core/auth/selection.ts';
import { parseDuration, parseScopes } from '../core/auth/tokens.ts';
import { systemActor } from '../core/auth/actor.ts';
import { formats } from '../formats/index.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';
import { when } from './users.ts';

const duration = (s: string) => {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
};

/** What each selection option names: its value must be written that way (see core/auth/selection.ts). */
const SELECTION = {
  owner: { form: 'OWNER[=REACH]', is: (r: ResourceSpec) => !r.repository && !r.package },
  repo: { form: 'OWNER/REPO[=REACH]', is: (r: ResourceSpec) => !!r.repository },
  package: { form: 'TYPE:OWNER/NAME[=REACH]', is: (r: ResourceSpec) => !!r.package },
} as const;

/** The resources named by --owner, --repo and --package, or null when none is given (a classic token). */
function selection(values: Partial<Record<keyof typeof SELECTION, string[]>>): ResourceSpec[] | null {
  const out: ResourceSpec[] = [];
  for (const [option, { form, is }] of Object.entries(SELECTION)) {
    for (const v of values[option as keyof typeof SELECTION] ?? []) {
      let r: ResourceSpec;
      try {
        r = parseResource(v);
      } catch (e) {
        throw new UsageError(`--${option} ${v}: ${(e as Error).message}`);
      }
      if (!is(r)) throw new UsageError(`--${option} takes ${form}, got "${v}"`);
      out.push(r);
    }
  }
  try {
    checkKnownTypes(out, formats.map((f) => f.type));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return out.length ? out : null;
}

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, {
    scopes: { type: 'string' }, 'expires-in': { type: 'string' }, name: { type: 'string' },
    owner: { type: 'string', multiple: true }, repo: { type: 'string', multiple: true }, package: { type: 'string', multiple: true },
  }, ['USER']);
  if (!values.scopes) throw new UsageError('--scopes is required, e.g. read:packages,write:packages');
  try {
    if (!parseScopes(values.scopes).size) throw new Error('--scopes names no scope');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const expiresInMs = values['expires-in'] ? duration(values['expires-in']) : null;
  const resources = selection(values);
  const { token } = await (await open()).tokens.createPersonal(systemActor, pos[0], { scopes: values.scopes, name: values.name, expiresInMs, resources });
  out(token);
};

const createJob: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { ttl: { type: 'string' } }, ['OWNER/REPO']);
  const ttlMs = values.ttl ? duration(values.ttl) : undefined;
  const { token } = await (await open()).tokens.createJob(systemActor, pos[0], { ttlMs });
  out(token);
};

const revoke: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['TOKEN|ID']);
  const t = await (await open()).tokens.revoke(systemActor, pos[0]);
  out(`revoked token ${t.id} (${t.name})`);
};

const list: Command = async (open, args, out, note) => {
  const { pos } = parse(args, {}, ['USER']);
  const core = await open();
  const user = await core.identity.requireUser(pos[0]);
  const tokens = await core.tokens.listForUser(systemActor, user.id);
  if (!tokens.length) return note(`no tokens for ${user.name} — create one with: wharf token create ${user.name} --scopes read:packages,write:packages`);
  // RESOURCES: what a fine-grained token is limited to, in the form --owner/--repo/--package take; `all` for a classic one.
  const rows = tokens.map((t) => [t.id, t.token_prefix + '…', t.name, t.scopes.join(','), when(t.expires_at) ?? 'never', when(t.last_used_at) ?? '-', t.resources ? t.resources.map(formatResource).join(',') : 'all']);
  for (const l of table(['ID', 'PREFIX', 'NAME', 'SCOPES', 'EXPIRES', 'LAST-USED', 'RESOURCES'], rows)) out(l);
};

export const tokenCommands = {
  usage:
    '  wharf token create USER --scopes read:packages,write:packages,delete:packages [--expires-in 30d] [--name NAME]   (prints the token alone)\n' +
    '        [--owner OWNER[=REACH]]... [--repo OWNER/REPO[=REACH]]... [--package TYPE:OWNER/NAME[=REACH]]...\n' +
    '        a fine-grained token: it reaches only the owners, repositories (their linked packages) and packages named,\n' +
    '        each as far as REACH says (read, write, delete, admin; default: as far as --scopes go), and manages nothing;\n' +
    '        e.g. --package npm:alice/web=write --package container:acme/api=read --repo acme/app\n' +
    '  wharf token create-job OWNER/REPO [--ttl 1h]\n  wharf token revoke TOKEN|ID\n  wharf token list USER   (ID PREFIX NAME SCOPES EXPIRES LAST-USED RESOURCES; never the secret)',
  verbs: { create, 'create-job': createJob, revoke, list },
};
