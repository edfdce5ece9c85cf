// Shared pieces of the REST API: GitHub-style errors and pagination, the signed-in user, JSON shapes.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { forbidden, invalid, isWharfError, notFound, unauthorized } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Owner, PackageVersion, Repository } from '../../db/tables.ts';
import { formatOf } from '../../formats/index.ts';
import { baseUrlOf } from '../actor.ts';

/** Errors as GitHub writes them: `{ message }`; 5xx details only in the log. */
export function restErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (!req.raw.complete) reply.header('connection', 'close');
  if (isWharfError(err)) {
    const message = err.kind === 'Unauthorized' && err.message === 'authentication required' ? 'Requires authentication' : err.kind === 'NotFound' && err.message === 'not found' ? 'Not Found' : err.message;
    if (err.kind === 'Unauthorized') reply.header('www-authenticate', 'Bearer realm="Wharf"');
    return reply.code(err.status).send({ message});
  }
  const e = err as FastifyError;
  if (e.validation) return reply.code(422).send({ message: `Validation Failed: ${e.message}`});
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ message: e.message});
  req.log.error({ err }, 'REST request failed');
  return reply.code(500).send({ message: 'Internal Server Error'});
}

/** The signed-in person, or 401. Job tokens are not people. */
export function requireUser(actor: Actor) {
  if (actor.kind === 'anonymous') throw unauthorized();
  if (actor.kind !== 'user') throw forbidden('this endpoint needs a user, not a job token');
  return actor;
}

export function requireAdmin(actor: Actor) {
  const a = requireUser(actor);
  if (!a.user.isAdmin) throw forbidden('site administrators only');
  return a;
}

/**
 * A numeric id from the URL, or -1 (which matches nothing) when it is not one: PostgreSQL rejects `NaN`, `1.5`
 * or a number past bigint in a query, which would be a 500 instead of a 404.
 */
export function idParam(v: string | undefined): number {
  return v !== undefined && /^[1-9][0-9]{0,14}$/.test(v) ? Number(v) : -1;
}

/** page / per_page → limit, offset; per_page at most 100 (GitHub's cap), page bounded so the offset fits a bigint. */
export function pageOf(req: FastifyRequest): { page: number; perPage: number; limit: number; offset: number } {
  const q = req.query as Record<string, string>;
  const page = Math.min(1_000_000, Math.max(1, Math.floor(Number(q.page ?? 1)) || 1));
  const perPage = Math.min(100, Math.max(1, Math.floor(Number(q.per_page ?? 30)) || 30));
  return { page, perPage, limit: perPage + 1, offset: (page - 1) * perPage };
}

/** Sends one page of `rows` (fetched with one extra row to know whether more follow) with a Link header. */
export function sendPage<T>(req: FastifyRequest, reply: FastifyReply, core: Core, rows: T[], p: { page: number; perPage: number }) {
  const more = rows.length > p.perPage;
  const items = more ? rows.slice(0, p.perPage) : rows;
  const url = new URL(req.url, baseUrlOf(core, req));
  const link = (page: number, rel: string) => {
    url.searchParams.set('page', String(page));
    url.searchParams.set('per_page', String(p.perPage));
    return `<${url.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (more) links.push(link(p.page + 1, 'next'));
  if (p.page > 1) links.push(link(p.page - 1, 'prev'), link(1, 'first'));
  if (links.length) reply.header('link', links.join(', '));
  return reply.send(items);
}

export const ownerJson = (o: Pick<Owner, 'id' | 'name' | 'kind'> & Partial<Pick<Owner, 'is_admin' | 'email' | 'created_at'>>, base: string) => ({
  login: o.name,
  id: o.id,
  type: o.kind === 'org' ? 'Organization' : 'User',
  url: `${base}/api/v1/${o.kind === 'org' ? 'orgs' : 'users'}/${o.name}`,
  html_url: `${base}/${o.name}`,
  ...(o.kind === 'user' && o.is_admin !== undefined ? { site_admin: o.is_admin === 1 } : {}),
});

export const repoJson = (r: Repository, ownerName: string, ownerKind: 'user' | 'org', base: string) => ({
  id: r.id,
  name: r.name,
  full_name: `${ownerName}/${r.name}`,
  private: r.visibility === 'private',
  visibility: r.visibility,
  owner: { login: ownerName, type: ownerKind === 'org' ? 'Organization' : 'User' },
  url: `${base}/api/v1/repos/${ownerName}/${r.name}`,
  html_url: `${base}/${ownerName}/${r.name}`,
  created_at: r.created_at,
});

export const ownerSegment = (pkg: { owner_kind: 'user' | 'org' }) => (pkg.owner_kind === 'org' ? 'orgs' : 'users');

export async function packageJson(core: Core, pkg: PackageRow, base: string, extra: { versionCount?: number; downloads?: number; latest?: string | null } = {}) {
  const repo = pkg.repository_id != null ? await core.identity.repoById(pkg.repository_id) : undefined;
  const visibility = await core.authz.effectiveVisibility(pkg);
  const fmt = formatOf(pkg.type);
  const meta = JSON.parse(pkg.metadata) as { latest?: string; description?: string };
  return {
    id: pkg.id,
    name: pkg.name,
    package_type: pkg.type,
    owner: ownerJson({ id: pkg.owner_id, name: pkg.owner_name, kind: pkg.owner_kind }, base),
    version_count: extra.versionCount,
    visibility,
    inherit_access: pkg.inherit_access === 1 && pkg.repository_id != null,
    url: `${base}/api/v1/${ownerSegment(pkg)}/${pkg.owner_name}/packages/${pkg.type}/${encodeURIComponent(pkg.name)}`,
    html_url: `${base}/${pkg.owner_name}/-/packages/${pkg.type}/${encodeURIComponent(pkg.name)}`,
    created_at: pkg.created_at,
    updated_at: pkg.updated_at,
    ...(pkg.deleted_at ? { deleted_at: pkg.deleted_at } : {}),
    repository: repo ? repoJson(repo, repo.owner_name, pkg.owner_kind, base) : null,
    description: meta.description ?? null,
    download_count: extra.downloads,
    install: fmt ? fmt.describe(pkg, extra.latest !== undefined ? extra.latest : (meta.latest ?? null), base) : undefined,
  };
}

export function versionJson(pkg: PackageRow, v: PackageVersion, base: string, downloads: number, tags: string[]) {
  const pkgUrl = `${base}/api/v1/${ownerSegment(pkg)}/${pkg.owner_name}/packages/${pkg.type}/${encodeURIComponent(pkg.name)}`;
  return {
    id: v.id,
    name: v.version,
    url: `${pkgUrl}/versions/${v.id}`,
    package_html_url: `${base}/${pkg.owner_name}/-/packages/${pkg.type}/${encodeURIComponent(pkg.name)}`,
    html_url: `${base}/${pkg.owner_name}/-/packages/${pkg.type}/${encodeURIComponent(pkg.name)}/${encodeURIComponent(v.version)}`,
    created_at: v.created_at,
    updated_at: v.updated_at,
    ...(v.deleted_at ? { deleted_at: v.deleted_at } : {}),
    download_count: downloads,
    metadata: { package_type: pkg.type, tags, ...formatOf(pkg.type)?.versionMetadata?.(v, tags) },
  };
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (body == null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || !v) throw invalid(`${what} is required`);
  return v;
};

export { notFound };
