// `wharf hook ...`: webhooks on an owner (user or org) or a repository, through the same core service as the
// REST API and the web UI. Works on the database directly: deliveries it queues are sent by the server.
import { HOOK_EVENTS, Webhooks, type HookInput, type HookScope } from '../core/events/webhooks.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import type { Webhook } from '../db/tables.ts';
import type { Command } from './main.ts';
import { oneOf, parse, readStdin, table, UsageError } from './args.ts';

/** `OWNER` or `OWNER/REPO`, checked before the database is opened. */
function scopeSyntax(target: string): string[] {
  const parts = target.split('/');
  if (parts.length > 2 || parts.some((p) => !p)) throw new UsageError('expected OWNER or OWNER/REPO');
  return parts;
}

/** `OWNER` or `OWNER/REPO` → the hook scope. */
async function scopeOf(core: Core, target: string): Promise<HookScope> {
  const parts = scopeSyntax(target);
  if (parts.length === 2) return { repositoryId: (await core.identity.requireRepo(target)).id };
  return { ownerId: (await core.identity.requireOwner(target)).id };
}

function hookId(s: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(s)) throw new UsageError(`expected a hook ID (a number), got "${s}"`);
  return Number(s);
}

function events(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  const list = s.split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of list) oneOf(e, HOOK_EVENTS, '--events');
  return list;
}

/** Hooks under a header row. */
const hookTable = (hooks: Webhook[]) =>
  table(
    ['ID', 'URL', 'EVENTS', 'STATE', 'CONTENT-TYPE', 'SECRET'],
    hooks.map((h) => [h.id, h.url, (JSON.parse(h.events) as string[]).join(','), h.active ? 'active' : 'inactive', h.content_type, h.secret ? 'secret' : 'no-secret']),
  );

/** The secret from --secret or --secret-stdin (never both); undefined when neither was given. */
async function secretOf(values: { secret?: string; 'secret-stdin'?: boolean; 'no-secret'?: boolean }): Promise<string | null | undefined> {
  const given = [values.secret !== undefined, !!values['secret-stdin'], !!values['no-secret']].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one of --secret, --secret-stdin and --no-secret');
  if (values['no-secret']) return null;
  if (values['secret-stdin']) {
    const s = await readStdin();
    if (!s) throw new UsageError('empty secret on stdin');
    return s;
  }
  return values.secret;
}

const common = {
  url: { type: 'string' },
  secret: { type: 'string' },
  'secret-stdin': { type: 'boolean' },
  events: { type: 'string' },
  'content-type': { type: 'string' },
} as const;

const create: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { ...common, inactive: { type: 'boolean' } }, ['OWNER[/REPO]']);
  if (!values.url) throw new UsageError('--url URL is required');
  scopeSyntax(pos[0]);
  const input: HookInput = {
    url: values.url,
    secret: (await secretOf(values)) ?? null,
    events: events(values.events),
    contentType: values['content-type'] ? oneOf(values['content-type'], ['json', 'form'] as const, '--content-type') : 'json',
    active: !values.inactive,
  };
  const core = await open();
  const h = await core.webhooks.create(systemActor, await scopeOf(core, pos[0]), input);
  out(String(h.id));
};

const list: Command = async (open, args, out, note) => {
  const { pos } = parse(args, {}, ['OWNER[/REPO]']);
  scopeSyntax(pos[0]);
  const core = await open();
  const hooks = await core.webhooks.list(systemActor, await scopeOf(core, pos[0]));
  if (!hooks.length) return note(`no hooks on ${pos[0]} — add one with: wharf hook create ${pos[0]} --url URL`);
  for (const l of hookTable(hooks)) out(l);
};

const update: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { ...common, 'no-secret': { type: 'boolean' }, active: { type: 'boolean' }, inactive: { type: 'boolean' } }, ['ID']);
  if (values.active && values.inactive) throw new UsageError('give --active or --inactive, not both');
  const id = hookId(pos[0]);
  const input: Partial<HookInput> = {};
  if (values.url !== undefined) input.url = values.url;
  const secret = await secretOf(values);
  if (secret !== undefined) input.secret = secret;
  if (values.events !== undefined) input.events = events(values.events);
  if (values['content-type'] !== undefined) input.contentType = oneOf(values['content-type'], ['json', 'form'] as const, '--content-type');
  if (values.active || values.inactive) input.active = !!values.active;
  if (!Object.keys(input).length) throw new UsageError('nothing to change: give --url, --secret, --secret-stdin, --no-secret, --events, --content-type, --active or --inactive');
  const core = await open();
  const hook = await core.webhooks.byId(id);
  for (const l of hookTable([await core.webhooks.update(systemActor, Webhooks.scopeOf(hook), hook.id, input)])) out(l);
};

