// `wharf hook ...`: webhooks on an owner (user or org) or a repository, through the same core service as the
// REST API and the web UI. Works on the database directly: deliveries it queues are sent by the server.
import { HOOK_EVENTS, Webhooks, type HookInput, type HookScope } from '../core/events/webhooks.ts';
import { systemActor } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import type { Webhook } from '../db/tables.ts';
import type { Command } from './main.ts';
import { oneOf, parse, readStdin, UsageError } from './args.ts';

/** `OWNER` or `OWNER/REPO` → the hook scope. */
async function scopeOf(core: Core, target: string): Promise<HookScope> {
  const parts = target.split('/');
  if (parts.length > 2 || parts.some((p) => !p)) throw new UsageError('expected OWNER or OWNER/REPO');
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

const line = (h: Webhook) =>
  [h.id, h.url, (JSON.parse(h.events) as string[]).join(','), h.active ? 'active' : 'inactive', h.content_type, h.secret ? 'secret' : 'no-secret'].join('\t');

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

const create: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { ...common, inactive: { type: 'boolean' } }, ['OWNER[/REPO]']);
  if (!values.url) throw new UsageError('--url URL is required');
  const input: HookInput = {
    url: values.url,
    secret: (await secretOf(values)) ?? null,
    events: events(values.events),
    contentType: values['content-type'] ? oneOf(values['content-type'], ['json', 'form'] as const, '--content-type') : 'json',
    active: !values.inactive,
  };
  const h = await core.webhooks.create(systemActor, await scopeOf(core, pos[0]), input);
  out(String(h.id));
};

const list: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['OWNER[/REPO]']);
  for (const h of await core.webhooks.list(systemActor, await scopeOf(core, pos[0]))) out(line(h));
};

const update: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { ...common, 'no-secret': { type: 'boolean' }, active: { type: 'boolean' }, inactive: { type: 'boolean' } }, ['ID']);
  if (values.active && values.inactive) throw new UsageError('give --active or --inactive, not both');
  const hook = await core.webhooks.byId(hookId(pos[0]));
  const input: Partial<HookInput> = {};
  if (values.url !== undefined) input.url = values.url;
  const secret = await secretOf(values);
  if (secret !== undefined) input.secret = secret;
  if (values.events !== undefined) input.events = events(values.events);
  if (values['content-type'] !== undefined) input.contentType = oneOf(values['content-type'], ['json', 'form'] as const, '--content-type');
  if (values.active || values.inactive) input.active = !!values.active;
  if (!Object.keys(input).length) throw new UsageError('nothing to change: give --url, --secret, --secret-stdin, --no-secret, --events, --content-type, --active or --inactive');
  out(line(await core.webhooks.update(systemActor, Webhooks.scopeOf(hook), hook.id, input)));
};

const remove: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['ID']);
  const hook = await core.webhooks.byId(hookId(pos[0]));
  await core.webhooks.remove(systemActor, Webhooks.scopeOf(hook), hook.id);
  out(`deleted hook ${hook.id}`);
};

const deliveries: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { limit: { type: 'string' } }, ['ID']);
  const limit = values.limit === undefined ? 30 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a number from 1 to 1000');
  const hook = await core.webhooks.byId(hookId(pos[0]));
  for (const d of await core.webhooks.deliveries(hook.id, limit)) {
    out([d.id, d.status, d.response_status ?? '-', d.duration_ms !== null ? `${d.duration_ms}ms` : '-', d.attempts, d.action, d.created_at, d.redelivery ? 'redelivery' : '', d.error ?? ''].join('\t').trimEnd());
  }
};

const redeliver: Command = async (core, args, out) => {
  const { pos } = parse(args, {}, ['ID', 'DELIVERY_ID']);
  const hook = await core.webhooks.byId(hookId(pos[0]));
  const d = await core.webhooks.redeliver(systemActor, hook.id, pos[1]);
  out(d.id);
};

/** --owner OWNER → that owner's id; absent → null (instance-wide). */
async function ownerOpt(core: Core, owner: string | undefined): Promise<number | null> {
  return owner === undefined ? null : (await core.identity.requireOwner(owner)).id;
}

const allow: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['PATTERN']);
  const { pattern, created } = await core.webhooks.allow(systemActor, pos[0], await ownerOpt(core, values.owner));
  out(`${created ? 'allowed' : 'already allowed'}: ${pattern}${values.owner ? ` for hooks of ${values.owner}` : ' for every hook'}`);
};

const disallow: Command = async (core, args, out) => {
  const { values, pos } = parse(args, { owner: { type: 'string' } }, ['PATTERN']);
  await core.webhooks.disallow(systemActor, pos[0], await ownerOpt(core, values.owner));
  out(`disallowed: ${pos[0]}`);
};

const allowed: Command = async (core, args, out) => {
  const { values } = parse(args, { owner: { type: 'string' } }, []);
  const entries = await core.webhooks.allowlist(values.owner === undefined ? undefined : await ownerOpt(core, values.owner));
  const names = new Map<number, string>();
  for (const e of entries) {
    if (e.ownerId !== null && !names.has(e.ownerId)) names.set(e.ownerId, (await core.identity.ownerById(e.ownerId))?.name ?? String(e.ownerId));
    out([e.pattern, e.ownerId === null ? '*' : names.get(e.ownerId)!, e.source === 'environment' ? 'WHARF_WEBHOOK_ALLOWED_HOSTS' : 'database'].join('\t'));
  }
};

export const hookCommands = {
  usage:
    '  wharf hook create OWNER[/REPO] --url URL [--secret S | --secret-stdin] [--events package] [--content-type json|form] [--inactive]   (prints the hook ID)\n' +
    '  wharf hook list OWNER[/REPO]\n' +
    '  wharf hook update ID [--url URL] [--secret S | --secret-stdin | --no-secret] [--events E] [--content-type json|form] [--active | --inactive]\n' +
    '  wharf hook delete ID\n  wharf hook deliveries ID [--limit N]\n  wharf hook redeliver ID DELIVERY_ID   (prints the new delivery ID; the server sends it)\n' +
    '  wharf hook allow PATTERN [--owner OWNER]   (let hooks reach a private host, *.domain, address or CIDR: every owner\'s, or OWNER\'s)\n' +
    '  wharf hook disallow PATTERN [--owner OWNER]\n  wharf hook allowed [--owner OWNER]   (PATTERN, owner or *, source)',
  verbs: { create, list, update, delete: remove, deliveries, redeliver, allow, disallow, allowed },
};
