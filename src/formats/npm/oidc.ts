// npm trusted publishing: the exchange npm 11.5.1+ calls by itself inside a CI job (lib/utils/oidc.js). npm fetches
// an ID token for the audience `npm:<registry hostname>`, then POSTs it as `Authorization: Bearer <ID token>` to
// `/-/npm/v1/oidc/token/exchange/package/<escaped name>`, resolved against the registry's ORIGIN (the registry
// URL's path is dropped): so these routes are answered at the server's root as well as under /npm. The answer's
// `token` becomes the job's `_authToken` for the publish that follows; on any failure npm logs `message` and
// carries on without a token.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { isWharfError, unauthorized } from '../../core/errors.ts';
import { audienceHostOf } from '../../http/actor.ts';
import { npmErrorHandler, npmErrorOf } from './errors.ts';
import { parseNpmName } from './names.ts';

type Params = Record<string, string>;

/** npm's error format, plus `message`: what npm's OIDC code logs (`npm publish --loglevel verbose`). */
function oidcErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (!isWharfError(err)) return npmErrorHandler(err, req, reply);
  const e = npmErrorOf(err);
  return reply.code(e.status).send({ error: err.message, message: err.message, ...(e.code ? { code: e.code } : {}) });
}

/** Registers the exchange in `app` (the npm scope, and an own scope at the root). */
export async function npmOidcRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const exchange = async (req: FastifyRequest, reply: FastifyReply, full: string) => {
    const n = parseNpmName(full);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw unauthorized('an ID token is required: Authorization: Bearer ID_TOKEN');
    const r = await core.trustedPublishers.exchange(m[1], { audience: `npm:${audienceHostOf(core, req)}`, pkg: { owner: n.scope, type: 'npm', name: n.name }, actor: req.actor });
    return reply.code(201).send({ token: r.token, expires: r.expiresAt });
  };
  // The route's Authorization is an ID token, not a Wharf credential: the authentication hook leaves it alone.
  const opts = { config: { idToken: true }, errorHandler: oidcErrorHandler };
  app.post('/-/npm/v1/oidc/token/exchange/package/:pkg', opts, (req, reply) => exchange(req, reply, (req.params as Params).pkg));
  app.post('/-/npm/v1/oidc/token/exchange/package/:scope/:name', opts, (req, reply) => exchange(req, reply, `${(req.params as Params).scope}/${(req.params as Params).name}`));
}

/** The exchange at the server's root, where npm resolves it: its own scope, body ignored whatever its type. */
export async function npmRootRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(npmErrorHandler);
  await npmOidcRoutes(app, core);
}
