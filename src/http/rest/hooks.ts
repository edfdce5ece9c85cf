// Webhooks in GitHub's REST shape, on repositories, organizations and (Wharf's addition) personal accounts; and
// the site admin's allow-list of private targets (/admin/hooks/allowlist).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { TARGET_REFUSED, type AllowlistEntry, type HookInput, type HookScope } from '../../core/events/webhooks.ts';
import { forbidden, invalid, isWharfError, notFound } from '../../core/errors.ts';
import type { Webhook, WebhookDelivery } from '../../db/tables.ts';
import { baseUrlOf } from '../actor.ts';
import { bodyObject, idParam, requireUser, restErrorHandler } from './common.ts';

type P = Record<string, string>;

const hookJson = (h: Webhook, url: string, kind: 'repos' | 'orgs' | 'users') => ({
  type: kind === 'repos' ? 'Repository' : kind === 'orgs' ? 'Organization' : 'User',
  id: h.id,
  name: 'web',
  active: h.active === 1,
  events: JSON.parse(h.events) as string[],
  config: { url: h.url, content_type: h.content_type, insecure_ssl: '0', ...(h.secret ? { secret: '********' } : {}) },
  created_at: h.created_at,
  updated_at: h.updated_at,
  url,
  deliveries_url: `${url}/deliveries`,
});

const HIDDEN_NOTE = 'The response came from a private address a site admin allowed; only site admins see its body.';

const deliveryJson = (d: WebhookDelivery, withPayload: boolean, response?: { body: string | null; hidden: boolean }) => ({
  id: d.id,
  guid: d.id,
  delivered_at: d.delivered_at ?? d.created_at,
  redelivery: d.redelivery === 1,
  duration: d.duration_ms !== null ? d.duration_ms / 1000 : null,
  status: d.status === 'delivered' ? 'OK' : d.error ?? d.status,
  status_code: d.response_status ?? 0,
  event: d.event,
  action: d.action,
  attempts: d.attempts,
  state: d.status,
  next_attempt_at: d.next_attempt_at,
  ...(withPayload ? { request: { payload: JSON.parse(d.payload) }, response: response?.hidden ? { body: null, hidden: true, note: HIDDEN_NOTE } : { body: response?.body ?? null } } : {}),
});

/**
 * GitHub refuses a hook it will not create or change with 422 Validation Failed, each problem in `errors`
 * (a private target, a bad URL or event); everything else is rendered as by the rest of the API.
 */
function hookErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (isWharfError(err) && err.kind === 'Invalid') {
    return reply.code(422).send({ message: 'Validation Failed', errors: [{ resource: 'Hook', code: 'custom', ...(err.code === TARGET_REFUSED ? { field: 'config.url' } : {}), message: err.message }] });
  }
  return restErrorHandler(err, req, reply);
}

function hookInput(body: unknown, partial: boolean): Partial<HookInput> {
  const b = bodyObject(body);
  const config = (b.config ?? {}) as Record<string, unknown>;
  if (typeof config !== 'object') throw invalid('config must be an object');
  const out: Partial<HookInput> = {};
  if (config.url !== undefined) out.url = String(config.url);
  else if (!partial) throw invalid('config.url is required');
  if (config.secret !== undefined) out.secret = String(config.secret);
  if (config.content_type !== undefined) out.contentType = config.content_type === 'form' ? 'form' : 'json';
  if (b.events !== undefined) {
    if (!Array.isArray(b.events) || !b.events.every((e): e is string => typeof e === 'string')) throw invalid('events must be an array of event names');
    out.events = b.events;
  }
  if (b.active !== undefined) out.active = !!b.active;
  return out;
}