const remove: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['ID']);
  const id = hookId(pos[0]);
  const core = await open();
  const hook = await core.webhooks.byId(id);
  await core.webhooks.remove(systemActor, Webhooks.scopeOf(hook), hook.id);
  out(`deleted hook ${hook.id}`);
};

const deliveries: Command = async (open, args, out, note) => {
  const { values, pos } = parse(args, { limit: { type: 'string' } }, ['ID']);
  const limit = values.limit === undefined ? 30 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a number from 1 to 1000');
  const id = hookId(pos[0]);
  const core = await open();
  const hook = await core.webhooks.byId(id);
  const list = await core.webhooks.deliveries(hook.id, limit);
  if (!list.length) return note(`no deliveries of hook ${hook.id} yet`);
  const rows = list.map((d) => [d.id, d.status, d.response_status, d.duration_ms !== null ? `${d.duration_ms}ms` : null, d.attempts, d.action, d.created_at, d.redelivery ? 'redelivery' : null, d.error]);
  // The error, last, may hold spaces; every other cell is one word.
  for (const l of table(['ID', 'STATE', 'STATUS', 'DURATION', 'ATTEMPTS', 'ACTION', 'CREATED', 'REDELIVERY', 'ERROR'], rows)) out(l);
};

const redeliver: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['ID', 'DELIVERY_ID']);
  const id = hookId(pos[0]);
  const core = await open();
  const hook = await core.webhooks.byId(id);
  const d = await core.webhooks.redeliver(systemActor, hook.id, pos[1]);
  out(d.id);
};

/** --owner OWNER → that owner's id; absent → null (instance-wide). */
async function ownerOpt(core: Core, owner: string | undefined): Promise<number | null> {
  return owner === undefined ? null : (await core.identity.requireOwner(owner)).id;
}

const allow: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['PATTERN']);
  const core = await open();
  const { pattern, created } = await core.webhooks.allow(systemActor, pos[0], await ownerOpt(core, values.owner));
  out(`${created ? 'allowed' : 'already allowed'}: ${pattern}${values.owner ? ` for hooks of ${values.owner}` : ' for every hook'}`);
};

const disallow: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['PATTERN']);
  const core = await open();
  await core.webhooks.disallow(systemActor, pos[0], await ownerOpt(core, values.owner));
  out(`disallowed: ${pos[0]}`);
};

const allowed: Command = async (open, args, out, note) => {
  const { values } = parse(args, { owner: { type: 'string' } }, []);
  const core = await open();
  const entries = await core.webhooks.allowlist(values.owner === undefined ? undefined : await ownerOpt(core, values.owner));
  if (!entries.length) return note('no private hosts allowed: hooks reach public addresses only');
  const names = new Map<number, string>();
  const rows = [];
  for (const e of entries) {
    if (e.ownerId !== null && !names.has(e.ownerId)) names.set(e.ownerId, (await core.identity.ownerById(e.ownerId))?.name ?? String(e.ownerId));
    rows.push([e.pattern, e.ownerId === null ? '*' : names.get(e.ownerId)!, e.source === 'environment' ? 'WHARF_WEBHOOK_ALLOWED_HOSTS' : 'database']);
  }
  for (const l of table(['PATTERN', 'OWNER', 'SOURCE'], rows)) out(l);
};

export const hookCommands = {
  usage:
    '  wharf hook create OWNER[/REPO] --url URL [--secret S | --secret-stdin] [--events package] [--content-type json|form] [--inactive]   (prints the hook ID)\n' +
    '  wharf hook list OWNER[/REPO]   (ID URL EVENTS STATE CONTENT-TYPE SECRET)\n' +
    '  wharf hook update ID [--url URL] [--secret S | --secret-stdin | --no-secret] [--events E] [--content-type json|form] [--active | --inactive]\n' +
    '  wharf hook delete ID\n  wharf hook deliveries ID [--limit N]   (newest first)\n  wharf hook redeliver ID DELIVERY_ID   (prints the new delivery ID; the server sends it)\n' +
    '  wharf hook allow PATTERN [--owner OWNER]   (let hooks reach a private host, *.domain, address or CIDR: every owner\'s, or OWNER\'s)\n' +
    '  wharf hook disallow PATTERN [--owner OWNER]\n  wharf hook allowed [--owner OWNER]   (PATTERN OWNER SOURCE; OWNER * is every owner)',
  verbs: { create, list, update, delete: remove, deliveries, redeliver, allow, disallow, allowed },
};
