// Trusted publishing over REST: trust policies next to the package, repository and owner routes they belong to
// (`…/trusted-publishers`, GET list, POST add, DELETE …/:id), and the generic exchange `POST /oidc/token
// {"id_token": …}` whose `token` every client other than npm uses as its password or API key. core.trustedPublishers
// decides who may (manage(): admin on the package or repository, the owner) and what a token may do.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PolicyInfo, PolicyTarget } from '../../core/auth/trusted-publishers.ts';
import type { Core } from '../../core/core.ts';
import { invalid, notFound, unauthorized } from '../../core/errors.ts';
import { formatOf } from '../../formats/index.ts';
import { audienceHostOf, baseUrlOf } from '../actor.ts';
import { bodyObject, idParam } from './common.ts';

type P = Record<string, string>;

/** The audience a generic exchange's ID token must name: `wharf:HOST`. */
export const genericAudience = (host: string) => `wharf:${host}`;

export async function trustedPublisherRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const json = (p: PolicyInfo, base: string) => ({ ...p, url: `${base}/${p.id}` });

  /** The three routes of a policy list at `path`; `target` reads the URL (and, for an owner, the body). */
  const routes = (path: string, target: (req: FastifyRequest, forCreate: boolean) => PolicyTarget) => {
    const baseOf = (req: FastifyRequest) => `${baseUrlOf(core, req)}${req.url.split('?')[0].replace(/\/trusted-publishers(\/.*)?$/, '')}/trusted-publishers`;
    app.get(path, async (req) => (await core.trustedPublishers.list(req.actor, target(req, false))).map((p) => json(p, baseOf(req))));
    app.post(path, async (req, reply) => {
      const b = bodyObject(req.body);
      const claims = b.claims === undefined ? {} : b.claims;
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw invalid('claims must be an object of claim name → pattern');
      const p = await core.trustedPublishers.add(req.actor, target(req, true), {
        provider: typeof b.provider === 'string' ? b.provider : undefined,
        issuer: typeof b.issuer === 'string' ? b.issuer : undefined,
        jwks_url: typeof b.jwks_url === 'string' ? b.jwks_url : null,
        claims: claims as Record<string, unknown>,
      });
      return reply.code(201).send(json(p, baseOf(req)));
    });
    app.delete(`${path}/:id`, async (req, reply) => {
      await core.trustedPublishers.remove(req.actor, target(req, false), idParam((req.params as P).id));
      return reply.code(204).send();
    });
  };

  const pkgTarget = (req: FastifyRequest): PolicyTarget => {
    const p = req.params as P;
    if (!formatOf(p.type)) throw notFound(`unknown package type "${p.type}"`);
    const owner = p.owner ?? (req.actor.kind === 'user' ? req.actor.user.name : undefined);
    if (!owner) throw unauthorized();
    return { kind: 'package', owner, type: p.type, name: p.name };
  };
  for (const pre of ['/users/:owner', '/orgs/:owner', '/user']) routes(`${pre}/packages/:type/:name/trusted-publishers`, pkgTarget);
  routes('/repos/:owner/:repo/trusted-publishers', (req) => ({ kind: 'repo', owner: (req.params as P).owner, repo: (req.params as P).repo }));
  // On an owner, a policy names the package it may create: package_type and package_name in the body.
  for (const pre of ['/users/:owner', '/orgs/:owner']) {
    routes(`${pre}/trusted-publishers`, (req, forCreate) => {
      const owner = (req.params as P).owner;
      if (!forCreate) return { kind: 'owner', owner };
      const b = bodyObject(req.body);
      const type = typeof b.package_type === 'string' ? b.package_type : '';
      if (!formatOf(type)) throw invalid(`package_type must be one of the package types (got "${type}")`);
      if (typeof b.package_name !== 'string' || !b.package_name) throw invalid('package_name is required: the package this policy may create');
      return { kind: 'owner', owner, type, name: b.package_name };
    });
  }

  // The generic exchange: the ID token in the body (or as Bearer); the answer's token is a password / API key.
  app.post('/oidc/token', { config: { idToken: true } }, async (req, reply) => {
    const b = bodyObject(req.body);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const idToken = typeof b.id_token === 'string' ? b.id_token : bearer;
    if (!idToken) throw unauthorized('an ID token is required: {"id_token": "…"}');
    if (b.owner !== undefined && (typeof b.owner !== 'string' || !b.owner || b.owner.length > 100)) throw invalid('owner must be the name of the user or organization to publish to');
    const r = await core.trustedPublishers.exchange(idToken, { audience: genericAudience(audienceHostOf(core, req)), owner: b.owner as string | undefined, actor: req.actor });
    // `username`: what to pair the token with where a client wants one (Basic auth splits at the first colon, so
    // the publisher's name, `github:OWNER/REPO`, would not do); any name works with a token.
    return reply.code(201).send({ token: r.token, expires_at: r.expiresAt, username: 'oidc', publisher: r.name, trusted_publisher_ids: r.policies });
  });
}
