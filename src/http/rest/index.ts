// The REST API under /api/v1, shaped like GitHub's (same paths and field names where they apply).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { checkJsonDepth, MAX_JSON_DEPTH } from '../body.ts';
import { auditRoutes } from './audit.ts';
import { restErrorHandler } from './common.ts';
import { hookRoutes } from './hooks.ts';
import { identityRoutes } from './identity.ts';
import { packageRoutes } from './packages.ts';
import { signingRoutes } from './signing.ts';
import { proxyRoutes } from './proxies.ts';
import { promotionRoutes } from './promotions.ts';
import { retentionRoutes } from './retention.ts';
import { tokenRoutes } from './tokens.ts';
import { trustedPublisherRoutes } from './trusted-publishers.ts';
import { userAdminRoutes } from './users-admin.ts';
import { usageRoutes } from './usage.ts';

export async function restApi(app: FastifyInstance, core: Core): Promise<void> {
  app.setErrorHandler(restErrorHandler);
  // Clients often send Content-Type: application/json on a DELETE or POST with no body: that is no body, not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, text, done) => {
    const body = String(text);
    if (!body.trim()) return done(null, undefined);
    try {
      // Bounded nesting: what is parsed may be stored and serialized again (a hook's config, a token's name).
      checkJsonDepth(body, MAX_JSON_DEPTH, 'the request body');
    } catch (e) {
      return done(Object.assign(new Error((e as Error).message), { statusCode: 400 }), undefined);
    }
    try {
      done(null, JSON.parse(body));
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ message: 'Not Found' }));
  await identityRoutes(app, core);
  await tokenRoutes(app, core);
  await packageRoutes(app, core);
  await hookRoutes(app, core);
  await signingRoutes(app, core);
  await auditRoutes(app, core);
  await usageRoutes(app, core);
  await userAdminRoutes(app, core);
  await proxyRoutes(app, core);
  await trustedPublisherRoutes(app, core);
  await promotionRoutes(app, core);
  await retentionRoutes(app, core);
}
