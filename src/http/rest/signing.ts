// Signing trust over REST: the keys and keyless identities trusted to sign an owner's images (or one image's), and
// "require signed images". Every change goes through core.signing, which decides who may make it.
//   GET    /users|orgs/:owner/signing                      keys, identities, required (the owner's scope)
//   POST   …/signing/keys {key}          DELETE …/signing/keys/:id
//   POST   …/signing/identities {identity, issuer}          DELETE …/signing/identities/:id
//   PUT    …/signing/required {required}
// The same under /users|orgs/:owner/packages/container/:name/signing for one image.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { invalid, notFound } from '../../core/errors.ts';
import { formatOf } from '../../formats/index.ts';
import { bodyObject, idParam, requireUser, str } from './common.ts';

type P = Record<string, string>;

export async function signingRoutes(app: FastifyInstance, core: Core): Promise<void> {
  /** Owner and scope from the URL; a package scope only for a format that verifies signatures. */
  async function scopeOf(req: FastifyRequest, kind: 'users' | 'orgs'): Promise<{ ownerId: number; packageName: string | null }> {
    requireUser(req.actor);
    const p = req.params as P;
    const owner = await core.identity.findOwner(p.owner);
    if (!owner || (kind === 'users' && owner.kind !== 'user') || (kind === 'orgs' && owner.kind !== 'org')) throw notFound();
    if (p.type === undefined) return { ownerId: owner.id, packageName: null };
    if (!formatOf(p.type)?.signing) throw notFound(`${p.type} packages are not verified against signing trust`);
    return { ownerId: owner.id, packageName: p.name };
  }

  async function view(ownerId: number, packageName: string | null) {
    const [keys, identities, required] = await Promise.all([core.signing.keysAt(ownerId, packageName), core.signing.identitiesAt(ownerId, packageName), core.signing.requiredAt(ownerId, packageName)]);
    return {
      required,
      keys: keys.map((k) => ({ id: k.id, fingerprint: k.fingerprint, key: k.publicPem, created_at: k.createdAt })),
      identities: identities.map((i) => ({ id: i.id, identity: i.identity, issuer: i.issuer, created_at: i.createdAt })),
    };
  }

  for (const [kind, base] of [['users', '/users/:owner/signing'], ['orgs', '/orgs/:owner/signing'], ['users', '/users/:owner/packages/:type/:name/signing'], ['orgs', '/orgs/:owner/packages/:type/:name/signing']] as const) {
    app.get(base, async (req) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      // Reading the trust is as private as changing it: only who may manage the scope sees it.
      if (!(await core.signing.mayManage(req.actor, ownerId, packageName))) throw notFound();
      return view(ownerId, packageName);
    });
    app.post(`${base}/keys`, async (req, reply) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      const key = str(bodyObject(req.body).key, 'key');
      const k = await core.signing.trustAt(req.actor, ownerId, packageName, key.endsWith('\n') ? key : `${key}\n`);
      return reply.code(201).send({ id: k.id, fingerprint: k.fingerprint, key: k.publicPem, created_at: k.createdAt });
    });
    app.delete(`${base}/keys/:id`, async (req, reply) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      await core.signing.untrustAt(req.actor, ownerId, packageName, idParam((req.params as P).id));
      return reply.code(204).send();
    });
    app.post(`${base}/identities`, async (req, reply) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      const b = bodyObject(req.body);
      const i = await core.signing.addIdentityAt(req.actor, ownerId, packageName, str(b.identity, 'identity'), str(b.issuer, 'issuer'));
      return reply.code(201).send({ id: i.id, identity: i.identity, issuer: i.issuer, created_at: i.createdAt });
    });
    app.delete(`${base}/identities/:id`, async (req, reply) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      await core.signing.removeIdentityAt(req.actor, ownerId, packageName, idParam((req.params as P).id));
      return reply.code(204).send();
    });
    app.put(`${base}/required`, async (req) => {
      const { ownerId, packageName } = await scopeOf(req, kind);
      const required = bodyObject(req.body).required;
      if (typeof required !== 'boolean') throw invalid('required must be true or false');
      await core.signing.setRequiredAt(req.actor, ownerId, packageName, required);
      return view(ownerId, packageName);
    });
  }
}
