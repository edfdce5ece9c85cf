// Promotion in the REST API, next to the version routes of packages.ts: `POST …/versions/:id/promotions` copies a
// version to another registry or owner (core/promote.ts decides who may), `GET` lists where it went.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { invalid, notFound } from '../../core/errors.ts';
import type { PromotionRow } from '../../core/promote.ts';
import { formatOf } from '../../formats/index.ts';
import { bodyObject, idParam, str } from './common.ts';

type P = Record<string, string>;

/** A promotion as the API shows it; `checked`: the digests the target answered with after the copy. */
export const promotionJson = (p: PromotionRow) => ({
  id: p.id, target: p.target, url: p.url, target_version_id: p.target_version_id, checked: p.checked, promoted_by: p.actor, created_at: p.created_at,
});

export async function promotionRoutes(app: FastifyInstance, core: Core): Promise<void> {
  /** The version named by the URL, if the actor may read its package (404 otherwise, as everywhere). */
  async function versionFor(req: FastifyRequest, kind: 'user' | 'org') {
    const p = req.params as P;
    const owner = await core.identity.findOwner(p.owner ?? '');
    if (!owner || owner.kind !== kind || !formatOf(p.type)) throw notFound('Package not found.');
    const pkg = await core.packages.find(owner.name, p.type, p.name);
    if (!pkg || !(await core.authz.canRead(req.actor, pkg))) throw notFound('Package not found.');
    const v = await core.packages.versionById(idParam(p.id));
    if (!v || v.package_id !== pkg.id || v.deleted_at) throw notFound('Version not found.');
    return { pkg, v };
  }

  // (The owner's kind comes from the route: req.routeOptions.url carries the /api/v1 prefix, so testing it for
  // '/orgs/' made every organization's package 404 here.)
  for (const [pre, kind] of [['/users/:owner', 'user'], ['/orgs/:owner', 'org']] as const) {
    const path = `${pre}/packages/:type/:name/versions/:id/promotions`;
    app.get(path, async (req) => {
      const { pkg, v } = await versionFor(req, kind);
      await core.authz.authorize(req.actor, 'admin', pkg);
      return (await core.promotions.list(v.id)).map(promotionJson);
    });

    // Body: `{ "to": URL, "token" | "username" + "password" }` or `{ "to_owner": ORG, "name"?: NEW }`.
    app.post(path, async (req, reply) => {
      const { pkg, v } = await versionFor(req, kind);
      const b = bodyObject(req.body);
      const opt = (k: string) => (b[k] === undefined || b[k] === null ? undefined : str(b[k], k));
      if ((b.to === undefined) === (b.to_owner === undefined)) throw invalid('give either to (a registry URL) or to_owner (an owner of this Wharf)');
      const to = b.to !== undefined
        ? { url: str(b.to, 'to'), credentials: { token: opt('token'), username: opt('username'), password: opt('password') } }
        : { owner: str(b.to_owner, 'to_owner'), name: opt('name') };
      const promoter = formatOf(pkg.type)?.promoter;
      if (!promoter) throw invalid(`${pkg.type} packages cannot be promoted`);
      const row = await core.promotions.promote(req.actor, { pkg, version: v, to }, promoter);
      return reply.code(201).send(promotionJson(row));
    });
  }
}