export async function hookRoutes(app: FastifyInstance, core: Core): Promise<void> {
  /** The hook scope a URL names, if the actor administers it (others: 404). */
  async function scopeOf(req: FastifyRequest, kind: 'repos' | 'orgs' | 'users'): Promise<{ scope: HookScope; path: string }> {
    requireUser(req.actor);
    const p = req.params as P;
    if (kind === 'repos') {
      const repo = await core.identity.findRepo(p.owner, p.repo);
      if (!repo) throw notFound();
      return { scope: { repositoryId: repo.id }, path: `/api/v1/repos/${repo.owner_name}/${repo.name}/hooks` };
    }
    const owner = await core.identity.findOwner(p.owner);
    if (!owner || owner.kind !== (kind === 'orgs' ? 'org' : 'user')) throw notFound();
    // Who may not manage an owner's hooks learns nothing of them (core.webhooks decides, below).
    if (!(await core.authz.mayManage(req.actor, { what: 'owner-hooks', owner }))) throw notFound();
    return { scope: { ownerId: owner.id }, path: `/api/v1/${kind}/${owner.name}/hooks` };
  }

  for (const [prefix, kind] of [['/repos/:owner/:repo', 'repos'], ['/orgs/:owner', 'orgs'], ['/users/:owner', 'users']] as const) {
    const list = `${prefix}/hooks`;
    const one = `${list}/:id`;
    const idOf = (req: FastifyRequest) => idParam((req.params as P).id);
    const urlOf = (req: FastifyRequest, path: string, id: number) => `${baseUrlOf(core, req)}${path}/${id}`;

    app.get(list, async (req) => {
      const { scope, path } = await scopeOf(req, kind);
      return (await core.webhooks.list(req.actor, scope)).map((h) => hookJson(h, urlOf(req, path, h.id), kind));
    });
    app.post(list, { errorHandler: hookErrorHandler }, async (req, reply) => {
      const { scope, path } = await scopeOf(req, kind);
      const h = await core.webhooks.create(req.actor, scope, hookInput(req.body, false) as HookInput);
      return reply.code(201).send(hookJson(h, urlOf(req, path, h.id), kind));
    });
    app.get(one, async (req) => {
      const { scope, path } = await scopeOf(req, kind);
      const h = await core.webhooks.get(req.actor, scope, idOf(req));
      return hookJson(h, urlOf(req, path, h.id), kind);
    });
    app.patch(one, { errorHandler: hookErrorHandler }, async (req) => {
      const { scope, path } = await scopeOf(req, kind);
      const h = await core.webhooks.update(req.actor, scope, idOf(req), hookInput(req.body, true));
      return hookJson(h, urlOf(req, path, h.id), kind);
    });
    app.delete(one, async (req, reply) => {
      const { scope } = await scopeOf(req, kind);
      await core.webhooks.remove(req.actor, scope, idOf(req));
      return reply.code(204).send();
    });
    app.get(`${one}/deliveries`, async (req) => {
      const { scope } = await scopeOf(req, kind);
      const h = await core.webhooks.get(req.actor, scope, idOf(req));
      return (await core.webhooks.deliveries(h.id)).map((d) => deliveryJson(d, false));
    });
    app.get(`${one}/deliveries/:delivery`, async (req) => {
      const { scope } = await scopeOf(req, kind);
      const h = await core.webhooks.get(req.actor, scope, idOf(req));
      const d = await core.webhooks.delivery(h.id, (req.params as P).delivery);
      return deliveryJson(d, true, core.webhooks.responseFor(req.actor, d));
    });
    // GitHub's redeliver: POST …/deliveries/:id/attempts.
    app.post(`${one}/deliveries/:delivery/attempts`, async (req, reply) => {
      const { scope } = await scopeOf(req, kind);
      const h = await core.webhooks.get(req.actor, scope, idOf(req));
      const d = await core.webhooks.redeliver(req.actor, h.id, (req.params as P).delivery);
      return reply.code(202).send(deliveryJson(d, false));
    });
  }

  // ---- the allow-list of private targets (site admins) ----

  /** `owner` from the query or body: an owner's entries, or (absent or empty) the instance-wide ones. */
  async function ownerParam(v: unknown): Promise<number | null> {
    if (v === undefined || v === null || v === '') return null;
    const owner = await core.identity.findOwner(String(v));
    if (!owner) throw invalid(`no user or organization "${String(v)}"`);
    return owner.id;
  }
  const names = new Map<number, string>();
  async function entryJson(e: AllowlistEntry) {
    if (e.ownerId !== null && !names.has(e.ownerId)) names.set(e.ownerId, (await core.identity.ownerById(e.ownerId))?.name ?? String(e.ownerId));
    return { pattern: e.pattern, owner: e.ownerId === null ? null : names.get(e.ownerId)!, source: e.source, created_at: e.createdAt };
  }
  app.get('/admin/hooks/allowlist', async (req) => {
    await core.authz.manage(req.actor, { what: 'site' });
    const q = req.query as P;
    const ownerId = q.owner !== undefined ? await ownerParam(q.owner) : undefined;
    return Promise.all((await core.webhooks.allowlist(ownerId)).map(entryJson));
  });
  app.put('/admin/hooks/allowlist', async (req, reply) => {
    await core.authz.manage(req.actor, { what: 'site' });
    const b = bodyObject(req.body);
    if (typeof b.pattern !== 'string' || !b.pattern) throw invalid('pattern is required: a host name, *.domain, IP address or CIDR range');
    const ownerId = await ownerParam(b.owner);
    const { pattern, created } = await core.webhooks.allow(req.actor, b.pattern, ownerId);
    const [entry] = (await core.webhooks.allowlist(ownerId)).filter((e) => e.source === 'database' && e.ownerId === ownerId && e.pattern === pattern);
    return reply.code(created ? 201 : 200).send(await entryJson(entry));
  });
  app.delete('/admin/hooks/allowlist', async (req, reply) => {
    await core.authz.manage(req.actor, { what: 'site' });
    const q = { ...(req.query as P), ...(req.body && typeof req.body === 'object' ? (req.body as P) : {}) };
    if (!q.pattern) throw invalid('pattern is required');
    await core.webhooks.disallow(req.actor, q.pattern, await ownerParam(q.owner));
    return reply.code(204).send();
  });
}
