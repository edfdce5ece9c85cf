// The REST API under /api/v1, shaped like GitHub's (same paths and field names where they apply).
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { restErrorHandler } from './common.ts';
import { identityRoutes } from './identity.ts';
import { packageRoutes } from './packages.ts';
import { tokenRoutes } from './tokens.ts';

export async function restApi(app: FastifyInstance, core: Core): Promise<void> {
  app.setErrorHandler(restErrorHandler);
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ message: 'Not Found' }));
  await identityRoutes(app, core);
  await tokenRoutes(app, core);
  await packageRoutes(app, core);
}
