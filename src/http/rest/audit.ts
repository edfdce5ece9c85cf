// The audit log in GitHub's shape: `GET /orgs/:org/audit-log` (the org's owners and site admins) and
// `GET /user/audit-log` (what the signed-in user did, what was done to their account, and what happened in their
// own namespace). Newest first; `phrase` filters as GitHub's does (action:, -action:, actor:, user:, repo:,
// created:); pages are walked with the opaque `after` / `before` cursors of the Link header.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parsePhrase, type AuditPage, type AuditQuery } from '../../core/audit/audit.ts';
import type { Core } from '../../core/core.ts';
import { invalid, notFound } from '../../core/errors.ts';
import type { AuditLogRow } from '../../db/tables.ts';
import { baseUrlOf } from '../actor.ts';
import { requireUser } from './common.ts';

type Q = Record<string, string | undefined>;

/**
 * An entry id as an opaque cursor (as GitHub's are): base64url with a tag, so a page number or a stray id is
 * refused rather than misread.
 */
export const encodeCursor = (id: number) => Buffer.from(`audit:${id}`).toString('base64url');
/** A cursor back to an entry id; Invalid when it is not one this API gave out. */
export function decodeCursor(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^audit:([1-9][0-9]{0,14})$/.exec(Buffer.from(v, 'base64url').toString('utf8'));
  if (!m) throw invalid(`${name} is not a cursor from this API's Link header`);
  return Number(m[1]);
}

/** One entry as GitHub's audit-log API writes it: times in ms, the names of what it is about, its facts flattened. */
export function auditEntryJson(r: AuditLogRow): Record<string, unknown> {
  const ms = Date.parse(r.created_at);
  const facts = JSON.parse(r.details) as Record<string, unknown>;
  const own: Record<string, unknown> = {
    '@timestamp': ms,
    _document_id: encodeCursor(r.id),
    action: r.action,
    actor: r.actor_name,
    actor_id: r.actor_id,
    actor_ip: r.client_ip,
    // How the actor authenticated: password, token, job, registry, session, system (the CLI) or anonymous.
    credential: r.credential,
    token_id: r.token_id,
    ...(r.owner_kind === 'org' ? { org: r.owner_name, org_id: r.owner_id } : {}),
    ...(r.owner_name !== null ? { owner: r.owner_name, owner_type: r.owner_kind === 'org' ? 'Organization' : 'User' } : {}),
    ...(r.user_name !== null || r.user_id !== null ? { user: r.user_name, user_id: r.user_id } : {}),
    ...(r.repository_name !== null || r.repository_id !== null ? { repo: r.repository_name, repo_id: r.repository_id } : {}),
    ...(r.package_id !== null ? { package_id: r.package_id } : {}),
    ...(r.target !== null ? { target: r.target } : {}),
    created_at: ms,
  };
  // The action's own facts sit beside the common fields (as on GitHub); a common field always wins.
  return { ...facts, ...own };
}

export async function auditRoutes(app: FastifyInstance, core: Core): Promise<void> {
  async function send(req: FastifyRequest, reply: FastifyReply, scope: Pick<AuditQuery, 'ownerId' | 'relatedTo'>) {
    const q = req.query as Q;
    const perPage = Math.min(100, Math.max(1, Math.floor(Number(q.per_page ?? 30)) || 30));
    const after = decodeCursor(q.after, 'after');
    const before = decodeCursor(q.before, 'before');
    if (after !== undefined && before !== undefined) throw invalid('give either after or before, not both');
    const page: AuditPage = await core.audit.list({ ...scope, filter: parsePhrase(q.phrase), after, before, limit: perPage });
    const url = new URL(req.url, baseUrlOf(core, req));
    const link = (cursor: number, key: 'after' | 'before', rel: string) => {
      url.searchParams.delete('after');
      url.searchParams.delete('before');
      url.searchParams.delete('page');
      url.searchParams.set(key, encodeCursor(cursor));
      url.searchParams.set('per_page', String(perPage));
      return `<${url.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page.next !== null) links.push(link(page.next, 'after', 'next'));
    if (page.prev !== null) links.push(link(page.prev, 'before', 'prev'));
    if (links.length) reply.header('link', links.join(', '));
    return reply.send(page.entries.map(auditEntryJson));
  }

  // Only those who manage the org see its log; to anyone else the org's log does not exist.
  app.get('/orgs/:org/audit-log', async (req, reply) => {
    const org = await core.identity.findOwner((req.params as Q).org ?? '');
    if (!org || org.kind !== 'org' || !(await core.authz.mayManage(req.actor, { what: 'owner', owner: org }))) throw notFound();
    return send(req, reply, { ownerId: org.id });
  });

  app.get('/user/audit-log', async (req, reply) => {
    const a = requireUser(req.actor);
    // One's own log is the account's business: the `user` scope, as for one's tokens.
    await core.authz.manage(a, { what: 'owner', owner: { id: a.user.id, kind: 'user' } });
    return send(req, reply, { relatedTo: a.user.id });
  });
}
