// The Fastify root: authentication for every request, each format under its prefix, the REST API, health.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from './core/core.ts';
import { formats } from './formats/index.ts';
import { installAuthentication } from './http/actor.ts';
import { badgeRoutes } from './http/badges.ts';
import { isBelow, makeInert } from './http/inert.ts';
import { installMetrics } from './http/metrics.ts';
import { installLifecycle } from './http/ops.ts';
import { restApi } from './http/rest/index.ts';
import { webhookPayloads } from './http/webhook-payload.ts';
import { webUi } from './web/web.ts';

/** `onRoute` sees every route as it is registered (the access test walks them all, so a new route is covered). */
export async function buildApp(core: Core, logger?: Logger, opts: { onRoute?: (r: { method: string | string[]; url: string }) => void } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    // Per-request logs cost more than a packument GET; errors and 5xx are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // Publish bodies and blobs are streamed by their routes; this only bounds the JSON the REST API parses.
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 500, ignoreTrailingSlash: true },
    forceCloseConnections: true,
    // Behind nginx (deploy/nginx.conf): the client's address (login throttling, audit) and protocol (the URLs
    // Wharf writes when WHARF_BASE_URL is unset) come from X-Forwarded-For/-Proto, only from trusted proxies.
    trustProxy: core.config.trustProxy,
  }) as unknown as FastifyInstance;
  if (opts.onRoute) app.addHook('onRoute', (r) => opts.onRoute!({ method: r.method, url: r.url }));
  installAuthentication(app, core);
  // Every response, errors included, is inert in a browser (see http/inert.ts): all of it is data except the web
  // UI's pages, which set their own policy. Added before the scopes are registered, so every one inherits it.
  const dataPrefixes = ['/api', '/healthz', '/readyz', '/metrics', '/badge', ...formats.map((f) => f.prefix)];
  app.addHook('onSend', (req, reply, payload, done) => {
    makeInert(reply, payload, isBelow(req.url, dataPrefixes));
    done();
  });
  core.webhooks.builder = webhookPayloads(core);
  app.get('/healthz', async () => {
    await core.db.selectFrom('owners').select('id').limit(1).execute();
    return { status: 'ok' };
  });
  installLifecycle(app, core);
  installMetrics(app, core);
  for (const f of formats) await app.register((scope) => f.register(scope, core), { prefix: f.prefix });
  for (const f of formats) if (f.rootRoutes) await app.register((scope) => f.rootRoutes!(scope, core));
  await app.register((scope) => restApi(scope, core), { prefix: '/api/v1' });
  await app.register((scope) => badgeRoutes(scope, core), { prefix: '/badge' });
  await app.register((scope) => webUi(scope, core));
  return app;
}
