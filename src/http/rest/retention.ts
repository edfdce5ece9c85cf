// Retention rules and protected tags over REST. Every verb goes through core.retention (or the publisher for a
// tag override), which decides who may: admin on the package, or on the owner for owner- and format-wide rules.
//   GET    /users|orgs/:owner/retention                     the owner's rules
//   PUT    …/retention {rule}   DELETE …/retention            the owner-wide rule
//   PUT    …/retention/:type    DELETE …/retention/:type      one format's rule
//   POST   …/retention/preview {rule?}   …/retention/:type/preview {rule?}   what it would delete, and why
//   POST   …/retention/run {dry_run?}                        apply the owner's rules now
//   GET|PUT|DELETE /users|orgs/:owner/packages/:type/:name/retention, POST …/retention/preview|run   one package
//   GET    /users|orgs/:owner/protected-tags    POST {type, pattern}    DELETE …/protected-tags/:type/:pattern
//   PUT    /users|orgs/:owner/packages/:type/:name/tags/:tag {version, override}   DELETE …?override=true
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { notFound } from '../../core/errors.ts';
import type { RetentionReport, Scope } from '../../core/retention/retention.ts';
import { formatOf } from '../../formats/index.ts';
import { bodyObject, requireUser, str } from './common.ts';

type P = Record<string, string>;

/** A report as JSON (snake_case, as the rest of the API). */
const reportJson = (r: RetentionReport) => ({ dry_run: r.dryRun, packages: r.packages, deleted: r.deleted, skipped: r.skipped });

export async function retentionRoutes(app: FastifyInstance, core: Core): Promise<void> {
  async function ownerOf(req: FastifyRequest, kind: 'users' | 'orgs') {
    requireUser(req.actor);
    const owner = await core.identity.findOwner((req.params as P).owner);
    if (!owner || (kind === 'users' && owner.kind !== 'user') || (kind === 'orgs' && owner.kind !== 'org')) throw notFound();
    return owner;
  }
  async function scopeOf(req: FastifyRequest, kind: 'users' | 'orgs'): Promise<Scope> {
    const owner = await ownerOf(req, kind);
    const p = req.params as P;
    if (p.type !== undefined && !formatOf(p.type)) throw notFound(`unknown package type "${p.type}"`);
    if (p.name === undefined) return { owner, type: p.type };
    const pkg = await core.packages.find(owner.name, p.type, p.name);
    // A package the actor cannot see is missing, with the same answer (its settings' refusals would name it).
    if (!pkg || !(await core.authz.canRead(req.actor, pkg))) throw notFound('Package not found.');
    return { owner, pkg };
  }
  /** The rule of a PUT: the body itself, or its `rule`. */
  const ruleOf = (body: unknown) => {
    const b = bodyObject(body);
    return 'rule' in b ? b.rule : b;
  };

  for (const kind of ['users', 'orgs'] as const) {
    const pre = `/${kind}/:owner`;
    for (const base of [`${pre}/retention`, `${pre}/retention/:type`, `${pre}/packages/:type/:name/retention`]) {
      app.get(base, async (req) => ({ rules: await core.retention.listRules(req.actor, await scopeOf(req, kind)) }));
      app.put(base, async (req) => ({ rule: await core.retention.setRule(req.actor, await scopeOf(req, kind), ruleOf(req.body)) }));
      app.delete(base, async (req, reply) => {
        await core.retention.removeRule(req.actor, await scopeOf(req, kind));
        return reply.code(204).send();
      });
      app.post(`${base}/preview`, async (req) => {
        const b = bodyObject(req.body);
        return reportJson(await core.retention.preview(req.actor, await scopeOf(req, kind), Object.keys(b).length ? ruleOf(b) : undefined));
      });
      app.post(`${base}/run`, async (req) => reportJson(await core.retention.run(req.actor, await scopeOf(req, kind), { dryRun: bodyObject(req.body).dry_run === true })));
    }

    app.get(`${pre}/protected-tags`, async (req) => ({ protected_tags: await core.retention.protectedTags(req.actor, await ownerOf(req, kind)) }));
    app.post(`${pre}/protected-tags`, async (req, reply) => {
      const owner = await ownerOf(req, kind);
      const b = bodyObject(req.body);
      const type = str(b.type, 'type');
      if (!formatOf(type)) throw notFound(`unknown package type "${type}"`);
      await core.retention.protectTag(req.actor, owner, type, str(b.pattern, 'pattern'));
      return reply.code(201).send({ type, pattern: b.pattern });
    });
    app.delete(`${pre}/protected-tags/:type/:pattern`, async (req, reply) => {
      const p = req.params as P;
      await core.retention.unprotectTag(req.actor, await ownerOf(req, kind), p.type, p.pattern);
      return reply.code(204).send();
    });

    // Tags, with the explicit override an owner admin needs to move or remove a protected one.
    app.put(`${pre}/packages/:type/:name/tags/:tag`, async (req) => {
      const s = await scopeOf(req, kind);
      const b = bodyObject(req.body);
      await core.publisher.setTag(s.pkg!.id, (req.params as P).tag, str(b.version, 'version'), req.actor, { override: b.override === true });
      return { tag: (req.params as P).tag, version: b.version };
    });
    app.delete(`${pre}/packages/:type/:name/tags/:tag`, async (req, reply) => {
      const s = await scopeOf(req, kind);
      await core.publisher.removeTag(s.pkg!.id, (req.params as P).tag, req.actor, { override: (req.query as P).override === 'true' });
      return reply.code(204).send();
    });
  }
}
